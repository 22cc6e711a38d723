//! The process that keeps a lab's hosts running after `lab up` returns: it owns every host's nspawn, starts a
//! host again when it reboots (nspawn exits 133), lets a host that powered off stay off, and on SIGTERM powers
//! every host off in order. Light hosts (`--light`) are started all at once and killed at once instead.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::net::Ipv4Addr;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use super::bridge;
use super::cgroup;
use super::lab_error::{LabError, LabResult};
use super::lab_name::LabName;
use super::lab_state::{LabDir, LabMachine, LabState, write_atomic};
use super::lab_subnet::LabSubnet;
use super::light_host;
use super::nspawn_machine::{self, REBOOT_EXIT_CODE};
use super::required_tools;

/// How long hosts get to power off after SIGTERM before they are killed.
const STOP_TIMEOUT: Duration = Duration::from_secs(20);
/// A host rebooting more often than this within [`REBOOT_WINDOW`] is left down: something is wrong with it.
const MAX_REBOOTS: usize = 10;
const REBOOT_WINDOW: Duration = Duration::from_secs(60);
const POLL: Duration = Duration::from_millis(200);

static STOP: AtomicBool = AtomicBool::new(false);
static START_STOPPED: AtomicBool = AtomicBool::new(false);

extern "C" fn request_stop(_signal: libc::c_int) {
    STOP.store(true, Ordering::SeqCst);
}

extern "C" fn request_start(_signal: libc::c_int) {
    START_STOPPED.store(true, Ordering::SeqCst);
}

/// Asks a running supervisor to boot the hosts that powered off (what `lab up` does for a running lab).
pub fn request_start_stopped(supervisor: i32) {
    // SAFETY: plain kill(2) to the supervisor's pid, checked by the caller.
    unsafe { libc::kill(supervisor, libc::SIGUSR1) };
}

/// Starts `runbook lab supervise --name NAME` detached from the caller's session, logging to the lab's log.
pub fn start_detached(name: &LabName, dir: &LabDir) -> LabResult<Child> {
    let exe = std::env::current_exe().map_err(|error| LabError::io("finding the runbook executable", error))?;
    let log_path = dir.supervisor_log();
    let log = append(&log_path)?;
    let log_err = log.try_clone().map_err(|error| LabError::io("duplicating the log", error))?;
    let mut command = Command::new(exe);
    command.args(["lab", "supervise", "--name", name.as_str()]).stdin(Stdio::null()).stdout(log).stderr(log_err);
    // SAFETY: setsid and close_range are async-signal-safe system calls. setsid detaches the supervisor from our
    // terminal and process group. The supervisor and its hosts outlive this command: descriptors it inherited
    // (a caller's `flock` lock, a test harness's pipes) must not live on in them, or that lock is held and that
    // pipe stays open until `lab down`. Marked close-on-exec rather than closed, so std's exec-error pipe works.
    unsafe {
        command.pre_exec(|| {
            if libc::setsid() < 0 {
                return Err(std::io::Error::last_os_error());
            }
            const CLOSE_RANGE_CLOEXEC: libc::c_uint = 1 << 2;
            libc::syscall(libc::SYS_close_range, 3 as libc::c_uint, libc::c_uint::MAX, CLOSE_RANGE_CLOEXEC);
            Ok(())
        });
    }
    command.spawn().map_err(|error| LabError::io("starting the lab supervisor", error))
}

fn append(path: &Path) -> LabResult<File> {
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|error| LabError::io(format!("opening {}", path.display()), error))
}

struct Supervised<'a> {
    host: &'a LabMachine,
    /// The host's place in the lab: names a light host's veth.
    index: usize,
    child: Option<Child>,
    reboots: Vec<Instant>,
}

/// Runs until SIGTERM (or SIGINT): the body of `runbook lab supervise`.
pub fn supervise(name: &LabName) -> LabResult<()> {
    let dir = LabDir::new(name);
    let state = dir.load()?.ok_or_else(|| LabError::NoSuchLab(name.to_string()))?;
    let subnet = LabSubnet::parse(&state.subnet)?;
    // SAFETY: the handler only stores to an atomic.
    unsafe {
        libc::signal(libc::SIGTERM, request_stop as *const () as libc::sighandler_t);
        libc::signal(libc::SIGINT, request_stop as *const () as libc::sighandler_t);
        libc::signal(libc::SIGUSR1, request_start as *const () as libc::sighandler_t);
        libc::signal(libc::SIGHUP, libc::SIG_IGN);
    }
    write_atomic(&dir.supervisor_pid_file(), std::process::id().to_string().as_bytes())?;
    log(&format!("supervising lab {} ({} hosts on {} {subnet})", state.name, state.hosts.len(), state.bridge));

    let mut hosts: Vec<Supervised<'_>> = state
        .hosts
        .iter()
        .enumerate()
        .map(|(index, host)| Supervised { host, index, child: None, reboots: Vec::new() })
        .collect();
    if state.light {
        boot_light(&state, &dir, &subnet, hosts.iter_mut().collect());
    } else {
        for supervised in &mut hosts {
            if STOP.load(Ordering::SeqCst) {
                break;
            }
            supervised.child = boot(&state, &dir, supervised.host);
        }
    }
    while !STOP.load(Ordering::SeqCst) {
        std::thread::sleep(POLL);
        if START_STOPPED.swap(false, Ordering::SeqCst) {
            let stopped: Vec<&mut Supervised<'_>> =
                hosts.iter_mut().filter(|supervised| supervised.child.is_none()).collect();
            for supervised in &stopped {
                log(&format!("{}: starting again (lab up)", supervised.host.name));
            }
            if state.light {
                boot_light(&state, &dir, &subnet, stopped);
            } else {
                for supervised in stopped {
                    supervised.reboots.clear();
                    supervised.child = boot(&state, &dir, supervised.host);
                }
            }
        }
        for supervised in &mut hosts {
            let Some(child) = &mut supervised.child else {
                continue;
            };
            let Ok(Some(status)) = child.try_wait() else {
                continue;
            };
            supervised.child = None;
            let _ = std::fs::remove_file(dir.host_pid_file(&supervised.host.name));
            let name = &supervised.host.name;
            if status.code() == Some(REBOOT_EXIT_CODE) {
                let now = Instant::now();
                supervised.reboots.retain(|at| now.duration_since(*at) < REBOOT_WINDOW);
                supervised.reboots.push(now);
                if supervised.reboots.len() > MAX_REBOOTS {
                    log(&format!("{name}: rebooted {MAX_REBOOTS} times within a minute; leaving it down"));
                    continue;
                }
                log(&format!("{name}: rebooting"));
                supervised.child = boot(&state, &dir, supervised.host);
            } else {
                log(&format!("{name}: stopped ({status})"));
            }
        }
    }
    stop_all(&dir, &mut hosts, state.light);
    let _ = std::fs::remove_file(dir.supervisor_pid_file());
    log("all hosts stopped; supervisor exits");
    Ok(())
}

/// Starts light hosts all at once: each `unshare` mounts its root while one `ip -batch` makes every veth (one
/// process for 1000 hosts, not 2000), then each host is told to go on and becomes sshd.
fn boot_light(state: &LabState, dir: &LabDir, subnet: &LabSubnet, hosts: Vec<&mut Supervised<'_>>) {
    let mut started = Vec::new();
    let bridge_mac = bridge::fixed_mac(&state.bridge);
    for supervised in hosts {
        if STOP.load(Ordering::SeqCst) {
            break;
        }
        match try_boot_light(state, dir, subnet, supervised.host, bridge_mac.as_deref()) {
            Ok(child) => {
                supervised.child = Some(child);
                started.push(supervised);
            }
            Err(error) => log(&format!("{}: could not start: {error}", supervised.host.name)),
        }
    }
    let plugs: Vec<(String, u32, Ipv4Addr)> = started
        .iter()
        .filter_map(|supervised| {
            let pid = supervised.child.as_ref()?.id();
            Some((light_host::veth_name(&state.name, supervised.index), pid, supervised.host.address))
        })
        .collect();
    // `-force` goes on past a failing line; a host whose veth is missing fails its own `ip` and exits.
    let batch = light_host::veth_batch(&state.bridge, &plugs);
    if let Err(error) = required_tools::run_with_input(&required_tools::IP, &["-force", "-batch", "-"], Some(&batch)) {
        log(&format!("some veths could not be made: {error}"));
    }
    for supervised in started {
        if let Some(child) = &mut supervised.child
            && let Some(mut stdin) = child.stdin.take()
        {
            // A host that died meanwhile has no reader: its exit is seen by the supervise loop.
            let _ = stdin.write_all(b"go\n");
        }
    }
}

fn try_boot_light(
    state: &LabState,
    dir: &LabDir,
    subnet: &LabSubnet,
    host: &LabMachine,
    bridge_mac: Option<&str>,
) -> LabResult<Child> {
    let procs = cgroup::create(&state.name, &host.name)?;
    let console = append(&dir.host_log(&host.name))?;
    let console_err = console.try_clone().map_err(|error| LabError::io("duplicating the console log", error))?;
    let mut command = light_host::command(&state.base, dir, &host.name, host.address, subnet, bridge_mac)?;
    command.stdin(Stdio::piped()).stdout(console).stderr(console_err);
    // SAFETY: join_self only opens and writes files (async-signal-safe); the paths were built before fork.
    unsafe {
        command.pre_exec(move || cgroup::join_self(&procs));
    }
    let child = command.spawn().map_err(|error| LabError::io("starting a light host", error))?;
    write_atomic(&dir.host_pid_file(&host.name), child.id().to_string().as_bytes())?;
    Ok(child)
}

fn boot(state: &LabState, dir: &LabDir, host: &LabMachine) -> Option<Child> {
    match try_boot(state, dir, host) {
        Ok(child) => Some(child),
        Err(error) => {
            log(&format!("{}: could not start: {error}", host.name));
            None
        }
    }
}

fn try_boot(state: &LabState, dir: &LabDir, host: &LabMachine) -> LabResult<Child> {
    let procs = cgroup::create(&state.name, &host.name)?;
    let console = append(&dir.host_log(&host.name))?;
    let console_err = console.try_clone().map_err(|error| LabError::io("duplicating the console log", error))?;
    let mut command = nspawn_machine::nspawn_command(&state.base, &dir.upper(&host.name), host, &state.bridge)?;
    command.stdin(Stdio::null()).stdout(console).stderr(console_err);
    // SAFETY: join_self only opens and writes files (async-signal-safe); the paths were built before fork.
    unsafe {
        command.pre_exec(move || cgroup::join_self(&procs));
    }
    let child = command.spawn().map_err(|error| LabError::io("starting systemd-nspawn", error))?;
    write_atomic(&dir.host_pid_file(&host.name), child.id().to_string().as_bytes())?;
    Ok(child)
}

/// SIGTERM makes nspawn power its host off in order; what is still running after the timeout is killed. A light
/// host has nothing to power off: its `unshare` is killed, and the kernel ends the rest of its namespaces.
fn stop_all(dir: &LabDir, hosts: &mut [Supervised<'_>], light: bool) {
    log("stopping all hosts");
    let signal = if light { libc::SIGKILL } else { libc::SIGTERM };
    for supervised in hosts.iter() {
        if let Some(child) = &supervised.child {
            // SAFETY: kill with a pid we own and have not reaped.
            unsafe { libc::kill(child.id() as i32, signal) };
        }
    }
    let deadline = Instant::now() + STOP_TIMEOUT;
    loop {
        let mut running = 0;
        for supervised in hosts.iter_mut() {
            let Some(child) = &mut supervised.child else {
                continue;
            };
            if matches!(child.try_wait(), Ok(Some(_))) {
                supervised.child = None;
                let _ = std::fs::remove_file(dir.host_pid_file(&supervised.host.name));
            } else {
                running += 1;
            }
        }
        if running == 0 {
            return;
        }
        if Instant::now() >= deadline {
            break;
        }
        std::thread::sleep(POLL);
    }
    for supervised in hosts.iter_mut() {
        if let Some(mut child) = supervised.child.take() {
            log(&format!("{}: did not power off in time; killing it", supervised.host.name));
            let _ = child.kill();
            let _ = child.wait();
            let _ = std::fs::remove_file(dir.host_pid_file(&supervised.host.name));
        }
    }
}

fn log(message: &str) {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    eprintln!("[{}.{:03}] {message}", now.as_secs(), now.subsec_millis());
}
