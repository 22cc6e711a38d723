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

impl Overrides {
    /// The template body without its `#jinja2:` line, and the settings that line asks for.
    pub fn split(text: &str) -> Result<(&str, Overrides), String> {
        let mut overrides = Overrides::default();
        let Some(rest) = text.strip_prefix(MARKER) else { return Ok((text, overrides)) };
        let eol = rest.find('\n').ok_or_else(|| format!("missing newline after the {MARKER:?} override"))?;
        for pair in rest[..eol].split(',') {
            let (key, value) = pair
                .split_once(':')
                .ok_or_else(|| format!("missing `:` in the {MARKER:?} override pair {:?}", pair.trim()))?;
            let value = value.trim();
            let flag = || match value {
                "True" => Ok(true),
                "False" => Ok(false),
                _ => Err(format!("{MARKER} {}: expected True or False, got {value:?}", key.trim())),
            };
            let string = || {
                let quoted = (value.starts_with('"') && value.ends_with('"'))
                    || (value.starts_with('\'') && value.ends_with('\''));
                if quoted && value.len() >= 2 {
                    Ok(value[1..value.len() - 1].to_string())
                } else {
                    Err(format!("{MARKER} {}: expected a quoted string, got {value:?}", key.trim()))
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
                other => return Err(format!("invalid {MARKER:?} override key {other:?}")),
            }
        }
        overrides.checked_syntax()?;
        Ok((&rest[eol + 1..], overrides))
    }

    /// The syntax these settings ask for (valid: `split` checked the delimiters).
    pub fn syntax(&self) -> minijinja::syntax::SyntaxConfig {
        self.checked_syntax().expect("delimiters checked by Overrides::split")
    }

    fn checked_syntax(&self) -> Result<minijinja::syntax::SyntaxConfig, String> {
        minijinja::syntax::SyntaxConfig::builder()
            .block_delimiters(self.block_start_string.clone(), self.block_end_string.clone())
            .variable_delimiters(self.variable_start_string.clone(), self.variable_end_string.clone())
            .comment_delimiters(self.comment_start_string.clone(), self.comment_end_string.clone())
            .trim_blocks(self.trim_blocks)
            .lstrip_blocks(self.lstrip_blocks)
            // Jinja2's (and so Ansible's) default; `render_text` restores the trailing newlines as Ansible does.
            .keep_trailing_newline(false)
            .build()
            .map_err(|e| format!("{MARKER} delimiters: {e}"))
    }
}
