//! The `ansible.cfg` settings runbook honours, found where Ansible finds the file and overridden by the same
//! `ANSIBLE_*` variables, so a site folder that runs with `ansible-playbook site.yml` and no flag runs with
//! `runbook run site.rhai` and no flag.
//!
//! Precedence, as Ansible's: command-line flags (applied by the caller) > `ANSIBLE_*` environment variables >
//! the file > runbook's defaults. The file is the first of `$ANSIBLE_CONFIG` (a file, or a folder holding
//! `ansible.cfg`), `./ansible.cfg` (skipped when the current folder is world-writable, as Ansible skips it),
//! `~/.ansible.cfg`, `/etc/ansible/ansible.cfg` that exists and can be read; only that one file is read.
//! Paths in the file are relative to the file's folder, paths in the environment to the current folder
//! (`~`, `$VAR` and `{{CWD}}` expanded), as Ansible resolves them.

use std::path::{Component, Path, PathBuf};

pub use super::ansible_config_error::AnsibleConfigError;
use super::config_file::ConfigFile;
use crate::inventory::ConnectionDefaults;
use crate::transport::{BecomeMethod, HostKeyPolicy};

/// Where Ansible looks for an inventory when nothing names one.
const ANSIBLE_DEFAULT_INVENTORY: &str = "/etc/ansible/hosts";

/// Keys Ansible uses that runbook has no use for: named in a one-line note so nobody wonders.
const IGNORED: &[(&str, &str)] = &[
    ("defaults", "roles_path"),
    ("defaults", "collections_path"),
    ("defaults", "collections_paths"),
    ("defaults", "pipelining"),
    ("ssh_connection", "ssh_args"),
    ("ssh_connection", "control_path"),
    ("ssh_connection", "control_path_dir"),
    ("ssh_connection", "pipelining"),
    ("connection", "pipelining"),
];

/// What `ansible.cfg` and the `ANSIBLE_*` variables set (`None`: neither says anything).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AnsibleConfig {
    /// The file read, if any.
    pub file: Option<PathBuf>,
    /// `[defaults] inventory` / `ANSIBLE_INVENTORY`: inventory sources (files or folders), comma-separated.
    pub inventory: Vec<PathBuf>,
    /// `[defaults] forks` / `ANSIBLE_FORKS`.
    pub forks: Option<u32>,
    /// `[defaults] remote_user` / `ANSIBLE_REMOTE_USER`: the login user where the inventory names none.
    pub remote_user: Option<String>,
    /// `[defaults] private_key_file` / `ANSIBLE_PRIVATE_KEY_FILE`: the key where the inventory names none.
    pub private_key_file: Option<PathBuf>,
    /// `[defaults] host_key_checking` (or `[ssh_connection]`) / `ANSIBLE_HOST_KEY_CHECKING`.
    pub host_key_checking: Option<bool>,
    /// `[defaults] timeout` / `ANSIBLE_TIMEOUT`: seconds to wait for a connection.
    pub timeout: Option<u64>,
    /// `[defaults] vault_password_file` / `ANSIBLE_VAULT_PASSWORD_FILE` (used by the vault support).
    pub vault_password_file: Option<PathBuf>,
    /// `[defaults] vault_identity_list` / `ANSIBLE_VAULT_IDENTITY_LIST`: `label@source` ids, comma-separated.
    pub vault_identity_list: Vec<String>,
    /// `[privilege_escalation] become` / `ANSIBLE_BECOME`.
    pub become_: Option<bool>,
    /// `[privilege_escalation] become_method` / `ANSIBLE_BECOME_METHOD`.
    pub become_method: Option<String>,
    /// `[privilege_escalation] become_user` / `ANSIBLE_BECOME_USER`.
    pub become_user: Option<String>,
    /// `[privilege_escalation] become_ask_pass` / `ANSIBLE_BECOME_ASK_PASS`.
    pub become_ask_pass: Option<bool>,
    /// Keys present that runbook does not use (`roles_path`, `[ssh_connection] ssh_args`, ...).
    pub ignored: Vec<String>,
}

/// Where the process is: what finding and resolving depend on (the real one, or a test's).
pub struct Surroundings<'a> {
    pub env: &'a dyn Fn(&str) -> Option<String>,
    pub cwd: PathBuf,
    pub home: Option<PathBuf>,
}

impl Surroundings<'_> {
    fn var(&self, name: &str) -> Option<String> {
        (self.env)(name)
    }
}

impl AnsibleConfig {
    /// Finds and reads the config file of this process, with the environment's overrides.
    pub fn load() -> Result<AnsibleConfig, AnsibleConfigError> {
        let env = |name: &str| std::env::var(name).ok();
        let surroundings = Surroundings {
            env: &env,
            cwd: std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/")),
            home: dirs::home_dir(),
        };
        let (file, warning) = find(&surroundings);
        if let Some(warning) = warning {
            eprintln!("warning: {warning}");
        }
        let parsed = match &file {
            Some(path) => Some(read(path)?),
            None => None,
        };
        AnsibleConfig::from_parts(parsed.as_ref(), &surroundings)
    }

    /// The settings of `file` (already parsed) under the environment's overrides.
    pub fn from_parts(file: Option<&ConfigFile>, at: &Surroundings) -> Result<AnsibleConfig, AnsibleConfigError> {
        let mut config = AnsibleConfig { file: file.map(|file| file.path.clone()), ..AnsibleConfig::default() };
        // Ansible's `_loop_entries`: of several names for one setting, the last one set wins.
        let setting = |envs: &[&str], keys: &[(&str, &str)]| -> Option<Setting> {
            let from_env = envs.iter().rev().find_map(|env| {
                let value = at.var(env).filter(|value| !value.is_empty())?;
                Some(Setting { value, origin: Origin::Env(env.to_string()) })
            });
            if from_env.is_some() {
                return from_env;
            }
            let file = file?;
            keys.iter().rev().find_map(|(section, key)| {
                file.get(section, key).map(|(value, line)| Setting {
                    value: value.to_string(),
                    origin: Origin::File { path: file.path.clone(), line, key: key.to_string() },
                })
            })
        };
        if let Some(inventory) = setting(&["ANSIBLE_INVENTORY"], &[("defaults", "inventory")]) {
            config.inventory = inventory
                .value
                .split(',')
                .map(str::trim)
                .filter(|item| !item.is_empty())
                .map(|item| inventory.origin.resolve(item, at))
                .collect();
        }
        config.forks =
            number(setting(&["ANSIBLE_FORKS"], &[("defaults", "forks")]), "a whole number of at least 1", |n| {
                u32::try_from(n).ok().filter(|n| *n >= 1)
            })?;
        config.timeout =
            number(setting(&["ANSIBLE_TIMEOUT"], &[("defaults", "timeout")]), "a whole number of seconds", |n| {
                u64::try_from(n).ok()
            })?;
        config.remote_user = setting(&["ANSIBLE_REMOTE_USER"], &[("defaults", "remote_user")]).map(|s| s.value);
        config.private_key_file = setting(&["ANSIBLE_PRIVATE_KEY_FILE"], &[("defaults", "private_key_file")])
            .map(|key| key.origin.resolve(&key.value, at));
        config.vault_password_file = setting(&["ANSIBLE_VAULT_PASSWORD_FILE"], &[("defaults", "vault_password_file")])
            .map(|file| file.origin.resolve(&file.value, at));
        config.vault_identity_list = setting(&["ANSIBLE_VAULT_IDENTITY_LIST"], &[("defaults", "vault_identity_list")])
            .map(|ids| ids.value.split(',').map(str::trim).filter(|id| !id.is_empty()).map(String::from).collect())
            .unwrap_or_default();
        let host_key_keys = [("defaults", "host_key_checking"), ("ssh_connection", "host_key_checking")];
        let host_key_checking =
            setting(&["ANSIBLE_HOST_KEY_CHECKING", "ANSIBLE_SSH_HOST_KEY_CHECKING"], &host_key_keys);
        config.host_key_checking = boolean(host_key_checking)?;
        config.become_ = boolean(setting(&["ANSIBLE_BECOME"], &[("privilege_escalation", "become")]))?;
        config.become_ask_pass =
            boolean(setting(&["ANSIBLE_BECOME_ASK_PASS"], &[("privilege_escalation", "become_ask_pass")]))?;
        config.become_method =
            setting(&["ANSIBLE_BECOME_METHOD"], &[("privilege_escalation", "become_method")]).map(|s| s.value);
        config.become_user =
            setting(&["ANSIBLE_BECOME_USER"], &[("privilege_escalation", "become_user")]).map(|s| s.value);
        if let Some(file) = file {
            config.ignored = file
                .options()
                .filter(|option| IGNORED.contains(option))
                .map(
                    |(section, key)| if section == "defaults" { key.to_string() } else { format!("[{section}] {key}") },
                )
                .collect();
        }
        Ok(config)
    }

    /// The inventory sources: `-i` when given, else the config's, else Ansible's default `/etc/ansible/hosts`
    /// when it exists.
    pub fn inventory_sources(&self, flags: &[PathBuf]) -> Result<Vec<PathBuf>, AnsibleConfigError> {
        if !flags.is_empty() {
            return Ok(flags.to_vec());
        }
        if !self.inventory.is_empty() {
            return Ok(self.inventory.clone());
        }
        if Path::new(ANSIBLE_DEFAULT_INVENTORY).exists() {
            return Ok(vec![PathBuf::from(ANSIBLE_DEFAULT_INVENTORY)]);
        }
        Err(AnsibleConfigError::NoInventory)
    }

    /// What the inventory takes where its variables say nothing; `host_key_flag` is the command line's
    /// `--host-key-checking`, which wins over every host's own setting.
    pub fn connection_defaults(
        &self,
        host_key_flag: Option<HostKeyPolicy>,
    ) -> Result<ConnectionDefaults, AnsibleConfigError> {
        let become_method = match &self.become_method {
            None => None,
            Some(method) => Some(BecomeMethod::parse(method).ok_or_else(|| AnsibleConfigError::BecomeMethod {
                origin: self.file.as_ref().map_or("ANSIBLE_BECOME_METHOD".to_string(), |f| f.display().to_string()),
                method: method.clone(),
            })?),
        };
        Ok(ConnectionDefaults {
            user: self.remote_user.clone(),
            key: self.private_key_file.clone(),
            become_: self.become_,
            become_user: self.become_user.clone(),
            become_method,
            host_key_checking: self.host_key_checking,
            host_key_policy: host_key_flag,
        })
    }

    /// The run's host-key policy where no host says otherwise: the flag, else `host_key_checking = False`
    /// read as accept-new (what OpenSSH's `StrictHostKeyChecking=no`, which Ansible passes, does with an
    /// unknown key), else strict.
    pub fn host_key_policy(&self, host_key_flag: Option<HostKeyPolicy>) -> HostKeyPolicy {
        match (host_key_flag, self.host_key_checking) {
            (Some(policy), _) => policy,
            (None, Some(false)) => HostKeyPolicy::AcceptNew,
            (None, _) => HostKeyPolicy::Strict,
        }
    }

    /// The one-line note about keys runbook does not use, if the file has any.
    pub fn note(&self) -> Option<String> {
        let file = self.file.as_ref()?;
        (!self.ignored.is_empty()).then(|| {
            format!(
                "note: {}: runbook does not use {} (roles and collections are Ansible's; runbook keeps its own \
                 SSH connections)",
                file.display(),
                self.ignored.join(", ")
            )
        })
    }
}

/// Reads and parses the config file at `path`; a malformed file is an error at its line, as in Ansible.
pub fn read(path: &Path) -> Result<ConfigFile, AnsibleConfigError> {
    match path.extension().and_then(|ext| ext.to_str()) {
        Some("cfg" | "ini") => {}
        _ => return Err(AnsibleConfigError::Extension(path.to_path_buf())),
    }
    let text = std::fs::read_to_string(path)
        .map_err(|source| AnsibleConfigError::Unreadable { path: path.to_path_buf(), source })?;
    ConfigFile::parse(&text, path).map_err(|source| AnsibleConfigError::Malformed { path: path.to_path_buf(), source })
}

/// Ansible's search (`find_ini_config_file`): the first candidate that exists and can be read, and the warning
/// Ansible prints when it skipped `./ansible.cfg` in a world-writable folder.
pub fn find(at: &Surroundings) -> (Option<PathBuf>, Option<String>) {
    let mut candidates = Vec::new();
    let from_env = at.var("ANSIBLE_CONFIG").map(|value| {
        let path = resolve(&value, &at.cwd, at);
        if path.is_dir() { path.join("ansible.cfg") } else { path }
    });
    candidates.extend(from_env.clone());
    let cwd_config = at.cwd.join("ansible.cfg");
    let mut skipped_cwd = false;
    if world_writable(&at.cwd) {
        skipped_cwd = cwd_config.exists();
    } else {
        candidates.push(cwd_config);
    }
    if let Some(home) = &at.home {
        candidates.push(home.join(".ansible.cfg"));
    }
    candidates.push(PathBuf::from("/etc/ansible/ansible.cfg"));
    let found = candidates.into_iter().find(|path| path.is_file() && std::fs::File::open(path).is_ok());
    let warning = (skipped_cwd && (from_env.is_none() || found != from_env)).then(|| {
        format!(
            "runbook is being run in a world writable directory ({}), ignoring it as an ansible.cfg source \
             (as Ansible does)",
            at.cwd.display()
        )
    });
    (found, warning)
}

fn world_writable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|metadata| metadata.permissions().mode() & 0o002 != 0)
}

/// Where a value came from: what relative paths are relative to, and what an error names.
#[derive(Debug, Clone)]
enum Origin {
    Env(String),
    File { path: PathBuf, line: usize, key: String },
}

struct Setting {
    value: String,
    origin: Origin,
}

impl Origin {
    fn resolve(&self, value: &str, at: &Surroundings) -> PathBuf {
        match self {
            Origin::Env(_) => resolve(value, &at.cwd, at),
            Origin::File { path, .. } => resolve(value, path.parent().unwrap_or(Path::new("/")), at),
        }
    }

    fn describe(&self) -> String {
        match self {
            Origin::Env(name) => name.clone(),
            Origin::File { path, line, key } => format!("{}:{line}: `{key}`", path.display()),
        }
    }
}

fn invalid(setting: Setting, expected: &'static str) -> AnsibleConfigError {
    AnsibleConfigError::Invalid { origin: setting.origin.describe(), expected, value: setting.value }
}

/// A whole-number setting, `convert`ed to its type (None: out of range).
fn number<T>(
    setting: Option<Setting>,
    expected: &'static str,
    convert: impl Fn(i64) -> Option<T>,
) -> Result<Option<T>, AnsibleConfigError> {
    let Some(setting) = setting else { return Ok(None) };
    match setting.value.trim().parse::<i64>().ok().and_then(convert) {
        Some(number) => Ok(Some(number)),
        None => Err(invalid(setting, expected)),
    }
}

/// Ansible's booleans (`yes`/`no`, `true`/`false`, `on`/`off`, `1`/`0`, `y`/`n`, `t`/`f`). Ansible reads any
/// other word as false; for settings such as `host_key_checking` a typo must not turn checking off, so it is
/// an error here.
fn boolean(setting: Option<Setting>) -> Result<Option<bool>, AnsibleConfigError> {
    let Some(setting) = setting else { return Ok(None) };
    match setting.value.trim().to_lowercase().as_str() {
        "y" | "yes" | "on" | "1" | "true" | "t" => Ok(Some(true)),
        "n" | "no" | "off" | "0" | "false" | "f" => Ok(Some(false)),
        _ => Err(invalid(setting, "true or false")),
    }
}

/// Ansible's `resolve_path`: `{{CWD}}`, `$VAR`/`${VAR}` and `~` expanded, relative to `base`, normalised
/// without following links.
fn resolve(value: &str, base: &Path, at: &Surroundings) -> PathBuf {
    let value = value.replace("{{CWD}}", &at.cwd.display().to_string());
    let value = expand_vars(&value, at);
    let value = match (value.strip_prefix('~'), &at.home) {
        (Some(rest), Some(home)) if rest.is_empty() || rest.starts_with('/') => {
            format!("{}{rest}", home.display())
        }
        _ => value,
    };
    let path = Path::new(&value);
    let joined = if path.is_absolute() { path.to_path_buf() } else { base.join(path) };
    let mut normal = PathBuf::new();
    for component in joined.components() {
        match component {
            Component::ParentDir => {
                normal.pop();
            }
            Component::CurDir => {}
            other => normal.push(other),
        }
    }
    normal
}

/// Python's `os.path.expandvars`: `$NAME` and `${NAME}` of set variables; anything else stays.
fn expand_vars(value: &str, at: &Surroundings) -> String {
    let mut out = String::new();
    let mut rest = value;
    while let Some(dollar) = rest.find('$') {
        out.push_str(&rest[..dollar]);
        let after = &rest[dollar + 1..];
        let (name, consumed) = if let Some(braced) = after.strip_prefix('{') {
            match braced.find('}') {
                Some(end) => (&braced[..end], end + 2),
                None => ("", 0),
            }
        } else {
            let end = after.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(after.len());
            (&after[..end], end)
        };
        match at.var(name).filter(|_| !name.is_empty()) {
            Some(found) => {
                out.push_str(&found);
                rest = &after[consumed..];
            }
            None => {
                out.push('$');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn surroundings<'a>(env: &'a dyn Fn(&str) -> Option<String>, cwd: &Path) -> Surroundings<'a> {
        Surroundings { env, cwd: cwd.to_path_buf(), home: Some(PathBuf::from("/home/ops")) }
    }

    fn config(text: &str, vars: &[(&str, &str)]) -> Result<AnsibleConfig, AnsibleConfigError> {
        let vars: HashMap<String, String> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        let env = move |name: &str| vars.get(name).cloned();
        let file = ConfigFile::parse(text, Path::new("/site/ansible.cfg")).unwrap();
        AnsibleConfig::from_parts(Some(&file), &surroundings(&env, Path::new("/work")))
    }

    const SITE: &str = "[defaults]\ninventory = inventory/, ../shared/hosts.ini\nforks = 7\nremote_user = deploy\n\
        private_key_file = ~/.ssh/site\nhost_key_checking = False\ntimeout = 30\nvault_password_file = .vault\n\
        roles_path = roles\nunknown_key = x\n[privilege_escalation]\nbecome = yes\nbecome_user = admin\n\
        become_method = su\nbecome_ask_pass = true\n[ssh_connection]\nssh_args = -C\npipelining = True\n";

    #[test]
    fn the_file_sets_the_keys_with_paths_relative_to_its_folder() {
        let config = config(SITE, &[]).unwrap();
        assert_eq!(config.inventory, [PathBuf::from("/site/inventory"), PathBuf::from("/shared/hosts.ini")]);
        assert_eq!(config.forks, Some(7));
        assert_eq!(config.remote_user.as_deref(), Some("deploy"));
        assert_eq!(config.private_key_file, Some(PathBuf::from("/home/ops/.ssh/site")));
        assert_eq!(config.host_key_checking, Some(false));
        assert_eq!(config.timeout, Some(30));
        assert_eq!(config.vault_password_file, Some(PathBuf::from("/site/.vault")));
        assert_eq!(config.become_, Some(true));
        assert_eq!(config.become_user.as_deref(), Some("admin"));
        assert_eq!(config.become_method.as_deref(), Some("su"));
        assert_eq!(config.become_ask_pass, Some(true));
        assert_eq!(config.ignored, ["roles_path", "[ssh_connection] ssh_args", "[ssh_connection] pipelining"]);
        let note = config.note().unwrap();
        assert!(
            note.starts_with("note: /site/ansible.cfg: runbook does not use roles_path, [ssh_connection] ssh_args")
        );
        assert!(!note.contains("unknown_key"), "unknown keys are ignored silently, as Ansible does");
    }

    #[test]
    fn the_environment_wins_over_the_file_with_paths_relative_to_the_current_folder() {
        let config = config(
            SITE,
            &[
                ("ANSIBLE_INVENTORY", "hosts.yaml,$SITE/more"),
                ("SITE", "/srv/site"),
                ("ANSIBLE_FORKS", "3"),
                ("ANSIBLE_REMOTE_USER", "ops"),
                ("ANSIBLE_PRIVATE_KEY_FILE", "keys/id"),
                ("ANSIBLE_HOST_KEY_CHECKING", "yes"),
                ("ANSIBLE_TIMEOUT", "5"),
                ("ANSIBLE_FORKS_UNRELATED", "x"),
            ],
        )
        .unwrap();
        assert_eq!(config.inventory, [PathBuf::from("/work/hosts.yaml"), PathBuf::from("/srv/site/more")]);
        assert_eq!((config.forks, config.timeout), (Some(3), Some(5)));
        assert_eq!(config.remote_user.as_deref(), Some("ops"));
        assert_eq!(config.private_key_file, Some(PathBuf::from("/work/keys/id")));
        assert_eq!(config.host_key_checking, Some(true));
        // An empty variable is as good as unset (Ansible falls back too).
        assert_eq!(config_with_env(&[("ANSIBLE_FORKS", "")]).forks, Some(7));
    }

    fn config_with_env(vars: &[(&str, &str)]) -> AnsibleConfig {
        config(SITE, vars).unwrap()
    }

    #[test]
    fn bad_values_name_where_they_are() {
        assert_eq!(
            config("[defaults]\n\nforks = many\n", &[]).unwrap_err().to_string(),
            "/site/ansible.cfg:3: `forks` must be a whole number of at least 1, found \"many\""
        );
        assert_eq!(
            config("[defaults]\nhost_key_checking = nope\n", &[]).unwrap_err().to_string(),
            "/site/ansible.cfg:2: `host_key_checking` must be true or false, found \"nope\""
        );
        assert_eq!(
            config("", &[("ANSIBLE_TIMEOUT", "soon")]).unwrap_err().to_string(),
            "ANSIBLE_TIMEOUT must be a whole number of seconds, found \"soon\""
        );
    }

    #[test]
    fn found_where_ansible_looks() {
        let temp = tempfile::tempdir().unwrap();
        let site = temp.path().join("site");
        let elsewhere = temp.path().join("elsewhere");
        std::fs::create_dir_all(&site).unwrap();
        std::fs::create_dir_all(&elsewhere).unwrap();
        std::fs::write(site.join("ansible.cfg"), "[defaults]\n").unwrap();
        std::fs::write(elsewhere.join("ansible.cfg"), "[defaults]\n").unwrap();
        let none = |_: &str| None;
        let (found, warning) = find(&surroundings(&none, &site));
        assert_eq!(found, Some(site.join("ansible.cfg")));
        assert_eq!(warning, None);
        // ANSIBLE_CONFIG first, a folder meaning its ansible.cfg.
        let elsewhere_text = elsewhere.display().to_string();
        let env = move |name: &str| (name == "ANSIBLE_CONFIG").then(|| elsewhere_text.clone());
        assert_eq!(find(&surroundings(&env, &site)).0, Some(elsewhere.join("ansible.cfg")));
        // A world-writable current folder is skipped, with Ansible's warning.
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&site, std::fs::Permissions::from_mode(0o777)).unwrap();
        let (found, warning) = find(&surroundings(&none, &site));
        assert_ne!(found, Some(site.join("ansible.cfg")));
        assert!(warning.unwrap().contains("world writable"));
    }

    #[test]
    fn paths_expand_like_ansibles_resolve_path() {
        let env = |name: &str| (name == "X").then(|| "/x".to_string());
        let at = surroundings(&env, Path::new("/cwd"));
        assert_eq!(resolve("a/../b/./c", Path::new("/base"), &at), PathBuf::from("/base/b/c"));
        assert_eq!(resolve("${X}/k", Path::new("/base"), &at), PathBuf::from("/x/k"));
        assert_eq!(resolve("$NOPE/k", Path::new("/base"), &at), PathBuf::from("/base/$NOPE/k"));
        assert_eq!(resolve("{{CWD}}/h", Path::new("/base"), &at), PathBuf::from("/cwd/h"));
        assert_eq!(resolve("~/k", Path::new("/base"), &at), PathBuf::from("/home/ops/k"));
        assert_eq!(resolve("~other/k", Path::new("/base"), &at), PathBuf::from("/base/~other/k"));
    }
}
