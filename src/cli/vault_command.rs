//! `runbook vault encrypt|decrypt|view|edit|create|encrypt_string|rekey`: `ansible-vault`'s commands with its
//! flags, so an estate's vaulted files are kept with one tool, and what either tool writes the other reads.
//!
//! Files are written as `ansible-vault` writes them (mode 0600; `rekey` keeps the file's mode), but through a
//! temporary file renamed into place, so an interrupted write never leaves half a file. `edit` decrypts into a
//! 0600 file in a private 0700 folder, runs `$EDITOR` on it, and removes both (overwritten first) whatever happens.

use std::io::{IsTerminal, Read, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};

use super::exit_code;
use super::vault_command_error::VaultCommandError;
use super::vault_options::{VaultArgs, VaultConfig, keyring_from};
use crate::vault::{Keyring, PasswordSources, Purpose, VaultSecret};

#[derive(Subcommand, Debug)]
pub enum VaultCommand {
    /// Encrypt files in place (no file or `-`: stdin to stdout).
    Encrypt(EncryptArgs),
    /// Decrypt files in place (no file or `-`: stdin to stdout).
    Decrypt(DecryptArgs),
    /// Print the plaintext of vaulted files.
    View(ViewArgs),
    /// Decrypt a vaulted file into $EDITOR and encrypt what is saved.
    Edit(EditArgs),
    /// Create a new vaulted file in $EDITOR.
    Create(EditArgs),
    /// Encrypt strings into `name: !vault |` YAML to paste into a vars file (`-` or no string: stdin).
    #[command(name = "encrypt_string")]
    EncryptString(EncryptStringArgs),
    /// Encrypt vaulted files again under a new password.
    Rekey(RekeyArgs),
}

#[derive(Args, Debug)]
pub struct EncryptArgs {
    /// Files to encrypt in place; none or `-` reads stdin.
    pub files: Vec<String>,
    /// Write here instead of in place (`-`: stdout); only with one input.
    #[arg(long = "output", value_name = "FILE")]
    pub output: Option<String>,
    /// The vault id to encrypt with (required when several are given).
    #[arg(long = "encrypt-vault-id", value_name = "LABEL")]
    pub encrypt_vault_id: Option<String>,
    #[command(flatten)]
    pub vault: VaultArgs,
}

#[derive(Args, Debug)]
pub struct DecryptArgs {
    /// Files to decrypt in place; none or `-` reads stdin.
    pub files: Vec<String>,
    /// Write here instead of in place (`-`: stdout); only with one input.
    #[arg(long = "output", value_name = "FILE")]
    pub output: Option<String>,
    #[command(flatten)]
    pub vault: VaultArgs,
}

#[derive(Args, Debug)]
pub struct ViewArgs {
    /// Vaulted files to print.
    #[arg(required = true)]
    pub files: Vec<String>,
    #[command(flatten)]
    pub vault: VaultArgs,
}

#[derive(Args, Debug)]
pub struct EditArgs {
    /// The vaulted file.
    #[arg(required = true)]
    pub files: Vec<String>,
    /// The vault id to encrypt a new file with (`create`).
    #[arg(long = "encrypt-vault-id", value_name = "LABEL")]
    pub encrypt_vault_id: Option<String>,
    #[command(flatten)]
    pub vault: VaultArgs,
}

#[derive(Args, Debug)]
pub struct EncryptStringArgs {
    /// Strings to encrypt; `-` (or none) reads stdin.
    pub strings: Vec<String>,
    /// The variable name of each string, in order.
    #[arg(short = 'n', long = "name", value_name = "NAME")]
    pub names: Vec<String>,
    /// The variable name of the string read from stdin.
    #[arg(long = "stdin-name", value_name = "NAME")]
    pub stdin_name: Option<String>,
    /// Ask for the string (and its name) on the terminal.
    #[arg(short = 'p', long = "prompt")]
    pub prompt: bool,
    /// Write here instead of stdout.
    #[arg(long = "output", value_name = "FILE")]
    pub output: Option<String>,
    /// The vault id to encrypt with (required when several are given).
    #[arg(long = "encrypt-vault-id", value_name = "LABEL")]
    pub encrypt_vault_id: Option<String>,
    #[command(flatten)]
    pub vault: VaultArgs,
}

#[derive(Args, Debug)]
pub struct RekeyArgs {
    /// Vaulted files to encrypt again.
    #[arg(required = true)]
    pub files: Vec<String>,
    /// The new password's file (run when executable).
    #[arg(long = "new-vault-password-file", value_name = "FILE", conflicts_with = "new_vault_id")]
    pub new_vault_password_file: Option<PathBuf>,
    /// The new vault id, LABEL@SOURCE.
    #[arg(long = "new-vault-id", value_name = "[LABEL@]SOURCE")]
    pub new_vault_id: Option<String>,
    /// Which of the new vault ids to encrypt with.
    #[arg(long = "encrypt-vault-id", value_name = "LABEL")]
    pub encrypt_vault_id: Option<String>,
    #[command(flatten)]
    pub vault: VaultArgs,
}

pub fn run(command: VaultCommand) -> i32 {
    let result = match command {
        VaultCommand::Encrypt(args) => encrypt(args),
        VaultCommand::Decrypt(args) => decrypt(args),
        VaultCommand::View(args) => view(args),
        VaultCommand::Edit(args) => edit(args, false),
        VaultCommand::Create(args) => edit(args, true),
        VaultCommand::EncryptString(args) => encrypt_string(args),
        VaultCommand::Rekey(args) => rekey(args),
    };
    match result {
        Ok(()) => exit_code::OK,
        Err(message) => {
            eprintln!("error: {message}");
            exit_code::USAGE
        }
    }
}

/// The passwords to open vaulted data with; asked for when nothing else names one, as `ansible-vault` does.
fn open_keyring(vault: &VaultArgs) -> Result<Keyring, VaultCommandError> {
    let keyring = keyring_from(&vault.sources(VaultConfig::configured()), Purpose::Open, true)?;
    if keyring.is_empty() {
        return Err(VaultCommandError::NoPassword);
    }
    Ok(keyring)
}

/// The one password new ciphertext is made with: `--encrypt-vault-id`'s, or the only one given.
fn encrypt_secret(sources: &PasswordSources, encrypt_vault_id: Option<&str>) -> Result<VaultSecret, VaultCommandError> {
    let keyring = keyring_from(sources, Purpose::New, true)?;
    if keyring.secrets().len() > 1 && encrypt_vault_id.is_none() {
        let labels: Vec<&str> = keyring.secrets().iter().map(|secret| secret.label.as_str()).collect();
        return Err(VaultCommandError::WhichId { labels: labels.join(",") });
    }
    Ok(keyring.for_encrypt(encrypt_vault_id).cloned()?)
}

/// Files named, or stdin (`-`) when none is.
fn inputs(files: &[String]) -> Vec<String> {
    if files.is_empty() { vec!["-".to_string()] } else { files.to_vec() }
}

fn check_output(files: &[String], output: &Option<String>) -> Result<(), VaultCommandError> {
    if output.is_some() && files.len() > 1 {
        return Err(VaultCommandError::OutputOfSeveral);
    }
    Ok(())
}

fn read_input(name: &str) -> Result<Vec<u8>, VaultCommandError> {
    if name == "-" {
        let mut bytes = Vec::new();
        std::io::stdin().read_to_end(&mut bytes).map_err(VaultCommandError::ReadStdin)?;
        return Ok(bytes);
    }
    std::fs::read(name).map_err(|source| VaultCommandError::Read { name: name.to_string(), source })
}

fn read_vaulted(name: &str) -> Result<String, VaultCommandError> {
    let bytes = read_input(name)?;
    String::from_utf8(bytes).map_err(|_| VaultCommandError::NotText(name.to_string()))
}

fn decrypt_named(keyring: &Keyring, name: &str) -> Result<crate::vault::Decrypted, VaultCommandError> {
    let text = read_vaulted(name)?;
    keyring.decrypt(&text).map_err(|error| error.at(name, None).into())
}

fn encrypt(args: EncryptArgs) -> Result<(), VaultCommandError> {
    check_output(&args.files, &args.output)?;
    let secret = encrypt_secret(&args.vault.sources(VaultConfig::configured()), args.encrypt_vault_id.as_deref())?;
    for name in inputs(&args.files) {
        let plaintext = read_input(&name)?;
        let text = secret.encrypt(&plaintext).map_err(|error| error.at(&name, None))?;
        write_output(args.output.as_deref().unwrap_or(&name), text.as_bytes(), None)?;
    }
    if std::io::stdout().is_terminal() {
        eprintln!("Encryption successful");
    }
    Ok(())
}

fn decrypt(args: DecryptArgs) -> Result<(), VaultCommandError> {
    check_output(&args.files, &args.output)?;
    let keyring = open_keyring(&args.vault)?;
    for name in inputs(&args.files) {
        let decrypted = decrypt_named(&keyring, &name)?;
        write_output(args.output.as_deref().unwrap_or(&name), &decrypted.plaintext, None)?;
    }
    if std::io::stdout().is_terminal() {
        eprintln!("Decryption successful");
    }
    Ok(())
}

fn view(args: ViewArgs) -> Result<(), VaultCommandError> {
    let keyring = open_keyring(&args.vault)?;
    let mut out = std::io::stdout().lock();
    for name in &args.files {
        let decrypted = decrypt_named(&keyring, name)?;
        out.write_all(&decrypted.plaintext).and_then(|()| out.flush()).map_err(VaultCommandError::Print)?;
    }
    Ok(())
}

fn rekey(args: RekeyArgs) -> Result<(), VaultCommandError> {
    let keyring = open_keyring(&args.vault)?;
    let new_sources = PasswordSources {
        vault_ids: args.new_vault_id.iter().cloned().collect(),
        password_files: args.new_vault_password_file.iter().cloned().collect(),
        ask_vault_pass: args.vault.ask_vault_pass,
        ..PasswordSources::default()
    };
    let new_keyring = keyring_from(&new_sources, Purpose::New, true)?;
    let new_secret = new_keyring.for_encrypt(args.encrypt_vault_id.as_deref())?;
    for name in &args.files {
        let decrypted = decrypt_named(&keyring, name)?;
        let text = new_secret.encrypt(&decrypted.plaintext).map_err(|error| error.at(name, None))?;
        let mode = std::fs::metadata(name).map(|metadata| metadata.permissions().mode() & 0o7777).ok();
        write_output(name, text.as_bytes(), mode)?;
    }
    eprintln!("Rekey successful");
    Ok(())
}

fn encrypt_string(args: EncryptStringArgs) -> Result<(), VaultCommandError> {
    let secret = encrypt_secret(&args.vault.sources(VaultConfig::configured()), args.encrypt_vault_id.as_deref())?;
    let mut items: Vec<(Option<String>, Vec<u8>, &str)> = Vec::new();
    if args.prompt {
        let name = super::password_prompt::ask_visible("Variable name (enter for no name): ")?;
        let text = super::password_prompt::ask("String to encrypt (hidden): ")?;
        items.push(((!name.is_empty()).then_some(name), text.into_bytes(), "the interactive prompt"));
    }
    let strings: Vec<&String> = args.strings.iter().filter(|text| *text != "-").collect();
    let read_stdin = args.strings.iter().any(|text| text == "-")
        || args.stdin_name.is_some()
        || (args.strings.is_empty() && !args.prompt);
    if read_stdin {
        let text = read_input("-")?;
        if text.is_empty() {
            return Err(VaultCommandError::EmptyStdin);
        }
        items.push((args.stdin_name.clone(), text, "stdin"));
    }
    if strings.len() > args.names.len() && !args.names.is_empty() {
        eprintln!("The number of --name options do not match the number of args.");
        eprintln!(
            "The last named variable will be \"{}\". The rest will not have names.",
            args.names.last().map(String::as_str).unwrap_or_default()
        );
    }
    for (index, text) in strings.iter().enumerate() {
        if text.is_empty() {
            return Err(VaultCommandError::EmptyArgument);
        }
        items.push((args.names.get(index).cloned(), text.as_bytes().to_vec(), "the command line args"));
    }
    let several = items.len() > 1;
    let mut blocks = Vec::new();
    for (index, (name, plaintext, from)) in items.iter().enumerate() {
        let text = secret.encrypt(plaintext)?;
        if several {
            match name {
                Some(name) => eprintln!(
                    "# The encrypted version of variable (\"{name}\", the string #{} from {from}).",
                    index + 1
                ),
                None => eprintln!("# The encrypted version of the string #{} from {from}.)", index + 1),
            }
        }
        blocks.push(yaml_block(name.as_deref(), &text));
    }
    blocks.push(String::new());
    write_output(args.output.as_deref().unwrap_or("-"), blocks.join("\n").as_bytes(), None)?;
    if std::io::stdout().is_terminal() {
        eprintln!("Encryption successful");
    }
    Ok(())
}

/// `name: !vault |` and the ciphertext indented by 10, as `ansible-vault encrypt_string` prints it.
fn yaml_block(name: Option<&str>, ciphertext: &str) -> String {
    let mut lines = vec![match name {
        Some(name) => format!("{name}: !vault |"),
        None => "!vault |".to_string(),
    }];
    lines.extend(ciphertext.lines().map(|line| format!("{}{line}", " ".repeat(10))));
    lines.join("\n")
}

fn edit(args: EditArgs, create: bool) -> Result<(), VaultCommandError> {
    if create && args.files.len() != 1 {
        return Err(VaultCommandError::CreateOfSeveral);
    }
    for name in &args.files {
        let path = Path::new(name);
        let (existing, secret) = if create {
            if path.exists() {
                return Err(VaultCommandError::Exists(name.clone()));
            }
            let sources = args.vault.sources(VaultConfig::configured());
            (None, encrypt_secret(&sources, args.encrypt_vault_id.as_deref())?)
        } else {
            let decrypted = decrypt_named(&open_keyring(&args.vault)?, name)?;
            // The same password, and the label the file had (not the one of the id that opened it).
            let secret = VaultSecret::new(decrypted.envelope_label.clone(), decrypted.secret.password());
            (Some(decrypted.plaintext), secret)
        };
        let edited = edit_in_editor(path, existing.as_deref().unwrap_or_default())?;
        if existing.as_deref() == Some(edited.as_slice()) {
            continue;
        }
        let text = secret.encrypt(&edited).map_err(|error| error.at(name, None))?;
        if let Some(parent) = path.parent().filter(|parent| !parent.as_os_str().is_empty() && !parent.exists()) {
            eprintln!("warning: {} does not exist, creating...", parent.display());
            std::fs::create_dir_all(parent)
                .map_err(|source| VaultCommandError::Folder { path: parent.to_path_buf(), source })?;
        }
        let mode = std::fs::metadata(path).map(|metadata| metadata.permissions().mode() & 0o7777).ok();
        write_output(name, text.as_bytes(), mode)?;
    }
    Ok(())
}

/// A private folder holding the plaintext while the editor has it; overwritten and removed on drop, also when
/// the editor fails or runbook is unwinding from an error.
struct PlaintextFolder(PathBuf);

impl Drop for PlaintextFolder {
    fn drop(&mut self) {
        if let Ok(entries) = std::fs::read_dir(&self.0) {
            for entry in entries.flatten() {
                let size = entry.metadata().map(|metadata| metadata.len()).unwrap_or(0);
                let _ = std::fs::write(entry.path(), vec![0u8; size as usize]);
            }
        }
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Writes `plaintext` to a 0600 file (named like `path`, for the editor's syntax highlighting) in a 0700
/// folder, runs `$EDITOR` (else `vi`) on it, and returns what was saved.
fn edit_in_editor(path: &Path, plaintext: &[u8]) -> Result<Vec<u8>, VaultCommandError> {
    let folder =
        std::env::temp_dir().join(format!("runbook-vault-{}-{:016x}", std::process::id(), rand::random::<u64>()));
    std::fs::DirBuilder::new()
        .mode(0o700)
        .create(&folder)
        .map_err(|source| VaultCommandError::EditCreate { path: folder.clone(), source })?;
    let folder = PlaintextFolder(folder);
    let file_name = path.file_name().map(|name| name.to_os_string()).unwrap_or_else(|| "vault".into());
    let temp = folder.0.join(file_name);
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&temp)
        .map_err(|source| VaultCommandError::EditCreate { path: temp.clone(), source })?;
    file.write_all(plaintext).map_err(|source| VaultCommandError::EditWrite { path: temp.clone(), source })?;
    drop(file);
    let editor = std::env::var("EDITOR").ok().filter(|editor| !editor.trim().is_empty()).unwrap_or_else(|| "vi".into());
    let mut words = shlex::split(&editor)
        .filter(|words| !words.is_empty())
        .ok_or_else(|| VaultCommandError::EditorWords(editor.clone()))?;
    let program = words.remove(0);
    // As ansible-vault: the editor's exit status is not a verdict; what it saved is.
    std::process::Command::new(&program)
        .args(&words)
        .arg(&temp)
        .status()
        .map_err(|source| VaultCommandError::Editor { program: program.clone(), source })?;
    std::fs::read(&temp).map_err(|source| VaultCommandError::EditReadBack { path: temp.clone(), source })
}

/// Writes `bytes` to `name` (`-`: stdout) through a temporary file renamed into place: mode `mode`, else 0600.
fn write_output(name: &str, bytes: &[u8], mode: Option<u32>) -> Result<(), VaultCommandError> {
    if name == "-" {
        let mut out = std::io::stdout().lock();
        return out.write_all(bytes).and_then(|()| out.flush()).map_err(VaultCommandError::Stdout);
    }
    let path = Path::new(name);
    let folder = path.parent().filter(|parent| !parent.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let file_name = path.file_name().map(|name| name.to_string_lossy().into_owned()).unwrap_or_default();
    let temp = folder.join(format!(".{file_name}.runbook-{:016x}", rand::random::<u64>()));
    let written = (|| {
        let mut file = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(&temp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        if let Some(mode) = mode {
            std::fs::set_permissions(&temp, std::fs::Permissions::from_mode(mode))?;
        }
        std::fs::rename(&temp, path)
    })();
    written.map_err(|error| {
        let _ = std::fs::remove_file(&temp);
        VaultCommandError::Write { name: name.to_string(), source: error }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yaml_blocks_are_laid_out_as_ansible_vault_prints_them() {
        let text = "$ANSIBLE_VAULT;1.1;AES256\nabcd\nef\n";
        assert_eq!(
            yaml_block(Some("pw"), text),
            "pw: !vault |\n          $ANSIBLE_VAULT;1.1;AES256\n          abcd\n          ef"
        );
        assert_eq!(yaml_block(None, text).lines().next(), Some("!vault |"));
    }

    #[test]
    fn outputs_replace_files_whole_with_the_asked_mode() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.yml");
        std::fs::write(&path, "old").unwrap();
        write_output(path.to_str().unwrap(), b"new", None).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "new");
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        write_output(path.to_str().unwrap(), b"newer", Some(0o640)).unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o640);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1, "no temporary file is left");
    }
}
