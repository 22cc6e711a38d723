//! The terminal view of a run: compact where Ansible is noisy, so that a 40-task run on 10 hosts fits on a
//! screen and the one failure stands out.
//!
//! Output, in order of arrival:
//! - while a task runs (TTY only): a live line `⠋ name  [done/total hosts] 3s`, replaced by the summary line
//!   when the task ends;
//! - per-host lines as results arrive: changed steps, failures (with the message and the tail of stderr),
//!   unreachable and skipped hosts; ok hosts are silent unless `-v`, which also shows every step's output;
//!   `--diff` adds each step's diff;
//! - one summary line per task, naming the hosts it targets when they are few: `✓ name  (on web1 web2, 1.2s)`,
//!   else counting them: `✓ name  (10 hosts, 3 changed, 1.2s)`; hosts that had nothing to do add no line;
//! - the recap table and a final `10 hosts: 9 ok, 1 failed in 12.3s`.
//!
//! Events arrive from many host threads at once. All text of one event is rendered first and written with one
//! call under a lock, so lines of different hosts never interleave, and it is written inside
//! [`MultiProgress::suspend`] so the live lines are cleared and redrawn around it instead of garbling it.

use std::collections::HashMap;
use std::io::{self, IsTerminal, Write};
use std::sync::Mutex;
use std::time::Duration;

use comfy_table::{CellAlignment, ContentArrangement, Table, TableComponent, presets};
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::event::{Event, HostRecap, HostResult, Reporter, Status, StepReport};
use super::redactor::Redactor;

/// Lines of a failed command's output shown without `-v`.
const TAIL_LINES: usize = 10;
/// Longest command/target shown on a step line, in characters.
const TARGET_WIDTH: usize = 100;
const INDENT: &str = "    ";

const GREEN: &str = "32";
const YELLOW: &str = "33";
const RED: &str = "31";
const CYAN: &str = "36";
const BOLD: &str = "1";

/// How the console looks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ConsoleOptions {
    /// `-v` count: 1 shows ok hosts and every step's output.
    pub verbosity: u8,
    /// ANSI colors.
    pub color: bool,
    /// Live per-task progress lines (needs a terminal).
    pub progress: bool,
    /// Show each step's diff (`--diff`).
    pub diff: bool,
}

impl ConsoleOptions {
    /// Color and progress only when stdout is a terminal, `NO_COLOR` is unset or empty (no-color.org), and
    /// `TERM` is not `dumb`.
    pub fn detect(verbosity: u8, diff: bool) -> Self {
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|value| !value.is_empty());
        let dumb = std::env::var_os("TERM").is_some_and(|term| term == "dumb");
        let fancy = io::stdout().is_terminal() && !no_color && !dumb;
        Self { verbosity, color: fancy, progress: fancy, diff }
    }
}

/// Renders events for people, on stdout or any writer.
pub struct ConsoleReporter {
    options: ConsoleOptions,
    /// Present only when progress lines are drawn.
    multi: Option<MultiProgress>,
    redactor: Option<Redactor>,
    state: Mutex<State>,
}

struct State {
    out: Box<dyn Write + Send>,
    tasks: HashMap<String, TaskTally>,
}

/// A task summary line names up to this many target hosts; more are counted.
const NAMED_TARGETS: usize = 3;

/// What a running task has reported so far.
#[derive(Default)]
struct TaskTally {
    /// The hosts the task targets.
    hosts: Vec<String>,
    results: usize,
    changed: usize,
    failed: usize,
    unreachable: usize,
    skipped: usize,
    bar: Option<ProgressBar>,
}

impl ConsoleReporter {
    /// Writes to stdout; progress lines (when `options.progress`) are drawn on stdout too.
    pub fn new(options: ConsoleOptions) -> Self {
        let multi = options.progress.then(|| MultiProgress::with_draw_target(ProgressDrawTarget::stdout()));
        Self::build(Box::new(io::stdout()), options, multi)
    }

    /// Writes to `out` (tests, or a file). Progress lines are never drawn, whatever `options.progress` says:
    /// they belong to a terminal, and the text written is the same either way.
    pub fn with_writer(out: Box<dyn Write + Send>, options: ConsoleOptions) -> Self {
        Self::build(out, options, None)
    }

    fn build(out: Box<dyn Write + Send>, options: ConsoleOptions, multi: Option<MultiProgress>) -> Self {
        Self { options, multi, redactor: None, state: Mutex::new(State { out, tasks: HashMap::new() }) }
    }

    /// Also hides these secrets from everything printed (a second line of defence: the engine already redacts
    /// what it puts in events).
    pub fn with_redactor(mut self, redactor: Redactor) -> Self {
        self.redactor = Some(redactor);
        self
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn emit(&self, state: &mut State, text: String) {
        if text.is_empty() {
            return;
        }
        let text = match &self.redactor {
            Some(redactor) => redactor.redact(&text),
            None => text,
        };
        // A closed stdout (`runbook ... | head`) must not stop the run; the error has nowhere to go anyway.
        let mut write = || {
            let _ = state.out.write_all(text.as_bytes());
            let _ = state.out.flush();
        };
        match &self.multi {
            Some(multi) => multi.suspend(write),
            None => write(),
        }
    }

    fn paint(&self, code: &str, text: &str) -> String {
        paint(self.options.color, code, text)
    }

    fn task_start(&self, state: &mut State, task: &str, hosts: &[String]) {
        let bar = self.multi.as_ref().map(|multi| {
            let template = if self.options.color {
                "{spinner:.cyan} {msg}  [{pos}/{len} hosts] {elapsed}"
            } else {
                "{spinner} {msg}  [{pos}/{len} hosts] {elapsed}"
            };
            let style = ProgressStyle::with_template(template).unwrap_or_else(|_| ProgressStyle::default_spinner());
            let bar = multi.add(ProgressBar::new(hosts.len() as u64).with_style(style).with_message(self.redact(task)));
            bar.enable_steady_tick(Duration::from_millis(100));
            bar
        });
        if let Some(old) =
            state.tasks.insert(task.to_string(), TaskTally { hosts: hosts.to_vec(), bar, ..TaskTally::default() })
        {
            self.clear_bar(old.bar);
        }
    }

    fn redact(&self, text: &str) -> String {
        match &self.redactor {
            Some(redactor) => redactor.redact(text),
            None => text.to_string(),
        }
    }

    fn clear_bar(&self, bar: Option<ProgressBar>) {
        if let (Some(bar), Some(multi)) = (bar, &self.multi) {
            bar.finish_and_clear();
            multi.remove(&bar);
        }
    }

    fn host_result(&self, state: &mut State, result: &HostResult) {
        let tally = state.tasks.entry(result.task.clone()).or_default();
        tally.results += 1;
        match result.status {
            Status::Ok => {}
            Status::Changed => tally.changed += 1,
            Status::Failed => tally.failed += 1,
            Status::Skipped => tally.skipped += 1,
            Status::Unreachable => tally.unreachable += 1,
        }
        if result.changed && result.status != Status::Changed {
            tally.changed += 1;
        }
        if let Some(bar) = &tally.bar
            && bar.position() < tally.results as u64
        {
            bar.set_position(tally.results as u64);
        }
        let text = self.render_host_result(result);
        self.emit(state, text);
    }

    fn task_end(&self, state: &mut State, task: &str, elapsed: Duration) {
        let tally = state.tasks.remove(task).unwrap_or_default();
        // The hosts it targets: by name when few (a task on one host says which), else how many.
        let targets = if !tally.hosts.is_empty() && tally.hosts.len() <= NAMED_TARGETS {
            format!("on {}", tally.hosts.join(" "))
        } else {
            plural(tally.hosts.len().max(tally.results), "host", "hosts")
        };
        let mut parts = vec![targets];
        for (count, word) in [
            (tally.changed, "changed"),
            (tally.failed, "failed"),
            (tally.unreachable, "unreachable"),
            (tally.skipped, "skipped"),
        ] {
            if count > 0 {
                parts.push(format!("{count} {word}"));
            }
        }
        parts.push(format_duration(elapsed));
        let (mark, code) = if tally.failed + tally.unreachable > 0 {
            ("✗", RED)
        } else if tally.changed > 0 {
            ("✓", YELLOW)
        } else if tally.results > 0 && tally.skipped == tally.results {
            ("-", CYAN)
        } else {
            ("✓", GREEN)
        };
        self.clear_bar(tally.bar);
        let line = format!("{}  ({})\n", self.paint(code, &format!("{mark} {task}")), parts.join(", "));
        self.emit(state, line);
    }

    /// The lines one host's task result adds (possibly none).
    fn render_host_result(&self, result: &HostResult) -> String {
        let verbose = self.options.verbosity >= 1;
        let host = result.host.as_str();
        let mut out = String::new();
        match result.status {
            Status::Skipped | Status::Unreachable => {
                self.host_line(&mut out, result.status, host, result.message.as_deref(), None);
                return out;
            }
            Status::Ok | Status::Changed | Status::Failed => {}
        }
        let mut failed_step: Option<&StepReport> = None;
        let mut shown = 0;
        for step in &result.steps {
            let failed = matches!(step.status, Status::Failed | Status::Unreachable);
            let has_diff = self.options.diff && step.diff.as_deref().is_some_and(|diff| !diff.trim().is_empty());
            if !(verbose || failed || step.status == Status::Changed || has_diff) {
                continue;
            }
            shown += 1;
            let rc = step.rc.filter(|_| failed).map(|rc| format!(" (rc={rc})")).unwrap_or_default();
            // -v shows the whole command: a --check plan must name every package and argument.
            let target = if verbose { whole(&step.target) } else { one_line(&step.target) };
            let what = format!("{}: {}{rc}", step.primitive, target);
            out.push_str(&format!("  {}  {what}\n", self.status_label(step.status, host)));
            if let Some(message) = &step.message {
                push_indented(&mut out, message);
            }
            if has_diff && let Some(diff) = &step.diff {
                self.push_diff(&mut out, diff);
            }
            if verbose {
                push_indented(&mut out, &step.stdout);
            }
            if failed {
                failed_step = Some(step);
                // Many tools print their error on stdout; show it when stderr is empty (and -v did not already).
                let output = if !step.stderr.trim().is_empty() || verbose { &step.stderr } else { &step.stdout };
                push_tail(&mut out, output, if verbose { usize::MAX } else { TAIL_LINES });
            } else if verbose {
                push_indented(&mut out, &step.stderr);
            }
        }
        match result.status {
            Status::Failed => match failed_step {
                None => self.host_line(&mut out, Status::Failed, host, result.message.as_deref(), result.rc),
                Some(step) => {
                    if let Some(message) = &result.message
                        && step.message.as_ref() != Some(message)
                    {
                        push_indented(&mut out, message);
                    }
                }
            },
            status => {
                if shown == 0 && (status == Status::Changed || verbose) {
                    self.host_line(&mut out, status, host, result.message.as_deref(), None);
                }
            }
        }
        out
    }

    /// `  failed: host  first line of message (rc=N)` and the message's further lines indented.
    fn host_line(&self, out: &mut String, status: Status, host: &str, message: Option<&str>, rc: Option<i32>) {
        let mut lines = message.unwrap_or("").lines();
        let mut first = lines.next().unwrap_or("").to_string();
        if let Some(rc) = rc
            && !first.contains("rc=")
        {
            first = format!("{first} (rc={rc})").trim_start().to_string();
        }
        let label = self.status_label(status, host);
        if first.is_empty() {
            out.push_str(&format!("  {label}\n"));
        } else {
            out.push_str(&format!("  {label}  {first}\n"));
        }
        for line in lines {
            out.push_str(&format!("{INDENT}{line}\n"));
        }
    }

    fn status_label(&self, status: Status, host: &str) -> String {
        let (word, code) = status_word(status);
        self.paint(code, &format!("{word}: {host}"))
    }

    fn push_diff(&self, out: &mut String, diff: &str) {
        for line in diff.lines() {
            let code = if line.starts_with("+++") || line.starts_with("---") {
                BOLD
            } else if line.starts_with('+') {
                GREEN
            } else if line.starts_with('-') {
                RED
            } else if line.starts_with("@@") {
                CYAN
            } else {
                ""
            };
            let line = if code.is_empty() { line.to_string() } else { self.paint(code, line) };
            out.push_str(&format!("{INDENT}{line}\n"));
        }
    }

    fn render_recap(&self, hosts: &[HostRecap], elapsed: Duration, interrupted: bool) -> String {
        let mut table = Table::new();
        table
            .load_preset(presets::NOTHING)
            .remove_style(TableComponent::LeftBorder)
            .remove_style(TableComponent::RightBorder)
            .remove_style(TableComponent::TopBorder)
            .remove_style(TableComponent::BottomBorder)
            .set_style(TableComponent::HeaderLines, '─')
            .set_style(TableComponent::MiddleHeaderIntersections, '─')
            .set_content_arrangement(ContentArrangement::Disabled)
            .force_no_tty()
            .set_header(["host", "ok", "changed", "failed", "skipped", "unreachable", "time"]);
        for host in hosts {
            table.add_row([
                host.host.clone(),
                host.ok.to_string(),
                host.changed.to_string(),
                host.failed.to_string(),
                host.skipped.to_string(),
                host.unreachable.to_string(),
                format_duration(host.time),
            ]);
        }
        // The host column starts at the left edge, like every other line of the run.
        if let Some(column) = table.column_mut(0) {
            column.set_padding((0, 1));
        }
        for index in 1..7 {
            if let Some(column) = table.column_mut(index) {
                column.set_cell_alignment(CellAlignment::Right);
            }
        }
        let mut out = String::from("\n");
        // Line 0 is the header, line 1 the rule under it, then one line per host in order.
        for (index, line) in table.lines().enumerate() {
            let line = line.trim_end();
            let code = match index {
                0 | 1 => BOLD,
                _ => hosts.get(index - 2).map_or("", recap_color),
            };
            let line = if code.is_empty() { line.to_string() } else { self.paint(code, line) };
            out.push_str(&line);
            out.push('\n');
        }

        let unreachable = hosts.iter().filter(|host| host.unreachable > 0).count();
        let failed = hosts.iter().filter(|host| host.unreachable == 0 && host.failed > 0).count();
        let stopped = hosts.iter().filter(|host| host.stopped_in.is_none() && host.play_stopped_at.is_some()).count();
        let ok = hosts.len() - unreachable - failed - stopped;
        let mut parts = vec![format!("{ok} ok")];
        if failed > 0 {
            parts.push(format!("{failed} failed"));
        }
        if unreachable > 0 {
            parts.push(format!("{unreachable} unreachable"));
        }
        if stopped > 0 {
            parts.push(format!("{stopped} stopped"));
        }
        for host in hosts {
            if let Some(task) = &host.stopped_in {
                let what = if host.unreachable > 0 { "unreachable" } else { "failed" };
                out.push_str(&self.paint(RED, &format!("{}: {what} in task \"{task}\"", host.host)));
                out.push('\n');
            } else if let Some(task) = &host.play_stopped_at {
                let line =
                    format!("{}: stopped: the play ended at task \"{task}\", nothing after it ran here", host.host);
                out.push_str(&self.paint(RED, &line));
                out.push('\n');
            }
        }
        let time = format_duration(elapsed);
        let ending = if interrupted { format!("; interrupted after {time}") } else { format!(" in {time}") };
        let line = format!("{}: {}{ending}", plural(hosts.len(), "host", "hosts"), parts.join(", "));
        let code = if interrupted || failed + unreachable + stopped > 0 { RED } else { GREEN };
        out.push_str(&self.paint(code, &line));
        out.push('\n');
        out
    }

    fn render_simple(&self, event: &Event) -> String {
        match event {
            Event::RunStart { playbook, hosts, check, diff } => {
                // The run's selection (inventory and --limit); each task line says which of them it targets.
                let mut parts = vec![format!("{} selected", plural(hosts.len(), "host", "hosts"))];
                if *check {
                    parts.push("check mode: nothing is changed".to_string());
                }
                if *diff {
                    parts.push("diff".to_string());
                }
                format!("{}  ({})\n", self.paint(BOLD, &format!("▶ {playbook}")), parts.join(", "))
            }
            Event::TaskSkipped { task, reason } => {
                format!("{}  (skipped: {reason})\n", self.paint(CYAN, &format!("- {task}")))
            }
            Event::Warning { host, message } => {
                format!("{}{}\n", self.paint(YELLOW, "warning: "), with_host(host.as_deref(), message))
            }
            Event::Print { host, message } => format!("{}\n", with_host(host.as_deref(), message)),
            Event::PlayStopped { task, reason, hosts } => {
                let left = if hosts.is_empty() { String::new() } else { format!("; stopped on {}", hosts.join(", ")) };
                let line = format!("PLAY STOPPED at task \"{task}\": {reason}{left}");
                format!("{}\n", self.paint(RED, &line))
            }
            Event::Recap { hosts, elapsed, interrupted } => self.render_recap(hosts, *elapsed, *interrupted),
            // The run's error is printed by the caller, once; the end itself needs no line.
            Event::TaskStart { .. }
            | Event::TaskProgress { .. }
            | Event::HostResult(_)
            | Event::TaskEnd { .. }
            | Event::RunEnd { .. } => String::new(),
        }
    }
}

impl Reporter for ConsoleReporter {
    fn event(&self, event: &Event) {
        let mut state = self.lock();
        match event {
            Event::TaskStart { task, hosts } => self.task_start(&mut state, task, hosts),
            Event::TaskProgress { task, done, total } => {
                if let Some(bar) = state.tasks.get(task).and_then(|tally| tally.bar.as_ref()) {
                    bar.set_length(*total as u64);
                    bar.set_position(*done as u64);
                }
            }
            Event::HostResult(result) => self.host_result(&mut state, result),
            Event::TaskEnd { task, elapsed } => self.task_end(&mut state, task, *elapsed),
            _ => {
                let text = self.render_simple(event);
                self.emit(&mut state, text);
            }
        }
    }

    fn finish(&self) {
        let mut state = self.lock();
        for (_, tally) in state.tasks.drain() {
            self.clear_bar(tally.bar);
        }
        if let Some(multi) = &self.multi {
            let _ = multi.clear();
        }
        let _ = state.out.flush();
    }
}

fn paint(color: bool, code: &str, text: &str) -> String {
    if color { format!("\x1b[{code}m{text}\x1b[0m") } else { text.to_string() }
}

fn status_word(status: Status) -> (&'static str, &'static str) {
    match status {
        Status::Ok => ("ok", GREEN),
        Status::Changed => ("changed", YELLOW),
        Status::Failed => ("failed", RED),
        Status::Skipped => ("skipped", CYAN),
        Status::Unreachable => ("unreachable", RED),
    }
}

/// The recap row's color: its worst outcome.
fn recap_color(host: &HostRecap) -> &'static str {
    if host.failed > 0 || host.unreachable > 0 || host.play_stopped_at.is_some() {
        RED
    } else if host.changed > 0 {
        YELLOW
    } else if host.ok > 0 {
        GREEN
    } else if host.skipped > 0 {
        CYAN
    } else {
        ""
    }
}

fn with_host(host: Option<&str>, message: &str) -> String {
    match host {
        Some(host) => format!("[{host}] {message}"),
        None => message.to_string(),
    }
}

fn plural(count: usize, one: &str, many: &str) -> String {
    format!("{count} {}", if count == 1 { one } else { many })
}

/// A command or target on one line: its first line, cut to [`TARGET_WIDTH`] characters, `…` when shortened.
fn one_line(text: &str) -> String {
    let trimmed = text.trim();
    let first = trimmed.lines().next().unwrap_or("");
    let mut shown: String = first.chars().take(TARGET_WIDTH).collect();
    if shown.len() < trimmed.len() {
        shown.push_str(" …");
    }
    shown
}

/// A command or target in full, its later lines indented under the first.
fn whole(text: &str) -> String {
    text.trim().lines().collect::<Vec<_>>().join(&format!("\n{INDENT}  "))
}

fn push_indented(out: &mut String, text: &str) {
    push_tail(out, text, usize::MAX);
}

/// The last `keep` lines of `text`, indented, after a note of how many were left out.
fn push_tail(out: &mut String, text: &str, keep: usize) {
    let lines: Vec<&str> = text.trim_end().lines().collect();
    let skip = lines.len().saturating_sub(keep);
    if skip > 0 {
        out.push_str(&format!("{INDENT}… ({skip} earlier lines)\n"));
    }
    for line in &lines[skip..] {
        out.push_str(&format!("{INDENT}{}\n", line.trim_end()));
    }
}

/// `0.4s`, `12.3s`, `2m05s`, `1h02m`.
pub(crate) fn format_duration(duration: Duration) -> String {
    let secs = duration.as_secs_f64();
    if secs < 59.95 {
        return format!("{secs:.1}s");
    }
    let whole = secs.round() as u64;
    if whole < 3600 {
        format!("{}m{:02}s", whole / 60, whole % 60)
    } else {
        format!("{}h{:02}m", whole / 3600, whole / 60 % 60)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;

    /// A writer the test can read back.
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl Write for Captured {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    impl Captured {
        fn text(&self) -> String {
            String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
        }
    }

    fn reporter(options: ConsoleOptions) -> (ConsoleReporter, Captured) {
        let captured = Captured::default();
        (ConsoleReporter::with_writer(Box::new(captured.clone()), options), captured)
    }

    fn plain() -> ConsoleOptions {
        ConsoleOptions { verbosity: 0, color: false, progress: false, diff: false }
    }

    fn step(primitive: &str, target: &str, status: Status) -> StepReport {
        StepReport {
            primitive: primitive.into(),
            target: target.into(),
            status,
            rc: None,
            stdout: String::new(),
            stderr: String::new(),
            diff: None,
            message: None,
            duration: Duration::from_millis(100),
        }
    }

    fn result(host: &str, status: Status, steps: Vec<StepReport>) -> Event {
        Event::HostResult(HostResult {
            task: "install".into(),
            host: host.into(),
            status,
            changed: status == Status::Changed,
            rc: None,
            message: None,
            steps,
            duration: Duration::from_millis(1200),
        })
    }

    fn recap(host: &str, counts: [u32; 5], millis: u64) -> HostRecap {
        HostRecap {
            host: host.into(),
            ok: counts[0],
            changed: counts[1],
            failed: counts[2],
            skipped: counts[3],
            unreachable: counts[4],
            time: Duration::from_millis(millis),
            stopped_in: None,
            play_stopped_at: None,
        }
    }

    fn run(options: ConsoleOptions, events: &[Event]) -> String {
        let (reporter, captured) = reporter(options);
        for event in events {
            reporter.event(event);
        }
        reporter.finish();
        captured.text()
    }

    #[test]
    fn recap_table_and_final_line() {
        let text = run(
            plain(),
            &[Event::Recap {
                hosts: vec![
                    recap("k8s-master01", [5, 2, 0, 0, 0], 3200),
                    recap("k8s-node02", [3, 0, 1, 1, 0], 75_000),
                    recap("k8s-node03", [0, 0, 0, 0, 1], 0),
                ],
                elapsed: Duration::from_millis(12_345),
                interrupted: false,
            }],
        );
        let rule = "─".repeat(69);
        let expected = format!(
            "\n\
host           ok   changed   failed   skipped   unreachable    time
{rule}
k8s-master01    5         2        0         0             0    3.2s
k8s-node02      3         0        1         1             0   1m15s
k8s-node03      0         0        0         0             1    0.0s
3 hosts: 1 ok, 1 failed, 1 unreachable in 12.3s
"
        );
        assert_eq!(text, expected);
    }

    #[test]
    fn interrupted_recap_says_so() {
        let text = run(
            plain(),
            &[Event::Recap {
                hosts: vec![recap("a", [1, 0, 0, 0, 0], 100)],
                elapsed: Duration::from_secs(125),
                interrupted: true,
            }],
        );
        assert!(text.ends_with("\n1 host: 1 ok; interrupted after 2m05s\n"), "{text}");
    }

    #[test]
    fn task_lines_changed_failed_and_summary() {
        let mut failing = step("run", "apt-get install x", Status::Failed);
        failing.rc = Some(100);
        failing.stderr = (1..=15).map(|n| format!("err line {n}\n")).collect();
        failing.stdout = "ignored without -v".into();
        let events = [
            Event::TaskStart { task: "install".into(), hosts: vec!["m1".into(), "n2".into(), "n3".into()] },
            result(
                "m1",
                Status::Changed,
                vec![
                    step("run", "true", Status::Ok),
                    step("run", "systemctl restart haproxy", Status::Changed),
                    step("write", "/etc/haproxy/haproxy.cfg", Status::Changed),
                ],
            ),
            result("n3", Status::Ok, vec![step("run", "true", Status::Ok)]),
            Event::HostResult(HostResult {
                message: Some("site.rhai:12:5: command failed".into()),
                rc: Some(100),
                ..match result("n2", Status::Failed, vec![failing]) {
                    Event::HostResult(result) => result,
                    _ => unreachable!(),
                }
            }),
            Event::TaskProgress { task: "install".into(), done: 3, total: 3 },
            Event::TaskEnd { task: "install".into(), elapsed: Duration::from_millis(1234) },
        ];
        let text = run(plain(), &events);
        let expected = "  changed: m1  run: systemctl restart haproxy
  changed: m1  write: /etc/haproxy/haproxy.cfg
  failed: n2  run: apt-get install x (rc=100)
    … (5 earlier lines)
    err line 6
    err line 7
    err line 8
    err line 9
    err line 10
    err line 11
    err line 12
    err line 13
    err line 14
    err line 15
    site.rhai:12:5: command failed
✗ install  (on m1 n2 n3, 1 changed, 1 failed, 1.2s)
";
        assert_eq!(text, expected);
        assert!(!text.contains('\x1b'));
    }

    #[test]
    fn failure_without_a_failed_step_shows_the_message_on_the_host_line() {
        let event = Event::HostResult(HostResult {
            task: "t".into(),
            host: "n1".into(),
            status: Status::Failed,
            changed: false,
            rc: None,
            message: Some("site.rhai:3:9: variable `x` not found\n  in call to f".into()),
            steps: Vec::new(),
            duration: Duration::ZERO,
        });
        assert_eq!(run(plain(), &[event]), "  failed: n1  site.rhai:3:9: variable `x` not found\n      in call to f\n");
    }

    #[test]
    fn failing_command_with_only_stdout_shows_stdout_tail() {
        let mut failing = step("run", "kubeadm init", Status::Failed);
        failing.rc = Some(1);
        failing.stdout = "[ERROR Port-6443]: Port 6443 is in use\n".into();
        let text = run(plain(), &[result("m1", Status::Failed, vec![failing])]);
        assert_eq!(text, "  failed: m1  run: kubeadm init (rc=1)\n    [ERROR Port-6443]: Port 6443 is in use\n");
    }

    #[test]
    fn skipped_and_unreachable_hosts_get_a_line() {
        let mut skipped = match result("n1", Status::Skipped, Vec::new()) {
            Event::HostResult(result) => result,
            _ => unreachable!(),
        };
        skipped.message = Some("when: not a master".into());
        let mut unreachable = skipped.clone();
        unreachable.host = "n2".into();
        unreachable.status = Status::Unreachable;
        unreachable.message = Some("connect 10.0.0.2:22: connection refused".into());
        let text = run(plain(), &[Event::HostResult(skipped), Event::HostResult(unreachable)]);
        assert_eq!(
            text,
            "  skipped: n1  when: not a master\n  unreachable: n2  connect 10.0.0.2:22: connection refused\n"
        );
    }

    #[test]
    fn verbose_shows_ok_hosts_and_step_output() {
        let mut check = step("run", "uname -r", Status::Ok);
        check.stdout = "6.1.0-18-amd64\n".into();
        let quiet = run(plain(), &[result("n1", Status::Ok, vec![check.clone()])]);
        assert_eq!(quiet, "");
        let verbose = ConsoleOptions { verbosity: 1, ..plain() };
        let text = run(verbose, &[result("n1", Status::Ok, vec![check, step("sysctl", "vm.swappiness", Status::Ok)])]);
        assert_eq!(text, "  ok: n1  run: uname -r\n    6.1.0-18-amd64\n  ok: n1  sysctl: vm.swappiness\n");
    }

    #[test]
    fn verbose_shows_the_whole_command() {
        let verbose = ConsoleOptions { verbosity: 1, ..plain() };
        let long = format!("apt-get install{}", " pkg".repeat(40));
        let text = run(
            verbose,
            &[result("n1", Status::Changed, vec![step("run", &format!("{long}\nsecond line"), Status::Changed)])],
        );
        assert_eq!(text, format!("  changed: n1  run: {}\n      second line\n", long.trim()));
    }

    #[test]
    fn long_and_multi_line_targets_are_shortened() {
        let text = run(
            plain(),
            &[result("n1", Status::Changed, vec![step("run", "cat > /x <<EOF\nsecret stuff\nEOF", Status::Changed)])],
        );
        assert_eq!(text, "  changed: n1  run: cat > /x <<EOF …\n");
        let long = "x".repeat(150);
        let text = run(plain(), &[result("n1", Status::Changed, vec![step("run", &long, Status::Changed)])]);
        assert_eq!(text, format!("  changed: n1  run: {} …\n", "x".repeat(TARGET_WIDTH)));
    }

    fn diff_event() -> Event {
        let mut write = step("write", "/etc/hosts", Status::Changed);
        write.diff = Some(
            "--- /etc/hosts\n+++ /etc/hosts\n@@ -1,2 +1,2 @@\n 127.0.0.1 localhost\n-10.0.0.1 old\n+10.0.0.1 new\n"
                .into(),
        );
        result("n1", Status::Changed, vec![write])
    }

    #[test]
    fn diff_lines_plain() {
        let text = run(ConsoleOptions { diff: true, ..plain() }, &[diff_event()]);
        assert_eq!(
            text,
            "  changed: n1  write: /etc/hosts
    --- /etc/hosts
    +++ /etc/hosts
    @@ -1,2 +1,2 @@
     127.0.0.1 localhost
    -10.0.0.1 old
    +10.0.0.1 new
"
        );
        // Without --diff the diff is not shown.
        assert_eq!(run(plain(), &[diff_event()]), "  changed: n1  write: /etc/hosts\n");
    }

    #[test]
    fn diff_lines_colored() {
        let text = run(ConsoleOptions { diff: true, color: true, ..plain() }, &[diff_event()]);
        assert_eq!(
            text,
            "  \x1b[33mchanged: n1\x1b[0m  write: /etc/hosts
    \x1b[1m--- /etc/hosts\x1b[0m
    \x1b[1m+++ /etc/hosts\x1b[0m
    \x1b[36m@@ -1,2 +1,2 @@\x1b[0m
     127.0.0.1 localhost
    \x1b[31m-10.0.0.1 old\x1b[0m
    \x1b[32m+10.0.0.1 new\x1b[0m
"
        );
    }

    #[test]
    fn colored_recap_rows_follow_the_worst_status() {
        let text = run(
            ConsoleOptions { color: true, ..plain() },
            &[Event::Recap {
                hosts: vec![
                    recap("a", [1, 0, 0, 0, 0], 0),
                    recap("b", [1, 1, 0, 0, 0], 0),
                    recap("c", [1, 1, 1, 0, 0], 0),
                ],
                elapsed: Duration::from_secs(1),
                interrupted: false,
            }],
        );
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[3].starts_with("\x1b[32ma "), "{text}");
        assert!(lines[4].starts_with("\x1b[33mb "), "{text}");
        assert!(lines[5].starts_with("\x1b[31mc "), "{text}");
        assert_eq!(lines[6], "\x1b[31m3 hosts: 2 ok, 1 failed in 1.0s\x1b[0m");
    }

    #[test]
    fn run_start_skip_warning_and_print_lines() {
        let text = run(
            plain(),
            &[
                Event::RunStart {
                    playbook: "site.rhai".into(),
                    hosts: vec!["a".into(), "b".into()],
                    check: true,
                    diff: false,
                },
                Event::TaskSkipped { task: "reset".into(), reason: "tag `reset` not selected".into() },
                Event::Warning { host: Some("a".into()), message: "swap is on".into() },
                Event::Warning { host: None, message: "no hosts matched `db`".into() },
                Event::Print { host: Some("b".into()), message: "hello".into() },
                Event::Print { host: None, message: "done".into() },
            ],
        );
        assert_eq!(
            text,
            "\
▶ site.rhai  (2 hosts selected, check mode: nothing is changed)
- reset  (skipped: tag `reset` not selected)
warning: [a] swap is on
warning: no hosts matched `db`
[b] hello
done
"
        );
    }

    #[test]
    fn summary_marks_ok_changed_and_all_skipped_tasks() {
        let events = |status: Status| {
            vec![
                Event::TaskStart { task: "install".into(), hosts: vec!["a".into()] },
                result("a", status, Vec::new()),
                Event::TaskEnd { task: "install".into(), elapsed: Duration::from_millis(50) },
            ]
        };
        assert_eq!(run(plain(), &events(Status::Ok)), "✓ install  (on a, 0.1s)\n");
        assert_eq!(run(plain(), &events(Status::Changed)), "  changed: a\n✓ install  (on a, 1 changed, 0.1s)\n");
        assert_eq!(run(plain(), &events(Status::Skipped)), "  skipped: a\n- install  (on a, 1 skipped, 0.1s)\n");
    }

    #[test]
    fn secrets_never_printed() {
        let redactor = Redactor::new();
        redactor.add("hunter2");
        let (reporter, captured) = reporter(ConsoleOptions { verbosity: 1, diff: true, ..plain() });
        let reporter = reporter.with_redactor(redactor);
        let mut leaky = step("run", "echo hunter2", Status::Failed);
        leaky.stdout = "pw=hunter2".into();
        leaky.stderr = "bad hunter2".into();
        leaky.diff = Some("+password: hunter2".into());
        reporter.event(&result("a", Status::Failed, vec![leaky]));
        reporter.event(&Event::Print { host: None, message: "hunter2".into() });
        let text = captured.text();
        assert!(!text.contains("hunter2"), "{text}");
        assert_eq!(text.matches("***").count(), 5, "{text}");
    }

    #[test]
    fn concurrent_events_never_interleave_lines() {
        let (reporter, captured) = reporter(plain());
        let reporter = Arc::new(reporter);
        let threads: Vec<_> = (0..8)
            .map(|thread| {
                let reporter = reporter.clone();
                std::thread::spawn(move || {
                    for n in 0..50 {
                        let mut failing = step("run", &format!("cmd-{thread}-{n}"), Status::Failed);
                        failing.stderr = format!("err-{thread}-{n}-a\nerr-{thread}-{n}-b\n");
                        reporter.event(&result(&format!("h{thread}"), Status::Failed, vec![failing]));
                    }
                })
            })
            .collect();
        for thread in threads {
            thread.join().unwrap();
        }
        let text = captured.text();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 8 * 50 * 3);
        for chunk in lines.chunks(3) {
            let id = chunk[0].strip_prefix("  failed: h").unwrap().split_once("  run: cmd-").unwrap().1;
            assert_eq!(chunk[1], format!("    err-{id}-a"));
            assert_eq!(chunk[2], format!("    err-{id}-b"));
        }
    }

    #[test]
    fn durations_read_naturally() {
        assert_eq!(format_duration(Duration::from_millis(40)), "0.0s");
        assert_eq!(format_duration(Duration::from_millis(12_345)), "12.3s");
        assert_eq!(format_duration(Duration::from_millis(59_960)), "1m00s");
        assert_eq!(format_duration(Duration::from_secs(125)), "2m05s");
        assert_eq!(format_duration(Duration::from_secs(3725)), "1h02m");
    }
}
