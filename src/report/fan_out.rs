//! Sends every event to several reporters, so a run can show progress on the terminal and write `--log-json`
//! at the same time without the engine knowing how many outputs there are.

use super::event::{Event, Reporter};

/// Forwards each event, in order, to every reporter it holds.
pub struct FanOut(pub Vec<Box<dyn Reporter>>);

impl Reporter for FanOut {
    fn event(&self, event: &Event) {
        for reporter in &self.0 {
            reporter.event(event);
        }
    }

    fn finish(&self) {
        for reporter in &self.0 {
            reporter.finish();
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;

    struct Recorder(Arc<Mutex<Vec<String>>>);

    impl Reporter for Recorder {
        fn event(&self, event: &Event) {
            self.0.lock().unwrap().push(serde_json::to_string(event).unwrap());
        }
        fn finish(&self) {
            self.0.lock().unwrap().push("finish".into());
        }
    }

    #[test]
    fn every_reporter_sees_every_event() {
        let first = Arc::new(Mutex::new(Vec::new()));
        let second = Arc::new(Mutex::new(Vec::new()));
        let fan_out = FanOut(vec![Box::new(Recorder(first.clone())), Box::new(Recorder(second.clone()))]);
        fan_out.event(&Event::Print { host: None, message: "hi".into() });
        fan_out.finish();
        let expected = vec![r#"{"event":"print","message":"hi"}"#.to_string(), "finish".to_string()];
        assert_eq!(*first.lock().unwrap(), expected);
        assert_eq!(*second.lock().unwrap(), expected);
    }
}
