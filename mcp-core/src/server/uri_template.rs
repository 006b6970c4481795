//! RFC 6570 URI templates, parsed once when the server is built and matched against the
//! URIs clients read. Supports levels 1 to 3 and the explode modifier of level 4 for
//! matching: `{var}`, `{+var}`, `{#var}`, `{.var}`, `{/var}`, `{;var}`, `{?a,b}`, `{&a}`.

use serde_json::{Map, Value};

/// URIs longer than this are never matched (bounds the backtracking matcher).
const MAX_URI_LEN: usize = 8 * 1024;
/// Capture attempts allowed per match; templates with adjacent expressions are ambiguous
/// and could otherwise take polynomial time in the URI length.
const MATCH_BUDGET: usize = 4096;

#[derive(Clone, Debug, PartialEq, Eq)]
struct VarSpec {
    name: String,
    explode: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Part {
    Literal(String),
    Expr { op: Option<char>, vars: Vec<VarSpec> },
}

/// A parsed URI template.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UriTemplate {
    source: String,
    parts: Vec<Part>,
}

/// Why a template is invalid.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TemplateError(pub String);

impl std::fmt::Display for TemplateError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for TemplateError {}

impl UriTemplate {
    /// Parse a template.
    pub fn parse(source: &str) -> Result<Self, TemplateError> {
        let mut parts = Vec::new();
        let mut rest = source;
        while !rest.is_empty() {
            match rest.find('{') {
                Some(0) => {
                    let end = rest
                        .find('}')
                        .ok_or_else(|| TemplateError(format!("unclosed `{{` in URI template {source:?}")))?;
                    parts.push(parse_expr(&rest[1..end], source)?);
                    rest = &rest[end + 1..];
                }
                Some(i) => {
                    push_literal(&mut parts, &rest[..i], source)?;
                    rest = &rest[i..];
                }
                None => {
                    push_literal(&mut parts, rest, source)?;
                    rest = "";
                }
            }
        }
        Ok(UriTemplate { source: source.to_owned(), parts })
    }

    /// The template text.
    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// The variable names, in order.
    pub fn variables(&self) -> impl Iterator<Item = &str> {
        self.parts.iter().flat_map(|p| match p {
            Part::Expr { vars, .. } => vars.iter().map(|v| v.name.as_str()).collect::<Vec<_>>(),
            Part::Literal(_) => Vec::new(),
        })
    }

    /// Match `uri`, returning the variables (strings, or arrays for exploded variables).
    pub fn matches(&self, uri: &str) -> Option<Map<String, Value>> {
        if uri.len() > MAX_URI_LEN {
            return None;
        }
        let mut out = Map::new();
        let mut budget = MATCH_BUDGET;
        if match_parts(&self.parts, uri, &mut out, &mut budget) { Some(out) } else { None }
    }
}

fn push_literal(parts: &mut Vec<Part>, lit: &str, source: &str) -> Result<(), TemplateError> {
    if lit.contains('}') {
        return Err(TemplateError(format!("unmatched `}}` in URI template {source:?}")));
    }
    parts.push(Part::Literal(lit.to_owned()));
    Ok(())
}

fn parse_expr(body: &str, source: &str) -> Result<Part, TemplateError> {
    let (op, list) = match body.chars().next() {
        Some(c @ ('+' | '#' | '.' | '/' | ';' | '?' | '&')) => (Some(c), &body[1..]),
        Some(c) if "=,!@|".contains(c) => {
            return Err(TemplateError(format!("reserved operator `{c}` in URI template {source:?}")));
        }
        _ => (None, body),
    };
    let mut vars = Vec::new();
    for spec in list.split(',') {
        let (name, explode) = match spec.strip_suffix('*') {
            Some(n) => (n, true),
            None => (spec.split(':').next().unwrap_or(spec), false),
        };
        let valid =
            !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.' || c == '%');
        if !valid {
            return Err(TemplateError(format!("invalid variable name {name:?} in URI template {source:?}")));
        }
        vars.push(VarSpec { name: name.to_owned(), explode });
    }
    Ok(Part::Expr { op, vars })
}

fn allowed(op: Option<char>, c: char) -> bool {
    match op {
        Some('+') | Some('#') => c != '?' || op == Some('#'),
        Some('?') | Some('&') => c != '#',
        Some('/') => !matches!(c, '?' | '#'),
        Some('.') => !matches!(c, '/' | '?' | '#'),
        _ => !matches!(c, '/' | '?' | '#' | '&'),
    }
}

fn match_parts(parts: &[Part], uri: &str, out: &mut Map<String, Value>, budget: &mut usize) -> bool {
    let Some((first, rest)) = parts.split_first() else { return uri.is_empty() };
    match first {
        Part::Literal(lit) => uri.strip_prefix(lit.as_str()).is_some_and(|r| match_parts(rest, r, out, budget)),
        Part::Expr { op, vars } => {
            // The longest run of characters this operator can capture...
            let max = uri.char_indices().find(|&(_, c)| !allowed(*op, c)).map_or(uri.len(), |(i, _)| i);
            // ...then back off until the rest of the template matches.
            // When a literal follows, only the places where it occurs are candidates.
            let next_literal = match rest.first() {
                Some(Part::Literal(l)) => Some(l.as_str()),
                _ => None,
            };
            let mut ends: Vec<usize> = uri[..max].char_indices().map(|(i, _)| i).skip(1).collect();
            ends.push(max);
            if matches!(op, Some('?') | Some('&') | Some('#')) {
                ends.insert(0, 0);
            }
            for &end in ends.iter().rev() {
                if next_literal.is_some_and(|l| !uri[end..].starts_with(l)) {
                    continue;
                }
                if *budget == 0 {
                    return false;
                }
                *budget -= 1;
                let mut attempt = out.clone();
                if capture(*op, vars, &uri[..end], &mut attempt) && match_parts(rest, &uri[end..], &mut attempt, budget)
                {
                    *out = attempt;
                    return true;
                }
            }
            false
        }
    }
}

fn capture(op: Option<char>, vars: &[VarSpec], text: &str, out: &mut Map<String, Value>) -> bool {
    let (prefix, sep) = match op {
        None | Some('+') => ("", ','),
        Some('#') => ("#", ','),
        Some('.') => (".", '.'),
        Some('/') => ("/", '/'),
        Some(';') => (";", ';'),
        Some('?') => ("?", '&'),
        Some('&') => ("&", '&'),
        Some(_) => return false,
    };
    if text.is_empty() {
        // Optional query / fragment expressions may expand to nothing.
        return matches!(op, Some('?') | Some('&') | Some('#'));
    }
    let Some(body) = text.strip_prefix(prefix) else { return false };
    if matches!(op, Some('?') | Some('&') | Some(';')) {
        for pair in body.split(sep) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let Some(var) = vars.iter().find(|v| v.name == k) else { return false };
            let Some(v) = decode(v) else { return false };
            if var.explode {
                let entry = out.entry(k.to_owned()).or_insert_with(|| Value::Array(Vec::new()));
                if let Value::Array(a) = entry {
                    a.push(Value::String(v));
                }
            } else {
                out.insert(k.to_owned(), Value::String(v));
            }
        }
        return true;
    }
    let mut pieces: Vec<&str> = body.split(sep).collect();
    if pieces.iter().any(|p| p.is_empty()) {
        return false;
    }
    for var in vars {
        if pieces.is_empty() {
            break;
        }
        if var.explode {
            let all: Option<Vec<Value>> = pieces.drain(..).map(|p| decode(p).map(Value::String)).collect();
            let Some(all) = all else { return false };
            out.insert(var.name.clone(), Value::Array(all));
        } else {
            let p = pieces.remove(0);
            let Some(v) = decode(p) else { return false };
            out.insert(var.name.clone(), Value::String(v));
        }
    }
    // Leftover pieces mean the separator was part of a single value: only valid for `+`/`#`
    // with one variable, where commas are allowed inside the value.
    if !pieces.is_empty() {
        if matches!(op, Some('+') | Some('#')) && vars.len() == 1 {
            let Some(v) = decode(body) else { return false };
            out.insert(vars[0].name.clone(), Value::String(v));
            return true;
        }
        return false;
    }
    true
}

fn decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn m(t: &str, uri: &str) -> Option<Value> {
        UriTemplate::parse(t).unwrap().matches(uri).map(Value::Object)
    }

    #[test]
    fn simple_variables() {
        assert_eq!(m("test://template/{id}/data", "test://template/42/data"), Some(json!({"id": "42"})));
        assert_eq!(m("test://template/{id}/data", "test://template/4/2/data"), None);
        assert_eq!(m("test://template/{id}/data", "test://template//data"), None);
        assert_eq!(m("blog://posts/{id}", "blog://posts/hello%20world"), Some(json!({"id": "hello world"})));
        assert_eq!(m("blog://posts/{id}", "blog://posts/7?x"), None);
        assert_eq!(m("x://{a}-{b}", "x://one-two"), Some(json!({"a": "one", "b": "two"})));
        assert_eq!(m("x://{a},{b}", "x://1,2"), Some(json!({"a": "1", "b": "2"})));
    }

    #[test]
    fn reserved_and_paths() {
        assert_eq!(m("file:///{+path}", "file:///etc/hosts"), Some(json!({"path": "etc/hosts"})));
        assert_eq!(m("repo://x{/seg*}", "repo://x/a/b/c"), Some(json!({"seg": ["a", "b", "c"]})));
        assert_eq!(m("repo://x{/a,b}", "repo://x/1/2"), Some(json!({"a": "1", "b": "2"})));
        assert_eq!(m("doc://{name}{.ext}", "doc://readme.md"), Some(json!({"name": "readme", "ext": "md"})));
    }

    #[test]
    fn queries_are_optional() {
        assert_eq!(
            m("search://items{?q,limit}", "search://items?q=rust&limit=5"),
            Some(json!({"q": "rust", "limit": "5"}))
        );
        assert_eq!(m("search://items{?q,limit}", "search://items"), Some(json!({})));
        assert_eq!(m("search://items{?q}", "search://items?zzz=1"), None);
    }

    #[test]
    fn bad_templates() {
        assert!(UriTemplate::parse("x://{id").is_err());
        assert!(UriTemplate::parse("x://id}").is_err());
        assert!(UriTemplate::parse("x://{}").is_err());
        assert!(UriTemplate::parse("x://{=id}").is_err());
        assert!(UriTemplate::parse("x://{a b}").is_err());
    }

    #[test]
    fn long_uris_do_not_blow_up() {
        let t = UriTemplate::parse("x://{a}{b}{c}/end").unwrap();
        let uri = format!("x://{}", "a".repeat(5000));
        assert_eq!(t.matches(&uri), None);
        let too_long = format!("x://{}/end", "a".repeat(MAX_URI_LEN));
        assert_eq!(t.matches(&too_long), None);
    }
}
