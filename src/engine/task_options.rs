//! The options map of a task, checked when the task is called: a misspelt option is an error that names it,
//! not a key silently ignored; `serial` as a count or a percentage, as Ansible takes it.

use rhai::{Dynamic, Map};

use super::task_option_error::TaskOptionError;

/// The options map of `task(name, hosts, #{ ... }, |h| ...)`, checked: a misspelt option is an error,
/// not a silently ignored key.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TaskOptions {
    pub serial: Option<Serial>,
    pub run_once: bool,
    pub tags: Vec<String>,
    pub fatal: bool,
    pub ignore_errors: bool,
    pub when: bool,
    /// Handlers to notify on each host the task changed.
    pub notify: Vec<String>,
    /// Ansible's `max_fail_percentage`: stop the play when more than this share of a batch failed.
    pub max_fail_percentage: Option<f64>,
    /// Ansible's `any_errors_fatal`: one failed host stops the play for all, before the next batch starts.
    pub any_errors_fatal: bool,
    /// Run the notified handlers after each batch (Ansible runs a serial play's handlers at the end of each
    /// batch): a rolling config change restarts each batch before the next one starts.
    pub flush_handlers: bool,
}

/// Batch size of a task: how many hosts run it at the same time at most.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Serial {
    Count(usize),
    Percent(f64),
}

impl Serial {
    pub fn batch_size(self, hosts: usize) -> usize {
        match self {
            Serial::Count(count) => count.max(1),
            Serial::Percent(percent) => ((hosts as f64 * percent / 100.0).floor() as usize).max(1),
        }
    }
}

impl TaskOptions {
    pub fn parse(map: &Map) -> Result<TaskOptions, TaskOptionError> {
        let mut options = TaskOptions { when: true, ..TaskOptions::default() };
        for (key, value) in map {
            match key.as_str() {
                "serial" => options.serial = Some(parse_serial(value)?),
                "run_once" => options.run_once = boolean(key, value)?,
                "fatal" => options.fatal = boolean(key, value)?,
                "ignore_errors" => options.ignore_errors = boolean(key, value)?,
                "when" => options.when = boolean(key, value)?,
                "tags" => options.tags = strings(key, value)?,
                "notify" => options.notify = strings(key, value)?,
                "any_errors_fatal" => options.any_errors_fatal = boolean(key, value)?,
                "flush_handlers" => options.flush_handlers = boolean(key, value)?,
                "max_fail_percentage" => {
                    let percent = value
                        .as_int()
                        .map(|n| n as f64)
                        .or_else(|_| value.as_float())
                        .ok()
                        .filter(|percent| (0.0..=100.0).contains(percent))
                        .ok_or_else(|| TaskOptionError::NotAPercentage(value.to_string()))?;
                    options.max_fail_percentage = Some(percent);
                }
                other => {
                    return Err(TaskOptionError::Unknown(other.to_string()));
                }
            }
        }
        Ok(options)
    }
}

fn boolean(key: &str, value: &Dynamic) -> Result<bool, TaskOptionError> {
    value.as_bool().map_err(|found| TaskOptionError::NotABool { key: key.to_string(), found: found.to_string() })
}

fn strings(key: &str, value: &Dynamic) -> Result<Vec<String>, TaskOptionError> {
    if let Some(text) = value.clone().try_cast::<rhai::ImmutableString>() {
        return Ok(vec![text.to_string()]);
    }
    let Some(array) = value.clone().try_cast::<rhai::Array>() else {
        return Err(TaskOptionError::NotStrings { key: key.to_string(), found: value.type_name().to_string() });
    };
    array
        .into_iter()
        .map(|item| {
            item.into_immutable_string()
                .map(|s| s.to_string())
                .map_err(|found| TaskOptionError::NotAString { key: key.to_string(), found: found.to_string() })
        })
        .collect()
}

fn parse_serial(value: &Dynamic) -> Result<Serial, TaskOptionError> {
    if let Ok(count) = value.as_int() {
        if count < 1 {
            return Err(TaskOptionError::SerialBelowOne(count));
        }
        return Ok(Serial::Count(count as usize));
    }
    if let Some(text) = value.clone().try_cast::<rhai::ImmutableString>()
        && let Some(number) = text.trim().strip_suffix('%')
        && let Ok(percent) = number.trim().parse::<f64>()
        && percent > 0.0
        && percent <= 100.0
    {
        return Ok(Serial::Percent(percent));
    }
    Err(TaskOptionError::NotASerial(value.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serial_accepts_counts_and_percentages() {
        let mut map = Map::new();
        map.insert("serial".into(), Dynamic::from("50%"));
        let options = TaskOptions::parse(&map).unwrap();
        assert_eq!(options.serial.unwrap().batch_size(10), 5);
        map.insert("serial".into(), Dynamic::from(2_i64));
        assert_eq!(TaskOptions::parse(&map).unwrap().serial.unwrap().batch_size(10), 2);
        map.insert("serial".into(), Dynamic::from("x"));
        assert!(TaskOptions::parse(&map).unwrap_err().to_string().contains("serial"));
    }

    #[test]
    fn failure_policy_options_are_checked() {
        let mut map = Map::new();
        map.insert("max_fail_percentage".into(), Dynamic::from(30_i64));
        map.insert("any_errors_fatal".into(), Dynamic::TRUE);
        let options = TaskOptions::parse(&map).unwrap();
        assert_eq!(options.max_fail_percentage, Some(30.0));
        assert!(options.any_errors_fatal);
        map.insert("max_fail_percentage".into(), Dynamic::from(130_i64));
        assert!(TaskOptions::parse(&map).unwrap_err().to_string().contains("0 to 100"));
    }

    #[test]
    fn unknown_options_are_named() {
        let mut map = Map::new();
        map.insert("run_onc".into(), Dynamic::TRUE);
        assert!(TaskOptions::parse(&map).unwrap_err().to_string().contains("unknown task option `run_onc`"));
    }
}
