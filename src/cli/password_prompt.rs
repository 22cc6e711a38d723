//! Asking for a password once per run (`--ask-pass`, `--ask-become-pass`), as Ansible's `-k` / `-K` do.
//!
//! On a terminal the password is read from /dev/tty with echo off; without one (CI, a pipe) it is the first
//! line of stdin, so `printf '%s\n' "$PW" | runbook run ... -K` works without the password in argv or env.

use std::io::{BufRead, IsTerminal, Write};
use std::os::fd::AsRawFd;

use crate::vault::PromptError;

pub fn ask(prompt: &str) -> Result<String, PromptError> {
    let password = if std::io::stdin().is_terminal() { ask_terminal(prompt)? } else { first_line_of_stdin()? };
    if password.is_empty() {
        return Err(PromptError::Empty(prompt.trim_end_matches([':', ' ']).to_string()));
    }
    Ok(password)
}

fn first_line_of_stdin() -> Result<String, PromptError> {
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line).map_err(PromptError::Stdin)?;
    Ok(line.trim_end_matches(['\n', '\r']).to_string())
}

fn ask_terminal(prompt: &str) -> Result<String, PromptError> {
    let tty = std::fs::OpenOptions::new().read(true).write(true).open("/dev/tty").map_err(PromptError::NoTerminal)?;
    let fd = tty.as_raw_fd();
    // SAFETY: termios calls on a descriptor we own; the struct is plain data filled by tcgetattr.
    let saved = unsafe {
        let mut termios: libc::termios = std::mem::zeroed();
        if libc::tcgetattr(fd, &mut termios) != 0 {
            return Err(PromptError::TerminalSettings);
        }
        termios
    };
    let mut quiet = saved;
    quiet.c_lflag &= !libc::ECHO;
    quiet.c_lflag |= libc::ECHONL;
    // SAFETY: as above.
    unsafe { libc::tcsetattr(fd, libc::TCSANOW, &quiet) };
    let mut writer = &tty;
    let _ = write!(writer, "{prompt}");
    let _ = writer.flush();
    let mut line = String::new();
    let result = std::io::BufReader::new(&tty).read_line(&mut line);
    // SAFETY: restores the settings read above, also when reading failed.
    unsafe { libc::tcsetattr(fd, libc::TCSANOW, &saved) };
    result.map_err(PromptError::Terminal)?;
    Ok(line.trim_end_matches(['\n', '\r']).to_string())
}

/// A question whose answer may be seen and may be empty (`vault encrypt_string -p`'s variable name): a line from
/// the terminal, else from stdin.
pub fn ask_visible(prompt: &str) -> Result<String, PromptError> {
    if !std::io::stdin().is_terminal() {
        return first_line_of_stdin();
    }
    eprint!("{prompt}");
    let _ = std::io::stderr().flush();
    first_line_of_stdin()
}
