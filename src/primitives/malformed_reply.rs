//! A host answered a primitive's script with output the script cannot have printed (a truncated stream, a
//! shell that is not the one we asked for). That is something the host did, never the playbook's mistake, so it
//! has its own type rather than travelling as a bare string that could be taken for a usage error.

/// What a host printed that does not parse as the script's answer.
#[derive(Debug, thiserror::Error)]
#[error("unexpected output: {output}")]
pub struct MalformedReply {
    pub output: String,
}

impl MalformedReply {
    pub fn of(output: &str) -> MalformedReply {
        MalformedReply { output: output.trim().to_string() }
    }
}
