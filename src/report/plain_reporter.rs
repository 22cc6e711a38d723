// TEMPORARY line printer until the console reporter lands.
use super::{Event, Reporter, Status};

pub struct PlainReporter {
    pub verbosity: u8,
}

impl Reporter for PlainReporter {
    fn event(&self, event: &Event) {
        match event {
            Event::TaskStart { task, hosts } => println!("TASK {task} ({} hosts)", hosts.len()),
            Event::TaskSkipped { task, reason } => println!("SKIP {task}: {reason}"),
            Event::HostResult(r) => {
                if r.status != Status::Ok || self.verbosity > 0 {
                    println!("  {:?}: {} {}", r.status, r.host, r.message.clone().unwrap_or_default());
                    for s in &r.steps {
                        if s.status != Status::Ok || self.verbosity > 0 {
                            println!("    {:?} {} {} {}", s.status, s.primitive, s.target, s.message.clone().unwrap_or_default());
                            if let Some(d) = &s.diff { println!("{d}"); }
                            if self.verbosity > 0 && !s.stdout.is_empty() { println!("{}", s.stdout); }
                        }
                    }
                }
            }
            Event::Warning { host, message } => println!("WARN {} {message}", host.clone().unwrap_or_default()),
            Event::Print { host, message } => println!("{}{message}", host.as_ref().map(|h| format!("[{h}] ")).unwrap_or_default()),
            Event::Recap { hosts, elapsed, .. } => {
                for h in hosts {
                    println!("{:<20} ok={} changed={} failed={} skipped={} unreachable={}", h.host, h.ok, h.changed, h.failed, h.skipped, h.unreachable);
                }
                println!("elapsed {:.2}s", elapsed.as_secs_f64());
            }
            _ => {}
        }
    }
}
