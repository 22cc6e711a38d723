//! A `fatal` task that failed on a host stops the playbook. That is control flow, not a script mistake: the
//! run reports it as a host failure (exit 2), not a playbook error (exit 1). It travels up through Rhai as a
//! typed error value so the engine recognises it by type, never by the wording of a message.

use rhai::{Dynamic, EvalAltResult, Position};

/// Why the playbook stopped: `task` is fatal and failed on `hosts`.
#[derive(Debug, Clone)]
pub struct FatalStop {
    pub task: String,
    pub hosts: Vec<String>,
}

impl FatalStop {
    pub fn into_error(self) -> Box<EvalAltResult> {
        Box::new(EvalAltResult::ErrorRuntime(Dynamic::from(self), Position::NONE))
    }

    /// The stop carried by `error`, however deep in function calls and included files it was raised.
    pub fn find(error: &EvalAltResult) -> Option<FatalStop> {
        match error {
            EvalAltResult::ErrorRuntime(value, _) => value.clone().try_cast::<FatalStop>(),
            EvalAltResult::ErrorInFunctionCall(_, _, inner, _) | EvalAltResult::ErrorInModule(_, inner, _) => {
                FatalStop::find(inner)
            }
            _ => None,
        }
    }
}

impl std::fmt::Display for FatalStop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "task \"{}\" failed on {} and is fatal: stopping", self.task, self.hosts.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn found_through_calls_by_type_not_by_text() {
        let stop = FatalStop { task: "join".into(), hosts: vec!["m1".into()] };
        let wrapped =
            EvalAltResult::ErrorInFunctionCall("f".into(), String::new(), stop.clone().into_error(), Position::NONE);
        assert_eq!(FatalStop::find(&wrapped).unwrap().task, "join");
        let imitation: Box<EvalAltResult> = "task \"x\" failed on a and is fatal: stopping".into();
        assert!(FatalStop::find(&imitation).is_none());
    }
}
