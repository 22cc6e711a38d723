//! The one quoting path: a command as a primitive describes it (script, stdin, timeout, sudo, cwd, env) turned
//! into shell text here and nowhere else, so nothing a user or a host wrote is ever pasted into a shell unquoted.

use std::time::Duration;

use base64::Engine as _;

use super::shell_quote::quote;

/// A command for a host, as the primitives describe it. The transport turns it into shell text; nothing the
/// user wrote is pasted into that text unquoted.
#[derive(Debug, Clone, Default)]
pub struct RemoteCommand {
    /// Shell code, run by `sh` (the user's command for `run`, or a script a primitive built with `quote`).
    pub script: String,
    /// Bytes for the command's standard input (secrets travel this way, never in argv).
    pub stdin: Option<Vec<u8>>,
    /// Kill the command on the host after this long (GNU `timeout`, whole process group).
    pub timeout: Option<Duration>,
    /// Run through `sudo -n` (when the connection is not already root).
    pub sudo: bool,
    pub env: Vec<(String, String)>,
    pub cwd: Option<String>,
}

impl RemoteCommand {
    pub fn new(script: impl Into<String>) -> RemoteCommand {
        RemoteCommand { script: script.into(), ..RemoteCommand::default() }
    }

    /// The shell text that runs this command inside the persistent shell: a subshell (so `exit`, `cd` or
    /// `set -e` cannot touch the shell itself), stdin from /dev/null unless given, the user's script passed
    /// to `eval` as one quoted word, so unbalanced quotes or heredocs in it cannot break the framing.
    pub(crate) fn to_shell(&self, sudo_needed: bool) -> String {
        let mut inner = String::new();
        if let Some(cwd) = &self.cwd {
            inner.push_str(&format!("cd {} || exit 1; ", quote(cwd)));
        }
        for (name, value) in &self.env {
            inner.push_str(&format!("export {}={}; ", name, quote(value)));
        }
        let wrapped = self.sudo && sudo_needed;
        let mut body = if self.timeout.is_some() || wrapped {
            // A separate `sh -c` is needed so `timeout`/`sudo` can own the process.
            let mut argv = String::new();
            if wrapped {
                argv.push_str("sudo -n -- ");
            }
            if let Some(timeout) = self.timeout {
                argv.push_str(&format!("timeout -k 5 {} ", timeout.as_secs().max(1)));
            }
            format!("{inner}{argv}sh -c {}", quote(&self.script))
        } else {
            format!("{inner}eval {}", quote(&self.script))
        };
        body = match &self.stdin {
            Some(bytes) => {
                let encoded = base64::engine::general_purpose::STANDARD.encode(bytes);
                // printf is a shell builtin: the data never appears in a process's argv.
                format!("printf %s {} | base64 -d | ( {body} )", quote(&encoded))
            }
            None => format!("( {body} ) </dev/null"),
        };
        body
    }
}

/// What a command did on the host.
#[derive(Debug, Clone, Default)]
pub struct CommandOutput {
    pub rc: i32,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

impl CommandOutput {
    pub fn stdout_text(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }
    pub fn stderr_text(&self) -> String {
        String::from_utf8_lossy(&self.stderr).into_owned()
    }
    pub fn success(&self) -> bool {
        self.rc == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run_locally(command: &RemoteCommand) -> (String, i32) {
        let out = std::process::Command::new("sh").arg("-c").arg(command.to_shell(false)).output().unwrap();
        (String::from_utf8(out.stdout).unwrap(), out.status.code().unwrap())
    }

    #[test]
    fn a_command_with_quotes_and_substitutions_runs_as_written() {
        let (out, rc) = run_locally(&RemoteCommand::new(r#"printf '%s|' "a b" '$(x)'; exit 3"#));
        assert_eq!(out, "a b|$(x)|");
        assert_eq!(rc, 3);
    }

    #[test]
    fn stdin_env_and_cwd_reach_the_command() {
        let mut command = RemoteCommand::new("cat; printf '%s' \"$GREETING\"; pwd");
        command.stdin = Some(b"it's \x01 data\n".to_vec());
        command.env = vec![("GREETING".into(), "hello 'world'".into())];
        command.cwd = Some("/tmp".into());
        let (out, rc) = run_locally(&command);
        assert_eq!(out, "it's \x01 data\nhello 'world'/tmp\n");
        assert_eq!(rc, 0);
    }

    #[test]
    fn timeout_kills_the_command() {
        let mut command = RemoteCommand::new("sleep 30");
        command.timeout = Some(Duration::from_secs(1));
        let started = std::time::Instant::now();
        let (_, rc) = run_locally(&command);
        assert_eq!(rc, 124);
        assert!(started.elapsed() < Duration::from_secs(10));
    }
}
