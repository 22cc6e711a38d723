//! Python's `%` operator, which Jinja2 templates use for printf-style formatting (`"%s:%d" % (host, port)`,
//! `"%-10s" % name`, `"%05.2f" % x`, `"%(name)s" % {'name': 'a'}`) and minijinja does not have for strings.
//! `python_syntax.rs` turns every `a % b` into a call of `percent`, which formats when `a` is a string and
//! takes Python's modulo otherwise, so `loop.index % 2` keeps working. The rules, flags and error messages
//! are CPython's (`Objects/unicodeobject.c`, "printf-style String Formatting" in the Python docs).

use minijinja::value::{Value, ValueKind};
use minijinja::{Error, ErrorKind};

use super::filters::data::type_debug;
use super::output::{python_repr, python_str};

/// `lhs % rhs` as Python computes it.
pub fn percent(lhs: Value, rhs: Value) -> Result<Value, Error> {
    if lhs.is_undefined() || rhs.is_undefined() {
        return Err(Error::from(ErrorKind::UndefinedError));
    }
    match lhs.as_str() {
        Some(format) => format_values(format, &rhs).map(Value::from),
        None => modulo(&lhs, &rhs),
    }
}

fn error(message: impl Into<String>) -> Error {
    Error::new(ErrorKind::InvalidOperation, message.into())
}

/// Python's `a % b` on numbers: the result has the sign of the divisor.
fn modulo(lhs: &Value, rhs: &Value) -> Result<Value, Error> {
    let numeric = |v: &Value| matches!(v.kind(), ValueKind::Number | ValueKind::Bool);
    if !numeric(lhs) || !numeric(rhs) {
        return Err(error(format!(
            "unsupported operand type(s) for %: '{}' and '{}'",
            type_debug(lhs),
            type_debug(rhs)
        )));
    }
    if let (Some(a), Some(b)) = (integer(lhs), integer(rhs)) {
        if b == 0 {
            return Err(error("integer modulo by zero"));
        }
        let r = a.rem_euclid(b);
        return Ok(Value::from(if b < 0 && r != 0 { r + b } else { r }));
    }
    let (a, b) = (float(lhs).unwrap_or(0.0), float(rhs).unwrap_or(0.0));
    if b == 0.0 {
        return Err(error("float modulo"));
    }
    let r = a % b;
    Ok(Value::from(if r != 0.0 && (r < 0.0) != (b < 0.0) { r + b } else { r }))
}

fn integer(value: &Value) -> Option<i128> {
    match value.kind() {
        ValueKind::Bool => Some(value.is_true() as i128),
        ValueKind::Number if value.is_integer() => i128::try_from(value.clone()).ok(),
        _ => None,
    }
}

fn float(value: &Value) -> Option<f64> {
    match value.kind() {
        ValueKind::Bool => Some(value.is_true() as u8 as f64),
        ValueKind::Number => f64::try_from(value.clone()).ok(),
        _ => None,
    }
}

/// One conversion specifier: `%[(key)][flags][width][.precision][length]type`.
#[derive(Default)]
struct Spec {
    left: bool,
    plus: bool,
    space: bool,
    zero: bool,
    alternate: bool,
    width: usize,
    precision: Option<usize>,
}

/// `format % args`. A tuple gives the positional arguments; anything else is the one argument, and a dict
/// also serves `%(name)s`.
pub fn format_values(format: &str, args: &Value) -> Result<String, Error> {
    let positional: Vec<Value> = if args.is_tuple() { args.try_iter()?.collect() } else { vec![args.clone()] };
    let mapping = (!args.is_tuple() && args.kind() == ValueKind::Map).then_some(args);
    // Python's test for "a mapping": anything with `__getitem__` but a tuple or a string (so a list too); such
    // an argument need not be used up.
    let mapping_like = !args.is_tuple() && matches!(args.kind(), ValueKind::Map | ValueKind::Seq);
    let mut next = 0usize;
    let mut take = || -> Result<Value, Error> {
        let value = positional.get(next).cloned().ok_or_else(|| error("not enough arguments for format string"))?;
        next += 1;
        Ok(value)
    };
    let mut out = String::with_capacity(format.len() + 16);
    let mut chars = format.char_indices().peekable();
    while let Some((_, c)) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let mut spec = Spec::default();
        let mut keyed: Option<Value> = None;
        if chars.peek().map(|(_, c)| *c) == Some('(') {
            chars.next();
            let mut depth = 1;
            let mut key = String::new();
            loop {
                let Some((_, c)) = chars.next() else { return Err(error("incomplete format key")) };
                match c {
                    '(' => depth += 1,
                    ')' => depth -= 1,
                    _ => {}
                }
                if depth == 0 {
                    break;
                }
                key.push(c);
            }
            let Some(map) = mapping else { return Err(error("format requires a mapping")) };
            let value = map.get_item(&Value::from(key.as_str()))?;
            if value.is_undefined() {
                return Err(Error::new(ErrorKind::UndefinedError, format!("KeyError: {}", python_repr(&key.into()))));
            }
            keyed = Some(value);
        }
        while let Some((_, flag)) = chars.peek().copied() {
            match flag {
                '-' => spec.left = true,
                '+' => spec.plus = true,
                ' ' => spec.space = true,
                '#' => spec.alternate = true,
                '0' => spec.zero = true,
                _ => break,
            }
            chars.next();
        }
        let number = |chars: &mut std::iter::Peekable<std::str::CharIndices>,
                      take: &mut dyn FnMut() -> Result<Value, Error>|
         -> Result<Option<i64>, Error> {
            if chars.peek().map(|(_, c)| *c) == Some('*') {
                chars.next();
                return integer(&take()?).map(|n| Some(n as i64)).ok_or_else(|| error("* wants int"));
            }
            let mut digits = String::new();
            while let Some((_, d)) = chars.peek().copied().filter(|(_, d)| d.is_ascii_digit()) {
                digits.push(d);
                chars.next();
            }
            Ok(if digits.is_empty() { None } else { Some(digits.parse().map_err(|_| error("width too big"))?) })
        };
        if let Some(width) = number(&mut chars, &mut take)? {
            if width < 0 {
                spec.left = true;
            }
            spec.width = width.unsigned_abs() as usize;
        }
        if chars.peek().map(|(_, c)| *c) == Some('.') {
            chars.next();
            spec.precision = Some(number(&mut chars, &mut take)?.unwrap_or(0).max(0) as usize);
        }
        while chars.peek().is_some_and(|(_, c)| matches!(c, 'h' | 'l' | 'L')) {
            chars.next();
        }
        let Some((at, conversion)) = chars.next() else { return Err(error("incomplete format")) };
        if conversion == '%' {
            out.push('%');
            continue;
        }
        let value = match keyed {
            Some(value) => value,
            None => take()?,
        };
        let text = convert(conversion, at, &spec, &value)?;
        out.push_str(&text);
    }
    if next < positional.len() && !mapping_like {
        return Err(error("not all arguments converted during string formatting"));
    }
    Ok(out)
}

fn convert(conversion: char, at: usize, spec: &Spec, value: &Value) -> Result<String, Error> {
    let (sign, body, numeric) = match conversion {
        's' | 'r' | 'a' => {
            let text = match conversion {
                // Python's str(None); only a whole `{{ }}` of None prints nothing.
                's' if value.is_none() => "None".to_string(),
                's' => python_str(value),
                _ => python_repr(value),
            };
            let text = match spec.precision {
                Some(p) => text.chars().take(p).collect(),
                None => text,
            };
            (String::new(), text, false)
        }
        'c' => {
            let text = match (integer(value), value.as_str()) {
                (Some(code), _) => char::from_u32(code as u32)
                    .map(String::from)
                    .ok_or_else(|| error("%c arg not in range(0x110000)"))?,
                (_, Some(s)) if s.chars().count() == 1 => s.to_string(),
                _ => {
                    return Err(error(format!("%c requires an int or a unicode character, not {}", type_debug(value))));
                }
            };
            (String::new(), text, false)
        }
        'd' | 'i' | 'u' | 'x' | 'X' | 'o' => {
            let n = match (integer(value), float(value)) {
                (Some(n), _) => n,
                (None, Some(f)) if matches!(conversion, 'd' | 'i' | 'u') => {
                    if !f.is_finite() {
                        return Err(error(format!("cannot convert float {} to integer", python_str(value))));
                    }
                    f.trunc() as i128
                }
                (None, Some(_)) => {
                    return Err(error(format!("%{conversion} format: an integer is required, not float")));
                }
                _ => {
                    let what = if matches!(conversion, 'd' | 'i' | 'u') {
                        "a real number is required"
                    } else {
                        "an integer is required"
                    };
                    return Err(error(format!("%{conversion} format: {what}, not {}", type_debug(value))));
                }
            };
            let mut digits = match conversion {
                'x' => format!("{:x}", n.unsigned_abs()),
                'X' => format!("{:X}", n.unsigned_abs()),
                'o' => format!("{:o}", n.unsigned_abs()),
                _ => n.unsigned_abs().to_string(),
            };
            if let Some(p) = spec.precision
                && digits.len() < p
            {
                digits = "0".repeat(p - digits.len()) + digits.as_str();
            }
            let prefix = match conversion {
                'x' if spec.alternate => "0x",
                'X' if spec.alternate => "0X",
                'o' if spec.alternate => "0o",
                _ => "",
            };
            (sign_of(n < 0, spec) + prefix, digits, true)
        }
        'e' | 'E' | 'f' | 'F' | 'g' | 'G' => {
            let Some(f) = float(value) else {
                return Err(error(format!("must be real number, not {}", type_debug(value))));
            };
            let body = float_body(f.abs(), conversion, spec.precision.unwrap_or(6), spec.alternate);
            (sign_of(f.is_sign_negative() && !f.is_nan(), spec), body, f.is_finite())
        }
        other => {
            return Err(error(format!("unsupported format character '{other}' (0x{:x}) at index {at}", other as u32)));
        }
    };
    let len = sign.chars().count() + body.chars().count();
    let pad = spec.width.saturating_sub(len);
    Ok(if spec.left {
        format!("{sign}{body}{}", " ".repeat(pad))
    } else if spec.zero && numeric {
        format!("{sign}{}{body}", "0".repeat(pad))
    } else {
        format!("{}{sign}{body}", " ".repeat(pad))
    })
}

fn sign_of(negative: bool, spec: &Spec) -> String {
    if negative {
        "-"
    } else if spec.plus {
        "+"
    } else if spec.space {
        " "
    } else {
        ""
    }
    .to_string()
}

/// The digits of a non-negative float in C's `%e`, `%f` or `%g` form (CPython uses the same rules).
fn float_body(f: f64, conversion: char, precision: usize, alternate: bool) -> String {
    let upper = conversion.is_ascii_uppercase();
    let text = if f.is_nan() {
        "nan".to_string()
    } else if f.is_infinite() {
        "inf".to_string()
    } else {
        match conversion.to_ascii_lowercase() {
            'f' => with_point(format!("{f:.precision$}"), alternate),
            'e' => exponent_form(f, precision, alternate),
            _ => {
                let p = precision.max(1);
                let exponent = exponent_of(f, p - 1);
                let text = if exponent < -4 || exponent >= p as i32 {
                    exponent_form(f, p - 1, alternate)
                } else {
                    let decimals = (p as i32 - 1 - exponent) as usize;
                    with_point(format!("{f:.decimals$}"), alternate)
                };
                if alternate { text } else { strip_zeros(&text) }
            }
        }
    };
    if upper { text.to_uppercase() } else { text }
}

/// The decimal exponent `%e` with this precision would print (after rounding, as C does).
fn exponent_of(f: f64, precision: usize) -> i32 {
    let text = format!("{f:.precision$e}");
    text.split_once('e').and_then(|(_, e)| e.parse().ok()).unwrap_or(0)
}

/// `1.500000e+03`: Rust writes `1.500000e3`.
fn exponent_form(f: f64, precision: usize, alternate: bool) -> String {
    let text = format!("{f:.precision$e}");
    let (mantissa, exponent) = text.split_once('e').unwrap_or((&text, "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    let sign = if exponent < 0 { '-' } else { '+' };
    format!("{}e{sign}{:02}", with_point(mantissa.to_string(), alternate), exponent.abs())
}

/// `#` keeps the decimal point even with no digits after it.
fn with_point(text: String, alternate: bool) -> String {
    if alternate && !text.contains('.') { text + "." } else { text }
}

/// `%g` drops trailing zeros of the fraction (and the point if nothing is left of it).
fn strip_zeros(text: &str) -> String {
    let (number, exponent) = match text.find('e') {
        Some(at) => text.split_at(at),
        None => (text, ""),
    };
    let number = if number.contains('.') { number.trim_end_matches('0').trim_end_matches('.') } else { number };
    format!("{number}{exponent}")
}

#[cfg(test)]
mod tests {
    use super::{format_values, percent};
    use minijinja::value::Value;

    fn fmt(format: &str, args: Value) -> String {
        format_values(format, &args).unwrap()
    }

    fn tuple(items: Vec<Value>) -> Value {
        Value::from(minijinja::value::Tuple::from(items))
    }

    // Expected values are CPython 3's.
    #[test]
    fn strings_and_integers() {
        assert_eq!(fmt("%s:%d", tuple(vec!["web".into(), 8080.into()])), "web:8080");
        assert_eq!(fmt("[%-10s]", "ab".into()), "[ab        ]");
        assert_eq!(fmt("[%10s]", "ab".into()), "[        ab]");
        assert_eq!(fmt("[%05s]", "ab".into()), "[   ab]");
        assert_eq!(fmt("%.2s", "abc".into()), "ab");
        assert_eq!(
            fmt("%05d|%+d|% d|%-4d|", tuple(vec![42.into(), 5.into(), 5.into(), (-3).into()])),
            "00042|+5| 5|-3  |"
        );
        assert_eq!(
            fmt("%x %X %#x %o %#o", tuple(vec![255.into(), 255.into(), 255.into(), 8.into(), 8.into()])),
            "ff FF 0xff 10 0o10"
        );
        assert_eq!(fmt("%d %s %r", tuple(vec![true.into(), true.into(), "a'b".into()])), "1 True \"a'b\"");
        assert_eq!(fmt("%d", 3.99.into()), "3");
        assert_eq!(fmt("%.3d", 7.into()), "007");
        assert_eq!(fmt("%*d|%-*d|", tuple(vec![4.into(), 1.into(), 3.into(), 2.into()])), "   1|2  |");
        assert_eq!(fmt("100%% %s", "done".into()), "100% done");
        assert_eq!(fmt("%c%c", tuple(vec![65.into(), "b".into()])), "Ab");
        assert_eq!(fmt("%s", Value::from(vec![1, 2])), "[1, 2]");
        assert_eq!(fmt("%s", Value::from(())), "None");
    }

    #[test]
    fn floats_as_c_prints_them() {
        assert_eq!(fmt("%05.2f", 3.14659.into()), "03.15");
        assert_eq!(fmt("%f", 1.5.into()), "1.500000");
        assert_eq!(fmt("%.0f %#.0f", tuple(vec![2.0.into(), 2.0.into()])), "2 2.");
        assert_eq!(fmt("%e", 1500.0.into()), "1.500000e+03");
        assert_eq!(fmt("%.2E", 0.000123.into()), "1.23E-04");
        assert_eq!(
            fmt("%g %g %g %g", tuple(vec![0.0001.into(), 0.00001.into(), 123456.0.into(), 1234567.0.into()])),
            "0.0001 1e-05 123456 1.23457e+06"
        );
        assert_eq!(fmt("%g %#g %.3g", tuple(vec![2.5.into(), 2.5.into(), 99.95.into()])), "2.5 2.50000 100");
        assert_eq!(fmt("%+.1f %d", tuple(vec![(-0.25).into(), 7.into()])), "-0.2 7");
        assert_eq!(fmt("%s %s", tuple(vec![0.1.into(), 2.0.into()])), "0.1 2.0");
        assert_eq!(fmt("%f", 3.into()), "3.000000");
    }

    #[test]
    fn a_dict_fills_named_fields() {
        let map = Value::from_pairs([("name", Value::from("api")), ("port", Value::from(6443))]);
        assert_eq!(fmt("%(name)s:%(port)05d", map.clone()), "api:06443");
        assert_eq!(fmt("%s", map.clone()), "{'name': 'api', 'port': 6443}");
        assert!(format_values("%(missing)s", &map).unwrap_err().to_string().contains("missing"));
    }

    #[test]
    fn errors_are_pythons() {
        let err = |f: &str, a: Value| format_values(f, &a).unwrap_err().to_string();
        assert!(err("%s %s", "a".into()).contains("not enough arguments for format string"));
        assert!(err("%s", tuple(vec![1.into(), 2.into()])).contains("not all arguments converted"));
        assert!(err("%d", "x".into()).contains("%d format: a real number is required, not str"));
        assert!(err("%y", 1.into()).contains("unsupported format character 'y' (0x79) at index 1"));
        assert!(err("%", 1.into()).contains("incomplete format"));
    }

    #[test]
    fn numbers_keep_pythons_modulo() {
        let p = |a: Value, b: Value| percent(a, b).unwrap();
        assert_eq!(p(7.into(), 3.into()), Value::from(1));
        assert_eq!(p((-7).into(), 3.into()), Value::from(2));
        assert_eq!(p(7.into(), (-3).into()), Value::from(-2));
        assert_eq!(p(7.5.into(), 2.into()), Value::from(1.5));
        assert_eq!(p((-7.5).into(), 2.into()), Value::from(0.5));
        assert!(percent(1.into(), 0.into()).is_err());
        assert!(percent(Value::from(vec![1]), 2.into()).is_err());
    }
}
