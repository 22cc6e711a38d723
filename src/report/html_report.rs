//! `runbook report`: one run from the history as a single HTML file an operator can mail or attach to a ticket.
//!
//! Self-contained (inline CSS and SVG, no script, no link to anything) so it opens offline and years later. The
//! rows come from the history database, which holds only redacted text. Every value goes through minijinja's
//! HTML auto-escaping (the template's name ends in `.html`), never through string concatenation.

use serde::Serialize;

use super::history_store::{ResultRow, RunSummary};

const TEMPLATE: &str = include_str!("html_report.html");

/// Pixels of the timeline's drawing area, before the host names.
const TIMELINE_WIDTH: f64 = 900.0;
const ROW_HEIGHT: f64 = 22.0;
const LABEL_WIDTH: f64 = 180.0;

#[derive(Serialize)]
struct Bar {
    x: f64,
    width: f64,
    status: String,
    title: String,
}

#[derive(Serialize)]
struct HostRow {
    host: String,
    y: f64,
    bars: Vec<Bar>,
    ok: usize,
    changed: usize,
    failed: usize,
    skipped: usize,
    unreachable: usize,
    time: String,
    changes: Vec<ResultRow>,
    failures: Vec<ResultRow>,
}

/// The report's template did not render (a defect of runbook's, never of the run's data: values are escaped).
#[derive(Debug, thiserror::Error)]
#[error("report: {0}")]
pub struct ReportError(#[from] minijinja::Error);

/// The HTML page of `run` with its `results`.
pub fn render(run: &RunSummary, results: &[ResultRow]) -> Result<String, ReportError> {
    let mut hosts: Vec<String> = run.hosts.clone();
    for row in results {
        if !hosts.contains(&row.host) {
            hosts.push(row.host.clone());
        }
    }
    let end = results.iter().map(|r| r.started + r.duration).fold(run.elapsed.unwrap_or(0.0), f64::max).max(0.001);
    let scale = TIMELINE_WIDTH / end;
    let rows: Vec<HostRow> = hosts
        .iter()
        .enumerate()
        .map(|(index, host)| {
            let mine: Vec<&ResultRow> = results.iter().filter(|r| &r.host == host).collect();
            let count = |status: &str| mine.iter().filter(|r| r.status == status).count();
            HostRow {
                host: host.clone(),
                y: index as f64 * ROW_HEIGHT,
                bars: mine
                    .iter()
                    .map(|r| Bar {
                        x: LABEL_WIDTH + r.started * scale,
                        width: (r.duration * scale).max(1.0),
                        status: r.status.clone(),
                        title: format!("{}: {} ({:.2}s, from {:.2}s)", r.task, r.status, r.duration, r.started),
                    })
                    .collect(),
                ok: count("ok"),
                changed: count("changed"),
                failed: count("failed"),
                skipped: count("skipped"),
                unreachable: count("unreachable"),
                time: format!("{:.1}s", mine.iter().map(|r| r.duration).fold(0.0, |total, each| total + each)),
                changes: mine.iter().filter(|r| r.changed).map(|r| (*r).clone()).collect(),
                failures: mine
                    .iter()
                    .filter(|r| r.status == "failed" || r.status == "unreachable")
                    .map(|r| (*r).clone())
                    .collect(),
            }
        })
        .collect();
    let mut environment = minijinja::Environment::new();
    environment.add_template("report.html", TEMPLATE)?;
    let template = environment.get_template("report.html")?;
    Ok(template.render(minijinja::context! {
        run => minijinja::Value::from(minijinja::value::Serde(run)),
        rows => minijinja::Value::from(minijinja::value::Serde(&rows)),
        width => LABEL_WIDTH + TIMELINE_WIDTH + 10.0,
        height => hosts.len() as f64 * ROW_HEIGHT + 24.0,
        axis_y => hosts.len() as f64 * ROW_HEIGHT + 14.0,
        label_width => LABEL_WIDTH,
        end => format!("{end:.1}s"),
        row_height => ROW_HEIGHT - 4.0,
    })?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_escaped_and_each_host_has_a_timeline_row() {
        let run = RunSummary {
            id: 7,
            started_at: "2026-01-01T00:00:00.000Z".into(),
            ended_at: Some("2026-01-01T00:00:02.000Z".into()),
            playbook: "site.rhai".into(),
            command_line: "runbook run site.rhai".into(),
            git_commit: None,
            hosts: vec!["a".into(), "b".into()],
            check: false,
            exit_code: Some(2),
            elapsed: Some(2.0),
            incomplete: false,
            interrupted: false,
            ok: 1,
            changed: 0,
            failed: 1,
            skipped: 0,
            unreachable: 0,
        };
        let rows = vec![ResultRow {
            task: "<script>alert(1)</script>".into(),
            host: "b".into(),
            status: "failed".into(),
            changed: false,
            rc: Some(4),
            message: Some("site.rhai:3:5: command failed".into()),
            diff: None,
            excerpt: Some("> 3 | h.run(\"false\")\n    |     ^\n".into()),
            started: 0.5,
            duration: 1.0,
        }];
        let html = render(&run, &rows).unwrap();
        assert!(!html.contains("<script>alert"), "{html}");
        assert!(html.contains("&lt;script&gt;alert(1)&lt;"), "{html}");
        assert_eq!(html.matches("class=\"host-row\"").count(), 2, "{html}");
        assert!(html.contains("site.rhai:3:5: command failed"));
        assert!(html.contains("&gt; 3 | h.run(&quot;false&quot;)"), "the source lines, escaped: {html}");
        assert!(!html.contains("http://") && !html.contains("https://"), "no external asset");
        // Host a ran nothing: its task time is 0.0s (an empty f64 sum is -0.0).
        assert!(html.contains("<td>0.0s</td>") && !html.contains("-0.0s"), "{html}");
    }
}
