//! YAML as PyYAML's `yaml.dump` writes it (what Ansible's `to_yaml` / `to_nice_yaml` output): sorted keys,
//! indentless sequences under mapping keys, `-   ` items at indent 4, 80-column folding, YAML 1.1 quoting of
//! strings that would read back as something else, and leaf collections in flow style unless
//! `default_flow_style=False`. No crate writes this layout, so it follows PyYAML's emitter here.

use serde_json::Value;

/// `yaml.dump(value, indent=indent, default_flow_style=flow, allow_unicode=True, sort_keys=True)`.
/// `flow`: `None` = leaf collections in flow style (PyYAML's default), `Some(false)` = block style everywhere,
/// `Some(true)` = flow style everywhere.
pub fn dump(value: &Value, indent: usize, flow: Option<bool>) -> String {
    dump_with(value, &Layout { indent, flow, ..Layout::default() })
}

/// What `yaml.dump`'s keyword arguments say about the layout.
#[derive(Debug, Clone, PartialEq)]
pub struct Layout {
    /// `indent=`: libyaml uses 2 for anything below 2 or above 9.
    pub indent: usize,
    /// `width=`: where lines fold; libyaml uses 80 for a width of at most twice the indent, and no limit for a
    /// negative one.
    pub width: Option<i64>,
    pub flow: Option<bool>,
    /// `sort_keys=` (default true); false keeps the mapping's own order.
    pub sort_keys: bool,
    /// `explicit_start=`: a `---` line first.
    pub explicit_start: bool,
}

impl Default for Layout {
    fn default() -> Self {
        Layout { indent: 2, width: None, flow: None, sort_keys: true, explicit_start: false }
    }
}

impl Layout {
    /// libyaml's `yaml_emitter_emit_stream_start` corrections.
    fn best_indent_and_width(&self) -> (usize, usize) {
        let indent = if (2..=9).contains(&self.indent) { self.indent } else { 2 };
        let width = match self.width {
            None => 80,
            Some(width) if width < 0 => usize::MAX,
            Some(width) if (width as u64) <= 2 * indent as u64 => 80,
            Some(width) => usize::try_from(width).unwrap_or(usize::MAX),
        };
        (indent, width)
    }
}

/// `yaml.dump(value, **layout)` with Ansible's `allow_unicode=True`.
pub fn dump_with(value: &Value, layout: &Layout) -> String {
    let (best_indent, best_width) = layout.best_indent_and_width();
    let mut emitter = Emitter {
        out: String::new(),
        column: 0,
        whitespace: true,
        indention: true,
        best_indent,
        best_width,
        sort_keys: layout.sort_keys,
    };
    let flow = layout.flow;
    if layout.explicit_start {
        emitter.write("---");
        emitter.whitespace = false;
        emitter.indention = false;
        // libyaml puts a block collection on the next line, and a flow one or a scalar after `--- `.
        if !is_collection(value) || flow_style(value, flow) {
            emitter.write(" ");
            emitter.whitespace = true;
        }
    }
    // A plain scalar alone (`abc`) ends here: Ansible's dumper is libyaml's emitter, which (unlike pure-Python
    // PyYAML's `abc\n...\n`) writes no `...` document end after it.
    emitter.node(value, 0, flow, Context::Top);
    emitter.line_break();
    emitter.out
}

#[derive(Clone, Copy, PartialEq)]
enum Context {
    Top,
    MappingValue,
    SequenceItem,
    Flow,
    Key,
    FlowKey,
}

struct Emitter {
    out: String,
    column: usize,
    whitespace: bool,
    indention: bool,
    best_indent: usize,
    best_width: usize,
    sort_keys: bool,
}

fn is_collection(value: &Value) -> bool {
    matches!(value, Value::Array(_) | Value::Object(_))
}

fn is_empty_collection(value: &Value) -> bool {
    match value {
        Value::Array(items) => items.is_empty(),
        Value::Object(map) => map.is_empty(),
        _ => false,
    }
}

/// Whether PyYAML writes this collection in flow style.
fn flow_style(value: &Value, flow: Option<bool>) -> bool {
    if is_empty_collection(value) {
        return true;
    }
    match flow {
        Some(flow) => flow,
        None => match value {
            Value::Array(items) => items.iter().all(|v| !is_collection(v)),
            Value::Object(map) => map.values().all(|v| !is_collection(v)),
            _ => false,
        },
    }
}

fn sorted(map: &serde_json::Map<String, Value>, sort: bool) -> Vec<(&String, &Value)> {
    let mut entries: Vec<(&String, &Value)> = map.iter().collect();
    if sort {
        entries.sort_by(|a, b| a.0.chars().map(|c| c as u32).cmp(b.0.chars().map(|c| c as u32)));
    }
    entries
}

impl Emitter {
    fn write(&mut self, text: &str) {
        self.out.push_str(text);
        self.column += text.chars().count();
    }

    fn line_break(&mut self) {
        self.out.push('\n');
        self.column = 0;
        self.whitespace = true;
        self.indention = true;
    }

    fn write_indent(&mut self, indent: usize) {
        if !self.indention || self.column > indent || (self.column == indent && !self.whitespace) {
            self.line_break();
        }
        if self.column < indent {
            self.whitespace = true;
            let pad = " ".repeat(indent - self.column);
            self.out.push_str(&pad);
            self.column = indent;
        }
    }

    fn indicator(&mut self, indicator: &str, need_whitespace: bool, whitespace: bool, indention: bool) {
        if self.whitespace || !need_whitespace {
            self.write(indicator);
        } else {
            self.write(&format!(" {indicator}"));
        }
        self.whitespace = whitespace;
        self.indention = self.indention && indention;
    }

    /// Writes a node whose container is at `indent`; true if it was a plain scalar.
    fn node(&mut self, value: &Value, indent: usize, flow: Option<bool>, context: Context) -> bool {
        let child_indent = if context == Context::Top { 0 } else { indent + self.best_indent };
        // libyaml's increase_indent: a flow collection opened at the top (indent -1 there) folds at best_indent.
        let flow_indent = if context == Context::Top { self.best_indent } else { child_indent };
        match value {
            Value::Array(items) if context == Context::Flow || flow_style(value, flow) => {
                self.flow_sequence(items, flow_indent, flow);
                false
            }
            Value::Object(map) if context == Context::Flow || flow_style(value, flow) => {
                self.flow_mapping(map, flow_indent, flow);
                false
            }
            Value::Array(items) => {
                // A sequence under a mapping key is not indented (PyYAML's "indentless" sequence).
                let seq_indent = if context == Context::MappingValue { indent } else { child_indent };
                for item in items {
                    self.write_indent(seq_indent);
                    self.indicator("-", true, false, true);
                    self.node(item, seq_indent, flow, Context::SequenceItem);
                }
                false
            }
            Value::Object(map) => {
                for (key, item) in sorted(map, self.sort_keys) {
                    self.write_indent(child_indent);
                    self.scalar(&Value::String(key.clone()), child_indent, Context::Key);
                    self.indicator(":", false, false, true);
                    self.node(item, child_indent, flow, Context::MappingValue);
                }
                false
            }
            scalar => self.scalar(scalar, indent + self.best_indent, context),
        }
    }

    fn flow_sequence(&mut self, items: &[Value], indent: usize, flow: Option<bool>) {
        self.indicator("[", true, true, false);
        for (i, item) in items.iter().enumerate() {
            if i > 0 {
                self.indicator(",", false, false, false);
            }
            if self.column > self.best_width {
                self.write_indent(indent);
            }
            self.node(item, indent, flow, Context::Flow);
        }
        self.indicator("]", false, false, false);
    }

    fn flow_mapping(&mut self, map: &serde_json::Map<String, Value>, indent: usize, flow: Option<bool>) {
        self.indicator("{", true, true, false);
        for (i, (key, item)) in sorted(map, self.sort_keys).into_iter().enumerate() {
            if i > 0 {
                self.indicator(",", false, false, false);
            }
            if self.column > self.best_width {
                self.write_indent(indent);
            }
            self.scalar(&Value::String(key.clone()), indent, Context::FlowKey);
            self.indicator(":", false, false, false);
            self.node(item, indent, flow, Context::Flow);
        }
        self.indicator("}", false, false, false);
    }

    /// Writes a scalar; true if written plain.
    fn scalar(&mut self, value: &Value, indent: usize, context: Context) -> bool {
        let text = match value {
            Value::Null => "null".to_string(),
            Value::Bool(b) => b.to_string(),
            Value::Number(n) => match (n.as_i64(), n.as_u64(), n.as_f64()) {
                (Some(i), _, _) => i.to_string(),
                (_, Some(u), _) => u.to_string(),
                (_, _, Some(f)) => yaml_float(f),
                _ => n.to_string(),
            },
            Value::String(s) => return self.string(s, indent, context),
            _ => unreachable!("collections are not scalars"),
        };
        self.plain(&text, indent, false);
        true
    }

    fn string(&mut self, text: &str, indent: usize, context: Context) -> bool {
        let flow = matches!(context, Context::Flow | Context::FlowKey);
        let split = !matches!(context, Context::Key | Context::FlowKey);
        match analyze(text, flow) {
            Style::Plain => {
                self.plain(text, indent, split);
                true
            }
            Style::Single => {
                self.single_quoted(text, indent, split);
                false
            }
            Style::Double => {
                self.double_quoted(text);
                false
            }
        }
    }

    fn plain(&mut self, text: &str, indent: usize, split: bool) {
        if text.is_empty() {
            return;
        }
        if !self.whitespace {
            self.write(" ");
        }
        self.whitespace = false;
        self.indention = false;
        let chars: Vec<char> = text.chars().collect();
        let (mut start, mut end, mut spaces) = (0usize, 0usize, false);
        while end <= chars.len() {
            let ch = chars.get(end).copied();
            if spaces {
                if ch != Some(' ') {
                    if start + 1 == end && self.column > self.best_width && split {
                        self.write_indent(indent);
                        self.whitespace = false;
                        self.indention = false;
                    } else {
                        self.write(&chars[start..end].iter().collect::<String>());
                    }
                    start = end;
                }
            } else if (ch.is_none() || ch == Some(' ')) && start < end {
                self.write(&chars[start..end].iter().collect::<String>());
                start = end;
            }
            if let Some(ch) = ch {
                spaces = ch == ' ';
            }
            end += 1;
        }
    }

    fn single_quoted(&mut self, text: &str, indent: usize, split: bool) {
        self.indicator("'", true, false, false);
        let chars: Vec<char> = text.chars().collect();
        let (mut start, mut end, mut spaces, mut breaks) = (0usize, 0usize, false, false);
        while end <= chars.len() {
            let ch = chars.get(end).copied();
            if spaces {
                if ch != Some(' ') {
                    if start + 1 == end && self.column > self.best_width && split && start != 0 && end != chars.len() {
                        self.write_indent(indent);
                    } else {
                        self.write(&chars[start..end].iter().collect::<String>());
                    }
                    start = end;
                }
            } else if breaks {
                if ch != Some('\n') {
                    if chars[start] == '\n' {
                        self.line_break();
                    }
                    for _ in start..end {
                        self.line_break();
                    }
                    self.write_indent(indent);
                    start = end;
                }
            } else if (ch.is_none() || matches!(ch, Some(' ' | '\n' | '\''))) && start < end {
                self.write(&chars[start..end].iter().collect::<String>());
                start = end;
            }
            if ch == Some('\'') {
                self.write("''");
                start = end + 1;
            }
            if let Some(ch) = ch {
                spaces = ch == ' ';
                breaks = ch == '\n';
            }
            end += 1;
        }
        self.indicator("'", false, false, false);
    }

    fn double_quoted(&mut self, text: &str) {
        self.indicator("\"", true, false, false);
        let mut body = String::new();
        for c in text.chars() {
            match c {
                '"' => body.push_str("\\\""),
                '\\' => body.push_str("\\\\"),
                '\0' => body.push_str("\\0"),
                '\x07' => body.push_str("\\a"),
                '\x08' => body.push_str("\\b"),
                '\t' => body.push_str("\\t"),
                '\n' => body.push_str("\\n"),
                '\x0b' => body.push_str("\\v"),
                '\x0c' => body.push_str("\\f"),
                '\r' => body.push_str("\\r"),
                '\x1b' => body.push_str("\\e"),
                '\u{85}' => body.push_str("\\N"),
                '\u{a0}' => body.push_str("\\_"),
                '\u{2028}' => body.push_str("\\L"),
                '\u{2029}' => body.push_str("\\P"),
                c if (c as u32) < 0x20 || c as u32 == 0x7f => body.push_str(&format!("\\x{:02X}", c as u32)),
                c => body.push(c),
            }
        }
        self.write(&body);
        self.indicator("\"", false, false, false);
    }
}

/// PyYAML's float representation: `repr()` lower-cased, `.inf`/`.nan`, and `1.0e+20` rather than `1e+20`.
fn yaml_float(f: f64) -> String {
    if f.is_nan() {
        return ".nan".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { ".inf" } else { "-.inf" }.into();
    }
    let repr = super::output::python_float(f).to_lowercase();
    if !repr.contains('.') && repr.contains('e') { repr.replacen('e', ".0e", 1) } else { repr }
}

enum Style {
    Plain,
    Single,
    Double,
}

/// PyYAML's choice of scalar style for a string (its `analyze_scalar` and implicit resolvers).
fn analyze(text: &str, flow: bool) -> Style {
    if text.is_empty() {
        return Style::Single;
    }
    let chars: Vec<char> = text.chars().collect();
    let (mut flow_indicators, mut block_indicators, mut line_breaks, mut special) = (false, false, false, false);
    let (mut leading_space, mut leading_break, mut trailing_space, mut trailing_break) = (false, false, false, false);
    let (mut break_space, mut space_break) = (false, false);
    let (mut previous_space, mut previous_break) = (false, false);
    if text.starts_with("---") || text.starts_with("...") {
        block_indicators = true;
        flow_indicators = true;
    }
    let mut preceded_by_whitespace = true;
    for (index, &ch) in chars.iter().enumerate() {
        let followed_by_whitespace =
            chars.get(index + 1).is_none_or(|c| " \t\r\n\u{85}\u{2028}\u{2029}\0".contains(*c));
        if index == 0 {
            if "#,[]{}&*!|>'\"%@`".contains(ch) {
                flow_indicators = true;
                block_indicators = true;
            }
            if ch == '?' || ch == ':' {
                flow_indicators = true;
                if followed_by_whitespace {
                    block_indicators = true;
                }
            }
            if ch == '-' && followed_by_whitespace {
                flow_indicators = true;
                block_indicators = true;
            }
        } else {
            if ",?[]{}".contains(ch) {
                flow_indicators = true;
            }
            if ch == ':' {
                flow_indicators = true;
                if followed_by_whitespace {
                    block_indicators = true;
                }
            }
            if ch == '#' && preceded_by_whitespace {
                flow_indicators = true;
                block_indicators = true;
            }
        }
        if "\n\u{85}\u{2028}\u{2029}".contains(ch) {
            line_breaks = true;
        }
        let printable = ch == '\n' || ch == '\t' || (' '..='~').contains(&ch) || {
            let c = ch as u32;
            c == 0x85
                || (0xA0..=0xD7FF).contains(&c)
                || (0xE000..=0xFFFD).contains(&c)
                || (0x10000..0x110000).contains(&c)
        } && ch != '\u{feff}';
        if !printable {
            special = true;
        }
        if ch == ' ' {
            if index == 0 {
                leading_space = true;
            }
            if index == chars.len() - 1 {
                trailing_space = true;
            }
            if previous_break {
                break_space = true;
            }
            previous_space = true;
            previous_break = false;
        } else if "\n\u{85}\u{2028}\u{2029}".contains(ch) {
            if index == 0 {
                leading_break = true;
            }
            if index == chars.len() - 1 {
                trailing_break = true;
            }
            if previous_space {
                space_break = true;
            }
            previous_space = false;
            previous_break = true;
        } else {
            previous_space = false;
            previous_break = false;
        }
        preceded_by_whitespace = " \t\r\n\u{85}\u{2028}\u{2029}\0".contains(ch);
    }
    let mut allow_flow_plain = true;
    let mut allow_block_plain = true;
    let mut allow_single = true;
    if leading_space || leading_break || trailing_space || trailing_break {
        allow_flow_plain = false;
        allow_block_plain = false;
    }
    if trailing_space {
        // PyYAML forbids block scalars here; single quotes stay allowed.
    }
    if break_space {
        allow_flow_plain = false;
        allow_block_plain = false;
        allow_single = false;
    }
    if space_break || special {
        allow_flow_plain = false;
        allow_block_plain = false;
        allow_single = false;
    }
    if line_breaks {
        allow_flow_plain = false;
        allow_block_plain = false;
    }
    if flow_indicators {
        allow_flow_plain = false;
    }
    if block_indicators {
        allow_block_plain = false;
    }
    let plain_allowed = if flow { allow_flow_plain } else { allow_block_plain };
    if plain_allowed && !resolves_to_non_string(text) {
        Style::Plain
    } else if allow_single {
        Style::Single
    } else {
        Style::Double
    }
}

/// Whether a plain scalar with this text would read back (YAML 1.1, PyYAML's resolvers) as something else
/// than a string: booleans (`yes`, `off`, ...), null, numbers, dates, `<<`, `=`.
fn resolves_to_non_string(text: &str) -> bool {
    static RESOLVERS: std::sync::OnceLock<Vec<regex::Regex>> = std::sync::OnceLock::new();
    let resolvers = RESOLVERS.get_or_init(|| {
        [
            r"^(?:yes|Yes|YES|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF)$",
            r"^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?|\.[0-9_]+(?:[eE][-+][0-9]+)?|[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$",
            r"^(?:[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+|[-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+)$",
            r"^(?:<<)$",
            r"^(?:~|null|Null|NULL|)$",
            r"^(?:[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]|[0-9][0-9][0-9][0-9]-[0-9][0-9]?-[0-9][0-9]?(?:[Tt]|[ \t]+)[0-9][0-9]?:[0-9][0-9]:[0-9][0-9](?:\.[0-9]*)?(?:[ \t]*(?:Z|[-+][0-9][0-9]?(?::[0-9][0-9])?))?)$",
            r"^(?:=)$",
        ]
        .iter()
        .map(|r| regex::Regex::new(r).expect("a valid resolver"))
        .collect()
    });
    resolvers.iter().any(|r| r.is_match(text))
}

#[cfg(test)]
mod tests {
    use super::dump;
    use serde_json::json;

    #[test]
    fn nice_yaml_has_pyyaml_layout() {
        let value = json!({"k": [1, {"b": [2, 3], "a": 1}, [4, 5]], "e": {}, "f": []});
        assert_eq!(
            dump(&value, 4, Some(false)),
            "e: {}\nf: []\nk:\n- 1\n-   a: 1\n    b:\n    - 2\n    - 3\n-   - 4\n    - 5\n"
        );
        assert_eq!(dump(&value, 2, None), "e: {}\nf: []\nk:\n- 1\n- a: 1\n  b: [2, 3]\n- [4, 5]\n");
    }

    #[test]
    fn strings_that_read_back_as_other_types_are_quoted() {
        assert_eq!(
            dump(&json!({"a": "yes", "b": "1.5", "c": "x: y", "d": "", "e": "plain text"}), 2, Some(false)),
            "a: 'yes'\nb: '1.5'\nc: 'x: y'\nd: ''\ne: plain text\n"
        );
        assert_eq!(dump(&json!("abc"), 2, None), "abc\n");
        assert_eq!(dump(&json!(5), 2, None), "5\n");
        assert_eq!(dump(&json!(null), 2, None), "null\n");
        assert_eq!(dump(&json!("a\nb"), 2, None), "'a\n\n  b'\n");
    }
}
