//! runbook: run Rhai playbooks against fleets of Linux hosts over SSH.
//!
//! The layers, each in its own module, depend only downwards:
//! `cli` (flags) → `engine` (Rhai, tasks, the run loop) → `primitives` (what a playbook can do to a host)
//! → `transport` (one SSH connection and persistent shell per host). `inventory`, `report`, `lint` and `lab`
//! stand beside them; `template` (Jinja2 as Ansible renders it) sits below `primitives`, `engine` and `lint`.

pub mod analysis;
pub mod cli;
pub mod did_you_mean;
pub mod engine;
pub mod inventory;
pub mod lab;
pub mod lint;
pub mod primitives;
pub mod report;
pub mod template;
pub mod transport;
pub mod vault;
