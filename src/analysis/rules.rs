//! Every rule lint knows, by its stable id: what CI configurations, `--format json` consumers and the
//! README refer to. An id never changes meaning; a new check gets a new id.

use super::severity::Severity;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Rule {
    /// The script does not parse.
    Syntax,
    /// A call of a function or method that no primitive, Rhai package, script `fn` or imported module has.
    UnknownFunction,
    /// A known function called with a number of arguments none of its overloads takes.
    WrongArity,
    /// A variable used before (or without) `let`.
    UndefinedVariable,
    /// An `import` or `include` whose file cannot be found.
    UnresolvedImport,
    /// A key of `task(..., #{...}, ...)` or `include(..., #{...})` that the engine does not know.
    UnknownTaskOption,
    /// A literal task option value of the wrong type (`serial: "x"`, `fatal: "yes"`).
    TaskOptionType,
    /// A key of a primitive's literal options map that the primitive does not accept.
    UnknownPrimitiveOption,
    /// Two tasks with the same literal name in one playbook (with its includes).
    DuplicateTaskName,
    /// A tag given with `--tags` that no task has.
    UnknownTag,
    /// A literal template path that does not exist.
    TemplateMissing,
    /// A template that does not compile.
    TemplateSyntax,
    /// A literal upload source that does not exist.
    UploadMissing,
    /// A literal `h.vars.NAME` / `vars.NAME` that the hosts running it do not define.
    UndefinedInventoryVariable,
    /// A task closure that assigns to a variable captured from outside it.
    CapturedMutation,
    /// A template variable that every render reads and that is not defined for the hosts that render it.
    TemplateUndefinedVariable,
    /// A filter or test a template calls that runbook's (and Ansible's) template environment does not have.
    TemplateUnknownFilter,
    /// A template variable read (or a filter or test called) only where a render may not evaluate it, that is
    /// undefined (unknown): the render fails only if that code runs.
    TemplateConditionalUndefined,
    /// The inventory does not load (YAML error, unknown key, bad host pattern...).
    InventoryError,
    /// `group("x")` / `h.in_group("x")` with a group the inventory does not have.
    UnknownGroup,
    /// `host("x")` with a host the inventory does not have.
    UnknownHost,
    /// An inventory host that is in no group.
    UngroupedHost,
    /// Two inventory hosts with the same address and port.
    DuplicateAddress,
    /// A literal sysctl key that is malformed, or set twice to different values.
    SysctlKey,
    /// A literal `h.run(...)` command with no guard: it reports changed on every run.
    RunWithoutGuard,
    /// A password, token or secret written as a literal value.
    LiteralSecret,
    /// A literal `notify` (option or `h.notify(...)`) naming a handler no `handler(...)` declares.
    UnknownHandler,
    /// A key of a module function's literal options map that the function's `check_options` list does not have.
    UnknownModuleOption,
    /// `flush_handlers()` inside a task body, where the run refuses it.
    FlushHandlersInTask,
    /// run's `--start-at-task` names no task of the playbook.
    UnknownStartAtTask,
}

impl Rule {
    pub const ALL: &'static [Rule] = &[
        Rule::Syntax,
        Rule::UnknownFunction,
        Rule::WrongArity,
        Rule::UndefinedVariable,
        Rule::UnresolvedImport,
        Rule::UnknownTaskOption,
        Rule::TaskOptionType,
        Rule::UnknownPrimitiveOption,
        Rule::DuplicateTaskName,
        Rule::UnknownTag,
        Rule::TemplateMissing,
        Rule::TemplateSyntax,
        Rule::UploadMissing,
        Rule::UndefinedInventoryVariable,
        Rule::CapturedMutation,
        Rule::TemplateUndefinedVariable,
        Rule::TemplateUnknownFilter,
        Rule::TemplateConditionalUndefined,
        Rule::InventoryError,
        Rule::UnknownGroup,
        Rule::UnknownHost,
        Rule::UngroupedHost,
        Rule::DuplicateAddress,
        Rule::SysctlKey,
        Rule::RunWithoutGuard,
        Rule::LiteralSecret,
        Rule::UnknownHandler,
        Rule::UnknownModuleOption,
        Rule::FlushHandlersInTask,
        Rule::UnknownStartAtTask,
    ];

    pub fn id(self) -> &'static str {
        match self {
            Rule::Syntax => "syntax",
            Rule::UnknownFunction => "unknown-function",
            Rule::WrongArity => "wrong-arity",
            Rule::UndefinedVariable => "undefined-variable",
            Rule::UnresolvedImport => "unresolved-import",
            Rule::UnknownTaskOption => "unknown-task-option",
            Rule::TaskOptionType => "task-option-type",
            Rule::UnknownPrimitiveOption => "unknown-primitive-option",
            Rule::DuplicateTaskName => "duplicate-task-name",
            Rule::UnknownTag => "unknown-tag",
            Rule::TemplateMissing => "template-missing",
            Rule::TemplateSyntax => "template-syntax",
            Rule::UploadMissing => "upload-missing",
            Rule::UndefinedInventoryVariable => "undefined-inventory-variable",
            Rule::CapturedMutation => "captured-mutation",
            Rule::TemplateUndefinedVariable => "template-undefined-variable",
            Rule::TemplateUnknownFilter => "template-unknown-filter",
            Rule::TemplateConditionalUndefined => "template-conditional-undefined",
            Rule::InventoryError => "inventory-error",
            Rule::UnknownGroup => "unknown-group",
            Rule::UnknownHost => "unknown-host",
            Rule::UngroupedHost => "ungrouped-host",
            Rule::DuplicateAddress => "duplicate-address",
            Rule::SysctlKey => "sysctl-key",
            Rule::RunWithoutGuard => "run-without-guard",
            Rule::LiteralSecret => "literal-secret",
            Rule::UnknownHandler => "unknown-handler",
            Rule::UnknownModuleOption => "unknown-module-option",
            Rule::FlushHandlersInTask => "flush-handlers-in-task",
            Rule::UnknownStartAtTask => "unknown-start-at-task",
        }
    }

    /// Warnings are likely but not certain mistakes: they fail the lint only with `--strict`.
    pub fn severity(self) -> Severity {
        match self {
            Rule::UngroupedHost | Rule::RunWithoutGuard | Rule::LiteralSecret | Rule::TemplateConditionalUndefined => {
                Severity::Warning
            }
            _ => Severity::Error,
        }
    }
}

impl std::fmt::Display for Rule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.id())
    }
}

#[cfg(test)]
mod tests {
    use super::Rule;

    #[test]
    fn ids_are_unique_and_documented() {
        let doc = include_str!("../../docs/lint.md");
        let mut seen = std::collections::HashSet::new();
        for rule in Rule::ALL {
            assert!(seen.insert(rule.id()), "duplicate id {}", rule.id());
            assert!(doc.contains(&format!("`{}`", rule.id())), "{} is not documented in docs/lint.md", rule.id());
        }
    }
}
