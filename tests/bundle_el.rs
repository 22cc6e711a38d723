//! scripts/bundle-el for real (issue 16), as far as this Debian machine allows: no EL mirror is reachable, so a
//! local one stands in — small rpms built here with rpmbuild, with the dependency chains and the several
//! versions real repos have (a distro repo, Docker CE's and Kubernetes' under the paths the flow's variables
//! name), made repositories with createrepo_c and served on 127.0.0.1. bundle-el runs against it with Debian's
//! dnf 4 (the one Rocky 8 has), then the mirror is stopped and everything the flow installs on an EL host is
//! installed into an empty root with the bundle's repository only — the options stdlib/bundle.rhai gives
//! yum/dnf — which proves the bundle self-contained and the pins kept.
//!
//! Needs root, dnf, createrepo_c, rpmbuild and rpm (scripts/install-deps --for-tests installs them); fails when one is missing.

use crate::support;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use support::repo_root;

const KERNEL: &str = "kernel-ml-4.19.12-1.el7.elrepo.x86_64.rpm";
const KERNEL_DEVEL: &str = "kernel-ml-devel-4.19.12-1.el7.elrepo.x86_64.rpm";

/// One spec per version group, each package a subpackage: one rpmbuild run per group.
/// (name, requires, provides)
type Package<'a> = (&'a str, &'a [&'a str], &'a [&'a str]);

fn build_rpms(dest: &Path, group: &str, version: &str, packages: &[Package]) {
    build_rpms_as(dest, group, version, "1", "BuildArch: noarch\n", packages);
}

/// `arch`: a BuildArch line, or "" for the machine's (x86_64, as the guide's kernel-ml rpms).
fn build_rpms_as(dest: &Path, group: &str, version: &str, release: &str, arch: &str, packages: &[Package]) {
    let top = dest.join(format!(".build-{group}-{version}"));
    std::fs::create_dir_all(top.join("SPECS")).unwrap();
    let mut spec = format!(
        "Name: rb-{group}\nVersion: {version}\nRelease: {release}\nSummary: stand-ins\nLicense: MIT\n{arch}\
         %description\nstand-ins for tests/bundle_el.rs\n"
    );
    for (name, requires, provides) in packages {
        spec += &format!("%package -n {name}\nSummary: stand-in for {name}\n");
        for r in *requires {
            spec += &format!("Requires: {r}\n");
        }
        for p in *provides {
            spec += &format!("Provides: {p}\n");
        }
        spec += &format!("%description -n {name}\nstand-in\n");
    }
    spec += "%install\nmkdir -p %{buildroot}/usr/share/rb-standin\n";
    for (name, _, _) in packages {
        spec += &format!("echo '{name} {version}' > %{{buildroot}}/usr/share/rb-standin/{name}\n");
    }
    for (name, _, _) in packages {
        spec += &format!("%files -n {name}\n/usr/share/rb-standin/{name}\n");
    }
    let path = top.join("SPECS/standins.spec");
    std::fs::write(&path, spec).unwrap();
    let status = Command::new("rpmbuild")
        .args(["-bb", "--quiet", "--define"])
        .arg(format!("_topdir {}", top.display()))
        .arg("--define")
        .arg(format!("_rpmdir {}", dest.display()))
        .args(["--define", "_build_name_fmt %%{NAME}-%%{VERSION}-%%{RELEASE}.%%{ARCH}.rpm"])
        .arg(&path)
        .status()
        .expect("rpmbuild runs (scripts/install-deps --for-tests installs rpm)");
    assert!(status.success(), "rpmbuild {group} {version}");
    std::fs::remove_dir_all(&top).unwrap();
}

fn createrepo(dir: &Path) {
    let status = Command::new("createrepo_c").arg("-q").arg(dir).status().expect("createrepo_c runs");
    assert!(status.success(), "createrepo_c {}", dir.display());
}

fn require_tools() {
    for tool in ["dnf", "createrepo_c", "rpmbuild", "rpm", "rpm2cpio", "python3"] {
        let found = Command::new("sh").args(["-c", &format!("command -v {tool}")]).output().unwrap();
        assert!(
            found.status.success(),
            "{tool} is missing: run scripts/install-deps --for-tests (Debian: dnf createrepo-c rpm)"
        );
    }
}

/// The local mirror on 127.0.0.1 (python3's http.server), stopped by its PID when dropped.
struct Mirror {
    child: Child,
    port: u16,
}

impl Mirror {
    fn start(root: &Path) -> Mirror {
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let child = Command::new("python3")
            .args(["-m", "http.server", "--bind", "127.0.0.1", &port.to_string()])
            .current_dir(root)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "the local mirror did not start");
            std::thread::sleep(Duration::from_millis(100));
        }
        Mirror { child, port }
    }
}

impl Drop for Mirror {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Builds the stand-in mirror under `root` and returns the bundle-el variables file pointing at `port`.
fn mirror_tree(root: &Path) {
    let os = root.join("os");
    build_rpms(
        &os,
        "os",
        "1.0",
        &[
            ("vim-enhanced", &["vim-common"], &["vim"]),
            ("vim-common", &[], &[]),
            ("tree", &[], &[]),
            ("lrzsz", &[], &[]),
            ("wget", &["libpsl"], &[]),
            ("libpsl", &[], &[]),
            ("jq", &["oniguruma"], &[]),
            ("oniguruma", &[], &[]),
            ("psmisc", &[], &[]),
            ("net-tools", &[], &[]),
            ("telnet", &[], &[]),
            ("yum-utils", &[], &[]),
            ("device-mapper-persistent-data", &[], &[]),
            ("lvm2", &["device-mapper-persistent-data"], &[]),
            ("git", &["perl-Git"], &[]),
            ("perl-Git", &[], &[]),
            ("rsync", &[], &[]),
            ("chrony", &[], &[]),
            ("haproxy", &["openssl-libs"], &[]),
            ("openssl-libs", &[], &[]),
            ("keepalived", &["ipset-libs"], &[]),
            ("ipset-libs", &[], &[]),
            ("curl", &["libcurl"], &[]),
            ("libcurl", &[], &[]),
            ("ipvsadm", &[], &[]),
            ("ipset", &["ipset-libs"], &[]),
            ("sysstat", &[], &[]),
            ("conntrack-tools", &[], &["conntrack"]),
            ("libseccomp", &[], &[]),
            ("python3", &["python3-libs"], &[]),
            ("python3-libs", &[], &[]),
            ("container-selinux", &[], &[]),
            ("iptables", &[], &[]),
            // What the kernel-ml rpm needs (the builder resolves the dependencies of the rpm files it fetches too).
            ("linux-firmware", &[], &[]),
            ("dracut", &[], &[]),
            // Not needed by anything the flow installs: must stay out of the bundle.
            ("emacs", &[], &[]),
        ],
    );
    createrepo(&os);
    let docker = root.join("docker-ce/linux/centos/8/x86_64/stable");
    for version in ["20.10.17", "20.10.18"] {
        build_rpms(
            &docker,
            "docker",
            version,
            &[
                ("docker-ce", &["docker-ce-cli", "containerd.io", "container-selinux", "iptables"], &[]),
                ("docker-ce-cli", &[], &[]),
            ],
        );
    }
    build_rpms(&docker, "containerd", "1.6.8", &[("containerd.io", &[], &[])]);
    createrepo(&docker);
    // CentOS 7's $releasever path: the same stand-ins.
    std::os::unix::fs::symlink("8", root.join("docker-ce/linux/centos/7")).unwrap();
    let k8s = root.join("k8s");
    for version in ["1.25.0", "1.26.0"] {
        build_rpms(
            &k8s,
            "kube",
            version,
            &[
                ("kubeadm", &["kubelet", "kubectl", "cri-tools"], &[]),
                ("kubelet", &["conntrack", "kubernetes-cni"], &[]),
                ("kubectl", &[], &[]),
            ],
        );
    }
    build_rpms(&k8s, "cni", "1.1.1", &[("kubernetes-cni", &[], &[]), ("cri-tools", &[], &[])]);
    createrepo(&k8s);
    let files = root.join("files");
    std::fs::create_dir_all(&files).unwrap();
    // The guide's elrepo kernel, fetched as files (not from a repository), as prepare-hosts.rhai installs them.
    build_rpms_as(
        &files,
        "kernel",
        "4.19.12",
        "1.el7.elrepo",
        "",
        &[("kernel-ml", &["linux-firmware", "dracut"], &[]), ("kernel-ml-devel", &[], &[])],
    );
    for (name, text) in [
        ("cri-dockerd-0.2.5.amd64.tgz", "cri-dockerd 0.2.5\n"),
        ("docker-compose-linux-x86_64", "#!/bin/sh\necho 'Docker Compose version v2.10.2'\n"),
        ("harbor-offline-installer-v2.6.0.tgz", "harbor 2.6.0\n"),
        ("calico.yaml", "spec:\n  containers:\n    - image: docker.io/calico/node:v3.24.1\n"),
    ] {
        std::fs::write(files.join(name), text).unwrap();
    }
}

fn vars_for(port: u16) -> String {
    let base = format!("http://127.0.0.1:{port}");
    format!(
        "docker_repo: {base}/docker-ce\nk8s_repo_rpm: {base}/k8s/\nk8s_repo_rpm_key: \"\"\n\
         cri_dockerd_url: {base}/files/cri-dockerd-{{version}}.amd64.tgz\n\
         docker_compose_url: {base}/files/docker-compose-linux-x86_64\n\
         harbor_installer_url: {base}/files/harbor-offline-installer-v{{version}}.tgz\n\
         calico_manifest_url: {base}/files/calico.yaml\n"
    )
}

fn bundle_el(out: &Path, work: &Path, port: u16, distro: &str) -> std::process::Output {
    let repos = work.join("repos.d");
    std::fs::create_dir_all(&repos).unwrap();
    std::fs::write(
        repos.join("os.repo"),
        format!("[os]\nname=stand-in OS\nbaseurl=http://127.0.0.1:{port}/os/\ngpgcheck=0\n"),
    )
    .unwrap();
    let vars = work.join("mirror-vars.yaml");
    std::fs::write(&vars, vars_for(port)).unwrap();
    let output = Command::new(repo_root().join("scripts/bundle-el"))
        .arg(out)
        .env("BUNDLE_DISTRO", distro)
        .env("BUNDLE_REPOS_DIR", &repos)
        .env("BUNDLE_VARS", &vars)
        // The stand-in rpms are not signed (the real Docker CE and Kubernetes ones are checked against their keys).
        .env("BUNDLE_GPGCHECK", "0")
        .env("BUNDLE_IMAGES", "0")
        .env("BUNDLE_KERNEL", "1")
        .env("KERNEL_ML_URL", format!("http://127.0.0.1:{port}/files/{{file}}"))
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "bundle-el failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

fn mtime(path: &Path) -> std::time::SystemTime {
    std::fs::metadata(path).unwrap().modified().unwrap()
}

#[test]
fn bundle_el_gathers_a_self_contained_rpm_repository_and_the_release_files() {
    require_lab!();
    require_tools();
    let work = PathBuf::from("/tmp/runbook-t-elb-build");
    let _ = std::fs::remove_dir_all(&work);
    let mirror_root = work.join("mirror");
    mirror_tree(&mirror_root);
    let out = work.join("bundle");
    let mirror = Mirror::start(&mirror_root);
    let port = mirror.port;
    let started = Instant::now();
    bundle_el(&out, &work, port, "rocky-8");
    eprintln!("bundle-el: {:.1} s", started.elapsed().as_secs_f64());

    // The repository: the closure of what the flow installs, at the pins, and nothing else.
    let rpms: Vec<String> = std::fs::read_dir(out.join("rocky-8"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".rpm"))
        .collect();
    for wanted in [
        "docker-ce-20.10.17-1.noarch.rpm",
        "docker-ce-cli-20.10.17-1.noarch.rpm",
        "containerd.io-1.6.8-1.noarch.rpm",
        "kubeadm-1.25.0-1.noarch.rpm",
        "kubelet-1.25.0-1.noarch.rpm",
        "kubernetes-cni-1.1.1-1.noarch.rpm",
        "conntrack-tools-1.0-1.noarch.rpm",
        "vim-enhanced-1.0-1.noarch.rpm",
        "perl-Git-1.0-1.noarch.rpm",
        "openssl-libs-1.0-1.noarch.rpm",
        "linux-firmware-1.0-1.noarch.rpm",
        "dracut-1.0-1.noarch.rpm",
    ] {
        assert!(rpms.contains(&wanted.to_string()), "{wanted} not in the bundle: {rpms:?}");
    }
    for unwanted in ["docker-ce-20.10.18", "kubeadm-1.26.0", "emacs-"] {
        assert!(!rpms.iter().any(|r| r.starts_with(unwanted)), "{unwanted} in the bundle: {rpms:?}");
    }
    let tar = Command::new("tar").arg("-tf").arg(out.join("rocky-8.tar")).output().unwrap();
    let listing = String::from_utf8_lossy(&tar.stdout);
    assert!(listing.lines().any(|l| l == "repodata/repomd.xml"), "{listing}");
    assert_eq!(listing.lines().filter(|l| l.ends_with(".rpm")).count(), rpms.len(), "{listing}");

    // Release files, manifest, checksums, variables.
    for file in [
        "cri-dockerd-0.2.5.amd64.tgz",
        "docker-compose-linux-x86_64",
        "harbor-offline-installer-v2.6.0.tgz",
        "calico.yaml",
        KERNEL,
        KERNEL_DEVEL,
    ] {
        assert_eq!(
            std::fs::read(out.join(file)).unwrap(),
            std::fs::read(mirror_root.join("files").join(file)).unwrap(),
            "{file}"
        );
    }
    let sums = Command::new("sha256sum").args(["-c", "--quiet", "SHA256SUMS"]).current_dir(&out).status().unwrap();
    assert!(sums.success());
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["built_by"], "scripts/bundle-el");
    assert_eq!(manifest["distros"], serde_json::json!(["rocky-8"]));
    let artifacts = manifest["artifacts"].as_array().unwrap();
    let docker = artifacts.iter().find(|a| a["package"] == "docker-ce").expect("docker-ce in the manifest");
    assert_eq!(docker["version"], "20.10.17-1");
    assert_eq!(
        docker["url"],
        format!("http://127.0.0.1:{port}/docker-ce/linux/centos/8/x86_64/stable/docker-ce-20.10.17-1.noarch.rpm")
    );
    let cri = artifacts.iter().find(|a| a["file"] == "cri-dockerd-0.2.5.amd64.tgz").unwrap();
    assert_eq!(cri["url"], format!("http://127.0.0.1:{port}/files/cri-dockerd-0.2.5.amd64.tgz"));
    let vars = std::fs::read_to_string(out.join("bundle-vars.yaml")).unwrap();
    for line in [
        format!("bundle_dir: {}", out.display()),
        "bundle_distros: [rocky-8]".to_string(),
        "bundle_carries: [docker-ce, kubernetes]".to_string(),
        "docker_version: \"20.10.17\"".to_string(),
        "cni_manifest_bundle: calico.yaml".to_string(),
    ] {
        assert!(vars.lines().any(|l| l == line), "{line:?} not in bundle-vars.yaml:\n{vars}");
    }
    assert!(!vars.contains("k8s_images_bundle"), "no images without docker:\n{vars}");

    // A rerun changes nothing (same repository tarball, same manifest).
    let (tar_time, manifest_time) = (mtime(&out.join("rocky-8.tar")), mtime(&out.join("manifest.json")));
    bundle_el(&out, &work, port, "rocky-8");
    assert_eq!(mtime(&out.join("rocky-8.tar")), tar_time, "rerun rebuilt the repository");
    assert_eq!(mtime(&out.join("manifest.json")), manifest_time, "rerun rewrote the manifest");

    // A second EL release into the same folder: both repositories, one manifest, one bundle_distros.
    bundle_el(&out, &work, port, "centos-7");
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["distros"], serde_json::json!(["centos-7", "rocky-8"]));
    for distro in ["centos-7", "rocky-8"] {
        let repos: Vec<_> = manifest["artifacts"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|a| a["kind"] == "rpm-repo" && a["distro"] == distro)
            .collect();
        assert_eq!(repos.len(), 1, "{distro}: {manifest:#}");
        assert!(
            manifest["artifacts"]
                .as_array()
                .unwrap()
                .iter()
                .any(|a| a["file"] == format!("{distro}/docker-ce-20.10.17-1.noarch.rpm"))
        );
    }
    let vars = std::fs::read_to_string(out.join("bundle-vars.yaml")).unwrap();
    assert!(vars.lines().any(|l| l == "bundle_distros: [centos-7, rocky-8]"), "{vars}");
    let sums = Command::new("sha256sum").args(["-c", "--quiet", "SHA256SUMS"]).current_dir(&out).status().unwrap();
    assert!(sums.success());
    assert_eq!(mtime(&out.join("rocky-8.tar")), tar_time, "the other release's repository was rebuilt");

    // Offline: the mirror stopped, the repository unpacked and its repo file written as stdlib/bundle.rhai does on
    // a host, dnf installs everything the flow installs on an EL host from the bundle only, at the pins.
    drop(mirror);
    let host = work.join("host");
    let unpacked = host.join("var/lib/runbook/bundle/rocky-8");
    let reposdir = work.join("host-repos.d");
    std::fs::create_dir_all(&unpacked).unwrap();
    std::fs::create_dir_all(&reposdir).unwrap();
    let untar = Command::new("tar").arg("-xf").arg(out.join("rocky-8.tar")).arg("-C").arg(&unpacked).status().unwrap();
    assert!(untar.success());
    std::fs::write(
        reposdir.join("runbook-bundle.repo"),
        format!(
            "[runbook-bundle]\nname=runbook offline bundle (rocky-8)\nbaseurl=file://{}\nenabled=1\ngpgcheck=0\n\
             metadata_expire=0\nmodule_hotfixes=1\n",
            unpacked.display()
        ),
    )
    .unwrap();
    // A repo of the "host" that is unreachable now: the options must keep dnf away from it.
    std::fs::write(
        reposdir.join("os.repo"),
        format!("[os]\nname=os\nbaseurl=http://127.0.0.1:{port}/os/\ngpgcheck=0\n"),
    )
    .unwrap();
    let root = work.join("root");
    let only_bundle = format!("--disablerepo='*' --enablerepo=runbook-bundle --setopt=reposdir={}", reposdir.display());
    let install = format!(
        "dnf {only_bundle} --installroot={} --releasever=8 -y -q install vim tree lrzsz wget jq psmisc net-tools telnet \
         yum-utils device-mapper-persistent-data lvm2 git rsync chrony haproxy keepalived curl ipvsadm ipset sysstat \
         conntrack libseccomp python3 docker-ce-20.10.17 docker-ce-cli-20.10.17 kubeadm-1.25.0 kubelet-1.25.0 kubectl-1.25.0",
        root.display()
    );
    // The kernel rpms as prepare-hosts.rhai installs them (files given to yum/dnf), their dependencies from the bundle.
    let install = format!("{install} {} {}", out.join(KERNEL).display(), out.join(KERNEL_DEVEL).display());
    let run = Command::new("sh").args(["-c", &install]).output().unwrap();
    assert!(
        run.status.success(),
        "{install}\n{}\n{}",
        String::from_utf8_lossy(&run.stdout),
        String::from_utf8_lossy(&run.stderr)
    );
    let query = Command::new("rpm")
        .arg("--root")
        .arg(&root)
        .args([
            "-q",
            "--qf",
            "%{NAME} %{VERSION}\\n",
            "docker-ce",
            "kubeadm",
            "kubelet",
            "containerd.io",
            "haproxy",
            "kernel-ml",
            "dracut",
        ])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&query.stdout),
        "docker-ce 20.10.17\nkubeadm 1.25.0\nkubelet 1.25.0\ncontainerd.io 1.6.8\nhaproxy 1.0\nkernel-ml 4.19.12\ndracut 1.0\n"
    );
    // The control: without `--disablerepo='*'` dnf reads the unreachable repo beside it and fails.
    let without = Command::new("sh")
        .args([
            "-c",
            &format!(
                "dnf --setopt=reposdir={} --installroot={} --releasever=8 -y -q install emacs",
                reposdir.display(),
                root.display()
            ),
        ])
        .output()
        .unwrap();
    assert!(!without.status.success(), "dnf did not need the stopped mirror: the test proves nothing");
    let _ = std::fs::remove_dir_all(&work);
}
