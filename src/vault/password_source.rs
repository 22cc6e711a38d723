//! Where vault passwords come from, in Ansible's order (`CLI.setup_vault_secrets`): the identities of the
//! configuration (`vault_identity_list`), each `--vault-id`, each `--vault-password-file`, the configured
//! password file (`ANSIBLE_VAULT_PASSWORD_FILE` / ansible.cfg's `vault_password_file`), then `--ask-vault-pass`.
//!
//! A source is `prompt` (ask on the terminal), an executable file (run it; its stdout is the password; a name
//! ending in `-client` is a client script and gets `--vault-id LABEL`) or a plain file (its content, stripped).
//! As in Ansible a source that fails is a warning while another one works, and the error when none does.

use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::keyring::{DEFAULT_LABEL, Keyring, VaultSecret};
use super::vault_error::VaultError;

/// Asks the person at the terminal: `prompt` in, the password (or why not) out.
pub type Prompt<'a> = &'a mut dyn FnMut(&str) -> Result<String, PromptError>;

/// Why no password came from the terminal (or stdin, without one).
#[derive(Debug, thiserror::Error)]
pub enum PromptError {
    /// The question, without its colon: "SSH password".
    #[error("{0} an empty password was given")]
    Empty(String),
    #[error("cannot open the terminal to ask for a password: {0}")]
    NoTerminal(#[source] std::io::Error),
    #[error("cannot read the terminal's settings")]
    TerminalSettings,
    #[error("cannot read the password: {0}")]
    Terminal(#[source] std::io::Error),
    #[error("cannot read the password from stdin: {0}")]
    Stdin(#[source] std::io::Error),
    /// Nobody can be asked here (tests, a run that was told never to ask).
    #[error("{0}")]
    NotAsked(&'static str),
}

/// Every way a command was told where vault passwords are. The fields the configuration feeds
/// (`config_identity_list`, `config_password_file`) are filled by the caller from ansible.cfg or the
/// environment; [`PasswordSources::keyring`] is the one function that turns all of it into passwords.
#[derive(Debug, Clone, Default)]
pub struct PasswordSources {
    /// `--vault-id` values, in order: `label@source`, or `source` alone.
    pub vault_ids: Vec<String>,
    /// `--vault-password-file` values, in order.
    pub password_files: Vec<PathBuf>,
    /// `--ask-vault-pass`.
    pub ask_vault_pass: bool,
    /// `vault_identity_list` (ansible.cfg, or `ANSIBLE_VAULT_IDENTITY_LIST`): tried before `--vault-id`.
    pub config_identity_list: Vec<String>,
    /// `vault_password_file` (`ANSIBLE_VAULT_PASSWORD_FILE`, else ansible.cfg): tried after the flags.
    pub config_password_file: Option<PathBuf>,
}

/// How the passwords are wanted: to open vaulted data, or as a new password for `encrypt`/`rekey` (prompts ask
/// twice, as `ansible-vault` does).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    Open,
    New,
}

impl PasswordSources {
    /// The configured sources from the environment Ansible reads: `ANSIBLE_VAULT_PASSWORD_FILE` and
    /// `ANSIBLE_VAULT_IDENTITY_LIST` (comma separated). An ansible.cfg value applies only when the variable is
    /// unset, as in Ansible; the caller passes it as `config_*`.
    pub fn with_environment(
        mut self,
        config_password_file: Option<PathBuf>,
        config_identity_list: Vec<String>,
    ) -> Self {
        self.config_password_file = std::env::var_os("ANSIBLE_VAULT_PASSWORD_FILE")
            .filter(|value| !value.is_empty())
            .map(PathBuf::from)
            .or(config_password_file);
        self.config_identity_list = match std::env::var("ANSIBLE_VAULT_IDENTITY_LIST") {
            Ok(list) if !list.trim().is_empty() => {
                list.split(',').map(str::trim).filter(|id| !id.is_empty()).map(str::to_string).collect()
            }
            _ => config_identity_list,
        };
        self
    }

    /// Whether any source was named at all.
    pub fn is_empty(&self) -> bool {
        self.vault_ids.is_empty()
            && self.password_files.is_empty()
            && !self.ask_vault_pass
            && self.config_identity_list.is_empty()
            && self.config_password_file.is_none()
    }

    /// Every source as `(label, source)` in Ansible's order. `auto_prompt`: with no source at all, ask (what
    /// `ansible-vault` does; a run does not).
    fn slugs(&self, auto_prompt: bool) -> Vec<(Option<String>, String)> {
        let mut slugs: Vec<(Option<String>, String)> =
            self.config_identity_list.iter().chain(&self.vault_ids).map(|id| split_vault_id(id)).collect();
        for file in self.password_files.iter().chain(&self.config_password_file) {
            slugs.push((Some(DEFAULT_LABEL.to_string()), file.display().to_string()));
        }
        if self.ask_vault_pass || (slugs.is_empty() && auto_prompt) {
            slugs.push((Some(DEFAULT_LABEL.to_string()), ASK_VAULT_PASS.to_string()));
        }
        slugs
    }

    /// The passwords, read (files), run (scripts) and asked for (prompts) now, once. `warn` hears about a source
    /// that failed while others worked.
    pub fn keyring(
        &self,
        purpose: Purpose,
        auto_prompt: bool,
        prompt: Prompt,
        warn: &mut dyn FnMut(&str),
    ) -> Result<Keyring, VaultError> {
        let mut secrets = Vec::new();
        let mut last_error = None;
        for (label, source) in self.slugs(auto_prompt) {
            let label = label.filter(|label| !label.is_empty()).unwrap_or_else(|| DEFAULT_LABEL.to_string());
            let password = if source == "prompt" || source == ASK_VAULT_PASS {
                // A prompt that fails (no terminal, Ctrl-D, empty) stops everything, as in Ansible.
                ask(&label, &source, purpose, prompt)?
            } else {
                match read_password_source(Path::new(&source), &label) {
                    Ok(password) => password,
                    Err(error) => {
                        warn(&format!("vault id {label}: {error}"));
                        last_error = Some(error);
                        continue;
                    }
                }
            };
            secrets.push(VaultSecret::new(label, password));
        }
        match (secrets.is_empty(), last_error) {
            (true, Some(error)) => Err(error),
            _ => Ok(Keyring::new(secrets)),
        }
    }
}

/// The source `--ask-vault-pass` stands for (Ansible's old prompt wording, without the label).
const ASK_VAULT_PASS: &str = "prompt_ask_vault_pass";

/// `label@source` → (label, source); no `@` → no label (Ansible's `split_vault_id`).
fn split_vault_id(id: &str) -> (Option<String>, String) {
    match id.split_once('@') {
        Some((label, source)) => (Some(label.to_string()), source.to_string()),
        None => (None, id.to_string()),
    }
}

fn ask(label: &str, source: &str, purpose: Purpose, prompt: Prompt) -> Result<Vec<u8>, VaultError> {
    let prompts: Vec<String> = match (purpose, source == ASK_VAULT_PASS) {
        (Purpose::Open, true) => vec!["Vault password: ".into()],
        (Purpose::Open, false) => vec![format!("Vault password ({label}): ")],
        (Purpose::New, true) => vec!["New Vault password: ".into(), "Confirm New Vault password: ".into()],
        (Purpose::New, false) => {
            vec![format!("New vault password ({label}): "), format!("Confirm new vault password ({label}): ")]
        }
    };
    let mut answers = Vec::new();
    for text in &prompts {
        let answer =
            prompt(text).map_err(|error| VaultError::Password(format!("vault password prompt ({label}): {error}")))?;
        let answer = answer.trim().to_string();
        if answer.is_empty() {
            return Err(VaultError::Password(format!("Invalid vault password was provided from prompt ({label})")));
        }
        answers.push(answer);
    }
    if answers.windows(2).any(|pair| pair[0] != pair[1]) {
        return Err(VaultError::Password("Passwords do not match".into()));
    }
    Ok(answers.swap_remove(0).into_bytes())
}

/// A password from a file: run it when it is executable (its stdout, without the line ending), else its
/// content with surrounding whitespace removed — Ansible's `get_file_vault_secret`. `label` reaches a client
/// script (`*-client`, `*-client.EXT`) as `--vault-id LABEL`.
pub fn read_password_source(path: &Path, label: &str) -> Result<Vec<u8>, VaultError> {
    let fail = |message: String| VaultError::Password(message);
    let metadata = std::fs::metadata(path)
        .map_err(|error| fail(format!("the vault password file {} cannot be read: {error}", path.display())))?;
    if metadata.is_dir() {
        return Err(fail(format!("the vault password file {} is a directory", path.display())));
    }
    let password = if metadata.permissions().mode() & 0o111 != 0 {
        run_script(path, label)?
    } else {
        let mut bytes = Vec::new();
        std::fs::File::open(path)
            .and_then(|mut file| file.read_to_end(&mut bytes))
            .map_err(|error| fail(format!("could not read vault password file {}: {error}", path.display())))?;
        let stripped = bytes.trim_ascii().to_vec();
        trim_line_endings(stripped)
    };
    if password.is_empty() {
        return Err(fail(format!("Invalid vault password was provided from file ({})", path.display())));
    }
    Ok(password)
}

fn run_script(path: &Path, label: &str) -> Result<Vec<u8>, VaultError> {
    let fail = |message: String| VaultError::Password(message);
    let client = path.file_stem().is_some_and(|stem| stem.to_string_lossy().ends_with("-client"));
    // `pass.sh` is the file here, not a program on PATH (Ansible makes the path absolute too).
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let mut command = Command::new(&absolute);
    if client {
        command.arg("--vault-id").arg(label);
    }
    // stderr is the terminal's, so a script can ask the person itself (as with Ansible).
    let output = command.stdin(Stdio::inherit()).stderr(Stdio::inherit()).output().map_err(|error| {
        fail(format!(
            "problem running vault password script {} ({error}); if it is not a script, remove its executable bit",
            path.display()
        ))
    })?;
    if !output.status.success() {
        let code = output.status.code().map_or("a signal".to_string(), |code| code.to_string());
        if client && output.status.code() == Some(2) {
            return Err(fail(format!(
                "vault password client script {} did not find a secret for vault-id={label}",
                path.display()
            )));
        }
        return Err(fail(format!("vault password script {} returned non-zero ({code})", path.display())));
    }
    let password = trim_line_endings(output.stdout);
    if password.is_empty() {
        return Err(fail(format!("Invalid vault password was provided from script ({})", path.display())));
    }
    Ok(password)
}

/// Python's `bytes.strip(b"\r\n")`.
fn trim_line_endings(mut bytes: Vec<u8>) -> Vec<u8> {
    while bytes.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
        bytes.pop();
    }
    let start = bytes.iter().position(|b| *b != b'\n' && *b != b'\r').unwrap_or(bytes.len());
    bytes.drain(..start);
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, content: &str, mode: u32) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, content).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
        path
    }

    fn no_prompt(_: &str) -> Result<String, PromptError> {
        Err(PromptError::NotAsked("no terminal in this test"))
    }

    fn labels_and_passwords(ring: &Keyring) -> Vec<(String, String)> {
        ring.secrets().iter().map(|s| (s.label.clone(), String::from_utf8(s.password().to_vec()).unwrap())).collect()
    }

    #[test]
    fn files_scripts_and_client_scripts() {
        let dir = tempfile::tempdir().unwrap();
        let file = write(dir.path(), "pw", "  from-file \n\n", 0o600);
        assert_eq!(read_password_source(&file, "x").unwrap(), b"from-file");
        let script = write(dir.path(), "pw.sh", "#!/bin/sh\necho ' from-script '\n", 0o700);
        assert_eq!(read_password_source(&script, "x").unwrap(), b" from-script ");
        let client =
            write(dir.path(), "vault-client.sh", "#!/bin/sh\n[ \"$1\" = --vault-id ] && echo \"pw-for-$2\"\n", 0o700);
        assert_eq!(read_password_source(&client, "prod").unwrap(), b"pw-for-prod");
        let failing = write(dir.path(), "fail.sh", "#!/bin/sh\nexit 3\n", 0o700);
        assert!(read_password_source(&failing, "x").unwrap_err().to_string().contains("returned non-zero (3)"));
        let empty = write(dir.path(), "empty", " \n", 0o600);
        assert!(read_password_source(&empty, "x").unwrap_err().to_string().contains("Invalid vault password"));
        assert!(read_password_source(&dir.path().join("missing"), "x").is_err());
        assert!(read_password_source(dir.path(), "x").unwrap_err().to_string().contains("directory"));
    }

    #[test]
    fn ansible_order_and_labels() {
        let dir = tempfile::tempdir().unwrap();
        let a = write(dir.path(), "a", "pa", 0o600);
        let b = write(dir.path(), "b", "pb", 0o600);
        let c = write(dir.path(), "c", "pc", 0o600);
        let d = write(dir.path(), "d", "pd", 0o600);
        let sources = PasswordSources {
            vault_ids: vec![format!("prod@{}", b.display()), c.display().to_string()],
            password_files: vec![d.clone()],
            ask_vault_pass: true,
            config_identity_list: vec![format!("cfg@{}", a.display())],
            config_password_file: Some(a.clone()),
        };
        let mut asked = Vec::new();
        let mut prompt = |text: &str| {
            asked.push(text.to_string());
            Ok(" typed \n".to_string())
        };
        let ring = sources.keyring(Purpose::Open, false, &mut prompt, &mut |_| {}).unwrap();
        assert_eq!(
            labels_and_passwords(&ring),
            [
                ("cfg", "pa"),
                ("prod", "pb"),
                ("default", "pc"),
                ("default", "pd"),
                ("default", "pa"),
                ("default", "typed")
            ]
            .map(|(l, p)| (l.to_string(), p.to_string()))
        );
        assert_eq!(asked, ["Vault password: "]);
    }

    #[test]
    fn prompts_for_labels_and_new_passwords() {
        let sources = PasswordSources { vault_ids: vec!["dev@prompt".into()], ..Default::default() };
        let mut asked = Vec::new();
        let mut prompt = |text: &str| {
            asked.push(text.to_string());
            Ok("same".to_string())
        };
        sources.keyring(Purpose::New, false, &mut prompt, &mut |_| {}).unwrap();
        assert_eq!(asked, ["New vault password (dev): ", "Confirm new vault password (dev): "]);
        let mut answers = vec!["one".to_string(), "two".to_string()].into_iter();
        let mut prompt = |_: &str| Ok(answers.next().unwrap());
        let error = sources.keyring(Purpose::New, false, &mut prompt, &mut |_| {}).unwrap_err();
        assert_eq!(error.to_string(), "Passwords do not match");
        // ansible-vault asks when given nothing; a run does not.
        let none = PasswordSources::default();
        assert!(none.keyring(Purpose::Open, false, &mut no_prompt, &mut |_| {}).unwrap().is_empty());
        assert!(none.keyring(Purpose::Open, true, &mut no_prompt, &mut |_| {}).is_err());
    }

    #[test]
    fn a_broken_source_is_a_warning_while_another_works() {
        let dir = tempfile::tempdir().unwrap();
        let good = write(dir.path(), "good", "pw", 0o600);
        let sources = PasswordSources { password_files: vec![dir.path().join("missing"), good], ..Default::default() };
        let mut warnings = Vec::new();
        let ring =
            sources.keyring(Purpose::Open, false, &mut no_prompt, &mut |w| warnings.push(w.to_string())).unwrap();
        assert_eq!(ring.secrets().len(), 1);
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        let broken = PasswordSources { password_files: vec![dir.path().join("missing")], ..Default::default() };
        assert!(broken.keyring(Purpose::Open, false, &mut no_prompt, &mut |_| {}).is_err());
    }
}
