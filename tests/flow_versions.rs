//! The HA entry on the versions real hosts have (issue 16): haproxy 1.5 (CentOS 7), 1.8 (Ubuntu 18.04, Rocky 8),
//! 2.0 (Ubuntu 20.04) and 2.x, keepalived 1.3 to 2.2. stdlib/versions.rhai decides the grammar from the version;
//! the configs ha-lb.rhai writes for each version are checked against that version's own keyword list (taken
//! from the project's history: tests/fixtures/grammar/) and run for real by the lab's haproxy 2.6 / keepalived
//! 2.2.7 where the older grammar means the same there.

use crate::support;

use std::collections::BTreeSet;
use std::sync::OnceLock;

use support::{Lab, Test};

static LAB: OnceLock<Lab> = OnceLock::new();

/// Five hosts are enough: both ha hosts, and one of each other group (backends, the flow's roles).
fn lab() -> &'static Lab {
    let full = std::fs::read_to_string(support::repo_root().join("playbooks/inventory.yaml")).unwrap();
    let vars = &full[..full.find("  children:\n    masters:").expect("the inventory's groups")];
    let small = format!(
        "{vars}  children:\n    masters:\n      hosts:\n        k8s-master01:\n          address: 172.31.3.101\n    \
         ha:\n      hosts:\n        k8s-ha01:\n          address: 172.31.3.104\n        k8s-ha02:\n          \
         address: 172.31.3.105\n    harbor:\n      hosts:\n        k8s-harbor01:\n          address: 172.31.3.106\n    \
         nodes:\n      hosts:\n        k8s-node01:\n          address: 172.31.3.108\n    \
         k8s:\n      children:\n        masters:\n        nodes:\n    chrony_servers:\n      children:\n        ha:\n"
    );
    let source = std::env::temp_dir().join("runbook-t-fl2-inventory.yaml");
    std::fs::write(&source, small).unwrap();
    Lab::fresh_from(&LAB, "t-fl2", source.to_str().unwrap(), "10.255.61.0/24", 5)
}

fn ha_lb(lab: &Lab, password: &str, extra: &[&str]) -> Test {
    Test::new()
        .lab(lab)
        .shipped("playbooks/ha-lb.rhai")
        .env("RUNBOOK_SECRET_HAPROXY_STATS_PASSWORD", password)
        .env("RUNBOOK_SECRET_KEEPALIVED_AUTH_PASS", "vrrp-fl2")
        .args(&["-v"])
        .args(extra)
}

fn keywords(file: &str) -> BTreeSet<String> {
    std::fs::read_to_string(support::repo_root().join("tests/fixtures/grammar").join(file))
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(str::to_string)
        .collect()
}

/// The words of a config line as haproxy 1.5 reads it (src/cfgparse.c, readcfgfile): no quotes at all; a
/// backslash escapes a space, '#' and itself, \r \n \t \xHH are characters, any other backslash stays; an
/// unescaped '#' ends the line.
fn haproxy15_words(line: &str) -> Vec<String> {
    let mut words = vec![String::new()];
    let chars: Vec<char> = line.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            '\\' if i + 1 < chars.len() => {
                let next = chars[i + 1];
                match next {
                    ' ' | '\\' | '#' => {
                        words.last_mut().unwrap().push(next);
                        i += 1;
                    }
                    'r' | 'n' | 't' => {
                        words.last_mut().unwrap().push(match next {
                            'r' => '\r',
                            'n' => '\n',
                            _ => '\t',
                        });
                        i += 1;
                    }
                    _ => words.last_mut().unwrap().push('\\'),
                }
            }
            '#' => break,
            c if c.is_whitespace() => {
                if !words.last().unwrap().is_empty() {
                    words.push(String::new());
                }
            }
            c => words.last_mut().unwrap().push(c),
        }
        i += 1;
    }
    words.retain(|w| !w.is_empty());
    words
}

/// The words of a config line as haproxy 1.6 and later read it (doc/configuration.txt 2.2): backslash escapes,
/// weak quoting with double quotes (escapes still interpreted), strong quoting with single quotes (nothing is).
fn haproxy16_words(line: &str) -> Vec<String> {
    let mut words = vec![String::new()];
    let chars: Vec<char> = line.chars().collect();
    let (mut i, mut strong, mut weak) = (0, false, false);
    while i < chars.len() {
        let c = chars[i];
        if strong {
            if c == '\'' {
                strong = false;
            } else {
                words.last_mut().unwrap().push(c);
            }
        } else if c == '\\' && i + 1 < chars.len() {
            i += 1;
            words.last_mut().unwrap().push(chars[i]);
        } else if c == '"' {
            weak = !weak;
        } else if c == '\'' && !weak {
            strong = true;
        } else if c == '#' && !weak {
            break;
        } else if c.is_whitespace() && !weak {
            if !words.last().unwrap().is_empty() {
                words.push(String::new());
            }
        } else {
            words.last_mut().unwrap().push(c);
        }
        i += 1;
    }
    assert!(!strong && !weak, "an unclosed quote in `{line}`");
    words.retain(|w| !w.is_empty());
    words
}

/// Every line of a haproxy config starts with a keyword (one or two words) the version's documentation has.
fn assert_haproxy_keywords(config: &str, version_keywords: &BTreeSet<String>, words: fn(&str) -> Vec<String>) {
    for line in config.lines() {
        let w = words(line);
        let Some(first) = w.first() else { continue };
        let two = w.get(1).map(|s| format!("{first} {s}")).unwrap_or_default();
        let section = ["global", "defaults", "listen", "frontend", "backend"].contains(&first.as_str());
        assert!(
            section || version_keywords.contains(first) || version_keywords.contains(&two),
            "`{line}` is no keyword of this haproxy"
        );
    }
}

/// Every keyword line of a keepalived config is one the version's parser installs (lists of names and
/// addresses inside blocks are not keywords).
fn assert_keepalived_keywords(config: &str, version_keywords: &BTreeSet<String>) {
    let mut in_list = false;
    for line in config.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('!') || line == "}" {
            in_list = false;
            continue;
        }
        if in_list {
            continue;
        }
        let first = line.split_whitespace().next().unwrap();
        assert!(version_keywords.contains(first), "`{line}` is no keyword of this keepalived");
        in_list = ["unicast_peer", "virtual_ipaddress", "track_script", "track_process"].contains(&first);
    }
}

#[test]
fn the_version_decides_the_grammar_and_a_value_reads_back_the_same() {
    // What each distro's tools print, as they print it.
    let cases = [
        ("HA-Proxy version 1.5.18 2016/05/10", "false false", "1.5.18"),
        ("HA-Proxy version 1.8.8-1ubuntu0.13 2022/02/10", "true false", "1.8.8"),
        ("HA-Proxy version 2.0.13-2ubuntu0.5 2022/03/02 - https://haproxy.org/", "true false", "2.0.13"),
        ("HAProxy version 2.4.22-f8e3218 2023/02/14 - https://haproxy.org/", "true true", "2.4.22"),
        ("HAProxy version 2.6.12-1+deb12u1 2023/12/16 - https://haproxy.org/", "true true", "2.6.12"),
        ("Keepalived v1.3.5 (03/19,2017), git commit v1.3.5-6-g6fa32f2", "false false", "1.3.5"),
        ("Keepalived v2.0.5 (06/20,2018)", "false false", "2.0.5"),
        ("Keepalived v2.0.10 (11/12,2018)", "true false", "2.0.10"),
        ("Keepalived v2.0.19 (10/19,2019)", "true true", "2.0.19"),
        ("Keepalived v2.2.7 (01/16,2022)", "true true", "2.2.7"),
    ];
    let passwords = ["plain", "p w#1\\x", "it's \"x\" $HOME # not a comment", "tab\there"];
    let mut script = String::from("import \"stdlib/versions\" as versions;\n");
    for (text, _, _) in cases {
        script += &format!(
            "let v = versions::parse({text:?}); let hg = versions::haproxy_grammar({text:?}); \
             let kg = versions::keepalived_grammar({text:?});\n\
             print(`CASE|{text}|${{v[0]}}.${{v[1]}}.${{v[2]}}|${{hg.quoting}} ${{hg.strict_limits}}|${{kg.config_test}} ${{kg.track_process}}`);\n"
        );
    }
    for (i, password) in passwords.iter().enumerate() {
        script += &format!(
            "print(`WORD|{i}|false|` + versions::haproxy_word({password:?}, false));\n\
             print(`WORD|{i}|true|` + versions::haproxy_word({password:?}, true));\n"
        );
    }
    script += "try { versions::haproxy_word(\"a\\nb\", true); print(\"NEWLINE|accepted\"); } catch (e) { print(`NEWLINE|${e}`); }\n";
    let test = Test::new().playbook(&script);
    let inventory = test.path().join("inventory.yaml");
    std::fs::write(&inventory, "all:\n  hosts:\n    nowhere:\n      address: 127.0.0.9\n").unwrap();
    let run = test.inventory_file(&inventory).run();
    let lines: Vec<&str> = run.stdout.lines().collect();
    for (text, haproxy_or_keepalived, version) in cases {
        let line = lines.iter().find(|l| l.starts_with(&format!("CASE|{text}|"))).expect("the case ran");
        let fields: Vec<&str> = line.split('|').collect();
        assert_eq!(fields[2], version, "{line}");
        let answer = if text.starts_with("Keepalived") { fields[4] } else { fields[3] };
        assert_eq!(answer, haproxy_or_keepalived, "{line}");
    }
    for (i, password) in passwords.iter().enumerate() {
        for (quoting, words) in [("false", haproxy15_words as fn(&str) -> Vec<String>), ("true", haproxy16_words)] {
            let prefix = format!("WORD|{i}|{quoting}|");
            let word = lines.iter().find_map(|l| l.strip_prefix(prefix.as_str())).expect("the word was printed");
            let read = words(&format!("    stats auth {word}"));
            assert_eq!(read, vec!["stats".to_string(), "auth".into(), password.to_string()], "{quoting}: {word}");
        }
        // Each grammar's word read by the other grammar's rules differs once quotes are in the value: the
        // version really matters.
    }
    let quoted = lines.iter().find_map(|l| l.strip_prefix("WORD|2|true|")).unwrap();
    assert_ne!(haproxy15_words(quoted).concat(), passwords[2], "1.5 would read the quotes literally");
    assert!(lines.iter().any(|l| l.starts_with("NEWLINE|") && l.contains("line break")), "{}", run.stdout);
}

/// One test: the runs share the lab's two ha hosts.
#[test]
fn the_ha_entry_is_written_for_the_installed_haproxy_and_keepalived() {
    require_lab!();
    let lab = lab();
    let read = |path: &str| lab.sh("k8s-ha01", &format!("cat {path}"));

    // The lab's own versions, read on the host: 2.x grammar (quotes), the real `keepalived -t`.
    let password = "stats 'pw' $x #1";
    let run = ha_lb(lab, password, &[]).run();
    assert!(run.stdout.contains("validated by `keepalived -t -f %s`"), "{}", run.stdout);
    assert!(run.stdout.contains("validated by `haproxy -c -q -f %s`"), "{}", run.stdout);
    // The checked candidates live only during their step: the stats password is in the managed file and nowhere
    // else under /etc.
    assert_eq!(lab.sh("k8s-ha01", "ls -A /etc/haproxy /etc/keepalived | grep -c runbook || true").trim(), "0");
    let holders = lab.sh("k8s-ha01", "grep -rlF 'stats auth' /etc || true");
    assert_eq!(holders.trim(), "/etc/haproxy/haproxy.cfg", "files holding the stats password");
    let config = read("/etc/haproxy/haproxy.cfg");
    assert!(config.contains("# Written for haproxy 2.6."), "{config}");
    let auth = config.lines().find(|l| l.contains("stats auth")).unwrap();
    assert_eq!(haproxy16_words(auth)[2], format!("admin:{password}"));
    assert!(!run.stdout.contains(password), "the password reached the output");

    // Older versions, given by the variables. maxconn within the lab's file limit: the lab's haproxy 2.6 (strict
    // limits by default) must start with configs that carry no `no strict-limits`, as 1.x and 2.0 need.
    // Backslash escapes of a space, '#' and '\' read the same in 1.5 and 2.6, so the real stats page checks
    // the 1.5 word; quotes (1.6 on) read the same in 1.8, 2.0 and 2.6.
    let cases = [
        ("1.5.18", "1.3.5", "haproxy-1.5.0.keywords", "keepalived-1.3.5.keywords", "p w#1\\x", false),
        ("1.8.8", "1.3.9", "haproxy-1.8.0.keywords", "keepalived-1.3.5.keywords", "it's $x #1", true),
        ("2.0.13", "2.0.19", "haproxy-2.0.0.keywords", "keepalived-2.0.7.keywords", "it's $x #1", true),
    ];
    for (haproxy, keepalived, haproxy_words, keepalived_words, password, quoting) in cases {
        // A config is checked when it changes: each case starts from none, so its check (or its absence) shows.
        for ha in ["k8s-ha01", "k8s-ha02"] {
            lab.sh(ha, "rm -f /etc/keepalived/keepalived.conf");
        }
        let run = ha_lb(
            lab,
            password,
            &[
                "-e",
                &format!("haproxy_installed_version={haproxy}"),
                "-e",
                &format!("keepalived_installed_version={keepalived}"),
                // key=value: a string, as Ansible's -e gives it; the stage takes it as the number it spells.
                "-e",
                "haproxy_maxconn=5000",
            ],
        )
        .run();
        let config = read("/etc/haproxy/haproxy.cfg");
        assert!(config.contains(&format!("# Written for haproxy {haproxy}.")), "{config}");
        assert!(!config.contains("strict-limits"), "{config}");
        assert!(config.contains("    maxconn 5000\n"), "{config}");
        let words: fn(&str) -> Vec<String> = if quoting { haproxy16_words } else { haproxy15_words };
        assert_haproxy_keywords(&config, &keywords(haproxy_words), words);
        let auth = config.lines().find(|l| l.contains("stats auth")).unwrap();
        assert_eq!(words(auth)[2], format!("admin:{password}"), "{auth}");
        assert_eq!(auth.contains('\''), quoting, "{auth}");
        let kconfig = read("/etc/keepalived/keepalived.conf");
        assert_keepalived_keywords(&kconfig, &keywords(keepalived_words));
        // -t only where it tests anything (2.0.7 on).
        let tested = run.stdout.contains("validated by `keepalived -t -f");
        assert_eq!(tested, keepalived.starts_with('2'), "{keepalived}:\n{}", run.stdout);
        if !tested {
            assert!(run.stdout.contains(&format!("keepalived {keepalived} cannot test a config")), "{}", run.stdout);
        }
    }

    // The file limit decides `no strict-limits` only where the keyword exists (2.1 on); planned, not applied.
    for (haproxy, wanted) in
        [("1.8.8", "haproxy 1.8.8 starts with fewer connections"), ("2.4.22", "'no strict-limits'")]
    {
        let plan = ha_lb(
            lab,
            "pw-fl2-other",
            &["--check", "--tags", "haproxy", "-e", &format!("haproxy_installed_version={haproxy}")],
        )
        .run();
        assert!(
            plan.stdout.contains(wanted) || plan.stderr.contains(wanted),
            "{haproxy}:\n{}{}",
            plan.stdout,
            plan.stderr
        );
    }

    // track_process: refused where keepalived lacks it, and on a container (the lab's hosts: the kernel's process
    // connector answers only in the initial network namespace); written and checked by the real keepalived -t
    // when the facts say it is a machine.
    let old =
        ha_lb(lab, "pw-fl2-other", &["-e", "keepalived_track=process", "-e", "keepalived_installed_version=2.0.10"])
            .run();
    assert!(
        old.stderr.contains("has no track_process") || old.stdout.contains("has no track_process"),
        "{}",
        old.stdout
    );
    let container = ha_lb(lab, "pw-fl2-other", &["-e", "keepalived_track=process"]).run();
    assert!(
        container.stderr.contains("cannot follow processes") || container.stdout.contains("cannot follow processes"),
        "{}",
        container.stdout
    );
    assert!(read("/etc/keepalived/keepalived.conf").contains("track_script"));
    let machine = ha_lb(
        lab,
        "pw-fl2-other",
        &[
            "-e",
            "keepalived_track=process",
            "--tags",
            "keepalived",
            "-e",
            r#"{"runbook_facts": {"container": "false", "virt": "kvm"}}"#,
        ],
    )
    .run();
    assert!(machine.stdout.contains("validated by `keepalived -t -f"), "{}", machine.stdout);
    let kconfig = read("/etc/keepalived/keepalived.conf");
    assert!(kconfig.contains("vrrp_track_process track_haproxy") && kconfig.contains("track_process {"), "{kconfig}");
    assert_keepalived_keywords(&kconfig, &keywords("keepalived-2.0.11.keywords"));

    // Back to the defaults; then a rerun changes nothing.
    ha_lb(lab, password, &[]).run();
    let again = ha_lb(lab, password, &[]).json_log().run();
    for host in ["k8s-ha01", "k8s-ha02"] {
        assert_eq!(again.recap(host)["changed"].as_u64().unwrap_or(0), 0, "{host}:\n{}", again.stdout);
    }
    assert_eq!(lab.sh("k8s-ha01", "systemctl is-active haproxy keepalived").split_whitespace().count(), 2);
}

/// CentOS 7's NetworkManager step (4.1.7) on a lab host whose facts say CentOS 7: kept while it brings up the
/// host's interface, stopped as the guide does when it does not. NetworkManager itself is not in the lab's
/// image: a stand-in unit and a stand-in `nmcli` (printing what `nmcli -t -f DEVICE,STATE device status` prints)
/// are installed by the test.
#[test]
fn networkmanager_is_kept_where_it_brings_up_the_hosts_network() {
    require_lab!();
    let lab = lab();
    let host = "k8s-master01";
    let iface = lab.sh(host, "ip -4 -o addr show scope global | awk '{print $2; exit}'").trim().to_string();
    assert!(!iface.is_empty());
    let nmcli = |state: &str| {
        lab.sh(
            host,
            &format!(
                "printf '#!/bin/sh\\nprintf \"{iface}:{state}\\\\nlo:unmanaged\\\\n\"\\n' > /usr/local/bin/nmcli && \
                 chmod 0755 /usr/local/bin/nmcli"
            ),
        );
    };
    lab.sh(
        host,
        "printf '[Unit]\\nDescription=stand-in for NetworkManager\\n[Service]\\nExecStart=/bin/sleep infinity\\n\
         [Install]\\nWantedBy=multi-user.target\\n' > /etc/systemd/system/NetworkManager.service && \
         systemctl daemon-reload && systemctl enable --now NetworkManager",
    );
    let centos7 = r#"{"runbook_facts": {"os_id": "centos", "os_like": "rhel fedora", "os_version": "7", "kernel": "3.10.0-1160.el7.x86_64", "pkg_mgr": "yum"}}"#;
    let prepare = |extra: &[&str]| {
        Test::new()
            .lab(lab)
            .shipped("playbooks/prepare-hosts.rhai")
            .env("RUNBOOK_SECRET_HAPROXY_STATS_PASSWORD", "pw-nm-fl2")
            .env("RUNBOOK_SECRET_KEEPALIVED_AUTH_PASS", "vrrp-nm")
            .args(&["--tags", "firewall", "--limit", host, "-e", centos7])
            .args(extra)
            .json_log()
            .run()
    };
    let state = || lab.sh(host, "systemctl is-enabled NetworkManager; systemctl is-active NetworkManager; true");

    nmcli("connected");
    let kept = prepare(&[]);
    assert!(
        format!("{}{}", kept.stdout, kept.stderr).contains(&format!("NetworkManager manages {iface}")),
        "{}",
        kept.stdout
    );
    assert_eq!(state().split_whitespace().collect::<Vec<_>>(), ["enabled", "active"]);
    assert_eq!(kept.recap(host)["changed"].as_u64().unwrap_or(0), 0);

    nmcli("unmanaged");
    prepare(&[]);
    assert_eq!(state().split_whitespace().collect::<Vec<_>>(), ["disabled", "inactive"]);
    let again = prepare(&[]);
    assert_eq!(again.recap(host)["changed"].as_u64().unwrap_or(0), 0, "{}", again.stdout);

    // The guide's behaviour on request, whatever NetworkManager manages.
    nmcli("connected");
    lab.sh(host, "systemctl enable --now NetworkManager");
    prepare(&["-e", "networkmanager=disable"]);
    assert_eq!(state().split_whitespace().collect::<Vec<_>>(), ["disabled", "inactive"]);
    lab.sh(host, "rm -f /usr/local/bin/nmcli /etc/systemd/system/NetworkManager.service && systemctl daemon-reload");
}

/// `--check` of the whole flow names every external source it would fetch from (the summary at the end, also in
/// the JSON log): for each of the guide's distros (facts given on the command line) with the mirror profile, the
/// mirror's trees (CentOS 7 on the vault tree and EPEL's archive); with a complete bundle none; with a partial
/// one only what the bundle lacks (each artifact falls back on its own).
#[test]
fn check_lists_the_external_urls_the_flow_would_fetch_from() {
    require_lab!();
    let lab = lab();
    let flow = |extra: &[&str]| {
        let run = Test::new()
            .lab(lab)
            .shipped("playbooks/ha-cluster.rhai")
            .env("RUNBOOK_SECRET_HAPROXY_STATS_PASSWORD", "pw-urls-1")
            .env("RUNBOOK_SECRET_KEEPALIVED_AUTH_PASS", "pw-u2")
            .env("RUNBOOK_SECRET_HARBOR_ADMIN_PASSWORD", "pw-urls-3")
            .env("RUNBOOK_SECRET_HARBOR_DB_PASSWORD", "pw-urls-4")
            .args(&["--check", "--tags", "urls"])
            .args(extra)
            .json_log()
            .run();
        let printed: Vec<String> = run
            .events()
            .iter()
            .filter(|e| e["event"] == "print")
            .map(|e| e["message"].as_str().unwrap().to_string())
            .collect();
        assert!(printed.iter().any(|m| m.starts_with("External URLs")), "no summary in the JSON log:\n{}", run.stdout);
        let urls: BTreeSet<String> = run
            .stdout
            .lines()
            .filter(|l| l.starts_with("  ") && l.contains("  ("))
            .map(|l| l.trim().split("  (").next().unwrap().to_string())
            .collect();
        (run, urls)
    };
    let profile = format!("@{}", support::repo_root().join("playbooks/vars/mirrors-china.yaml").display());
    let distros = [
        (
            r#""os_id": "centos", "os_like": "rhel fedora", "os_version": "7", "kernel": "3.10.0-1160.el7.x86_64", "pkg_mgr": "yum""#,
            vec![
                "https://mirrors.aliyun.com/centos-vault/7.9.2009/",
                "https://mirrors.aliyun.com/epel-archive/7/",
                "https://mirrors.aliyun.com/docker-ce/linux/centos/",
                "https://mirrors.aliyun.com/kubernetes-new/core/stable/v1.25/rpm/",
            ],
        ),
        (
            r#""os_id": "rocky", "os_like": "rhel centos fedora", "os_version": "8.9", "kernel": "4.18.0-513.el8.x86_64", "pkg_mgr": "dnf""#,
            vec![
                "https://mirrors.aliyun.com/rocky/8/",
                "https://mirrors.aliyun.com/kubernetes-new/core/stable/v1.25/rpm/",
            ],
        ),
        (
            r#""os_id": "ubuntu", "os_like": "debian", "os_version": "20.04", "kernel": "5.4.0-150-generic", "pkg_mgr": "apt""#,
            vec![
                "https://mirrors.aliyun.com/ubuntu/",
                "https://mirrors.aliyun.com/docker-ce/linux/ubuntu/",
                "https://mirrors.aliyun.com/kubernetes-new/core/stable/v1.25/deb/",
            ],
        ),
        (
            r#""os_id": "ubuntu", "os_like": "debian", "os_version": "22.04", "kernel": "5.15.0-88-generic", "pkg_mgr": "apt""#,
            vec!["https://mirrors.aliyun.com/ubuntu/", "https://mirrors.aliyun.com/docker-ce/linux/ubuntu/gpg"],
        ),
    ];
    for (facts, wanted) in distros {
        let (run, urls) = flow(&["-e", &format!(r#"{{"runbook_facts": {{{facts}}}}}"#), "-e", &profile]);
        for url in wanted {
            assert!(urls.contains(url), "{facts}: {url} not listed:\n{}", run.stdout);
        }
        for url in &urls {
            assert!(
                url.starts_with("https://mirrors.aliyun.com/")
                    || url.starts_with("registry.aliyuncs.com/")
                    || url.starts_with("https://docker.m.daocloud.io")
                    || url.starts_with("https://github.com/")
                    || url.starts_with("https://raw.githubusercontent.com/"),
                "{facts}: {url} is not the profile's:\n{}",
                run.stdout
            );
            assert!(!url.contains("/centos/7") && !url.starts_with("distro:"), "{facts}: {url}");
        }
    }

    // The Debian bundle (the lab's own distro), made complete with the files a full bundle carries: nothing.
    let vars = "@/var/cache/runbook/bundle/bundle-vars.yaml";
    assert!(std::path::Path::new(&vars[1..]).is_file(), "no bundle: run scripts/install-deps");
    // Its repository and image tar, beside stand-ins of what the Debian bundle cannot carry (a plan reads only
    // their checksums): the release file and the files the variables name must all be on the controller.
    let full = std::env::temp_dir().join("runbook-t-fl2-full-bundle");
    let _ = std::fs::remove_dir_all(&full);
    std::fs::create_dir_all(full.join("images")).unwrap();
    for real in ["debian-12.tar", "images/lab-images.tar"] {
        std::os::unix::fs::symlink(std::path::Path::new("/var/cache/runbook/bundle").join(real), full.join(real))
            .unwrap();
    }
    for file in ["kubeadm_1.25.0_amd64.deb", "calico.yaml", "cri-dockerd-0.2.5.amd64.tgz"] {
        std::fs::write(full.join(file), format!("stand-in {file}\n")).unwrap();
    }
    let complete = format!(
        r#"{{"bundle_dir": "{}", "k8s_bundle_packages": ["kubeadm_1.25.0_amd64.deb"], "cni_manifest_bundle": "calico.yaml", "registry_kind": "registry"}}"#,
        full.display()
    );
    let (run, urls) = flow(&["-e", vars, "-e", &complete]);
    assert!(urls.is_empty(), "{}", run.stdout);
    assert!(run.stdout.contains("External URLs: none"), "{}", run.stdout);
    // The Debian bundle as it is (no Kubernetes packages, no CNI manifest, no cri-dockerd): exactly those come
    // from upstream, each on its own, the rest from the bundle.
    let (run, urls) = flow(&["-e", vars, "-e", r#"{"registry_kind": "registry"}"#]);
    assert!(run.stdout.contains("Release files: cri-dockerd from upstream"), "{}", run.stdout);
    let wanted: BTreeSet<String> = [
        "https://github.com/Mirantis/cri-dockerd/releases/download/v0.2.5/cri-dockerd-0.2.5.amd64.tgz",
        "https://pkgs.k8s.io/core:/stable:/v1.25/deb/",
        "https://pkgs.k8s.io/core:/stable:/v1.25/deb/Release.key",
        "https://raw.githubusercontent.com/projectcalico/calico/v3.24.1/manifests/calico.yaml",
    ]
    .into_iter()
    .map(String::from)
    .collect();
    assert_eq!(urls, wanted, "{}", run.stdout);
}

/// The whole flow planned (`--check`, facts given) on CentOS 7, Rocky 8, Ubuntu 20.04 and 22.04 hosts with a
/// complete bundle — the variables scripts/bundle-el writes (the distro's repository carrying Docker CE and the
/// Kubernetes packages, the release files, the CNI manifest and the images): no external URL, and every package
/// command reads the bundle's repository only (yum/dnf: `--disablerepo='*'`, the bundle's own reposdir; apt: the
/// bundle's source list and lists), the host's repo files untouched, the pins kept. The bundle's files are small
/// stand-ins: a plan only needs their checksums.
#[test]
fn check_plans_el_and_ubuntu_installs_from_the_bundle_only() {
    require_lab!();
    let lab = lab();
    let bundle = std::env::temp_dir().join("runbook-t-fl2-bundle");
    let _ = std::fs::remove_dir_all(&bundle);
    std::fs::create_dir_all(bundle.join("images")).unwrap();
    let distros = [
        (
            "centos-7",
            r#""os_id": "centos", "os_like": "rhel fedora", "os_version": "7", "os_major": 7, "os_family": "redhat", "kernel": "3.10.0-1160.el7.x86_64", "pkg_mgr": "yum""#,
        ),
        (
            "rocky-8",
            r#""os_id": "rocky", "os_like": "rhel centos fedora", "os_version": "8.9", "os_major": 8, "os_family": "redhat", "kernel": "4.18.0-513.el8.x86_64", "pkg_mgr": "dnf""#,
        ),
        (
            "ubuntu-20.04",
            r#""os_id": "ubuntu", "os_like": "debian", "os_version": "20.04", "os_major": 20, "os_family": "debian", "kernel": "5.4.0-150-generic", "pkg_mgr": "apt""#,
        ),
        (
            "ubuntu-22.04",
            r#""os_id": "ubuntu", "os_like": "debian", "os_version": "22.04", "os_major": 22, "os_family": "debian", "kernel": "5.15.0-88-generic", "pkg_mgr": "apt""#,
        ),
    ];
    for (distro, _) in &distros {
        std::fs::write(bundle.join(format!("{distro}.tar")), format!("stand-in repository of {distro}\n")).unwrap();
    }
    for file in [
        "cri-dockerd-0.2.5.amd64.tgz",
        "docker-compose-linux-x86_64",
        "harbor-offline-installer-v2.6.0.tgz",
        "calico.yaml",
        "images/k8s-images.tar",
    ] {
        std::fs::write(bundle.join(file), format!("stand-in {file}\n")).unwrap();
    }
    let names: Vec<&str> = distros.iter().map(|d| d.0).collect();
    let vars = bundle.join("bundle-vars.yaml");
    std::fs::write(
        &vars,
        format!(
            "bundle_dir: {}\nbundle_distros: [{}]\nbundle_carries: [docker-ce, kubernetes]\n\
             cni_manifest_bundle: calico.yaml\nk8s_images_bundle: images/k8s-images.tar\n\
             bundle_images: [\"registry.k8s.io/pause:3.8\"]\n",
            bundle.display(),
            names.join(", ")
        ),
    )
    .unwrap();
    for (distro, facts) in distros {
        let run = whole_flow_with_secrets(lab)
            .args(&["--check", "--diff", "-e", &format!("@{}", vars.display())])
            .args(&["-e", &format!(r#"{{"runbook_facts": {{{facts}}}}}"#)])
            .json_log()
            .run();
        assert!(run.stdout.contains("External URLs: none"), "{distro}:\n{}", run.stdout);
        let el = !distro.starts_with("ubuntu");
        let only_bundle = if el {
            format!(
                "--disablerepo='*' --enablerepo=runbook-bundle --setopt=reposdir=/var/lib/runbook/bundle/{distro}.repos.d"
            )
        } else {
            format!(
                "-o Dir::Etc::SourceList=/var/lib/runbook/bundle/{distro}.list -o Dir::Etc::SourceParts=/var/lib/runbook/bundle/no-parts \
                 -o Dir::State::Lists=/var/lib/runbook/bundle/lists"
            )
        };
        let events = run.events();
        let mut installs = Vec::new();
        for host in &lab.hosts {
            for event in events.iter().filter(|e| e["event"] == "host_result" && e["host"] == host.as_str()) {
                for step in event["steps"].as_array().into_iter().flatten() {
                    let target = step["target"].as_str().unwrap_or("");
                    let manager = ["yum ", "dnf ", "apt-get ", "apt-cache "].iter().any(|m| target.contains(m));
                    if manager && !target.starts_with("apt-mark") {
                        assert!(target.contains(&only_bundle), "{distro} {host}: reads more than the bundle: {target}");
                        installs.push(target.to_string());
                    }
                    for outside in ["/etc/yum.repos.d", "/etc/apt/sources.list", "/etc/apt/keyrings"] {
                        assert!(!target.contains(outside), "{distro} {host}: {target}");
                    }
                }
            }
        }
        let planned = |text: &str| installs.iter().any(|c| c.contains(text));
        if el {
            let mgr = if distro == "centos-7" { "yum" } else { "dnf" };
            let docker = format!("{mgr} {only_bundle} -y install 'docker-ce-20.10.17' 'docker-ce-cli-20.10.17'");
            assert!(planned(&docker), "{distro}: no {docker:?} in {installs:#?}");
            let kube = format!("{mgr} {only_bundle} -y install 'kubeadm-1.25.0' 'kubectl-1.25.0' 'kubelet-1.25.0'");
            assert!(planned(&kube), "{distro}: no {kube:?} in {installs:#?}");
            assert!(planned(&format!("{mgr} {only_bundle} -y install 'haproxy' 'keepalived'")), "{installs:#?}");
            assert!(planned(&format!("{mgr} {only_bundle} -y install 'chrony'")), "{installs:#?}");
            // The repo file the options name, outside /etc/yum.repos.d, pointing at the unpacked bundle.
            let repo = format!("/var/lib/runbook/bundle/{distro}.repos.d/runbook-bundle.repo");
            let diff = events
                .iter()
                .filter(|e| e["event"] == "host_result")
                .flat_map(|e| e["steps"].as_array().cloned().unwrap_or_default())
                .find(|s| s["target"] == repo.as_str())
                .unwrap_or_else(|| panic!("{distro}: {repo} not written"))["diff"]
                .as_str()
                .unwrap()
                .to_string();
            assert!(diff.contains(&format!("+baseurl=file:///var/lib/runbook/bundle/{distro}\n")), "{diff}");
            assert!(diff.contains("+[runbook-bundle]\n") && diff.contains("+enabled=1\n"), "{diff}");
        } else {
            assert!(planned(&format!("apt-get {only_bundle} update -q")), "{installs:#?}");
            assert!(planned(&format!("apt-cache {only_bundle} madison 'docker-ce'")), "{installs:#?}");
            assert!(planned(&format!("apt-cache {only_bundle} madison 'kubeadm'")), "{installs:#?}");
            assert!(
                planned(&format!(
                    "apt-get {only_bundle} install -y -q --no-install-recommends --allow-downgrades --allow-change-held-packages 'docker-ce=20.10.17*' 'docker-ce-cli=20.10.17*'"
                )),
                "{installs:#?}"
            );
        }
    }
    // The same plan without `bundle_carries`: Docker CE and the Kubernetes packages from their repos (each
    // artifact falls back on its own), the rest still from the bundle.
    let run = whole_flow_with_secrets(lab)
        .args(&["--check", "-v", "-e", &format!("@{}", vars.display()), "-e", r#"{"bundle_carries": []}"#])
        .args(&["-e", &format!(r#"{{"runbook_facts": {{{}}}}}"#, distros[1].1)])
        .run();
    for url in ["https://download.docker.com/linux/centos/", "https://pkgs.k8s.io/core:/stable:/v1.25/rpm/"] {
        assert!(run.stdout.contains(url), "{url} not listed:\n{}", run.stdout);
    }
    assert!(run.stdout.contains("dnf -y install 'docker-ce-20.10.17' 'docker-ce-cli-20.10.17'"), "{}", run.stdout);
    assert!(
        run.stdout.contains("--setopt=reposdir=/var/lib/runbook/bundle/rocky-8.repos.d -y install 'chrony'"),
        "{}",
        run.stdout
    );
    let _ = std::fs::remove_dir_all(&bundle);
}

/// The whole shipped flow on the lab, with the secrets it asks for given in the environment.
fn whole_flow_with_secrets(lab: &Lab) -> Test {
    Test::new()
        .lab(lab)
        .shipped("playbooks/ha-cluster.rhai")
        .env("RUNBOOK_SECRET_HAPROXY_STATS_PASSWORD", "pw-elb-1")
        .env("RUNBOOK_SECRET_KEEPALIVED_AUTH_PASS", "pw-elb2")
        .env("RUNBOOK_SECRET_HARBOR_ADMIN_PASSWORD", "pw-elb-3")
        .env("RUNBOOK_SECRET_HARBOR_DB_PASSWORD", "pw-elb-4")
}

/// The guide reboots after 4.1.13 and checks the modules and the kernel settings again: what the prepare stage
/// writes must outlive a reboot, not only hold until one. On a lab host (a container: no kernel modules of its
/// own, only net.* sysctls writable) that is the module lists for systemd-modules-load and every k8s sysctl the
/// host can hold, applied again at boot by systemd-sysctl from /etc/sysctl.d/k8s.conf.
#[test]
fn ipvs_module_lists_and_k8s_sysctls_persist_across_a_reboot() {
    require_lab!();
    let lab = lab();
    let host = "k8s-node01";
    Test::new()
        .lab(lab)
        .shipped("playbooks/prepare-hosts.rhai")
        .args(&["--tags", "modules,sysctl", "--limit", host])
        .run();
    let file = lab.sh(host, "cat /etc/sysctl.d/k8s.conf");
    let applied = |lab: &Lab| -> Vec<(String, String)> {
        file.lines()
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
            .filter(|(k, _)| k.starts_with("net.") && k != "net.netfilter.nf_conntrack_max")
            .filter_map(|(k, _)| {
                let (code, value) = lab.ssh(host, &format!("sysctl -n {k}"));
                (code == 0).then(|| (k, value.split_whitespace().collect::<Vec<_>>().join(" ")))
            })
            .collect()
    };
    let wanted: Vec<(String, String)> = file
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.trim().to_string(), v.split_whitespace().collect::<Vec<_>>().join(" ")))
        .collect();
    let before = applied(lab);
    assert!(before.iter().any(|(k, _)| k == "net.ipv4.ip_forward"), "the host holds net.* keys: {before:?}");
    for (key, value) in &before {
        assert!(wanted.contains(&(key.clone(), value.clone())), "{key} = {value} before the reboot, file: {file}");
    }

    // Back to the kernel's defaults, as a fresh boot starts, so only what the host re-applies at boot counts.
    lab.sh(host, "sysctl -q -w net.ipv4.ip_forward=0 net.ipv4.tcp_keepalive_time=7200");
    Test::new().lab(lab).playbook(&format!(r#"task("reboot", [host("{host}")], |h| h.reboot());"#)).run();

    let after = applied(lab);
    assert_eq!(after, before, "the k8s sysctls after the reboot");
    let modules = lab.sh(host, "cat /etc/modules-load.d/ipvs.conf /etc/modules-load.d/k8s.conf");
    for module in ["ip_vs", "ip_vs_rr", "ip_vs_wrr", "ip_vs_sh", "nf_conntrack", "br_netfilter", "overlay"] {
        assert!(modules.lines().any(|l| l.trim() == module), "{module} is loaded at boot: {modules}");
    }
}
