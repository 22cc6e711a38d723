//! What a template uses, found by walking minijinja's parse tree once: the variables it reads from its context
//! (and whether every render reads them, or only a branch, a loop body, a macro or the right side of `and` /
//! `or` / `x if c else y` does), and the filters and tests it calls. The pre-flight and lint judge a template by
//! this without rendering it: Ansible fails on an undefined variable only where it is evaluated, so only a read
//! that every render makes is certain to fail; a filter or test nobody provides fails wherever it is.

use std::collections::{BTreeMap, HashSet};

use minijinja::machinery::ast::{self, BinOpKind, CallArg, Expr, Stmt};

/// Where a name is first used (1-based line and column, in the text the parser saw: lines are the template's).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Place {
    pub line: usize,
    pub column: usize,
}

/// How a template uses one name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Use {
    /// The first use that fails whatever the data, if the name is missing: for a variable a read every render
    /// makes (outside any `{% if %}` body, loop body, macro, `and`/`or` right side or conditional expression
    /// branch); for a filter or test a use Jinja2 resolves when it compiles the template (anywhere but inside an
    /// `{% if %}` or `x if c else y`, which Jinja2 leaves to the render), or a `map('name')` / `select('name')`
    /// every render evaluates.
    pub always: Option<Place>,
    /// The first use at all.
    pub first: Place,
}

impl Use {
    fn record(map: &mut BTreeMap<String, Use>, name: &str, at: Place, always: bool) {
        let always = always.then_some(at);
        map.entry(name.to_string())
            .and_modify(|known| known.always = known.always.or(always))
            .or_insert(Use { always, first: at });
    }
}

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct TemplateUsage {
    /// Context variables read and not set by the template itself, by name.
    pub variables: BTreeMap<String, Use>,
    /// Filters called (`x | name`, `{% filter name %}`, `map('name')`), by name.
    pub filters: BTreeMap<String, Use>,
    /// Tests called (`x is name`, `select('name')`, `selectattr('a', 'name')`), by name.
    pub tests: BTreeMap<String, Use>,
}

impl TemplateUsage {
    /// Walks a parsed template.
    pub fn of(tree: &Stmt) -> TemplateUsage {
        let mut walker =
            Walker { usage: TemplateUsage::default(), scopes: vec![HashSet::new()], conditional: 0, soft: vec![false] };
        walker.stmt(tree);
        walker.usage
    }
}

struct Walker<'a> {
    usage: TemplateUsage,
    /// Names the template binds (`set`, loop targets, macro arguments, `with`), innermost last.
    scopes: Vec<HashSet<&'a str>>,
    /// How many enclosing constructs may skip the code being walked.
    conditional: usize,
    /// Jinja2's "soft frame", innermost last: inside an `{% if %}` or a conditional expression (and no loop,
    /// macro or block opened since), where an unknown filter or test fails only when evaluated.
    soft: Vec<bool>,
}

/// minijinja looks filters and tests up with whitespace removed (`ansible . builtin . x`).
fn normalized(name: &str) -> String {
    name.chars().filter(|c| !c.is_ascii_whitespace()).collect()
}

fn place(span: minijinja::machinery::Span) -> Place {
    Place { line: span.start_line as usize, column: span.start_col as usize + 1 }
}

impl<'a> Walker<'a> {
    fn bound(&self, name: &str) -> bool {
        self.scopes.iter().any(|scope| scope.contains(name))
    }

    fn bind(&mut self, target: &Expr<'a>) {
        match target {
            Expr::Var(var) => {
                self.scopes.last_mut().expect("a scope").insert(var.id);
            }
            Expr::List(list) => list.items.iter().for_each(|item| self.bind(item)),
            Expr::Tuple(tuple) => tuple.items.iter().for_each(|item| self.bind(item)),
            _ => {}
        }
    }

    fn bind_name(&mut self, name: &'a str) {
        self.scopes.last_mut().expect("a scope").insert(name);
    }

    /// A scope of its own (an inner frame in Jinja2: loop bodies, macros, blocks, `with`, `filter`, `set` blocks,
    /// where the soft frame ends), maybe skipped.
    fn scoped(&mut self, conditional: bool, walk: impl FnOnce(&mut Self)) {
        self.scopes.push(HashSet::new());
        self.soft.push(false);
        self.conditional += usize::from(conditional);
        walk(self);
        self.conditional -= usize::from(conditional);
        self.soft.pop();
        self.scopes.pop();
    }

    /// Code that may not run; `soft` for Jinja2's soft frame (`if` bodies, conditional expressions).
    fn maybe(&mut self, soft: bool, walk: impl FnOnce(&mut Self)) {
        self.conditional += 1;
        let was = *self.soft.last().expect("a frame");
        *self.soft.last_mut().expect("a frame") = was || soft;
        walk(self);
        *self.soft.last_mut().expect("a frame") = was;
        self.conditional -= 1;
    }

    /// Whether a filter or test used here fails whatever the data when it is unknown: Jinja2 refuses it when
    /// compiling (outside a soft frame), or every render evaluates it.
    fn certain(&self) -> bool {
        !*self.soft.last().expect("a frame") || self.conditional == 0
    }

    fn read(&mut self, name: &str, span: minijinja::machinery::Span) {
        if !self.bound(name) {
            Use::record(&mut self.usage.variables, name, place(span), self.conditional == 0);
        }
    }

    fn stmts(&mut self, stmts: &'a [Stmt<'a>]) {
        stmts.iter().for_each(|stmt| self.stmt(stmt));
    }

    fn stmt(&mut self, stmt: &'a Stmt<'a>) {
        match stmt {
            Stmt::Template(t) => {
                self.bind_name("self");
                self.stmts(&t.children);
            }
            Stmt::EmitExpr(e) => self.expr(&e.expr),
            Stmt::EmitRaw(_) | Stmt::Continue(_) | Stmt::Break(_) => {}
            Stmt::ForLoop(f) => {
                // The iterable is evaluated whenever the loop is reached; the rest only for each item (or, for
                // `else`, only when there is none).
                self.expr(&f.iter);
                self.scoped(true, |w| {
                    w.bind_name("loop");
                    w.bind(&f.target);
                    if let Some(filter) = &f.filter_expr {
                        w.expr(filter);
                    }
                    w.stmts(&f.body);
                });
                self.scoped(true, |w| w.stmts(&f.else_body));
            }
            Stmt::IfCond(c) => {
                // Jinja2 compiles the condition and both bodies in a soft frame; the bodies' reads may not run.
                let was = *self.soft.last().expect("a frame");
                *self.soft.last_mut().expect("a frame") = true;
                self.expr(&c.expr);
                *self.soft.last_mut().expect("a frame") = was;
                // `{% if x is defined %}{{ x }}{% else %}...`: the body reads what the condition made sure of.
                for (body, defined) in
                    [(&c.true_body, defined_when(&c.expr, true)), (&c.false_body, defined_when(&c.expr, false))]
                {
                    self.scopes.push(defined.into_iter().collect());
                    self.maybe(true, |w| w.stmts(body));
                    self.scopes.pop();
                }
            }
            Stmt::WithBlock(w) => self.scoped(false, |walker| {
                for (target, value) in &w.assignments {
                    walker.expr(value);
                    walker.bind(target);
                }
                walker.stmts(&w.body);
            }),
            Stmt::Set(s) => {
                self.expr(&s.expr);
                self.bind(&s.target);
            }
            Stmt::SetBlock(s) => {
                self.bind(&s.target);
                if let Some(filter) = &s.filter {
                    self.expr(filter);
                }
                self.scoped(false, |w| w.stmts(&s.body));
            }
            Stmt::AutoEscape(a) => {
                self.expr(&a.enabled);
                self.scoped(false, |w| w.stmts(&a.body));
            }
            Stmt::FilterBlock(f) => {
                self.expr(&f.filter);
                self.scoped(false, |w| w.stmts(&f.body));
            }
            Stmt::Block(b) => self.scoped(false, |w| {
                w.bind_name("super");
                w.stmts(&b.body);
            }),
            Stmt::Extends(e) => self.expr(&e.name),
            Stmt::Include(i) => self.expr(&i.name),
            Stmt::Import(i) => {
                self.expr(&i.expr);
                self.bind(&i.name);
            }
            Stmt::FromImport(i) => {
                self.expr(&i.expr);
                for (name, alias) in &i.names {
                    self.bind(alias.as_ref().unwrap_or(name));
                }
            }
            Stmt::Macro(m) => {
                self.bind_name(m.name);
                self.macro_body(m);
            }
            Stmt::CallBlock(c) => {
                self.call(&c.call);
                self.macro_body(&c.macro_decl);
            }
            Stmt::Do(d) => self.call(&d.call),
        }
    }

    /// A macro's defaults and body run only when it is called.
    fn macro_body(&mut self, m: &'a ast::Macro<'a>) {
        self.scoped(true, |w| {
            for name in ["caller", "varargs", "kwargs"] {
                w.bind_name(name);
            }
            m.defaults.iter().for_each(|d| w.expr(d));
            m.args.iter().for_each(|arg| w.bind(arg));
            w.stmts(&m.body);
        });
    }

    fn call(&mut self, call: &'a ast::Call<'a>) {
        self.expr(&call.expr);
        self.args(&call.args);
    }

    fn args(&mut self, args: &'a [CallArg<'a>]) {
        for arg in args {
            match arg {
                CallArg::Pos(e) | CallArg::Kwarg(_, e) | CallArg::PosSplat(e) | CallArg::KwargSplat(e) => self.expr(e),
            }
        }
    }

    fn expr(&mut self, expr: &'a Expr<'a>) {
        match expr {
            Expr::Var(var) => self.read(var.id, var.span()),
            Expr::Const(_) => {}
            Expr::Slice(s) => {
                self.expr(&s.expr);
                [&s.start, &s.stop, &s.step].into_iter().flatten().for_each(|e| self.expr(e));
            }
            Expr::UnaryOp(u) => self.expr(&u.expr),
            Expr::BinOp(b) => {
                self.expr(&b.left);
                match b.op {
                    BinOpKind::ScAnd | BinOpKind::ScOr => {
                        // `x is defined and x.y`, `x is undefined or x.y`: the right side runs only when x is there.
                        let defined = defined_when(&b.left, matches!(b.op, BinOpKind::ScAnd));
                        self.scopes.push(defined.into_iter().collect());
                        self.maybe(false, |w| w.expr(&b.right));
                        self.scopes.pop();
                    }
                    _ => self.expr(&b.right),
                }
            }
            Expr::Compare(c) => {
                self.expr(&c.expr);
                c.ops.iter().for_each(|op| self.expr(&op.expr));
            }
            Expr::IfExpr(i) => {
                let was = *self.soft.last().expect("a frame");
                *self.soft.last_mut().expect("a frame") = true;
                self.expr(&i.test_expr);
                *self.soft.last_mut().expect("a frame") = was;
                self.maybe(true, |w| {
                    w.expr(&i.true_expr);
                    i.false_expr.iter().for_each(|e| w.expr(e));
                });
            }
            Expr::Filter(f) => {
                let always = self.certain();
                Use::record(&mut self.usage.filters, &normalized(f.name), place(f.span()), always);
                self.named_by_argument(f.name, &f.args, place(f.span()));
                match &f.expr {
                    // `x | default(...)`: an undefined `x` is what the filter is for.
                    Some(operand) if matches!(f.name, "default" | "d") => self.guarded(operand),
                    Some(operand) => self.expr(operand),
                    None => {}
                }
                self.args(&f.args);
            }
            Expr::Test(t) => {
                let always = self.certain();
                Use::record(&mut self.usage.tests, &normalized(t.name), place(t.span()), always);
                if matches!(t.name, "defined" | "undefined") {
                    self.guarded(&t.expr);
                } else {
                    self.expr(&t.expr);
                }
                self.args(&t.args);
            }
            Expr::GetAttr(g) => self.expr(&g.expr),
            Expr::GetItem(g) => {
                self.expr(&g.expr);
                self.expr(&g.subscript_expr);
            }
            Expr::Call(c) => self.call(c),
            Expr::List(l) => l.items.iter().for_each(|e| self.expr(e)),
            Expr::Tuple(t) => t.items.iter().for_each(|e| self.expr(e)),
            Expr::Map(m) => m.keys.iter().chain(&m.values).for_each(|e| self.expr(e)),
        }
    }

    /// `map('NAME', ...)` calls the filter NAME, `select('NAME')` / `reject` and `selectattr('a', 'NAME')` /
    /// `rejectattr` the test NAME.
    fn named_by_argument(&mut self, filter: &str, args: &[CallArg], at: Place) {
        let positional = |index: usize| {
            args.iter()
                .filter_map(|arg| match arg {
                    CallArg::Pos(Expr::Const(c)) => Some(c.value.as_str().map(str::to_string)),
                    CallArg::Pos(_) => Some(None),
                    _ => None,
                })
                .nth(index)
                .flatten()
        };
        let (index, tests) = match filter {
            "map" if !args.iter().any(|a| matches!(a, CallArg::Kwarg("attribute", _))) => (0, false),
            "select" | "reject" => (0, true),
            "selectattr" | "rejectattr" => (1, true),
            _ => return,
        };
        if let Some(name) = positional(index) {
            let names = if tests { &mut self.usage.tests } else { &mut self.usage.filters };
            Use::record(names, &name, at, self.conditional == 0);
        }
    }

    /// The operand of `default` / `is defined`: a name, or a path from a name (as `chained.rs` rewrites it,
    /// `__runbook_path(name, 'key', ...)`), is not a read that can fail; anything else is walked as usual.
    fn guarded(&mut self, operand: &'a Expr<'a>) {
        match operand {
            Expr::Var(_) => {}
            Expr::GetAttr(g) => self.guarded(&g.expr),
            Expr::GetItem(g) => {
                self.guarded(&g.expr);
                self.expr(&g.subscript_expr);
            }
            Expr::Call(c) if matches!(&c.expr, Expr::Var(v) if v.id == super::chained::FUNCTION) => {
                if let Some((CallArg::Pos(base), rest)) = c.args.split_first() {
                    self.guarded(base);
                    self.args(rest);
                }
            }
            other => self.expr(other),
        }
    }
}

/// The names a condition makes sure are defined when it is `truthy` (`x is defined`, `x.y is defined`,
/// `not (x is undefined)`, and `and` of such when true, `or` of their negations when false).
fn defined_when<'a>(condition: &Expr<'a>, truthy: bool) -> Vec<&'a str> {
    match condition {
        Expr::Test(t) if matches!(t.name, "defined" | "undefined") => {
            if (t.name == "defined") == truthy {
                base_name(&t.expr).into_iter().collect()
            } else {
                Vec::new()
            }
        }
        Expr::UnaryOp(u) if matches!(u.op, ast::UnaryOpKind::Not) => defined_when(&u.expr, !truthy),
        Expr::BinOp(b) if matches!(b.op, BinOpKind::ScAnd) && truthy => {
            let mut names = defined_when(&b.left, true);
            names.extend(defined_when(&b.right, true));
            names
        }
        Expr::BinOp(b) if matches!(b.op, BinOpKind::ScOr) && !truthy => {
            let mut names = defined_when(&b.left, false);
            names.extend(defined_when(&b.right, false));
            names
        }
        _ => Vec::new(),
    }
}

/// The variable a path starts from: `x`, `x.y[0]`, or `__runbook_path(x, ...)` as `chained.rs` writes it.
fn base_name<'a>(expr: &Expr<'a>) -> Option<&'a str> {
    match expr {
        Expr::Var(v) => Some(v.id),
        Expr::GetAttr(g) => base_name(&g.expr),
        Expr::GetItem(g) => base_name(&g.expr),
        Expr::Call(c) if matches!(&c.expr, Expr::Var(v) if v.id == super::chained::FUNCTION) => match c.args.first() {
            Some(CallArg::Pos(base)) => base_name(base),
            _ => None,
        },
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn usage(text: &str) -> TemplateUsage {
        let prepared = crate::template::minijinja_source(text);
        let tree = minijinja::machinery::parse(&prepared, "t", crate::template::Overrides::default().syntax()).unwrap();
        TemplateUsage::of(&tree)
    }

    fn always(usage: &TemplateUsage) -> Vec<&str> {
        usage.variables.iter().filter(|(_, r)| r.always.is_some()).map(|(n, _)| n.as_str()).collect()
    }

    fn sometimes(usage: &TemplateUsage) -> Vec<&str> {
        usage.variables.iter().filter(|(_, r)| r.always.is_none()).map(|(n, _)| n.as_str()).collect()
    }

    #[test]
    fn reads_in_branches_loops_and_macros_are_conditional() {
        let u = usage(
            "{{ a }}\n{% if b %}{{ c }}{% else %}{{ d }}{% endif %}\n{% for x in e %}{{ x }}{{ f }}{% else %}{{ g }}\
             {% endfor %}\n{% macro m(p, q=h) %}{{ p }}{{ i }}{% endmacro %}{{ j if k else l }}{{ n and o }}{{ s or t }}",
        );
        assert_eq!(always(&u), ["a", "b", "e", "k", "n", "s"]);
        assert_eq!(sometimes(&u), ["c", "d", "f", "g", "h", "i", "j", "l", "o", "t"]);
        assert_eq!(u.variables["c"].first, Place { line: 2, column: 14 });
    }

    #[test]
    fn a_later_unconditional_read_counts_and_set_names_are_the_templates_own() {
        let u =
            usage("{% if x %}{{ y }}{% endif %}\n{{ y }}{% set z = 1 %}{{ z }}{% for w in [1] %}{{ w }}{% endfor %}");
        assert_eq!(u.variables["y"].always, Some(Place { line: 2, column: 4 }));
        assert_eq!(u.variables["y"].first.line, 1);
        assert!(!u.variables.contains_key("z") && !u.variables.contains_key("w"));
    }

    #[test]
    fn a_condition_that_checks_a_name_is_defined_guards_its_reads() {
        let u = usage(
            "{% if a is defined %}{{ a }}{% endif %}{% if b.c is not defined %}{% else %}{{ b.c }}{% endif %}\
             {% if d is defined and e is defined %}{{ d }}{{ e }}{% else %}{{ d }}{% endif %}\
             {{ f is defined and f.g }}{{ h is undefined or h.i }}{% if j is defined or k %}{{ j }}{% endif %}",
        );
        assert_eq!(sometimes(&u), ["d", "j", "k"]);
        assert!(always(&u).is_empty() && !u.variables.contains_key("a"));
    }

    #[test]
    fn default_and_defined_guard_their_operand_only() {
        let u = usage(
            "{{ a | default(b) }}{{ c.d.e | default('x') }}{% if f is defined %}{% endif %}{{ g[h] | d(1) }}\
             {{ i is not defined }}",
        );
        assert_eq!(always(&u), ["b", "h"]);
        assert!(sometimes(&u).is_empty());
    }

    #[test]
    fn filters_and_tests_are_collected_with_their_first_use() {
        let u = usage(
            "a\n{{ x | upper | map('extract', y) }}\n{% if x is match('a') %}{% endif %}{% filter indent(2) %}{% endfilter %}",
        );
        assert_eq!(u.filters.keys().collect::<Vec<_>>(), ["extract", "indent", "map", "upper"]);
        assert_eq!(u.filters["upper"].first.line, 2);
        assert_eq!(u.tests.keys().collect::<Vec<_>>(), ["match"]);
        let u = usage("{{ x | select('version', '1.0', '>') | selectattr('a', 'eq', 1) | map(attribute='b') }}");
        assert_eq!(u.tests.keys().collect::<Vec<_>>(), ["eq", "version"]);
        assert_eq!(u.filters.keys().collect::<Vec<_>>(), ["map", "select", "selectattr"]);
    }

    #[test]
    fn a_filter_in_an_if_is_resolved_when_evaluated_as_jinja2_compiles_it() {
        // Jinja2 refuses an unknown filter when compiling, except in an `if` (and an inline if) not inside a
        // loop or macro of its own; a condition every render evaluates fails anyway.
        let u = usage(
            "{% if x | a %}{{ y | b }}{% for i in z %}{{ i | c }}{% endfor %}{% endif %}{{ y | e if x else y | f }}\n\
             {% for i in z %}{% if i %}{{ i | g }}{% endif %}{{ [i] | map('h') }}{% endfor %}{{ x and y | k }}",
        );
        let certain: Vec<&str> =
            u.filters.iter().filter(|(_, f)| f.always.is_some()).map(|(n, _)| n.as_str()).collect();
        assert_eq!(certain, ["a", "c", "k", "map"]);
        let deferred: Vec<&str> =
            u.filters.iter().filter(|(_, f)| f.always.is_none()).map(|(n, _)| n.as_str()).collect();
        assert_eq!(deferred, ["b", "e", "f", "g", "h"]);
    }
}
