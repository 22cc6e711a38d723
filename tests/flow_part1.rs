//! The shipped flow, part 1 (guide 4.1 and 4.2), run for real on a lab mirroring playbooks/inventory.yaml:
//! then each host is checked by reading it, the HA entry is failed over, and a second run must change nothing.

use crate::support;

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use support::{Lab, Test};

static LAB: OnceLock<Lab> = OnceLock::new();

const SECRETS: [(&str, &str); 2] =
    [("RUNBOOK_SECRET_HAPROXY_STATS_PASSWORD", "stats 'pass' $x"), ("RUNBOOK_SECRET_KEEPALIVED_AUTH_PASS", "1111")];

fn lab() -> &'static Lab {
    Lab::fresh_from(&LAB, "t-flow1", "playbooks/inventory.yaml", "10.251.20.0/24", 10)
}

fn shipped(lab: &Lab, playbook: &str) -> Test {
    let mut test = Test::new().lab(lab).shipped(playbook);
    for (name, value) in SECRETS {
        test = test.env(name, value);
    }
    test
}

const MASTERS: [&str; 3] = ["k8s-master01", "k8s-master02", "k8s-master03"];
const HA: [&str; 2] = ["k8s-ha01", "k8s-ha02"];
const VIP: &str = "10.251.20.188";

/// One test, because the stages build on each other: plan, apply, check every host, rerun, fail over.
#[test]
fn part_one_prepares_every_host_and_the_api_entry_fails_over() {
    require_lab!();
    let lab = lab();

    // --check on the fresh lab: plans, changes nothing.
    for playbook in ["playbooks/prepare-hosts.rhai", "playbooks/chrony.rhai", "playbooks/ha-lb.rhai"] {
        shipped(lab, playbook).args(&["--check", "--diff"]).stdout_has("check mode").run();
    }
    for host in &lab.hosts {
        assert_eq!(lab.sh(host, "hostname").trim(), format!("{host}"), "check mode renamed {host}");
        assert_eq!(
            lab.ssh(host, "test -e /etc/sysctl.d/k8s.conf || grep -q BEGIN /etc/hosts").0,
            1,
            "{host} changed in check mode"
        );
    }

    for playbook in ["playbooks/prepare-hosts.rhai", "playbooks/chrony.rhai", "playbooks/ha-lb.rhai"] {
        shipped(lab, playbook).run();
    }

    for host in &lab.hosts {
        let fqdn = format!("{host}.example.local");
        assert_eq!(lab.sh(host, "hostname").trim(), fqdn);
        let hosts_file = lab.sh(host, "cat /etc/hosts");
        for (name, address) in lab.hosts.iter().zip(&lab.addresses) {
            assert!(
                hosts_file.contains(&format!("{address} {name}.example.local {name}")),
                "{host}: /etc/hosts lacks {name}:\n{hosts_file}"
            );
        }
        assert!(hosts_file.contains(&format!("{VIP} kubeapi.raymonds.cc kubeapi")), "{hosts_file}");
        assert!(hosts_file.contains(&format!("{VIP} harbor.raymonds.cc")), "{hosts_file}");
        assert_eq!(lab.sh(host, "swapon --noheadings --show | wc -l").trim(), "0");
        let limits = lab.sh(host, "cat /etc/security/limits.d/99-k8s.conf");
        for line in [
            "* soft nofile 65536",
            "* hard nofile 131072",
            "* soft nproc 65535",
            "* hard nproc 655350",
            "* soft memlock unlimited",
            "* hard memlock unlimited",
        ] {
            assert!(
                limits.split('\n').any(|l| l.split_whitespace().collect::<Vec<_>>().join(" ") == line),
                "{host}: limits lack `{line}`:\n{limits}"
            );
        }
        let sysctl = lab.sh(host, "cat /etc/sysctl.d/k8s.conf");
        for key in [
            "net.ipv4.ip_forward = 1",
            "net.core.somaxconn = 16384",
            "net.ipv4.tcp_keepalive_time = 600",
            "vm.overcommit_memory = 1",
            "fs.file-max = 52706963",
        ] {
            assert!(sysctl.contains(key), "{host}: k8s.conf lacks {key}:\n{sysctl}");
        }
        assert!(!sysctl.contains("2310720net"), "the guide's glued keys are split");
        for (key, value) in [
            ("net.ipv4.ip_forward", "1"),
            ("net.core.somaxconn", "16384"),
            ("net.ipv4.tcp_keepalive_time", "600"),
            ("net.ipv4.tcp_tw_reuse", "1"),
        ] {
            assert_eq!(lab.sh(host, &format!("sysctl -n {key}")).trim(), value, "{host}: {key} not applied");
        }
        let modules = lab.sh(host, "cat /etc/modules-load.d/ipvs.conf");
        for module in ["ip_vs", "ip_vs_rr", "ip_vs_wrr", "ip_vs_sh", "nf_conntrack", "ip_tables", "ipip"] {
            assert!(modules.lines().any(|l| l.trim() == module), "{host}: ipvs.conf lacks {module}");
        }
        assert_eq!(lab.sh(host, "readlink -f /etc/localtime").trim(), "/usr/share/zoneinfo/Asia/Shanghai");
    }

    // Chrony: every client has selected (^*) one of the two ha hosts.
    let ha_addresses: Vec<&str> = HA.iter().map(|h| lab.address(h)).collect();
    for host in lab.hosts.iter().filter(|h| !HA.contains(&h.as_str())) {
        let started = Instant::now();
        loop {
            let sources = lab.sh(host, "chronyc -n sources");
            let selected = sources
                .lines()
                .find(|l| l.starts_with("^*"))
                .map(|l| l.split_whitespace().nth(1).unwrap_or("").to_string());
            if let Some(selected) = &selected {
                assert!(ha_addresses.contains(&selected.as_str()), "{host} syncs from {selected}, not an ha host");
                break;
            }
            assert!(started.elapsed() < Duration::from_secs(60), "{host}: no selected chrony source:\n{sources}");
            std::thread::sleep(Duration::from_secs(1));
        }
    }

    // A second run changes nothing (and adds no duplicate lines to /etc/hosts).
    for playbook in ["playbooks/prepare-hosts.rhai", "playbooks/chrony.rhai", "playbooks/ha-lb.rhai"] {
        let run = shipped(lab, playbook).json_log().run();
        for host in &lab.hosts {
            assert_eq!(
                run.recap(host)["changed"].as_u64().unwrap_or(0),
                0,
                "{playbook} changed {host} on the second run:\n{}",
                run.stdout
            );
        }
    }
    let hosts_file = lab.sh(lab.host(0), "cat /etc/hosts");
    assert_eq!(hosts_file.matches("k8s-node03.example.local").count(), 1, "{hosts_file}");

    // The HA entry for real: something listening on :6443 on each master answers through the VIP.
    for master in MASTERS {
        lab.sh(master, &format!("systemd-run --unit t-api6443 python3 -c \"import socket\ns=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(('0.0.0.0', 6443)); s.listen(64)\nwhile True:\n    c,_=s.accept(); c.sendall(b'{master}\\n'); c.close()\" || true"));
    }
    let answered = wait_for_vip(Duration::from_secs(30));
    assert!(MASTERS.contains(&answered.as_str()), "the VIP answered {answered:?}");

    // The stats page wants the password.
    let with_password = curl_status(&["-u", "admin:stats 'pass' $x"]);
    let without = curl_status(&[]);
    assert_eq!((with_password.as_str(), without.as_str()), ("200", "401"));

    // Stop haproxy on the MASTER: the BACKUP takes the VIP and the VIP answers again, within 3 s with the
    // default (fast) timing.
    let holder = vip_holder(lab).expect("one ha host holds the VIP");
    assert_eq!(holder, HA[0], "the MASTER (k8s-ha01) holds the VIP");
    let outage = outage_while(|| {
        lab.sh(HA[0], "systemctl stop haproxy");
    });
    assert_eq!(vip_holder(lab).as_deref(), Some(HA[1]), "the VIP moved to the backup");
    eprintln!("failover: the VIP did not answer for {:.2}s after haproxy stopped on {}", outage.as_secs_f64(), HA[0]);
    assert!(outage <= Duration::from_secs(3), "haproxy stop: {outage:?} without the API (want <= 3 s)");

    // Start it again: the VIP goes back to the MASTER, still answering.
    lab.sh(HA[0], "systemctl start haproxy");
    wait_until(Duration::from_secs(30), || vip_holder(lab).as_deref() == Some(HA[0]));
    assert!(MASTERS.contains(&wait_for_vip(Duration::from_secs(30)).as_str()));

    // The MASTER loses power (every process of the host killed at once: no goodbye advert): the BACKUP
    // takes over when the adverts stop, within 3 s.
    let outage = outage_while(|| {
        let kill = format!("/sys/fs/cgroup/unified/runbook/{}/{}/cgroup.kill", lab.name, HA[0]);
        std::fs::write(&kill, "1").unwrap_or_else(|e| panic!("{kill}: {e}"));
    });
    assert_eq!(ha_holders(lab, &[HA[1]]), vec![HA[1].to_string()], "the VIP is on the backup");
    eprintln!("failover: the VIP did not answer for {:.2}s after {} lost power", outage.as_secs_f64(), HA[0]);
    assert!(outage <= Duration::from_secs(3), "power off: {outage:?} without the API (want <= 3 s)");

    // Boot it again (lab up starts the hosts that are down): the VIP returns to it. The lab's own set-up, so
    // started directly.
    let up = std::process::Command::new(support::RUNBOOK)
        .args(["lab", "up", "--name", lab.name])
        .current_dir(support::repo_root())
        .output()
        .unwrap();
    assert!(up.status.success(), "{}", String::from_utf8_lossy(&up.stderr));
    wait_until(Duration::from_secs(60), || vip_holder(lab).as_deref() == Some(HA[0]));
    assert!(MASTERS.contains(&wait_for_vip(Duration::from_secs(30)).as_str()));
}

/// How long the VIP's :6443 did not answer around `action`: probed every 50 ms from before it, from the last
/// answer before the first failure to the first answer after it (zero when no probe failed).
fn outage_while(action: impl FnOnce()) -> Duration {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{Arc, Mutex};
    let log: Arc<Mutex<Vec<(Instant, bool)>>> = Arc::default();
    let done = Arc::new(AtomicBool::new(false));
    let prober = {
        let (log, done) = (log.clone(), done.clone());
        std::thread::spawn(move || {
            while !done.load(Ordering::Relaxed) {
                let answered = vip_answers();
                log.lock().unwrap().push((Instant::now(), answered));
                std::thread::sleep(Duration::from_millis(50));
            }
        })
    };
    std::thread::sleep(Duration::from_millis(500));
    action();
    let started = Instant::now();
    loop {
        let probes = log.lock().unwrap().clone();
        let failed = probes.iter().position(|p| !p.1);
        if let Some(first) = failed
            && let Some(back) = probes[first..].iter().find(|p| p.1)
        {
            let last_ok = if first > 0 { probes[first - 1].0 } else { probes[0].0 };
            done.store(true, Ordering::Relaxed);
            prober.join().unwrap();
            return back.0 - last_ok;
        }
        if failed.is_none() && started.elapsed() > Duration::from_secs(10) {
            done.store(true, Ordering::Relaxed);
            prober.join().unwrap();
            return Duration::ZERO;
        }
        assert!(started.elapsed() < Duration::from_secs(60), "the VIP did not answer again within 60 s");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn vip_answers() -> bool {
    use std::io::Read;
    let Ok(mut stream) =
        std::net::TcpStream::connect_timeout(&format!("{VIP}:6443").parse().unwrap(), Duration::from_millis(200))
    else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(1)));
    let mut answer = String::new();
    stream.read_to_string(&mut answer).is_ok() && !answer.trim().is_empty()
}

fn wait_until(limit: Duration, mut ready: impl FnMut() -> bool) {
    let started = Instant::now();
    while !ready() {
        assert!(started.elapsed() < limit, "not within {limit:?}");
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// Which of `hosts` hold the VIP (for when the other ha host is down).
fn ha_holders(lab: &Lab, hosts: &[&str]) -> Vec<String> {
    hosts
        .iter()
        .filter(|h| lab.ssh(h, &format!("ip -o -4 addr show | grep -qF ' {VIP}/'")).0 == 0)
        .map(|h| h.to_string())
        .collect()
}

/// What a CentOS 7 host would get, decided from facts the test gives (`runbook_facts`), planned in --check.
#[test]
fn a_centos7_host_plans_the_kernel_upgrade_ipvs_tools_and_modules_in_order() {
    require_lab!();
    let lab = lab();
    let test = Test::new();
    let bundle = test.path().join("bundle");
    std::fs::create_dir_all(&bundle).unwrap();
    for rpm in ["kernel-ml-4.19.12-1.el7.elrepo.x86_64.rpm", "kernel-ml-devel-4.19.12-1.el7.elrepo.x86_64.rpm"] {
        std::fs::write(bundle.join(rpm), "not a real rpm").unwrap();
    }
    let inventory = std::fs::read_to_string(lab.inventory()).unwrap();
    // The override goes beside the host's address line, at that line's indentation.
    let address = format!("address: \"{}\"", lab.address("k8s-node01"));
    let line = inventory.lines().find(|line| line.trim_start() == address).expect("k8s-node01's address line");
    let indent = &line[..line.len() - line.trim_start().len()];
    let inventory = inventory.replace(
        line,
        &format!(
            "{line}\n{indent}runbook_facts: {{ os_id: centos, os_like: \"rhel fedora\", os_version: \"7\", kernel: 3.10.0-1160.el7.x86_64, pkg_mgr: yum, container: \"false\", virt: kvm }}"
        ),
    );
    assert!(inventory.contains("runbook_facts"), "the override went in");
    let path = test.path().join("centos.yaml");
    std::fs::write(&path, inventory).unwrap();
    let mut test = test.inventory_file(&path).shipped("playbooks/prepare-hosts.rhai");
    for (name, value) in SECRETS {
        test = test.env(name, value);
    }
    let run =
        test.args(&["--check", "-v", "--limit", "k8s-node01", "-e", &format!("bundle_dir={}", bundle.display())]).run();
    let planned: Vec<&str> = run.stdout.lines().filter(|l| l.contains("k8s-node01")).collect();
    let position = |needle: &str| {
        planned
            .iter()
            .position(|l| l.contains(needle))
            .unwrap_or_else(|| panic!("the plan lacks `{needle}`:\n{}", run.stdout))
    };
    let order = [
        position("/root/runbook-kernel/kernel-ml-4.19.12-1.el7.elrepo.x86_64.rpm"),
        position("yum localinstall -y"),
        position("grub2-set-default 0 && grub2-mkconfig -o /etc/grub2.cfg"),
        position("user_namespace.enable=1"),
        position("reboot: k8s-node01"),
        position("yum -y install 'ipvsadm'"),
        // The upgraded kernel (4.19) has nf_conntrack; the old module name is for kernels below 4.18.
        position("modprobe -- nf_conntrack"),
    ];
    assert!(order.windows(2).all(|w| w[0] < w[1]), "the steps are in the guide's order: {order:?}\n{}", run.stdout);
    assert!(!run.stdout.contains("nf_conntrack_ipv4"), "{}", run.stdout);
    // Nothing happened on the (really Debian) host.
    assert_eq!(lab.ssh("k8s-node01", "test -e /root/runbook-kernel").0, 1);
}

fn wait_for_vip(limit: Duration) -> String {
    let started = Instant::now();
    loop {
        if let Ok(mut stream) =
            std::net::TcpStream::connect_timeout(&format!("{VIP}:6443").parse().unwrap(), Duration::from_millis(500))
        {
            use std::io::Read;
            let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
            let mut answer = String::new();
            if stream.read_to_string(&mut answer).is_ok() && !answer.trim().is_empty() {
                return answer.trim().to_string();
            }
        }
        assert!(started.elapsed() < limit, "the VIP {VIP}:6443 did not answer within {limit:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn curl_status(extra: &[&str]) -> String {
    let output = std::process::Command::new("curl")
        .args(["-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "3"])
        .args(extra)
        .arg(format!("http://{VIP}:9999/haproxy-status"))
        .output()
        .expect("curl runs");
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn vip_holder(lab: &Lab) -> Option<String> {
    let holders: Vec<&str> =
        HA.iter().copied().filter(|h| lab.ssh(h, &format!("ip -o -4 addr show | grep -qF ' {VIP}/'")).0 == 0).collect();
    assert!(holders.len() <= 1, "the VIP is on {holders:?}");
    holders.first().map(|h| h.to_string())
}
