//! `lab up` and `lab down`: everything between "nothing" and "every host answers over SSH", and back, with all
//! decisions written to disk first so that `down` can undo a lab whose starter crashed.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::base_image;
use super::bridge;
use super::cgroup;
use super::lab_error::{LabError, LabResult};
use super::lab_inventory::{self, AddressMap, LabConnection, SourceInventory};
use super::lab_name::LabName;
use super::lab_state::{
    LABS_ROOT, LabDir, LabMachine, LabState, NEIGHBOUR_MARKER, process_matches, read_pid, write_atomic,
};
use super::lab_subnet::LabSubnet;
use super::neighbour_limits;
use super::nspawn_machine;
use super::readiness;
use super::required_tools::{self, IP, NSPAWN, SSH, SSH_KEYGEN};
use super::status;
use super::supervisor;

/// What `lab up` was asked for.
#[derive(Debug, Clone)]
pub struct UpOptions {
    pub name: String,
    pub inventory: Option<PathBuf>,
    pub hosts: Option<u32>,
    pub subnet: String,
    /// Light hosts: sshd in namespaces instead of systemd-nspawn containers (see `light_host`).
    pub light: bool,
}

/// Raised before booting: every host's systemd shares the machine's per-user inotify limits, and at the default
/// 128 instances about half of 50 hosts die at boot with "Too many open files".
const INOTIFY_LIMITS: &[(&str, u64)] =
    &[("/proc/sys/fs/inotify/max_user_instances", 8192), ("/proc/sys/fs/inotify/max_user_watches", 1_048_576)];

/// What `up` prints and tests read: the lab's files and its hosts.
#[derive(Debug, Clone)]
pub struct LabSummary {
    pub state: LabState,
    pub inventory: PathBuf,
    pub elapsed: Duration,
    pub already_running: bool,
}

/// Rewrites a running lab's inventory from its source when the source still has exactly the lab's hosts.
fn refresh_inventory(name: &LabName, state: &LabState, path: &std::path::Path) -> LabResult<bool> {
    let source = SourceInventory::load(path)?;
    let mut wanted: Vec<&str> = source.hosts.iter().map(|host| host.name.as_str()).collect();
    let mut running: Vec<&str> = state.hosts.iter().map(|host| host.name.as_str()).collect();
    wanted.sort_unstable();
    running.sort_unstable();
    if wanted != running {
        return Ok(false);
    }
    let subnet = LabSubnet::parse(&state.subnet)?;
    let hosts = state.hosts.iter().map(|host| (host.name.clone(), host.address)).collect();
    let map = AddressMap::running(hosts, &source.hosts, subnet);
    let connection = LabConnection {
        key: state.user_dir.join("id_ed25519").display().to_string(),
        known_hosts: state.user_dir.join("known_hosts").display().to_string(),
    };
    let document = lab_inventory::lab_inventory(&source, &map, &connection);
    let source_path = fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    let header = format!("# runbook lab `{name}`: {} with addresses on {subnet}\n", source_path.display());
    write_atomic(&state.user_dir.join("inventory.yaml"), lab_inventory::to_yaml(&document, &header)?.as_bytes())?;
    Ok(true)
}

pub fn up(options: &UpOptions) -> LabResult<LabSummary> {
    let started = Instant::now();
    required_tools::require_root("up")?;
    let name = LabName::parse(&options.name)?;
    let subnet = LabSubnet::parse(&options.subnet)?;
    let dir = LabDir::new(&name);
    let previous = dir.load()?;

    if let Some(state) = previous.as_ref().filter(|_| supervisor_alive(&dir)) {
        // The same hosts with edited variables: rewrite the lab inventory (the hosts keep their addresses).
        let refreshed = match &options.inventory {
            Some(path) => refresh_inventory(&name, state, path)?,
            None => false,
        };
        if !refreshed && (options.inventory.is_some() || options.hosts.is_some()) {
            eprintln!(
                "note: lab `{name}` is already running with {} hosts; it is only checked, not changed \
                 (`runbook lab down --name {name}` first to change it)",
                state.hosts.len()
            );
        }
        if state.hosts.iter().any(|host| !status::host_running(&dir, &host.name))
            && let Some(pid) = read_pid(&dir.supervisor_pid_file())
        {
            supervisor::request_start_stopped(pid);
        }
        // A lab started from another checkout (since removed) would otherwise wait its whole ready timeout on
        // an ssh that cannot log in, then blame the hosts.
        if !state.user_dir.join("id_ed25519").is_file() {
            return Err(LabError::KeyGone { lab: name.to_string(), user_dir: state.user_dir.clone() });
        }
        wait_ready(state, &dir, None)?;
        return Ok(LabSummary {
            inventory: state.user_dir.join("inventory.yaml"),
            state: state.clone(),
            elapsed: started.elapsed(),
            already_running: true,
        });
    }
    // A lab booted again as it was keeps its kind; otherwise the caller says.
    let light = match (&options.inventory, options.hosts, &previous) {
        (None, None, Some(state)) => state.light,
        _ => options.light,
    };
    if light {
        required_tools::require_tools(&[required_tools::UNSHARE, IP, SSH, SSH_KEYGEN])?;
    } else {
        required_tools::require_tools(&[NSPAWN, IP, SSH, SSH_KEYGEN])?;
    }
    if previous.is_some() || bridge::exists(&name.bridge()) {
        // Whatever an earlier run left behind (a crash, a reboot of the machine) goes before booting again.
        teardown(&name, &dir, previous.as_ref())?;
    }

    let user_dir = std::env::current_dir()
        .map_err(|error| LabError::io("finding the current directory", error))?
        .join(".runbook")
        .join(name.as_str());
    let connection = LabConnection {
        key: user_dir.join("id_ed25519").display().to_string(),
        known_hosts: user_dir.join("known_hosts").display().to_string(),
    };
    let (map, subnet, document) = match (&options.inventory, options.hosts, &previous) {
        (Some(path), _, _) => {
            let source = SourceInventory::load(path)?;
            check_host_names(path, &source)?;
            let map = AddressMap::new(&source.hosts, subnet)?;
            let document = lab_inventory::lab_inventory(&source, &map, &connection);
            let source_path = fs::canonicalize(path).unwrap_or_else(|_| path.clone());
            let header = format!("# runbook lab `{name}`: {} with addresses on {subnet}\n", source_path.display());
            (map, subnet, Some(lab_inventory::to_yaml(&document, &header)?))
        }
        (None, Some(count), _) => {
            let map = AddressMap::anonymous(count, subnet)?;
            let document = lab_inventory::anonymous_inventory(&map, &connection);
            let header = format!("# runbook lab `{name}`: {count} hosts on {subnet}\n");
            (map, subnet, Some(lab_inventory::to_yaml(&document, &header)?))
        }
        (None, None, Some(state)) => {
            // `up` with neither: boot the lab that was there before, as it was.
            let subnet = LabSubnet::parse(&state.subnet)?;
            let hosts = state.hosts.iter().map(|host| (host.name.clone(), host.address)).collect();
            (AddressMap::from_hosts(hosts, subnet), subnet, None)
        }
        (None, None, None) => return Err(LabError::NoHosts),
    };

    let base = base_image::ensure(false, &running_labs(Some(&name)))?;
    let bridge_name = name.bridge();
    bridge::check_subnet_free(&subnet, &bridge_name)?;
    if let Some(warning) = bridge::forward_drop_warning(&bridge_name) {
        eprintln!("warning: {warning}");
    }

    fs::create_dir_all(&user_dir).map_err(|error| LabError::io(format!("creating {}", user_dir.display()), error))?;
    let key = user_dir.join("id_ed25519");
    if !key.exists() {
        let comment = format!("runbook-lab-{name}");
        required_tools::run(
            &SSH_KEYGEN,
            &["-q", "-t", "ed25519", "-N", "", "-C", &comment, "-f", &key.to_string_lossy()],
        )?;
    }
    let public_key = fs::read_to_string(key.with_extension("pub"))
        .map_err(|error| LabError::io(format!("reading {}.pub", key.display()), error))?;

    let hosts: Vec<LabMachine> = map
        .hosts
        .iter()
        .map(|(host, address)| LabMachine { name: host.clone(), machine: name.machine(host), address: *address })
        .collect();
    let mut known_hosts = String::new();
    for (host, host_key) in hosts.iter().zip(prepare_all(&dir, &hosts, &subnet, &public_key)?) {
        known_hosts.push_str(&format!("{} {host_key}\n", host.address));
    }
    write_atomic(&user_dir.join("known_hosts"), known_hosts.as_bytes())?;
    let inventory = user_dir.join("inventory.yaml");
    if let Some(document) = document {
        write_atomic(&inventory, document.as_bytes())?;
    }
    let state = LabState {
        name: name.to_string(),
        subnet: subnet.to_string(),
        bridge: bridge_name.clone(),
        base,
        user_dir: user_dir.clone(),
        hosts,
        light,
    };
    dir.save(&state)?;

    bridge::ensure(&bridge_name, &subnet)?;
    if light && !state.base.join("usr/sbin/sshd").exists() {
        return Err(LabError::ToolMissing { tool: required_tools::SSHD.name, package: required_tools::SSHD.package });
    }
    if let Some(warning) = neighbour_limits::raise(state.hosts.len(), &dir.neighbour_marker()) {
        eprintln!("warning: {warning}");
    }
    raise_inotify_limits();
    let mut child = supervisor::start_detached(&name, &dir)?;
    wait_ready(&state, &dir, Some(&mut child))?;
    Ok(LabSummary { state, inventory, elapsed: started.elapsed(), already_running: false })
}

/// Writes every host's identity; ssh-keygen per host is most of the time for a big lab, so a few run at once.
fn prepare_all(dir: &LabDir, hosts: &[LabMachine], subnet: &LabSubnet, public_key: &str) -> LabResult<Vec<String>> {
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get()) * 2;
    let chunk = hosts.len().div_ceil(workers).max(1);
    std::thread::scope(|scope| {
        let jobs: Vec<_> = hosts
            .chunks(chunk)
            .map(|part| {
                scope.spawn(move || {
                    part.iter()
                        .map(|host| nspawn_machine::prepare(&dir.upper(&host.name), host, subnet, public_key))
                        .collect::<LabResult<Vec<String>>>()
                })
            })
            .collect();
        let mut keys = Vec::with_capacity(hosts.len());
        for job in jobs {
            keys.extend(job.join().expect("preparing hosts does not panic")?);
        }
        Ok(keys)
    })
}

fn check_host_names(path: &Path, source: &SourceInventory) -> LabResult<()> {
    for host in &source.hosts {
        let valid = !host.name.is_empty()
            && host.name.len() <= 63
            && host.name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.');
        if !valid {
            return Err(LabError::Inventory {
                path: path.to_path_buf(),
                message: format!("host `{}` cannot be a hostname (use letters, digits, `-` and `.`)", host.name),
            });
        }
    }
    Ok(())
}

fn raise_inotify_limits() {
    for (path, wanted) in INOTIFY_LIMITS {
        let current: u64 = fs::read_to_string(path).ok().and_then(|text| text.trim().parse().ok()).unwrap_or(0);
        if current < *wanted
            && let Err(error) = fs::write(path, wanted.to_string())
        {
            eprintln!("warning: could not raise {path} to {wanted} ({error}); many hosts may fail to boot");
        }
    }
}

/// How long `up` waits for every host: long enough for 50 hosts on 2 cores, bounded for CI.
fn ready_timeout(hosts: usize) -> Duration {
    let seconds = std::env::var("RUNBOOK_LAB_TIMEOUT")
        .ok()
        .and_then(|text| text.parse().ok())
        .unwrap_or_else(|| 120u64.max(hosts as u64 * 3));
    Duration::from_secs(seconds)
}

fn wait_ready(state: &LabState, dir: &LabDir, supervisor: Option<&mut std::process::Child>) -> LabResult<()> {
    let key = state.user_dir.join("id_ed25519");
    let known_hosts = state.user_dir.join("known_hosts");
    let hosts: Vec<_> = state.hosts.iter().map(|host| (host.name.clone(), host.address)).collect();
    let timeout = ready_timeout(hosts.len());
    let failed = readiness::wait_for_all(&hosts, &key, &known_hosts, timeout);
    if let Some(child) = supervisor
        && let Ok(Some(status)) = child.try_wait()
    {
        return Err(LabError::Command {
            command: "runbook lab supervise".into(),
            message: format!("exited ({status}); see {}", dir.supervisor_log().display()),
        });
    }
    if failed.is_empty() {
        return Ok(());
    }
    let hosts = failed.iter().map(|(name, reason)| format!("\n  {name}: {reason}")).collect::<String>();
    let first = &failed[0].0;
    Err(LabError::NotReady {
        seconds: timeout.as_secs(),
        hosts,
        hint: format!(
            "Boot messages: {}; supervisor log: {}. `runbook lab down --name {}` cleans up.",
            dir.host_log(first).display(),
            dir.supervisor_log().display(),
            state.name
        ),
    })
}

fn supervisor_alive(dir: &LabDir) -> bool {
    read_pid(&dir.supervisor_pid_file()).is_some_and(|pid| process_matches(pid, "supervise"))
}

/// Labs whose supervisor runs, other than `except`.
pub fn running_labs(except: Option<&LabName>) -> Vec<String> {
    lab_names()
        .into_iter()
        .filter(|lab| except.is_none_or(|except| except.as_str() != lab))
        .filter(|lab| LabName::parse(lab).is_ok_and(|name| supervisor_alive(&LabDir::new(&name))))
        .collect()
}

/// Every lab with state on this machine.
pub fn lab_names() -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(LABS_ROOT)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|entry| entry.path().is_dir())
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// `lab down`: stops the lab and removes what it put on the machine; with `purge`, its files too.
pub fn down(name: &str, purge: bool) -> LabResult<()> {
    required_tools::require_root("down")?;
    let name = LabName::parse(name)?;
    let dir = LabDir::new(&name);
    let state = dir.load()?;
    if state.is_none()
        && !dir.root.exists()
        && !bridge::exists(&name.bridge())
        && cgroup::lab_dirs(name.as_str()).is_empty()
    {
        eprintln!("No lab named `{name}` on this machine; nothing to do.");
        return Ok(());
    }
    teardown(&name, &dir, state.as_ref())?;
    if purge {
        let user_dir = state.as_ref().map_or_else(
            || std::env::current_dir().unwrap_or_default().join(".runbook").join(name.as_str()),
            |state| state.user_dir.clone(),
        );
        // Only ever a `.runbook/<name>` directory, whatever the state file says.
        if user_dir.ends_with(Path::new(".runbook").join(name.as_str())) {
            remove_tree(&user_dir)?;
        }
        remove_tree(&dir.root)?;
    }
    eprintln!("Lab `{name}` is down{}.", if purge { " and purged" } else { "" });
    Ok(())
}

/// `lab down --all`.
pub fn down_all(purge: bool) -> LabResult<()> {
    required_tools::require_root("down")?;
    let names = lab_names();
    if names.is_empty() {
        eprintln!("No labs on this machine.");
    }
    names.iter().try_for_each(|name| down(name, purge))
}

fn remove_tree(path: &Path) -> LabResult<()> {
    match fs::remove_dir_all(path) {
        Err(error) if error.kind() != std::io::ErrorKind::NotFound => {
            Err(LabError::io(format!("removing {}", path.display()), error))
        }
        _ => Ok(()),
    }
}

/// Stops every process of the lab and removes its bridge, veths, mounts and cgroups. Works from the state on
/// disk and from what the machine shows, so it also cleans up after a crash.
fn teardown(name: &LabName, dir: &LabDir, state: Option<&LabState>) -> LabResult<()> {
    if let Some(pid) = read_pid(&dir.supervisor_pid_file()).filter(|pid| process_matches(*pid, "supervise")) {
        signal(pid, libc::SIGTERM);
        // The supervisor gives its hosts 20 s to power off before it kills them.
        if !wait_gone(&[pid], Duration::from_secs(30)) {
            signal(pid, libc::SIGKILL);
        }
    }
    let _ = fs::remove_file(dir.supervisor_pid_file());

    // Hosts whose supervisor is gone: nspawn (or a light host's unshare) processes booting from this lab's directory.
    let marker = dir.root.display().to_string();
    let orphans: Vec<i32> =
        pids_of(&["systemd-nspawn", "unshare"]).into_iter().filter(|pid| process_matches(*pid, &marker)).collect();
    if !orphans.is_empty() {
        orphans.iter().for_each(|pid| signal(*pid, libc::SIGTERM));
        if !wait_gone(&orphans, Duration::from_secs(15)) {
            orphans.iter().for_each(|pid| signal(*pid, libc::SIGKILL));
            wait_gone(&orphans, Duration::from_secs(5));
        }
    }
    let leftovers = cgroup::lab_pids(name.as_str());
    leftovers.iter().for_each(|pid| signal(*pid, libc::SIGKILL));
    wait_gone(&leftovers, Duration::from_secs(5));

    unmount_under(&dir.root);
    let bridge_name = state.map_or_else(|| name.bridge(), |state| state.bridge.clone());
    bridge::remove(&bridge_name)?;
    cgroup::remove_lab(name.as_str())?;
    neighbour_limits::restore(&dir.neighbour_marker(), NEIGHBOUR_MARKER);
    if let Some(state) = state {
        for host in &state.hosts {
            let _ = fs::remove_file(dir.host_pid_file(&host.name));
        }
    }
    Ok(())
}

fn signal(pid: i32, signal: libc::c_int) {
    // SAFETY: plain kill(2); a pid that is gone yields ESRCH, which is fine.
    unsafe { libc::kill(pid, signal) };
}

fn alive(pid: i32) -> bool {
    // A zombie still answers kill(0); its empty command line says it is done.
    std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|cmdline| !cmdline.is_empty())
}

fn wait_gone(pids: &[i32], timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if pids.iter().all(|pid| !alive(*pid)) {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Every process on the machine whose program is one of `programs`.
pub fn pids_of(programs: &[&str]) -> Vec<i32> {
    fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| entry.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| {
            fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|cmdline| {
                cmdline.split(|byte| *byte == 0).next().is_some_and(|argv0| {
                    programs
                        .iter()
                        .any(|program| argv0 == program.as_bytes() || argv0.ends_with(format!("/{program}").as_bytes()))
                })
            })
        })
        .collect()
}

/// Mount points of the machine's namespace under `root`, deepest first.
pub fn mounts_under(root: &Path) -> Vec<PathBuf> {
    let Ok(text) = fs::read_to_string("/proc/self/mountinfo") else {
        return Vec::new();
    };
    let mut mounts: Vec<PathBuf> = text
        .lines()
        .filter_map(|line| line.split(' ').nth(4))
        .map(|point| PathBuf::from(point.replace("\\040", " ")))
        .filter(|point| point.starts_with(root))
        .collect();
    mounts.sort();
    mounts.reverse();
    mounts
}

fn unmount_under(root: &Path) {
    for point in mounts_under(root) {
        let Ok(path) = std::ffi::CString::new(point.as_os_str().as_encoded_bytes()) else {
            continue;
        };
        // SAFETY: a valid path; a lazy unmount cannot hang on a busy mount.
        unsafe { libc::umount2(path.as_ptr(), libc::MNT_DETACH) };
    }
}
