// TEMPORARY: replaced by the report branch.
use std::sync::{Arc, RwLock};

#[derive(Clone, Default)]
pub struct Redactor {
    secrets: Arc<RwLock<Vec<String>>>,
}

impl Redactor {
    pub fn new() -> Redactor {
        Redactor::default()
    }
    pub fn add(&self, secret: &str) {
        if !secret.is_empty() {
            self.secrets.write().unwrap().push(secret.to_string());
        }
    }
    pub fn redact(&self, text: &str) -> String {
        let mut out = text.to_string();
        for s in self.secrets.read().unwrap().iter() {
            out = out.replace(s.as_str(), "***");
        }
        out
    }
    pub fn is_empty(&self) -> bool {
        self.secrets.read().unwrap().is_empty()
    }
}
