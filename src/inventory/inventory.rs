//! Loading an inventory file into groups and hosts, and answering questions about them.
//!
//! The YAML tree (or the INI sections) is flattened into a group graph (a group may have several parents, a host
//! may be listed in several groups and stays one host). `group_vars/` and `host_vars/` beside the inventory and
//! beside the playbook are layered in. Variables are merged once per host, in Ansible's order, so what
//! `runbook inventory --host` prints is exactly what a playbook will see.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use indexmap::IndexMap;
use serde_saphyr::Spanned;

use super::connection_settings::{ConnectionDefaults, ConnectionSettings};
use super::host_key;
use super::ini_source::{IniError, IniInventory, IniVar};
use super::inventory_error::{InventoryError, Position};
use super::inventory_host::InventoryHost;
use super::inventory_sources::Source;
use super::vars_files;
use super::yaml_source::{self, RawGroup, RawGroups, RawInventory, RawVars, Vars};

/// Far beyond any fleet runbook drives; a guard against ranges that multiply.
const MAX_HOSTS: usize = 100_000;

/// A loaded inventory: groups and hosts in file order, each host's variables merged.
#[derive(Debug, Clone)]
pub struct Inventory {
    path: PathBuf,
    source: Arc<String>,
    /// The `group_vars/` and `host_vars/` files read; [`Origin::File`]'s source `n` is `vars_sources[n - 1]`.
    vars_sources: Vec<(PathBuf, Arc<String>)>,
    /// Folders whose `group_vars/`/`host_vars/` were read (the inventory sources', the playbook's).
    vars_folders: Vec<PathBuf>,
    pub(super) groups: IndexMap<String, Group>,
    entries: IndexMap<String, HostEntry>,
    pub(super) hosts: IndexMap<String, InventoryHost>,
    extra_vars: Vars,
    /// ansible.cfg's connection settings, where the variables say nothing.
    connection_defaults: ConnectionDefaults,
    /// Every value Ansible Vault revealed while loading (inline `!vault` values, strings of vaulted files, `-e
    /// @vaulted.yml`): secrets the run must never show.
    vault_secrets: Vec<String>,
    /// Those of them that were inline `!vault` values: Ansible never renders one as a template.
    vault_inline: Vec<String>,
}

/// A group as the file defines it (its own vars, direct hosts and child groups).
#[derive(Debug, Clone, Default)]
pub(super) struct Group {
    vars: Vars,
    var_positions: HashMap<String, Option<Position>>,
    pub(super) hosts: Vec<String>,
    pub(super) children: Vec<String>,
    parents: Vec<String>,
    /// Position of each `children:` edge's key, for cycle errors.
    child_positions: HashMap<String, Option<Position>>,
    /// Longest path from `all`; parents always have a smaller depth than their children.
    depth: usize,
    /// `ansible_group_priority` (default 1): among groups of one depth, a higher priority applies later.
    priority: i64,
    /// Files under `group_vars/`: [beside the inventory, beside the playbook], each in the order they apply.
    files: [Vec<VarsLayer>; 2],
    /// Its vars in the second and later inventory sources (`-i a -i b`, the files of a folder), in order.
    more_vars: Vec<VarsLayer>,
}

/// The variables of one `group_vars`/`host_vars` file.
#[derive(Debug, Clone)]
struct VarsLayer {
    vars: Vars,
    positions: HashMap<String, Option<Position>>,
    /// Index into [`Inventory::vars_sources`], plus one.
    source: usize,
}

/// A host as the file defines it, before merging.
#[derive(Debug, Clone, Default)]
struct HostEntry {
    vars: Vars,
    var_positions: HashMap<String, Option<Position>>,
    direct_groups: Vec<String>,
    position: Option<Position>,
    /// Files under `host_vars/`, as for groups.
    files: [Vec<VarsLayer>; 2],
    /// Its vars in later inventory sources, as for groups.
    more_vars: Vec<VarsLayer>,
}

/// Which `group_vars`/`host_vars` folder: beside the inventory, or beside the playbook (which wins).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VarsStage {
    Inventory = 0,
    Playbook = 1,
}

impl Inventory {
    /// Reads the inventory `path` names: a file, a folder of inventory files, or a `host1,host2,` list.
    pub fn load(path: &Path) -> Result<Inventory, InventoryError> {
        Inventory::load_all(std::slice::from_ref(&path.to_path_buf()))
    }

    /// Reads several sources (`-i a -i b`) into one inventory, as Ansible does: groups and hosts met again are
    /// the same groups and hosts, a later source's vars win over an earlier one's at the same level, and the
    /// `group_vars/`/`host_vars/` of every source's folder are read, in source order.
    pub fn load_all(sources: &[PathBuf]) -> Result<Inventory, InventoryError> {
        let mut combined: Option<Inventory> = None;
        let mut vars_folders = Vec::new();
        for source in sources {
            let parts = match Source::of(source)? {
                Source::HostList(hosts) => vec![Inventory::host_list(source, &hosts)?],
                Source::Files { files, vars_folder } => {
                    vars_folders.push(vars_folder);
                    files.iter().map(|file| Inventory::read_file(file)).collect::<Result<Vec<_>, _>>()?
                }
            };
            for part in parts {
                match &mut combined {
                    None => combined = Some(part),
                    Some(inventory) => inventory.absorb(part)?,
                }
            }
        }
        let first = sources.first().cloned().unwrap_or_default();
        let mut inventory = combined.unwrap_or_else(|| Inventory::empty("", &first));
        inventory.finish()?;
        for folder in vars_folders {
            inventory.load_vars_folders(&folder, VarsStage::Inventory)?;
        }
        inventory.note_vault_secrets();
        Ok(inventory)
    }

    /// One inventory file, parsed but not finished (other sources may follow).
    fn read_file(path: &Path) -> Result<Inventory, InventoryError> {
        let metadata = std::fs::metadata(path)
            .map_err(|error| InventoryError::new(format!("cannot read inventory: {error}")).in_file(path))?;
        if metadata.len() > yaml_source::MAX_SOURCE_BYTES as u64 {
            return Err(InventoryError::new(format!(
                "inventory is {} bytes; the limit is {}",
                metadata.len(),
                yaml_source::MAX_SOURCE_BYTES
            ))
            .in_file(path));
        }
        let source = std::fs::read_to_string(path)
            .map_err(|error| InventoryError::new(format!("cannot read inventory: {error}")).in_file(path))?;
        let (source, vaulted) = yaml_source::open_file_text(source, path)?;
        let parsed = if is_ini(path, &source) {
            Inventory::read_ini(&source, path)
        } else {
            Inventory::read_yaml(&source, path)
        };
        // A vaulted inventory's errors, now and later, point into its masked text: the plaintext is never shown.
        let masked = vaulted.then(|| Arc::new(yaml_source::masked(&source)));
        let mut inventory = match (parsed, &masked) {
            (Err(error), Some(masked)) => return Err(error.with_source_text(masked)),
            (parsed, _) => parsed?,
        };
        if let Some(masked) = masked {
            inventory.source = masked;
            let groups = inventory.groups.values().map(|group| &group.vars);
            for vars in groups.chain(inventory.entries.values().map(|entry| &entry.vars)) {
                vars.values().for_each(yaml_source::record_vaulted);
            }
        }
        Ok(inventory)
    }

    /// `web1,web2:2222,`: each host in `ungrouped`.
    fn host_list(source: &Path, hosts: &[String]) -> Result<Inventory, InventoryError> {
        let mut inventory = Inventory::empty("", source);
        for host in hosts {
            inventory.add_hosts("ungrouped", host, None, &Vars::new(), &[])?;
        }
        Ok(inventory)
    }

    /// Lays `part` (a later source, not yet finished) over this inventory: its groups, hosts and edges join
    /// these, its vars apply after these at the same level. Its text becomes one more source for errors.
    fn absorb(&mut self, part: Inventory) -> Result<(), InventoryError> {
        part.check_cycles()?;
        self.vars_sources.push((part.path.clone(), part.source.clone()));
        let source = self.vars_sources.len();
        let mut edges = Vec::new();
        for (name, group) in part.groups {
            let target = self.groups.entry(name.clone()).or_default();
            if !group.vars.is_empty() {
                target.more_vars.push(VarsLayer { vars: group.vars, positions: group.var_positions, source });
            }
            if group.priority != 0 {
                target.priority = group.priority;
            }
            for host in group.hosts {
                if !target.hosts.contains(&host) {
                    target.hosts.push(host);
                }
            }
            edges.extend(group.children.into_iter().map(|child| (name.clone(), child)));
        }
        for (parent, child) in edges {
            self.link(&parent, &child, None);
        }
        for (name, entry) in part.entries {
            if self.entries.len() >= MAX_HOSTS && !self.entries.contains_key(&name) {
                return Err(InventoryError::new(format!("more than {MAX_HOSTS} hosts")).in_file(&part.path));
            }
            let target = self.entries.entry(name).or_default();
            for group in entry.direct_groups {
                if !target.direct_groups.contains(&group) {
                    target.direct_groups.push(group);
                }
            }
            if !entry.vars.is_empty() {
                target.more_vars.push(VarsLayer { vars: entry.vars, positions: entry.var_positions, source });
            }
        }
        Ok(())
    }

    /// Sets ansible.cfg's connection settings (used where a host's variables say nothing) and merges again.
    pub fn set_connection_defaults(&mut self, defaults: ConnectionDefaults) -> Result<(), InventoryError> {
        self.connection_defaults = defaults;
        self.merge_hosts()
    }

    /// Adds the `group_vars/` and `host_vars/` beside a playbook (Ansible's playbook-level folders, which win over
    /// the inventory's). Nothing to do when they are the inventory's own folders.
    /// The layers a run puts over the loaded inventory, in Ansible's order: `group_vars/`/`host_vars/` beside
    /// the playbook, then `-e` (relative `@file`s from `cwd`). One definition, so that `run`'s pre-flight and
    /// `lint -i` judge the same variables.
    pub fn add_run_layers(
        &mut self,
        playbook_dir: &Path,
        extra_vars: &[String],
        cwd: &Path,
    ) -> Result<(), InventoryError> {
        self.load_playbook_vars(playbook_dir)?;
        let extra = super::extra_vars::merge_extra_vars(extra_vars, cwd)?;
        self.apply_extra_vars(&extra)
    }

    pub fn load_playbook_vars(&mut self, playbook_dir: &Path) -> Result<(), InventoryError> {
        let loaded = self.load_vars_folders(playbook_dir, VarsStage::Playbook);
        self.note_vault_secrets();
        loaded
    }

    fn load_vars_folders(&mut self, folder: &Path, stage: VarsStage) -> Result<(), InventoryError> {
        let folder = std::fs::canonicalize(folder).unwrap_or_else(|_| folder.to_path_buf());
        if self.vars_folders.contains(&folder) {
            return Ok(());
        }
        self.vars_folders.push(folder.clone());
        let group_vars = folder.join("group_vars");
        let host_vars = folder.join("host_vars");
        if !group_vars.is_dir() && !host_vars.is_dir() {
            return Ok(());
        }
        let group_names: Vec<String> = self.groups.keys().cloned().collect();
        for name in group_names {
            let layers = self.read_layers(&group_vars, &name)?;
            self.groups.get_mut(&name).expect("group exists").files[stage as usize].extend(layers);
        }
        let host_names: Vec<String> = self.entries.keys().cloned().collect();
        for name in host_names {
            let layers = self.read_layers(&host_vars, &name)?;
            self.entries.get_mut(&name).expect("host exists").files[stage as usize].extend(layers);
        }
        self.merge_hosts()
    }

    fn read_layers(&mut self, folder: &Path, name: &str) -> Result<Vec<VarsLayer>, InventoryError> {
        let mut layers = Vec::new();
        if !folder.is_dir() {
            return Ok(layers);
        }
        for path in vars_files::files_for(folder, name) {
            let file = vars_files::read(&path)?;
            refuse_vault_in(&file.vars, &file.path, &file.source)?;
            self.vars_sources.push((file.path, file.source));
            layers.push(VarsLayer {
                vars: file.vars.vars,
                positions: positions(file.vars.positions).into_iter().collect(),
                source: self.vars_sources.len(),
            });
        }
        Ok(layers)
    }

    /// Parses an INI inventory (Ansible's `[group]`, `[group:vars]`, `[group:children]` file).
    pub fn parse_ini(source: &str, path: &Path) -> Result<Inventory, InventoryError> {
        let mut inventory = Inventory::read_ini(source, path)?;
        inventory.finish()?;
        Ok(inventory)
    }

    fn read_ini(source: &str, path: &Path) -> Result<Inventory, InventoryError> {
        let mut inventory = Inventory::empty(source, path);
        let ini = IniInventory::parse(source)
            .map_err(|IniError { message, position }| inventory.error_at(message, position))?;
        for group in &ini.groups {
            inventory.groups.entry(group.name.clone()).or_default();
        }
        for group in ini.groups {
            if let Some(priority) = group.vars.iter().rev().find(|(name, _, _)| name == "ansible_group_priority") {
                inventory.groups[&group.name].priority = group_priority(&inventory, priority)?;
            }
            let entry = inventory.groups.get_mut(&group.name).expect("group exists");
            // Ansible turns the priority into the group's rank, not into a variable.
            for (name, value, position) in group.vars.iter().filter(|(name, _, _)| name != "ansible_group_priority") {
                entry.vars.insert(name.clone(), value.clone());
                entry.var_positions.insert(name.clone(), *position);
            }
            inventory.refuse_vault_ini(&group.vars)?;
            for host in group.hosts {
                inventory.refuse_vault_ini(&host.vars)?;
                let vars: Vars = host.vars.iter().map(|(name, value, _)| (name.clone(), value.clone())).collect();
                let var_positions: Vec<(String, Option<Position>)> =
                    host.vars.iter().map(|(name, _, position)| (name.clone(), *position)).collect();
                inventory.add_hosts(&group.name, &host.key, host.position, &vars, &var_positions)?;
            }
            for (child, position) in group.children {
                inventory.link(&group.name, &child, position);
            }
        }
        // As in Ansible: a group that no section makes a child of another is a child of `all`.
        let orphans: Vec<String> = inventory
            .groups
            .iter()
            .filter(|(name, group)| *name != "all" && group.parents.is_empty())
            .map(|(name, _)| name.clone())
            .collect();
        for name in orphans {
            inventory.link("all", &name, None);
        }
        Ok(inventory)
    }

    fn refuse_vault_ini(&self, vars: &[IniVar]) -> Result<(), InventoryError> {
        for (name, value, position) in vars {
            if value.as_str().is_some_and(|text| text.trim_start().starts_with("$ANSIBLE_VAULT;")) {
                return Err(self.error_at(vault_message(name), *position));
            }
        }
        Ok(())
    }

    fn empty(source: &str, path: &Path) -> Inventory {
        let mut inventory = Inventory {
            path: path.to_path_buf(),
            source: Arc::new(source.to_string()),
            vars_sources: Vec::new(),
            vars_folders: Vec::new(),
            groups: IndexMap::new(),
            entries: IndexMap::new(),
            hosts: IndexMap::new(),
            extra_vars: Vars::new(),
            connection_defaults: ConnectionDefaults::default(),
            vault_secrets: Vec::new(),
            vault_inline: Vec::new(),
        };
        inventory.groups.insert("all".into(), Group::default());
        inventory.groups.insert("ungrouped".into(), Group::default());
        inventory.link("all", "ungrouped", None);
        inventory
    }

    fn finish(&mut self) -> Result<(), InventoryError> {
        self.check_cycles()?;
        self.compute_depths();
        self.fill_ungrouped();
        self.merge_hosts()
    }

    /// Parses inventory `source`; `path` names it in errors and anchors relative key paths.
    pub fn parse(source: &str, path: &Path) -> Result<Inventory, InventoryError> {
        let mut inventory = Inventory::read_yaml(source, path)?;
        inventory.finish()?;
        Ok(inventory)
    }

    fn read_yaml(source: &str, path: &Path) -> Result<Inventory, InventoryError> {
        let mut inventory = Inventory::empty(source, path);
        let raw: RawInventory = yaml_source::from_str(&inventory.source, path)?;
        if let Some(groups) = raw {
            for (name, group) in groups.0 {
                let parent = (name.value != "all").then_some("all");
                inventory.add_group(name, group, parent)?;
            }
        }
        Ok(inventory)
    }

    /// `path:line` of a value's origin (`-e` for extra vars).
    fn describe_origin(&self, origin: &Origin) -> String {
        let (path, position) = match origin {
            Origin::ExtraVars => return "-e".to_string(),
            Origin::File(source, position) => {
                let path = source.checked_sub(1).and_then(|index| self.vars_sources.get(index)).map(|(path, _)| path);
                (path.map(|p| p.as_path()).unwrap_or(&self.path).display().to_string(), position)
            }
        };
        match position {
            Some(position) => format!("{path}:{}", position.line),
            None => path,
        }
    }

    /// Decrypted inline `!vault` values: text Ansible never renders as a template.
    pub fn inline_vault_values(&self) -> &[String] {
        &self.vault_inline
    }

    fn error_at(&self, message: impl Into<String>, position: Option<Position>) -> InventoryError {
        InventoryError::new(message).in_file(&self.path).at(position, &self.source)
    }

    /// An error in source `source` (0: the inventory, n: the n-th vars file read).
    fn error_in(&self, source: usize, message: impl Into<String>, position: Option<Position>) -> InventoryError {
        match source.checked_sub(1).and_then(|index| self.vars_sources.get(index)) {
            Some((path, text)) => InventoryError::new(message).in_file(path).at(position, text),
            None => self.error_at(message, position),
        }
    }

    fn link(&mut self, parent: &str, child: &str, position: Option<Position>) {
        let parent_group = self.groups.get_mut(parent).expect("parent group exists");
        if !parent_group.children.iter().any(|name| name == child) {
            parent_group.children.push(child.to_string());
            parent_group.child_positions.insert(child.to_string(), position);
        }
        let child_group = self.groups.get_mut(child).expect("child group exists");
        if !child_group.parents.iter().any(|name| name == parent) {
            child_group.parents.push(parent.to_string());
        }
    }

    fn add_group(
        &mut self,
        name: Spanned<String>,
        group: Option<Spanned<RawGroup>>,
        parent: Option<&str>,
    ) -> Result<(), InventoryError> {
        let position = Position::from_location(name.referenced);
        let name = name.value;
        if name.trim().is_empty() {
            return Err(self.error_at("a group name must not be empty", position));
        }
        self.groups.entry(name.clone()).or_default();
        if let Some(parent) = parent {
            if name == "all" {
                return Err(self.error_at(
                    format!("group `all` cannot be a child of `{parent}`: every group is already in `all`"),
                    position,
                ));
            }
            self.link(parent, &name, position);
        }
        let Some(group) = group else { return Ok(()) };
        let group = group.value;
        if let Some(vars) = group.vars {
            self.refuse_vault(&vars)?;
            let priority = vars.positions.iter().rev().find(|(key, _)| key == "ansible_group_priority");
            if let Some((key, location)) = priority {
                let value = (key.clone(), vars.vars[key].clone(), Position::from_location(*location));
                self.groups[&name].priority = group_priority(self, &value)?;
            }
            let entry = self.groups.get_mut(&name).expect("group exists");
            // Ansible turns the priority into the group's rank, not into a variable.
            entry.vars.extend(vars.vars.into_iter().filter(|(key, _)| key != "ansible_group_priority"));
            entry.var_positions.extend(positions(vars.positions));
        }
        for (key, vars) in group.hosts.map(|hosts| hosts.0).unwrap_or_default() {
            let host_position = Position::from_location(key.referenced);
            let vars = vars.unwrap_or_default();
            self.refuse_vault(&vars)?;
            let var_positions: Vec<(String, Option<Position>)> = positions(vars.positions);
            self.add_hosts(&name, &key.value, host_position, &vars.vars, &var_positions)?;
        }
        for (child, body) in group.children.map(|children: RawGroups| children.0).unwrap_or_default() {
            self.add_group(child, body, Some(&name))?;
        }
        Ok(())
    }

    /// Adds the hosts `key` stands for (a range, `host:port`) to `group`, with the vars written beside them.
    fn add_hosts(
        &mut self,
        group: &str,
        key: &str,
        host_position: Option<Position>,
        vars: &Vars,
        var_positions: &[(String, Option<Position>)],
    ) -> Result<(), InventoryError> {
        let hosts = host_key::expand(key).map_err(|error| self.error_at(error.to_string(), host_position))?;
        if self.entries.len() + hosts.len() > MAX_HOSTS {
            return Err(self.error_at(format!("more than {MAX_HOSTS} hosts"), host_position));
        }
        for (host, port) in hosts {
            let entry = self
                .entries
                .entry(host.clone())
                .or_insert_with(|| HostEntry { position: host_position, ..HostEntry::default() });
            if !entry.direct_groups.iter().any(|name| name == group) {
                entry.direct_groups.push(group.to_string());
            }
            // `host:port` sets the port like a host variable written before the host's own vars.
            if let Some(port) = port {
                entry.vars.insert("ansible_port".into(), port.into());
                entry.var_positions.insert("ansible_port".into(), host_position);
            }
            entry.vars.extend(vars.iter().map(|(k, v)| (k.clone(), v.clone())));
            entry.var_positions.extend(var_positions.iter().cloned());
            let group_entry = self.groups.get_mut(group).expect("group exists");
            if !group_entry.hosts.contains(&host) {
                group_entry.hosts.push(host);
            }
        }
        Ok(())
    }

    /// Ansible Vault ciphertext would otherwise reach hosts as a literal password; runbook cannot decrypt it.
    fn refuse_vault(&self, vars: &RawVars) -> Result<(), InventoryError> {
        refuse_vault_in(vars, &self.path, &self.source)
    }

    /// A group that is (transitively) its own child has no meaning for precedence: refuse it.
    fn check_cycles(&self) -> Result<(), InventoryError> {
        // 0 = unvisited, 1 = on the current path, 2 = done.
        let mut state: HashMap<&str, u8> = HashMap::new();
        let mut path: Vec<&str> = Vec::new();
        for start in self.groups.keys() {
            if state.get(start.as_str()).copied().unwrap_or(0) == 0 {
                self.visit(start, &mut state, &mut path)?;
            }
        }
        Ok(())
    }

    fn visit<'a>(
        &'a self,
        name: &'a str,
        state: &mut HashMap<&'a str, u8>,
        path: &mut Vec<&'a str>,
    ) -> Result<(), InventoryError> {
        state.insert(name, 1);
        path.push(name);
        let group = &self.groups[name];
        for child in &group.children {
            match state.get(child.as_str()).copied().unwrap_or(0) {
                0 => self.visit(child, state, path)?,
                1 => {
                    let start = path.iter().position(|entry| entry == child).unwrap_or(0);
                    let mut chain: Vec<&str> = path[start..].to_vec();
                    chain.push(child);
                    let position = group.child_positions.get(child).copied().flatten();
                    return Err(self.error_at(format!("groups form a cycle: {}", chain.join(" → ")), position));
                }
                _ => {}
            }
        }
        path.pop();
        state.insert(name, 2);
        Ok(())
    }

    fn compute_depths(&mut self) {
        // Groups are acyclic now; relax depths until stable (at most one pass per group).
        for _ in 0..self.groups.len() {
            let mut changed = false;
            for index in 0..self.groups.len() {
                let depth = self.groups[index].depth;
                let children = self.groups[index].children.clone();
                for child in children {
                    let child_group = self.groups.get_mut(&child).expect("child group exists");
                    if child_group.depth < depth + 1 {
                        child_group.depth = depth + 1;
                        changed = true;
                    }
                }
            }
            if !changed {
                break;
            }
        }
    }

    /// Hosts listed only under `all` belong to `ungrouped`, and a host in another group does not (Ansible's
    /// `reconcile_inventory`: `h1` at the top of an INI file and again under `[web]` is in `web` only).
    fn fill_ungrouped(&mut self) {
        let grouped = |entry: &HostEntry| entry.direct_groups.iter().any(|g| g != "all" && g != "ungrouped");
        let leaving: Vec<String> = self
            .entries
            .iter()
            .filter(|(_, entry)| grouped(entry) && entry.direct_groups.iter().any(|g| g == "ungrouped"))
            .map(|(name, _)| name.clone())
            .collect();
        for name in leaving {
            self.groups.get_mut("ungrouped").expect("ungrouped exists").hosts.retain(|host| *host != name);
            self.entries.get_mut(&name).expect("host exists").direct_groups.retain(|group| group != "ungrouped");
        }
        let lonely: Vec<String> = self
            .entries
            .iter()
            .filter(|(_, entry)| entry.direct_groups.iter().all(|group| group == "all" || group == "ungrouped"))
            .map(|(name, _)| name.clone())
            .collect();
        for name in lonely {
            let ungrouped = self.groups.get_mut("ungrouped").expect("ungrouped exists");
            if !ungrouped.hosts.contains(&name) {
                ungrouped.hosts.push(name.clone());
            }
            let entry = self.entries.get_mut(&name).expect("host exists");
            if !entry.direct_groups.iter().any(|group| group == "ungrouped") {
                entry.direct_groups.push("ungrouped".into());
            }
        }
    }

    /// The groups `host` is in, ancestors included (and `all`), in inventory order.
    fn groups_of(&self, entry: &HostEntry) -> Vec<usize> {
        let mut seen: HashSet<usize> = HashSet::new();
        let mut stack: Vec<usize> =
            entry.direct_groups.iter().filter_map(|group| self.groups.get_index_of(group)).collect();
        while let Some(index) = stack.pop() {
            if seen.insert(index) {
                for parent in &self.groups[index].parents {
                    stack.extend(self.groups.get_index_of(parent));
                }
            }
        }
        seen.insert(0);
        let mut groups: Vec<usize> = seen.into_iter().collect();
        groups.sort_unstable();
        groups
    }

    /// Ansible's order (`VariableManager.get_vars`): `all`'s inventory vars, its `group_vars` beside the inventory,
    /// then beside the playbook; then every other group's inventory vars, then their `group_vars` files beside
    /// the inventory, then beside the playbook — groups sorted by depth, `ansible_group_priority`, name; then the
    /// host's inventory vars, its `host_vars` (inventory's, playbook's); then `-e`.
    fn merge_hosts(&mut self) -> Result<(), InventoryError> {
        let base_dir = self.base_dir();
        let mut hosts = IndexMap::new();
        for (name, entry) in &self.entries {
            let mut groups = self.groups_of(entry);
            let mut vars = Vars::new();
            let mut origin: HashMap<&str, Origin> = HashMap::new();
            groups.retain(|index| *index != 0);
            groups.sort_by(|a, b| {
                let (a_group, b_group) = (&self.groups[*a], &self.groups[*b]);
                (a_group.depth, a_group.priority, self.groups.get_index(*a).map(|(name, _)| name)).cmp(&(
                    b_group.depth,
                    b_group.priority,
                    self.groups.get_index(*b).map(|(name, _)| name),
                ))
            });
            let all = &self.groups[0];
            extend(&mut vars, &mut origin, &all.vars, Some((0, &all.var_positions)));
            for layer in &all.more_vars {
                extend(&mut vars, &mut origin, &layer.vars, Some((layer.source, &layer.positions)));
            }
            for layer in all.files.iter().flatten() {
                extend(&mut vars, &mut origin, &layer.vars, Some((layer.source, &layer.positions)));
            }
            for index in &groups {
                let group = &self.groups[*index];
                extend(&mut vars, &mut origin, &group.vars, Some((0, &group.var_positions)));
                for layer in &group.more_vars {
                    extend(&mut vars, &mut origin, &layer.vars, Some((layer.source, &layer.positions)));
                }
            }
            for stage in 0..2 {
                for index in &groups {
                    for layer in &self.groups[*index].files[stage] {
                        extend(&mut vars, &mut origin, &layer.vars, Some((layer.source, &layer.positions)));
                    }
                }
            }
            extend(&mut vars, &mut origin, &entry.vars, Some((0, &entry.var_positions)));
            for layer in &entry.more_vars {
                extend(&mut vars, &mut origin, &layer.vars, Some((layer.source, &layer.positions)));
            }
            for layer in entry.files.iter().flatten() {
                extend(&mut vars, &mut origin, &layer.vars, Some((layer.source, &layer.positions)));
            }
            extend(&mut vars, &mut origin, &self.extra_vars, None);
            groups.sort_unstable();
            let connection = ConnectionSettings::from_vars_with(name, &vars, &base_dir, &self.connection_defaults)
                .map_err(|error| {
                    let message = format!("host `{name}`: {}", error.message);
                    match origin.get(error.variable) {
                        Some(Origin::ExtraVars) => InventoryError::new(format!("{message} (from -e)")),
                        Some(Origin::File(0, position)) => self.error_at(message, position.or(entry.position)),
                        Some(Origin::File(source, position)) => self.error_in(*source, message, *position),
                        None => self.error_at(message, entry.position),
                    }
                })?;
            let group_names =
                groups.into_iter().map(|index| self.groups.get_index(index).expect("group index").0.clone()).collect();
            let origins = origin.iter().map(|(key, from)| (key.to_string(), self.describe_origin(from))).collect();
            hosts.insert(
                name.clone(),
                InventoryHost { name: name.clone(), vars, groups: group_names, connection, origins },
            );
        }
        self.hosts = hosts;
        Ok(())
    }

    /// The inventory's folder (a folder source itself), absolute, so key paths stay right whatever the
    /// engine's working directory.
    fn base_dir(&self) -> PathBuf {
        let parent = if self.path.is_dir() { &self.path } else { self.path.parent().unwrap_or(Path::new("")) };
        if parent.is_absolute() {
            return parent.to_path_buf();
        }
        let cwd = std::env::current_dir().unwrap_or_default();
        if parent.as_os_str().is_empty() { cwd } else { cwd.join(parent) }
    }

    /// Adds `-e` variables (highest precedence) and merges every host again. Fails when an extra var makes a
    /// connection setting invalid (e.g. `-e ansible_port=abc`).
    pub fn apply_extra_vars(&mut self, extra: &IndexMap<String, serde_json::Value>) -> Result<(), InventoryError> {
        // Values `merge_extra_vars` decrypted (`-e @vault.yml`) in this thread's vault scope are now ours.
        self.note_vault_secrets();
        let before = self.extra_vars.clone();
        self.extra_vars.extend(extra.iter().map(|(k, v)| (k.clone(), v.clone())));
        if let Err(error) = self.merge_hosts() {
            // Leave the inventory as it was: the hosts merged without the refused extra vars.
            self.extra_vars = before;
            self.merge_hosts()?;
            return Err(error);
        }
        Ok(())
    }

    /// Every host, in the order it first appears in the file.
    pub fn hosts(&self) -> impl Iterator<Item = &InventoryHost> {
        self.hosts.values()
    }

    pub fn host(&self, name: &str) -> Option<&InventoryHost> {
        self.hosts.get(name)
    }

    /// Every group in file order, starting with `all` and `ungrouped`.
    pub fn group_names(&self) -> Vec<&str> {
        self.groups.keys().map(String::as_str).collect()
    }

    /// Hosts of `group` and of its child groups, in inventory order, each once. `None` for an unknown group.
    pub fn group_hosts(&self, group: &str) -> Option<Vec<&InventoryHost>> {
        self.groups.get(group)?;
        Some(self.hosts.values().filter(|host| host.in_group(group)).collect())
    }

    /// `all`'s vars and the extra vars: what a playbook sees as `vars`.
    pub fn global_vars(&self) -> IndexMap<String, serde_json::Value> {
        let all = &self.groups["all"];
        let mut vars = all.vars.clone();
        for layer in &all.more_vars {
            vars.extend(layer.vars.iter().map(|(k, v)| (k.clone(), v.clone())));
        }
        vars.extend(self.extra_vars.iter().map(|(k, v)| (k.clone(), v.clone())));
        vars
    }

    /// Keeps what the current vault scope has revealed so far (this inventory's files, and `-e @vault.yml` read
    /// for it by `merge_extra_vars`).
    fn note_vault_secrets(&mut self) {
        for secret in crate::vault::revealed() {
            if !self.vault_secrets.contains(&secret) {
                self.vault_secrets.push(secret);
            }
        }
        for value in crate::vault::revealed_inline() {
            if !self.vault_inline.contains(&value) {
                self.vault_inline.push(value);
            }
        }
    }

    /// Whether `value` came from an inline `!vault` value: text to take as it is, never a template (Ansible 2.19
    /// prints a vaulted `a{{ 1 + 1 }}b` as written; a file vaulted as a whole is templated like any file).
    pub fn is_inline_vault_value(&self, value: &str) -> bool {
        self.vault_inline.iter().any(|inline| inline == value)
    }

    /// Every plaintext Ansible Vault revealed while this inventory (its vars files, its `-e`) was loaded: the run
    /// hands them to its redactor, lint does not call them literal secrets.
    pub fn vault_secrets(&self) -> &[String] {
        &self.vault_secrets
    }

    /// Whether `value` is one of [`Inventory::vault_secrets`].
    pub fn is_vault_secret(&self, value: &str) -> bool {
        self.vault_secrets.iter().any(|secret| secret == value)
    }

    /// The extra vars applied so far.
    pub fn extra_vars(&self) -> &IndexMap<String, serde_json::Value> {
        &self.extra_vars
    }

    /// The host or group name closest to `wanted`, when it is close enough to be a typo of it.
    pub fn nearest_name(&self, wanted: &str) -> Option<&str> {
        let names = self.groups.keys().chain(self.hosts.keys()).map(String::as_str);
        crate::did_you_mean::did_you_mean(wanted, names)
    }

    /// The group tree like `ansible-inventory --graph`, in inventory order.
    pub fn graph(&self) -> String {
        let mut out = String::new();
        self.graph_group("all", 0, &mut out);
        out
    }

    fn graph_group(&self, name: &str, depth: usize, out: &mut String) {
        graph_line(&format!("@{name}:"), depth, out);
        let group = &self.groups[name];
        for child in &group.children {
            self.graph_group(child, depth + 1, out);
        }
        if name != "all" {
            for host in &group.hosts {
                graph_line(host, depth + 1, out);
            }
        }
    }

    /// Ansible's `ansible-inventory --list` shape, restricted to `selected` hosts when given.
    pub fn list_json(&self, selected: Option<&[String]>) -> serde_json::Value {
        let keep = |host: &String| selected.is_none_or(|selected| selected.contains(host));
        let mut out = serde_json::Map::new();
        let mut hostvars = serde_json::Map::new();
        for host in self.hosts.values().filter(|host| keep(&host.name)) {
            hostvars.insert(host.name.clone(), serde_json::Value::Object(host.vars.clone().into_iter().collect()));
        }
        let mut meta = serde_json::Map::new();
        meta.insert("hostvars".into(), serde_json::Value::Object(hostvars));
        out.insert("_meta".into(), serde_json::Value::Object(meta));
        for (name, group) in &self.groups {
            let mut entry = serde_json::Map::new();
            if !group.children.is_empty() {
                entry.insert("children".into(), group.children.clone().into());
            }
            let hosts: Vec<String> = group.hosts.iter().filter(|host| keep(host)).cloned().collect();
            if name != "all" && !hosts.is_empty() {
                entry.insert("hosts".into(), hosts.into());
            }
            if !entry.is_empty() {
                out.insert(name.clone(), serde_json::Value::Object(entry));
            }
        }
        serde_json::Value::Object(out)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Where `host` is first listed in the file (for lint findings about a host).
    pub fn host_position(&self, host: &str) -> Option<Position> {
        self.entries.get(host)?.position
    }

    /// Every variable as written in the file (group vars, then host vars), with where it is: lint looks at
    /// the values, not at the merged result.
    pub fn written_vars(&self) -> Vec<(&str, &serde_json::Value, Option<Position>)> {
        let groups = self.groups.values().map(|group| (&group.vars, &group.var_positions));
        let hosts = self.entries.values().map(|entry| (&entry.vars, &entry.var_positions));
        groups
            .chain(hosts)
            .flat_map(|(vars, positions)| {
                vars.iter().map(|(name, value)| (name.as_str(), value, positions.get(name).copied().flatten()))
            })
            .collect()
    }
}

impl Inventory {
    /// The variables written in the second and later inventory sources (`-i a -i b`, a folder's other files),
    /// with the file each is in: [`Self::written_vars`] covers the first source.
    pub fn more_written_vars(&self) -> Vec<(&Path, &str, &serde_json::Value, Option<Position>)> {
        let groups = self.groups.values().flat_map(|group| &group.more_vars);
        let hosts = self.entries.values().flat_map(|entry| &entry.more_vars);
        groups
            .chain(hosts)
            .flat_map(|layer| {
                let path = self.vars_sources[layer.source - 1].0.as_path();
                layer.vars.iter().map(move |(name, value)| {
                    (path, name.as_str(), value, layer.positions.get(name).copied().flatten())
                })
            })
            .collect()
    }
}

/// Saphyr locations → our positions, by variable name.
fn positions(raw: Vec<(String, serde_saphyr::Location)>) -> Vec<(String, Option<Position>)> {
    raw.into_iter().map(|(name, location)| (name, Position::from_location(location))).collect()
}

/// Where a merged variable was written: source 0 is the inventory, n the n-th `group_vars`/`host_vars` file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Origin {
    File(usize, Option<Position>),
    ExtraVars,
}

/// Lays `layer` over `vars`, remembering where each winning value was written (`None` positions: `-e`).
fn extend<'a>(
    vars: &mut Vars,
    origin: &mut HashMap<&'a str, Origin>,
    layer: &'a Vars,
    positions: Option<(usize, &HashMap<String, Option<Position>>)>,
) {
    for (key, value) in layer {
        vars.insert(key.clone(), value.clone());
        let from = match positions {
            Some((source, positions)) => Origin::File(source, positions.get(key).copied().flatten()),
            None => Origin::ExtraVars,
        };
        origin.insert(key, from);
    }
}

fn vault_message(name: &str) -> String {
    format!(
        "`{name}` is Ansible Vault ciphertext without the `!vault` tag, which Ansible would use as literal text \
         (in YAML write `{name}: !vault |` above the $ANSIBLE_VAULT lines; an INI inventory cannot hold vaulted \
         values: move it to group_vars/ or host_vars/)"
    )
}

/// Vault ciphertext not tagged `!vault` (a tagged value is decrypted while parsing) is refused at the variable:
/// taken literally, as Ansible would, it would reach hosts as a password that is the ciphertext itself.
fn refuse_vault_in(vars: &RawVars, path: &Path, source: &Arc<String>) -> Result<(), InventoryError> {
    fn encrypted(value: &serde_json::Value) -> bool {
        match value {
            serde_json::Value::String(text) => text.trim_start().starts_with("$ANSIBLE_VAULT;"),
            serde_json::Value::Array(items) => items.iter().any(encrypted),
            serde_json::Value::Object(map) => map.values().any(encrypted),
            _ => false,
        }
    }
    for (name, location) in &vars.positions {
        if vars.vars.get(name).is_some_and(encrypted) {
            return Err(InventoryError::new(vault_message(name))
                .in_file(path)
                .at(Position::from_location(*location), source));
        }
    }
    Ok(())
}

/// `ansible_group_priority`: a whole number, as Ansible requires.
fn group_priority(inventory: &Inventory, (name, value, position): &IniVar) -> Result<i64, InventoryError> {
    let number = match value {
        serde_json::Value::Number(number) => number.as_i64(),
        serde_json::Value::String(text) => text.trim().parse().ok(),
        _ => None,
    };
    number.ok_or_else(|| {
        inventory
            .error_at(format!("`{name}` must be a whole number, found {}", super::describe_value(value)), *position)
    })
}

/// Whether an inventory file is INI: by extension (`.ini`, `.cfg`; YAML for `.yaml`, `.yml`, `.json`), else by its
/// first meaningful line — a `[section]`, or a line that is not YAML's `name:` (a bare host name, `host key=value`).
fn is_ini(path: &Path, source: &str) -> bool {
    match path.extension().and_then(|ext| ext.to_str()) {
        Some("yaml" | "yml" | "json") => return false,
        Some("ini" | "cfg") => return true,
        _ => {}
    }
    let first =
        source.lines().map(str::trim).find(|line| !line.is_empty() && !line.starts_with('#') && !line.starts_with(';'));
    match first {
        None => false,
        Some(line) => line.starts_with('[') || !(line.ends_with(':') || line.contains(": ") || line.starts_with("---")),
    }
}

fn graph_line(name: &str, depth: usize, out: &mut String) {
    if depth > 0 {
        out.push_str(&"  |".repeat(depth));
        out.push_str("--");
    }
    out.push_str(name);
    out.push('\n');
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(source: &str) -> Inventory {
        Inventory::parse(source, Path::new("/inv/hosts.yaml")).unwrap()
    }

    fn parse_err(source: &str) -> String {
        Inventory::parse(source, Path::new("inv.yaml")).unwrap_err().to_string()
    }

    const LAYERED: &str = "
all:
  vars: {x: all, only_all: 1}
  hosts:
    h1: {x: host-in-all}
  children:
    child:
      vars: {x: child}
      hosts:
        h1: {y: from-child}
        h2:
    parent:
      vars: {x: parent, p: 1}
      children:
        child:
    sibling:
      vars: {x: sibling}
      hosts:
        h2:
";

    #[test]
    fn precedence_all_then_parent_then_child_then_host() {
        let inventory = parse(LAYERED);
        let h1 = inventory.host("h1").unwrap();
        // Host vars from both places are merged; host beats every group.
        assert_eq!(h1.vars["x"], json!("host-in-all"));
        assert_eq!(h1.vars["y"], json!("from-child"));
        assert_eq!(h1.vars["only_all"], json!(1));
        assert_eq!(h1.vars["p"], json!(1));
        // `child` is deeper (all → parent → child) than `sibling`, so it wins although `sibling` comes later.
        let h2 = inventory.host("h2").unwrap();
        assert_eq!(h2.vars["x"], json!("child"));
        assert_eq!(h2.groups, ["child", "parent", "sibling"]);
        assert_eq!(h1.groups, ["child", "parent"]);
    }

    #[test]
    fn same_depth_groups_apply_in_name_order_as_ansible_sorts_them() {
        let inventory = parse("b:\n  vars: {x: b}\n  hosts: {h: }\na:\n  vars: {x: a}\n  hosts: {h: }\n");
        assert_eq!(inventory.host("h").unwrap().vars["x"], json!("b"));
        let ranked = parse(
            "b:\n  vars: {x: b}\n  hosts: {h: }\na:\n  vars: {x: a, ansible_group_priority: 2}\n  hosts: {h: }\n",
        );
        assert_eq!(ranked.host("h").unwrap().vars["x"], json!("a"));
        assert!(ranked.host("h").unwrap().vars.get("ansible_group_priority").is_none());
    }

    #[test]
    fn ini_and_yaml_are_told_apart() {
        assert!(is_ini(Path::new("hosts"), "# c\n[web]\nh1\n"));
        assert!(is_ini(Path::new("hosts"), "h1 ansible_host=10.0.0.1\n"));
        assert!(is_ini(Path::new("inv.ini"), "all:\n"));
        assert!(!is_ini(Path::new("hosts"), "all:\n  hosts:\n"));
        assert!(!is_ini(Path::new("hosts.yml"), "[web]\n"));
        assert!(!is_ini(Path::new("hosts"), ""));
    }

    #[test]
    fn child_beats_parent_even_when_parent_comes_later() {
        let inventory = parse(
            "all:\n  children:\n    c:\n      vars: {x: c}\n      hosts: {h: }\n    p:\n      vars: {x: p}\n      children: {c: }\n",
        );
        assert_eq!(inventory.host("h").unwrap().vars["x"], json!("c"));
    }

    #[test]
    fn extra_vars_win_and_feed_connection() {
        let mut inventory = parse(LAYERED);
        let extra: Vars =
            [("x".to_string(), json!("extra")), ("ansible_port".to_string(), json!("2222"))].into_iter().collect();
        inventory.apply_extra_vars(&extra).unwrap();
        let h1 = inventory.host("h1").unwrap();
        assert_eq!(h1.vars["x"], json!("extra"));
        assert_eq!(h1.connection.port, Some(2222));
        assert_eq!(inventory.global_vars()["x"], json!("extra"));
        assert_eq!(inventory.global_vars()["only_all"], json!(1));
        let bad: Vars = [("port".to_string(), json!("abc"))].into_iter().collect();
        let err = inventory.apply_extra_vars(&bad).unwrap_err().to_string();
        assert!(err.contains("host `h1`: `port` must be a port number"), "{err}");
    }

    #[test]
    fn group_hosts_are_transitive_ordered_and_unique() {
        let inventory = parse(LAYERED);
        let names = |group| inventory.group_hosts(group).unwrap().iter().map(|h| h.name.clone()).collect::<Vec<_>>();
        assert_eq!(names("parent"), ["h1", "h2"]);
        assert_eq!(names("sibling"), ["h2"]);
        assert_eq!(names("all"), ["h1", "h2"]);
        assert!(names("ungrouped").is_empty());
        assert!(inventory.group_hosts("nope").is_none());
        assert_eq!(inventory.group_names(), ["all", "ungrouped", "child", "parent", "sibling"]);
    }

    #[test]
    fn yaml_is_strict_about_booleans_and_octal() {
        let inventory = parse(
            "all:\n  hosts:\n    h:\n      a: yes\n      b: NO\n      c: on\n      d: true\n      mode: 0755\n      n: 10\n      f: 1.5\n      s: '0755'\n",
        );
        let vars = &inventory.host("h").unwrap().vars;
        assert_eq!(
            serde_json::to_value(vars).unwrap(),
            json!({"a": "yes", "b": "NO", "c": "on", "d": true, "mode": "0755", "n": 10, "f": 1.5, "s": "0755"})
        );
    }

    #[test]
    fn connection_paths_resolve_against_the_inventory_folder() {
        let inventory = parse("all:\n  vars:\n    key: keys/id\n  hosts:\n    h:\n      ansible_become: yes\n");
        let connection = &inventory.host("h").unwrap().connection;
        assert_eq!(connection.key.as_deref(), Some(Path::new("/inv/keys/id")));
        assert!(connection.become_);
        assert_eq!(connection.address, "h");
    }

    #[test]
    fn top_level_groups_and_null_entries() {
        let inventory = parse("masters:\n  hosts:\n    m1:\nempty:\nall:\n  hosts:\n    solo:\n");
        assert_eq!(inventory.group_names(), ["all", "ungrouped", "masters", "empty"]);
        assert_eq!(inventory.host("solo").unwrap().groups, ["ungrouped"]);
        assert_eq!(inventory.host("m1").unwrap().groups, ["masters"]);
        assert_eq!(inventory.hosts().count(), 2);
        assert_eq!(parse("").hosts().count(), 0);
    }

    #[test]
    fn structural_errors_point_at_the_source() {
        assert_eq!(
            parse_err("all:\n  hostz:\n    h:\n"),
            "inv.yaml:2:3: unknown field `hostz`, expected one of hosts, children, vars"
        );
        assert_eq!(parse_err("all:\n  vars: 3\n"), "inv.yaml:2:9: expected a mapping (`name: value` lines) here");
        assert_eq!(
            parse_err("all:\n  children:\n    a:\n      children:\n        b:\n          children:\n            a:\n"),
            "inv.yaml:7:13: groups form a cycle: a → b → a"
        );
        assert_eq!(parse_err("all:\n  hosts:\n    '':\n"), "inv.yaml:3:5: a host name must not be empty");
        assert_eq!(parse_err("all:\n  hosts:\n    h:\n    h:\n"), "inv.yaml:4:5: duplicate mapping key: h");
        assert_eq!(
            parse_err("all:\n  hosts:\n    h:\n      ansible_port: 99999\n"),
            "inv.yaml:4:7: host `h`: `ansible_port` must be a port number from 1 to 65535, found 99999"
        );
        assert_eq!(
            parse_err("g:\n  children:\n    all:\n"),
            "inv.yaml:3:5: group `all` cannot be a child of `g`: every group is already in `all`"
        );
    }

    #[test]
    fn host_ranges_and_ports_expand() {
        let inventory = parse(
            "all:\n  children:\n    nodes:\n      hosts:\n        node[01:03]:\n          zone: a\n        10.0.0.9:2222:\n",
        );
        let names: Vec<&str> = inventory.hosts().map(|h| h.name.as_str()).collect();
        assert_eq!(names, ["node01", "node02", "node03", "10.0.0.9"]);
        assert_eq!(inventory.host("node02").unwrap().vars["zone"], json!("a"));
        assert_eq!(inventory.host("10.0.0.9").unwrap().connection.port, Some(2222));
        assert_eq!(
            parse_err("all:\n  hosts:\n    h[0:1000000]:\n"),
            "inv.yaml:3:5: host range \"h[0:1000000]\" makes more than 10000 hosts"
        );
    }

    /// Random byte edits of a valid inventory: the loader may refuse them, but must never panic or hang.
    #[test]
    fn mangled_inventories_never_panic() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let alphabet = b"ab:-[]{}&*!|>'\"# \n\t01,?%@`~\\";
        let started = std::time::Instant::now();
        for _ in 0..1000 {
            let mut bytes = LAYERED.as_bytes().to_vec();
            for _ in 0..rng.random_range(1..6) {
                let at = rng.random_range(0..bytes.len());
                match rng.random_range(0..3) {
                    0 => bytes[at] = alphabet[rng.random_range(0..alphabet.len())],
                    1 => bytes.insert(at, alphabet[rng.random_range(0..alphabet.len())]),
                    _ => {
                        bytes.remove(at);
                    }
                }
            }
            let text = String::from_utf8_lossy(&bytes);
            if let Err(error) = Inventory::parse(&text, Path::new("fuzz.yaml")) {
                // Rendering the report must not panic either (spans inside the source).
                let mut out = String::new();
                let handler = miette::GraphicalReportHandler::new_themed(miette::GraphicalTheme::unicode_nocolor());
                handler.render_report(&mut out, &error).unwrap();
            }
        }
        assert!(started.elapsed() < std::time::Duration::from_secs(60));
    }

    #[test]
    fn vault_ciphertext_without_the_tag_is_refused_where_it_is() {
        assert_eq!(
            parse_err("all:\n  vars:\n    pw: |\n      $ANSIBLE_VAULT;1.1;AES256\n      6231\n"),
            "inv.yaml:3:5: `pw` is Ansible Vault ciphertext without the `!vault` tag, which Ansible would use as \
             literal text (in YAML write `pw: !vault |` above the $ANSIBLE_VAULT lines; an INI inventory cannot \
             hold vaulted values: move it to group_vars/ or host_vars/)"
        );
    }

    mod vault {
        use super::*;
        use crate::vault::{Keyring, VaultSecret, with_keyring};

        const PASSWORD: &str = "fixture-throwaway-1";

        fn keyring(password: &str) -> Keyring {
            Keyring::new(vec![VaultSecret::new("default", password)])
        }

        fn fixture(name: &str) -> String {
            std::fs::read_to_string(format!("{}/tests/fixtures/vault/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
        }

        /// `name: !vault |` and the ciphertext of `value`, indented for a mapping at `indent` spaces.
        fn inline(name: &str, value: &str, indent: usize) -> String {
            let text = keyring(PASSWORD).secrets()[0].encrypt(value.as_bytes()).unwrap();
            let pad = " ".repeat(indent + 2);
            let body: String = text.lines().map(|line| format!("{pad}{line}\n")).collect();
            format!("{}{name}: !vault |\n{body}", " ".repeat(indent))
        }

        #[test]
        fn inline_values_decrypt_anywhere_a_value_goes_and_are_secrets() {
            let source = format!(
                "all:\n  vars:\n{}    nested:\n      list:\n        - plain\n        - !vault |\n{}\n  hosts:\n    h:\n{}",
                inline("pw", "top-secret", 4),
                keyring(PASSWORD).secrets()[0]
                    .encrypt(b"in-a-list")
                    .unwrap()
                    .lines()
                    .map(|line| format!("            {line}\n"))
                    .collect::<String>()
                    .trim_end(),
                inline("host_pw", "host-secret", 6),
            );
            let (inventory, _) = with_keyring(keyring(PASSWORD), || {
                let mut inventory = Inventory::parse(&source, Path::new("/inv/hosts.yaml")).unwrap();
                inventory.note_vault_secrets();
                inventory
            });
            let vars = &inventory.host("h").unwrap().vars;
            assert_eq!(vars["pw"], json!("top-secret"));
            assert_eq!(vars["nested"], json!({"list": ["plain", "in-a-list"]}));
            assert_eq!(vars["host_pw"], json!("host-secret"));
            let mut secrets = inventory.vault_secrets().to_vec();
            secrets.sort();
            assert_eq!(secrets, ["host-secret", "in-a-list", "top-secret"]);
            assert!(inventory.is_vault_secret("top-secret") && !inventory.is_vault_secret("plain"));
            assert!(inventory.is_inline_vault_value("top-secret"));
        }

        #[test]
        fn a_wrong_or_missing_password_names_the_file_and_line() {
            let source = format!("all:\n  vars:\n    a: 1\n{}", inline("pw", "x", 4));
            let (error, _) =
                with_keyring(keyring("wrong"), || Inventory::parse(&source, Path::new("inv.yaml")).unwrap_err());
            let error = error.to_string();
            // The first line of the ciphertext: inside the value, under its name.
            assert!(error.starts_with("inv.yaml:5:7: cannot decrypt this !vault value: "), "{error}");
            assert!(error.contains("no vault password given could decrypt it (tried vault ids: default)"), "{error}");
            let error = parse_err(&source);
            assert!(error.starts_with("inv.yaml:5:7: ") && error.contains("no vault password was given"), "{error}");
        }

        #[test]
        fn vaulted_files_ansible_vault_made_load_in_group_vars_and_extra_vars() {
            let dir = tempfile::tempdir().unwrap();
            let root = dir.path();
            std::fs::write(root.join("hosts.yaml"), "db:\n  hosts:\n    h:\n").unwrap();
            std::fs::create_dir_all(root.join("group_vars/db")).unwrap();
            std::fs::write(root.join("group_vars/db/vault.yml"), fixture("secrets-1.1.yml")).unwrap();
            let inline_file = format!("plain: text\n{}", fixture("inline.yml"));
            std::fs::write(root.join("group_vars/db/vars.yml"), inline_file).unwrap();
            std::fs::write(root.join("vault-extra.yml"), fixture("secrets-1.1.yml")).unwrap();
            let (inventory, rest) = with_keyring(keyring(PASSWORD), || {
                let mut inventory = Inventory::load(&root.join("hosts.yaml")).unwrap();
                let extra = crate::inventory::merge_extra_vars(&["@vault-extra.yml".into()], root).unwrap();
                inventory.apply_extra_vars(&extra).unwrap();
                inventory
            });
            // The scope saw what the inventory kept (the CLI redacts an error with it).
            let mut kept = inventory.vault_secrets().to_vec();
            let mut seen = rest;
            kept.sort();
            seen.sort();
            assert_eq!(seen, kept);
            let vars = &inventory.host("h").unwrap().vars;
            assert_eq!(vars["db_password"], json!("s3cret-from-vault"));
            assert_eq!(vars["ports"], json!([5432, 6432]));
            assert_eq!(vars["api_token"], json!("inline-s3cret"));
            assert_eq!(vars["plain"], json!("text"));
            for secret in ["s3cret-from-vault", "app", "inline-s3cret"] {
                assert!(inventory.is_vault_secret(secret), "{secret}: {:?}", inventory.vault_secrets());
            }
            assert!(!inventory.is_vault_secret("text"));
            // Inline values are taken as written; a vaulted file's values are templates like any file's.
            assert!(inventory.is_inline_vault_value("inline-s3cret"));
            assert!(!inventory.is_inline_vault_value("s3cret-from-vault"));
            // Without the password: the file is named.
            std::fs::remove_file(root.join("group_vars/db/vars.yml")).unwrap();
            let error = Inventory::load(&root.join("hosts.yaml")).unwrap_err().to_string();
            assert!(error.contains("group_vars/db/vault.yml: cannot decrypt this vaulted file: "), "{error}");
            assert!(error.contains("no vault password was given"), "{error}");
        }

        #[test]
        fn errors_in_a_vaulted_file_never_show_its_plaintext() {
            let dir = tempfile::tempdir().unwrap();
            let root = dir.path();
            std::fs::write(root.join("hosts.yaml"), "db:\n  hosts:\n    h:\n").unwrap();
            std::fs::create_dir_all(root.join("group_vars")).unwrap();
            let secret = VaultSecret::new("default", PASSWORD);
            let render = |error: &InventoryError| {
                let mut out = String::new();
                let handler = miette::GraphicalReportHandler::new_themed(miette::GraphicalTheme::unicode_nocolor());
                handler.render_report(&mut out, error).unwrap();
                out
            };
            for plaintext in ["db_password: hunter22\nansible_port: abc\n", "db_password: hunter22\n[broken\n"] {
                let text = secret.encrypt(plaintext.as_bytes()).unwrap();
                std::fs::write(root.join("group_vars/db.yml"), text).unwrap();
                let (error, _) =
                    with_keyring(keyring(PASSWORD), || Inventory::load(&root.join("hosts.yaml")).unwrap_err());
                let shown = render(&error);
                assert!(shown.contains("group_vars/db.yml:2:"), "{shown}");
                assert!(!shown.contains("hunter22") && shown.contains("db_password: ********"), "{shown}");
            }
        }

        #[test]
        fn the_json_spelling_of_a_vaulted_value_decrypts_too() {
            let text = keyring(PASSWORD).secrets()[0].encrypt(b"from-json").unwrap();
            let source = serde_json::json!({"all": {"vars": {"pw": {"__ansible_vault": text}}}}).to_string();
            let (inventory, _) =
                with_keyring(keyring(PASSWORD), || Inventory::parse(&source, Path::new("inv.json")).unwrap());
            assert_eq!(inventory.global_vars()["pw"], json!("from-json"));
        }
    }

    #[test]
    fn graph_lists_children_then_hosts() {
        assert_eq!(
            parse(LAYERED).graph(),
            "@all:\n  |--@ungrouped:\n  |--@child:\n  |  |--h1\n  |  |--h2\n  |--@parent:\n  |  |--@child:\n  |  |  |--h1\n  |  |  |--h2\n  |--@sibling:\n  |  |--h2\n"
        );
    }
}
