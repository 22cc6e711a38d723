//! A template's `#jinja2:` first line (`#jinja2: trim_blocks: False, lstrip_blocks: True`), which Ansible reads
//! to change the block handling or delimiters of that one template and removes from the output.

const MARKER: &str = "#jinja2:";

/// The Jinja2 settings a template may override; the defaults are Ansible's.
#[derive(Debug, Clone, PartialEq)]
pub struct Overrides {
    pub trim_blocks: bool,
    pub lstrip_blocks: bool,
    pub block_start_string: String,
    pub block_end_string: String,
    pub variable_start_string: String,
    pub variable_end_string: String,
    pub comment_start_string: String,
    pub comment_end_string: String,
}

impl Default for Overrides {
    fn default() -> Self {
        Overrides {
            trim_blocks: true,
            lstrip_blocks: false,
            block_start_string: "{%".into(),
            block_end_string: "%}".into(),
            variable_start_string: "{{".into(),
            variable_end_string: "}}".into(),
            comment_start_string: "{#".into(),
            comment_end_string: "#}".into(),
        }
    }
}

/// What is wrong with a template's `#jinja2:` line.
#[derive(Debug, Clone, thiserror::Error)]
pub enum HeaderError {
    #[error("missing newline after the \"#jinja2:\" override")]
    NoNewline,
    #[error("missing `:` in the \"#jinja2:\" override pair {0:?}")]
    NoColon(String),
    #[error("#jinja2: {key}: expected True or False, got {value:?}")]
    NotAFlag { key: String, value: String },
    #[error("#jinja2: {key}: expected a quoted string, got {value:?}")]
    NotAString { key: String, value: String },
    #[error("invalid \"#jinja2:\" override key {0:?}")]
    UnknownKey(String),
    #[error("#jinja2: delimiters: {0}")]
    Delimiters(String),
}

impl Overrides {
    /// The template body without its `#jinja2:` line, and the settings that line asks for.
    pub fn split(text: &str) -> Result<(&str, Overrides), HeaderError> {
        let mut overrides = Overrides::default();
        let Some(rest) = text.strip_prefix(MARKER) else { return Ok((text, overrides)) };
        let eol = rest.find('\n').ok_or(HeaderError::NoNewline)?;
        for pair in rest[..eol].split(',') {
            let (key, value) = pair.split_once(':').ok_or_else(|| HeaderError::NoColon(pair.trim().to_string()))?;
            let value = value.trim();
            let flag = || match value {
                "True" => Ok(true),
                "False" => Ok(false),
                _ => Err(HeaderError::NotAFlag { key: key.trim().to_string(), value: value.to_string() }),
            };
            let string = || {
                let quoted = (value.starts_with('"') && value.ends_with('"'))
                    || (value.starts_with('\'') && value.ends_with('\''));
                if quoted && value.len() >= 2 {
                    Ok(value[1..value.len() - 1].to_string())
                } else {
                    Err(HeaderError::NotAString { key: key.trim().to_string(), value: value.to_string() })
                }
            };
            match key.trim() {
                "trim_blocks" => overrides.trim_blocks = flag()?,
                "lstrip_blocks" => overrides.lstrip_blocks = flag()?,
                "block_start_string" => overrides.block_start_string = string()?,
                "block_end_string" => overrides.block_end_string = string()?,
                "variable_start_string" => overrides.variable_start_string = string()?,
                "variable_end_string" => overrides.variable_end_string = string()?,
                "comment_start_string" => overrides.comment_start_string = string()?,
                "comment_end_string" => overrides.comment_end_string = string()?,
                other => return Err(HeaderError::UnknownKey(other.to_string())),
            }
        }
        overrides.checked_syntax()?;
        Ok((&rest[eol + 1..], overrides))
    }

    /// The syntax these settings ask for (valid: `split` checked the delimiters).
    pub fn syntax(&self) -> minijinja::syntax::SyntaxConfig {
        self.checked_syntax().expect("delimiters checked by Overrides::split")
    }

    fn checked_syntax(&self) -> Result<minijinja::syntax::SyntaxConfig, HeaderError> {
        minijinja::syntax::SyntaxConfig::builder()
            .block_delimiters(self.block_start_string.clone(), self.block_end_string.clone())
            .variable_delimiters(self.variable_start_string.clone(), self.variable_end_string.clone())
            .comment_delimiters(self.comment_start_string.clone(), self.comment_end_string.clone())
            .trim_blocks(self.trim_blocks)
            .lstrip_blocks(self.lstrip_blocks)
            // Jinja2's (and so Ansible's) default; `render_text` restores the trailing newlines as Ansible does.
            .keep_trailing_newline(false)
            .build()
            .map_err(|e| HeaderError::Delimiters(e.to_string()))
    }
}
