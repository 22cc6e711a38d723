//! The run history, checked on lab hosts: every run is recorded with its counts, one run's diffs and errors can
//! be read back per host, a killed run is listed as incomplete in a sound database, two runs at once are both
//! recorded, and a secret never reaches the file.
//!
//! Lab `t-hist` (2 hosts, 10.241.23.0/24).

use crate::support;

use std::path::Path;
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use support::{Lab, RUNBOOK, Test};

static LAB: OnceLock<Lab> = OnceLock::new();

fn lab() -> &'static Lab {
    Lab::get(&LAB, "t-hist", 2, "10.241.23.0/24")
}

const SECRET: &str = "hist-s3cret-Zq81";

/// `runbook history ARGS --history DB --json`, parsed.
fn history(db: &Path, args: &[&str]) -> serde_json::Value {
    let db = db.display().to_string();
    let run = Test::new().args(&["history"]).args(args).args(&["--history", &db, "--json"]).run();
    serde_json::from_str(&run.stdout).expect("history --json prints JSON")
}

fn every_file_under(dir: &Path) -> Vec<(String, Vec<u8>)> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.is_file())
        .map(|path| (path.display().to_string(), std::fs::read(&path).unwrap()))
        .collect()
}

#[test]
fn three_runs_are_listed_with_their_counts_and_one_shows_its_diff_and_error() {
    require_lab!();
    let lab = lab();
    let (one, two) = (lab.host(0), lab.host(1));
    lab.clean("/root/hist-motd");
    let store = tempfile::tempdir().unwrap();
    let db = store.path().join("history.db");
    let db_arg = db.display().to_string();
    let playbook = format!(
        r#"
        let s = secret("db_password");
        task("motd", hosts(), |h| h.write("hello\n", "/root/hist-motd"));
        task("probe", hosts(), |h| h.run("true"));
        task("breaks", host("{two}"), |h| h.run(`echo broken ${{s}} >&2; exit 4`));
        "#
    );
    // Run 1 changes both hosts and fails on the second; runs 2 and 3 change nothing and fail the same way.
    for _ in 0..3 {
        Test::new()
            .lab(lab)
            .env("RUNBOOK_SECRET_DB_PASSWORD", SECRET)
            .playbook(&playbook)
            .args(&["--diff", "--history", &db_arg])
            .code(2)
            .stdout_has("broken ***")
            .run();
    }

    let runs = history(&db, &[]);
    let runs = runs.as_array().unwrap();
    assert_eq!(runs.len(), 3, "{runs:#?}");
    // Newest first: runs 3 and 2 found the file in place; `run` counts as a change, as Ansible's command does.
    for (run, changed, ok) in [(&runs[0], 2, 2), (&runs[1], 2, 2), (&runs[2], 4, 0)] {
        assert_eq!(run["changed"], changed, "{run:#}");
        assert_eq!(run["ok"], ok, "{run:#}");
        assert_eq!(run["failed"], 1, "{run:#}");
        assert_eq!(run["incomplete"], false, "{run:#}");
        assert_eq!(run["exit_code"], 2, "{run:#}");
        assert_eq!(run["hosts"].as_array().unwrap().len(), 2, "{run:#}");
    }

    let first = runs[2]["id"].to_string();
    let shown = history(&db, &["show", &first, "--host", one, "--diff"]);
    let results = shown["results"].as_array().unwrap();
    assert!(results.iter().all(|r| r["host"] == one), "{shown:#}");
    let motd = results.iter().find(|r| r["task"] == "motd").expect("the motd task of host one");
    assert_eq!(motd["status"], "changed");
    assert!(motd["diff"].as_str().unwrap().contains("+hello"), "{motd:#}");

    let failed = history(&db, &["show", &first, "--host", two, "--task", "breaks"]);
    let message = failed["results"][0]["message"].as_str().unwrap();
    assert!(message.contains("exit") || message.contains("4"), "{failed:#}");
    // The playbook line that failed is kept with the failure, marked, as it read when it failed.
    let excerpt = failed["results"][0]["excerpt"].as_str().unwrap_or_default();
    assert!(excerpt.lines().any(|line| line.starts_with('>') && line.contains("task(\"breaks\"")), "{failed:#}");

    // The text form too, as an operator reads it.
    Test::new().args(&["history", "--history", &db_arg]).stdout_has("site.rhai").stdout_has("exit 2").run();

    // Per host, the last run that changed it: run 3 (its `probe` task), not run 1.
    let hosts = history(&db, &["hosts"]);
    let latest = runs[0]["id"].clone();
    for host in [one, two] {
        let change = hosts.as_array().unwrap().iter().find(|h| h["host"] == host).expect("the host is listed");
        assert_eq!((&change["run"], &change["tasks"]), (&latest, &serde_json::json!(["probe"])), "{hosts:#}");
    }

    // The HTML report of the first run: each host and task, the failed host's error, one timeline row per host.
    let report = store.path().join("report.html");
    Test::new().args(&["report", &first, "-o", &report.display().to_string(), "--history", &db_arg]).run();
    let html = std::fs::read_to_string(&report).unwrap();
    for text in [one, two, "motd", "probe", "breaks", message, "+hello"] {
        let escaped = text
            .replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('"', "&quot;")
            .replace('/', "&#x2f;")
            .replace('\'', "&#x27;");
        assert!(html.contains(&escaped), "the report lacks {text:?}");
    }
    assert_eq!(html.matches("class=\"host-row\"").count(), 2);
    assert!(!html.contains("src=") && !html.contains("href="), "the report loads nothing from outside");

    for (path, bytes) in every_file_under(store.path()) {
        let text = String::from_utf8_lossy(&bytes);
        assert!(!text.contains(SECRET), "the secret is in {path}");
    }
}

#[test]
fn a_run_killed_mid_way_is_incomplete_and_two_runs_at_once_are_both_recorded() {
    require_lab!();
    let lab = lab();
    let test = Test::new();
    let dir = test.path().to_path_buf();
    let inventory = lab.inventory();
    std::fs::write(
        dir.join("slow.rhai"),
        r#"task("quick", hosts(), |h| h.run("true")); task("slow", hosts(), |h| h.run("sleep 30"));"#,
    )
    .unwrap();
    std::fs::write(dir.join("fast.rhai"), r#"task("quick", hosts(), |h| h.run("true"));"#).unwrap();
    let db = dir.join("history.db");
    let spawn = |playbook: &str| {
        // Spawned: the slow run is killed mid-way, and the fast ones run while it does.
        Command::new(RUNBOOK)
            .current_dir(&dir)
            .env("NO_COLOR", "1")
            .arg("run")
            .arg(playbook)
            .arg("-i")
            .arg(&inventory)
            .arg("--history")
            .arg(&db)
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("runbook starts")
    };

    let mut slow = spawn("slow.rhai");
    let (mut first, mut second) = (spawn("fast.rhai"), spawn("fast.rhai"));
    assert!(first.wait().unwrap().success());
    assert!(second.wait().unwrap().success());
    // Once the slow run's first task is recorded, kill it without a chance to clean up.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let slow_run = history(&db, &[]).as_array().unwrap().iter().find(|r| r["playbook"] == "slow.rhai").cloned();
        if slow_run.is_some_and(|r| r["changed"] == 2) {
            break;
        }
        assert!(Instant::now() < deadline, "the slow run never recorded its first task");
        std::thread::sleep(Duration::from_millis(200));
    }
    slow.kill().unwrap();
    slow.wait().unwrap();

    let runs = history(&db, &[]);
    let runs = runs.as_array().unwrap();
    assert_eq!(runs.len(), 3, "{runs:#?}");
    let fast: Vec<_> = runs.iter().filter(|r| r["playbook"] == "fast.rhai").collect();
    assert_eq!(fast.len(), 2);
    for run in fast {
        assert_eq!((run["changed"].as_u64(), run["incomplete"].as_bool()), (Some(2), Some(false)), "{run:#}");
    }
    let killed = runs.iter().find(|r| r["playbook"] == "slow.rhai").unwrap();
    assert_eq!(killed["incomplete"], true, "{killed:#}");
    assert_eq!(killed["exit_code"], serde_json::Value::Null);

    let connection = rusqlite::Connection::open(&db).unwrap();
    let check: String = connection.query_row("PRAGMA integrity_check", [], |row| row.get(0)).unwrap();
    assert_eq!(check, "ok");
}

#[test]
fn no_history_records_nothing_and_the_default_lives_beside_the_inventory() {
    require_lab!();
    let lab = lab();
    let inventory_dir = tempfile::tempdir().unwrap();
    let inventory = inventory_dir.path().join("hosts.yaml");
    std::fs::copy(lab.inventory(), &inventory).unwrap();
    let playbook = r#"task("quick", hosts(), |h| h.run("true"));"#;
    Test::new().inventory_file(&inventory).playbook(playbook).args(&["--no-history"]).run();
    let db = inventory_dir.path().join(".runbook/history.db");
    assert!(!db.exists(), "--no-history wrote {}", db.display());
    Test::new().inventory_file(&inventory).playbook(playbook).run();
    assert_eq!(history(&db, &[]).as_array().unwrap().len(), 1);
}

#[test]
fn the_report_opens_in_headless_chromium_with_a_clean_console_and_a_row_per_host() {
    require_lab!();
    let lab = lab();
    let bad = lab.host(1);
    let run = Test::new()
        .lab(lab)
        .playbook(&format!(
            r#"
            task("stamp", hosts(), |h| h.write("at " + h.name + "\n", "/root/hist-stamp"));
            task("wait", hosts(), |h| h.run("sleep 0.3"));
            task("breaks", host("{bad}"), |h| h.run("echo no disk >&2; exit 5"));
            "#
        ))
        .args(&["--diff", "--history", "history.db", "--report", "report.html"])
        .code(2)
        .stdout_has("report: report.html")
        .run();
    let dom = support::open_in_chromium(&run.dir.join("report.html"), &run.dir.join("report.png"), (1200, 700));
    assert_eq!(dom.matches("class=\"host-row\"").count(), 2, "one timeline row per host:\n{dom}");
    assert!(dom.contains("no disk"), "the failed host's error is in the page");
}

#[test]
fn a_vaulted_value_and_a_secret_reach_neither_the_database_nor_the_report() {
    require_lab!();
    const VAULTED: &str = "vaulted-T0k3n-q9";
    let lab = lab();
    let host = lab.host(0);
    lab.clean("/root/hist-conf");
    let test = Test::new().file("pw", "history-vault-pass\n");
    let dir = test.path().to_path_buf();
    let block = Test::new()
        .in_dir(&dir)
        .args(&["vault", "encrypt_string", "--vault-password-file", "pw", "-n", "api_token", VAULTED])
        .run()
        .stdout;
    assert!(!block.contains(VAULTED));
    std::fs::create_dir_all(dir.join("group_vars")).unwrap();
    std::fs::write(dir.join("group_vars/all.yml"), block).unwrap();
    let run = test
        .lab(lab)
        .env("RUNBOOK_SECRET_DB_PASSWORD", SECRET)
        .playbook(&format!(
            r#"
            let s = secret("db_password");
            task("conf", host("{host}"), |h| h.write("token=" + h.vars.api_token + "\npw=" + s + "\n", "/root/hist-conf", #{{ mode: "0600" }}));
            task("leak", host("{host}"), |h| h.run(`echo ${{h.vars.api_token}} ${{s}} >&2; exit 3`));
            "#
        ))
        .args(&["--diff", "--vault-password-file", "pw", "--history", "history.db", "--report", "report.html"])
        .code(2)
        .stdout_has("token=***")
        .run();
    assert!(!run.stdout.contains(VAULTED) && !run.stdout.contains(SECRET));
    let files: Vec<_> = every_file_under(&run.dir)
        .into_iter()
        .filter(|(path, _)| path.contains("history.db") || path.ends_with("report.html"))
        .collect();
    assert!(files.iter().any(|(path, _)| path.ends_with("report.html")) && files.len() >= 2, "{files:?}");
    for (path, bytes) in files {
        let text = String::from_utf8_lossy(&bytes);
        for secret in [VAULTED, SECRET] {
            assert!(!text.contains(secret), "{secret} is in {path}");
        }
    }
    let html = std::fs::read_to_string(run.dir.join("report.html")).unwrap();
    assert!(html.contains("token=***"), "the diff is in the report, masked");
}

#[test]
fn a_run_logged_with_no_history_is_imported_once_with_the_counts_of_a_recorded_run() {
    require_lab!();
    let lab = lab();
    let two = lab.host(1);
    let playbook = format!(
        r#"
        task("probe", hosts(), |h| h.run("true"));
        task("breaks", host("{two}"), |h| h.run("echo import-failure >&2; exit 6"));
        "#
    );
    // The same playbook twice: once recorded by the run itself, once only in its --log-json, then imported.
    let recorded = Test::new().lab(lab).playbook(&playbook).args(&["--history", "history.db"]).code(2).run();
    let logged = Test::new().lab(lab).playbook(&playbook).json_log().args(&["--no-history"]).code(2).run();
    let db = recorded.dir.join("history.db");
    let log = logged.dir.join("events.jsonl");
    let imported = history(&db, &["import", &log.display().to_string()]);
    assert_eq!((imported[0]["new"].as_bool(), imported[0]["complete"].as_bool()), (Some(true), Some(true)));
    let again = history(&db, &["import", &log.display().to_string()]);
    assert_eq!((again[0]["new"].as_bool(), again[0]["run"].clone()), (Some(false), imported[0]["run"].clone()));

    let runs = history(&db, &[]);
    let runs = runs.as_array().unwrap();
    assert_eq!(runs.len(), 2, "imported once: {runs:#?}");
    let (import, native) = (&runs[0], &runs[1]);
    for key in ["ok", "changed", "failed", "skipped", "unreachable", "exit_code", "incomplete", "hosts"] {
        assert_eq!(import[key], native[key], "{key}: imported {import:#} native {native:#}");
    }
    assert!(import["command_line"].as_str().unwrap().starts_with("imported from "), "{import:#}");
    let failed = history(&db, &["show", &import["id"].to_string(), "--host", two, "--task", "breaks"]);
    assert_eq!(failed["results"][0]["status"], "failed", "{failed:#}");

    // A log cut before its end (the run was killed) is recorded, as incomplete.
    let text = std::fs::read_to_string(&log).unwrap();
    let cut: String = text
        .lines()
        .filter(|line| !line.contains("\"recap\"") && !line.contains("\"run_end\""))
        .map(|line| format!("{line}\n"))
        .collect();
    let cut_log = logged.dir.join("cut.jsonl");
    std::fs::write(&cut_log, cut).unwrap();
    let imported = history(&db, &["import", &cut_log.display().to_string()]);
    assert_eq!(imported[0]["complete"], false);
    let runs = history(&db, &[]);
    assert_eq!((runs[0]["incomplete"].as_bool(), runs[0]["exit_code"].clone()), (Some(true), serde_json::Value::Null));
}

/// A `--log-json` of `hosts` × `tasks`, every 7th result changed with a small diff, one host failing the last
/// task: what a real run of that size logs, line for line in json_log's format.
fn generated_log(hosts: usize, tasks: usize) -> String {
    let names: Vec<String> = (1..=hosts).map(|n| format!("node{n:03}")).collect();
    let time = |ms: usize| format!("2026-12-05T10:{:02}:{:02}.{:03}Z", ms / 60_000, ms / 1000 % 60, ms % 1000);
    let mut log = format!(
        "{}\n",
        serde_json::json!({"time": time(0), "event": "run_start", "playbook": "site.rhai", "hosts": names, "check": false, "diff": true})
    );
    let mut clock = 0;
    for task in 0..tasks {
        let name = format!("task number {task}");
        for (index, host) in names.iter().enumerate() {
            clock += 3;
            let changed = (task + index) % 7 == 0;
            let failed = task == tasks - 1 && index == 0;
            let status = if failed {
                "failed"
            } else if changed {
                "changed"
            } else {
                "ok"
            };
            let mut step = serde_json::json!({"primitive": "write", "target": format!("/etc/app/{task}.conf"), "status": status, "duration": 0.01});
            if changed {
                step["diff"] =
                    format!("--- before\n+++ after\n@@ -1 +1 @@\n-port = {task}\n+port = {}\n", task + 1).into();
            }
            let mut event = serde_json::json!({"time": time(clock), "event": "host_result", "task": name, "host": host,
                "status": status, "changed": changed, "steps": [step], "duration": 0.012});
            if failed {
                event["message"] = "site.rhai:40:5: write /etc/app/x.conf: No space left on device".into();
            }
            log.push_str(&format!("{event}\n"));
        }
    }
    log
}

#[test]
fn the_report_of_a_hundred_hosts_by_fifty_tasks_stays_under_a_megabyte() {
    let test = Test::new();
    let log = test.path().join("big.jsonl");
    std::fs::write(&log, generated_log(100, 50)).unwrap();
    let db = test.path().join("history.db");
    history(&db, &["import", &log.display().to_string()]);
    let report = test.path().join("report.html");
    let db_arg = db.display().to_string();
    Test::new().args(&["report", "last", "-o", &report.display().to_string(), "--history", &db_arg]).run();
    let html = std::fs::read_to_string(&report).unwrap();
    assert_eq!(html.matches("class=\"host-row\"").count(), 100, "one timeline row per host");
    assert!(html.contains("No space left on device"), "the failure is in the report");
    eprintln!("report of 100 hosts x 50 tasks: {} bytes", html.len());
    assert!(html.len() <= 1_000_000, "report of 100 hosts x 50 tasks: {} bytes, over 1 MB", html.len());
}
