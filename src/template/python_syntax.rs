//! Python syntax Jinja2 accepts and minijinja does not, brought to minijinja at parse level: the template is
//! tokenized and parsed with minijinja's own lexer and parser (its `unstable_machinery`, pinned by Cargo.lock),
//! and only the spans the parser reports are edited, so nothing inside strings, comments or raw blocks is
//! touched and no newline is added or removed (an error keeps its line; only columns after an edit shift).
//!
//! - `a % b` becomes `__runbook_percent(a , b)`: minijinja's `%` is numeric only; the function does Python's
//!   `%` (string formatting when `a` is a string, the modulo otherwise), see `percent_format.rs`.
//! - `{% for x in "a", "b" %}` becomes `{% for x in ("a", "b") %}`: Jinja2 reads a tuple without parentheses
//!   there; minijinja a single expression.
//! - `{% set l = [...] %}` becomes `{% set l = __runbook_list([...]) %}`: a list a template builds with
//!   `.append()` / `.extend()` (the Ansible idiom `{% set _ = l.append(x) %}`) must be mutable, and minijinja's
//!   values are not; see `mutable_list.rs`. `{% set d = {...} %}` likewise, for `d.update(...)`, `d.pop(k)`,
//!   `d.__setitem__(k, v)` (`mutable_dict.rs`).
//!
//! A template minijinja cannot parse is returned unchanged, so minijinja reports the error itself.

use minijinja::machinery::ast::{self, BinOpKind, CallArg, Expr, Stmt};
use minijinja::machinery::{Token, parse, tokenize};
use minijinja::syntax::SyntaxConfig;

pub const PERCENT: &str = "__runbook_percent";
pub const LIST: &str = "__runbook_list";
pub const DICT: &str = "__runbook_dict";

pub fn rewrite(text: &str, syntax: &SyntaxConfig) -> String {
    let text = parenthesize_for_tuples(text, syntax);
    let Ok(tree) = parse(&text, "<template>", syntax.clone()) else { return text };
    let mut edits = Edits { source: &text, list: Vec::new() };
    edits.stmt(&tree);
    edits.apply()
}

/// `{% for TARGET in A, B [if ...] [recursive] %}` → `... in (A, B) ...`.
fn parenthesize_for_tuples(text: &str, syntax: &SyntaxConfig) -> String {
    let Ok(tokens) = tokenize(text, false, syntax.clone()).collect::<Result<Vec<_>, _>>() else {
        return text.to_string();
    };
    let mut wraps = Vec::new();
    let mut i = 0;
    while i + 1 < tokens.len() {
        if !(matches!(tokens[i].0, Token::BlockStart) && matches!(tokens[i + 1].0, Token::Ident("for"))) {
            i += 1;
            continue;
        }
        i += 2;
        while i < tokens.len() && !matches!(tokens[i].0, Token::Ident("in") | Token::BlockEnd) {
            i += 1;
        }
        if i >= tokens.len() || !matches!(tokens[i].0, Token::Ident("in")) {
            continue;
        }
        i += 1;
        let first = i;
        let (mut depth, mut comma) = (0usize, false);
        while i < tokens.len() {
            match tokens[i].0 {
                Token::ParenOpen | Token::BracketOpen | Token::BraceOpen => depth += 1,
                Token::ParenClose | Token::BracketClose | Token::BraceClose => depth = depth.saturating_sub(1),
                Token::Comma if depth == 0 => comma = true,
                Token::Ident("if" | "recursive") | Token::BlockEnd if depth == 0 => break,
                _ => {}
            }
            i += 1;
        }
        if comma && i > first {
            wraps.push((tokens[first].1.start_offset as usize, tokens[i - 1].1.end_offset as usize));
        }
    }
    let mut out = text.to_string();
    for (start, end) in wraps.into_iter().rev() {
        out.insert(end, ')');
        out.insert(start, '(');
    }
    out
}

/// Insertions (and the one-byte replacement of `%` by `,`) at byte offsets of the source, recorded outer
/// node first so that openers at one offset nest correctly.
struct Edits<'s> {
    source: &'s str,
    list: Vec<(usize, usize, String)>,
}

impl Edits<'_> {
    fn insert(&mut self, at: u32, text: &str) {
        self.list.push((at as usize, 0, text.to_string()));
    }

    fn apply(mut self) -> String {
        self.list.sort_by_key(|(at, _, _)| *at);
        let mut out = String::with_capacity(self.source.len() + 32 * self.list.len());
        let mut done = 0;
        for (at, remove, text) in &self.list {
            out.push_str(&self.source[done..*at]);
            out.push_str(text);
            done = at + remove;
        }
        out.push_str(&self.source[done..]);
        out
    }

    fn stmts(&mut self, stmts: &[Stmt]) {
        stmts.iter().for_each(|s| self.stmt(s));
    }

    fn stmt(&mut self, stmt: &Stmt) {
        match stmt {
            Stmt::Template(t) => self.stmts(&t.children),
            Stmt::EmitExpr(e) => self.expr(&e.expr),
            Stmt::EmitRaw(_) | Stmt::Continue(_) | Stmt::Break(_) => {}
            Stmt::ForLoop(f) => {
                self.expr(&f.target);
                self.expr(&f.iter);
                f.filter_expr.iter().for_each(|e| self.expr(e));
                self.stmts(&f.body);
                self.stmts(&f.else_body);
            }
            Stmt::IfCond(c) => {
                self.expr(&c.expr);
                self.stmts(&c.true_body);
                self.stmts(&c.false_body);
            }
            Stmt::WithBlock(w) => {
                for (target, value) in &w.assignments {
                    self.expr(target);
                    self.expr(value);
                }
                self.stmts(&w.body);
            }
            Stmt::Set(s) => {
                self.expr(&s.target);
                let (function, span) = match &s.expr {
                    Expr::List(list) => (Some(LIST), list.span()),
                    Expr::Map(map) => (Some(DICT), map.span()),
                    other => (None, other.span()),
                };
                if let Some(function) = function {
                    self.insert(span.start_offset, &format!("{function}("));
                }
                self.expr(&s.expr);
                if function.is_some() {
                    self.insert(span.end_offset, ")");
                }
            }
            Stmt::SetBlock(s) => {
                self.expr(&s.target);
                s.filter.iter().for_each(|e| self.expr(e));
                self.stmts(&s.body);
            }
            Stmt::AutoEscape(a) => {
                self.expr(&a.enabled);
                self.stmts(&a.body);
            }
            Stmt::FilterBlock(f) => {
                self.expr(&f.filter);
                self.stmts(&f.body);
            }
            Stmt::Block(b) => self.stmts(&b.body),
            Stmt::Import(i) => {
                self.expr(&i.expr);
                self.expr(&i.name);
            }
            Stmt::FromImport(i) => self.expr(&i.expr),
            Stmt::Extends(e) => self.expr(&e.name),
            Stmt::Include(i) => self.expr(&i.name),
            Stmt::Macro(m) => self.macro_decl(m),
            Stmt::CallBlock(c) => {
                self.call(&c.call);
                self.macro_decl(&c.macro_decl);
            }
            Stmt::Do(d) => self.call(&d.call),
        }
    }

    fn macro_decl(&mut self, m: &ast::Macro) {
        m.args.iter().chain(&m.defaults).for_each(|e| self.expr(e));
        self.stmts(&m.body);
    }

    fn call(&mut self, call: &ast::Call) {
        self.expr(&call.expr);
        self.args(&call.args);
    }

    fn args(&mut self, args: &[CallArg]) {
        for arg in args {
            match arg {
                CallArg::Pos(e) | CallArg::Kwarg(_, e) | CallArg::PosSplat(e) | CallArg::KwargSplat(e) => self.expr(e),
            }
        }
    }

    fn expr(&mut self, expr: &Expr) {
        match expr {
            Expr::Var(_) | Expr::Const(_) => {}
            Expr::Slice(s) => {
                self.expr(&s.expr);
                [&s.start, &s.stop, &s.step].into_iter().flatten().for_each(|e| self.expr(e));
            }
            Expr::UnaryOp(u) => self.expr(&u.expr),
            Expr::BinOp(b) => {
                if matches!(b.op, BinOpKind::Rem) {
                    self.percent(b);
                }
                self.expr(&b.left);
                self.expr(&b.right);
            }
            Expr::Compare(c) => {
                self.expr(&c.expr);
                c.ops.iter().for_each(|op| self.expr(&op.expr));
            }
            Expr::IfExpr(i) => {
                self.expr(&i.test_expr);
                self.expr(&i.true_expr);
                i.false_expr.iter().for_each(|e| self.expr(e));
            }
            Expr::Filter(f) => {
                f.expr.iter().for_each(|e| self.expr(e));
                self.args(&f.args);
            }
            Expr::Test(t) => {
                self.expr(&t.expr);
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

    /// `L % R` → `__runbook_percent(L , R)`. The node's span runs from its first token (an opening
    /// parenthesis of `L` included) to its last (a closing one of `R` included); the operator is the one `%`
    /// between the operands' spans (only parentheses and whitespace can sit there besides it).
    fn percent(&mut self, node: &ast::Spanned<ast::BinOp>) {
        let (left, right) = (node.left.span(), node.right.span());
        let gap_start = left.end_offset as usize;
        let Some(op) = self.source[gap_start..right.start_offset as usize].find('%') else { return };
        self.insert(node.span().start_offset, &format!("{PERCENT}("));
        self.list.push((gap_start + op, 1, ",".to_string()));
        self.insert(node.span().end_offset, ")");
    }
}
