//! Whether a script can ask for `results(task)`. A run keeps every host's closure value of every task for
//! `results(task).value` — ~0.5 KiB per host and task for a `run` result, a whole stdout where a closure returns
//! one — and most playbooks never ask. When no file the playbook reaches can, the run keeps the values out.
//!
//! The answer errs on "can": a call to `results`, a function named by text that is not a literal (`Fn(x)`,
//! `call(x)`), `eval`, or an `include`/`import` whose path is computed (the analysis cannot see that file) all
//! count as asking.

use rhai::{AST, ASTNode, Expr, FnPtr, Stmt};

/// Whether anything in `ast` (its functions included) may call `results`.
pub fn may_read_task_results(ast: &AST) -> bool {
    let mut found = false;
    ast.walk(&mut |path: &[ASTNode]| {
        found |= match path.last() {
            Some(ASTNode::Expr(Expr::FnCall(call, _))) | Some(ASTNode::Stmt(Stmt::FnCall(call, _))) => {
                let first_is_literal = |literal: Option<&str>| match call.args.first() {
                    Some(Expr::StringConstant(text, _)) => literal.is_none_or(|wanted| text.as_str() != wanted),
                    _ => false,
                };
                match call.name.as_str() {
                    "results" | "eval" => true,
                    "Fn" | "call" | "curry" => !first_is_literal(Some("results")),
                    "include" => !first_is_literal(None),
                    _ => false,
                }
            }
            Some(ASTNode::Stmt(Stmt::Import(import, _))) => !matches!(import.0, Expr::StringConstant(..)),
            // `Fn("name")` with a literal name is folded into a function pointer when the script compiles.
            Some(ASTNode::Expr(Expr::DynamicConstant(value, _))) => {
                value.clone().try_cast::<FnPtr>().is_some_and(|pointer| pointer.fn_name() == "results")
            }
            _ => false,
        };
        !found
    });
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reads(script: &str) -> bool {
        may_read_task_results(&rhai::Engine::new().compile(script).unwrap())
    }

    #[test]
    fn only_a_script_that_can_reach_results_reads_them() {
        assert!(!reads(r#"task("a", hosts(), |h| h.run("true")); include("stage.rhai"); import "stdlib/files" as f;"#));
        assert!(!reads(r#"let f = Fn("other"); f.call(1); call("other", 2);"#));
        assert!(reads(r#"task("a", hosts(), |h| h.run("true")); if results("a")["web1"].changed { print(1) }"#));
        assert!(reads(r#"fn check() { results("a") } check();"#), "inside a function");
        assert!(reads(r#"let f = Fn("results"); f.call("a");"#));
        assert!(reads(r#"let name = "res" + "ults"; call(name, "a");"#), "a function named by computed text");
        assert!(reads(r#"eval("1 + 1");"#));
        assert!(reads(r#"let stage = "x.rhai"; include(stage);"#), "an include the analysis cannot follow");
        assert!(reads(r#"let m = "stdlib/files"; import m as f;"#), "an import the analysis cannot follow");
    }
}
