//! What the machine must offer before the lab touches it: Linux, root, and the tools it drives.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::lab_error::{LabError, LabResult};

/// A program the lab runs, and the Debian package that provides it.
#[derive(Debug, Clone, Copy)]
pub struct Tool {
    pub name: &'static str,
    pub package: &'static str,
}

pub const NSPAWN: Tool = Tool { name: "systemd-nspawn", package: "systemd-container" };
pub const DEBOOTSTRAP: Tool = Tool { name: "debootstrap", package: "debootstrap" };
pub const IP: Tool = Tool { name: "ip", package: "iproute2" };
pub const SSH: Tool = Tool { name: "ssh", package: "openssh-client" };
pub const SSH_KEYGEN: Tool = Tool { name: "ssh-keygen", package: "openssh-client" };
pub const IPTABLES: Tool = Tool { name: "iptables", package: "iptables" };
pub const UNSHARE: Tool = Tool { name: "unshare", package: "util-linux" };
pub const SSHD: Tool = Tool { name: "sshd", package: "openssh-server (in the lab base image)" };

/// Linux and root: what every command that changes the machine needs.
pub fn require_root(command: &'static str) -> LabResult<()> {
    if !cfg!(target_os = "linux") {
        return Err(LabError::NotLinux);
    }
    // SAFETY: geteuid has no preconditions and cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        return Err(LabError::NotRoot(command));
    }
    Ok(())
}

pub fn require_tools(tools: &[Tool]) -> LabResult<()> {
    tools.iter().try_for_each(|tool| find(tool).map(|_| ()))
}

/// The tool's path on PATH (plus the sbin directories, which a non-login root shell may lack).
pub fn find(tool: &Tool) -> LabResult<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/sbin", "/usr/bin", "/bin"].map(PathBuf::from))
        .map(|dir| dir.join(tool.name))
        .find(|candidate| is_executable(candidate))
        .ok_or(LabError::ToolMissing { tool: tool.name, package: tool.package })
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    path.metadata().is_ok_and(|meta| meta.is_file() && meta.permissions().mode() & 0o111 != 0)
}

/// Runs a tool to completion; its stdout on success, its stderr in the error otherwise.
pub fn run(tool: &Tool, args: &[&str]) -> LabResult<String> {
    run_with_input(tool, args, None)
}

/// [`run`], with `input` on the tool's stdin (e.g. `ip -batch -`).
pub fn run_with_input(tool: &Tool, args: &[&str], input: Option<&str>) -> LabResult<String> {
    use std::io::Write;
    use std::process::Stdio;
    let program = find(tool)?;
    let io_error = |error| LabError::io(format!("running {}", tool.name), error);
    let mut child = Command::new(&program)
        .args(args)
        .stdin(if input.is_some() { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(io_error)?;
    if let (Some(text), Some(mut stdin)) = (input, child.stdin.take()) {
        stdin.write_all(text.as_bytes()).map_err(io_error)?;
    }
    let output = child.wait_with_output().map_err(io_error)?;
    if output.status.success() {
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    } else {
        Err(LabError::Command {
            command: format!("{} {}", tool.name, args.join(" ")),
            message: String::from_utf8_lossy(&output.stderr).trim().to_string(),
        })
    }
}
