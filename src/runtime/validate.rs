//! Strict reading of the OCI JSON documents an operator hands ocictl (a
//! `process.json` for exec, a `LinuxResources` file for update): a wrong type
//! or an unknown field is reported with the file, the line and the field's
//! path (`memory.limit`), before the runtime ever sees the document.

use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

use super::error::{Error, Result};

/// Parse `text` (read from `source`, a file name or "standard input") as a
/// `T`, rejecting wrong types and fields `T` does not know.
pub fn parse_strict<T>(text: &str, source: &str, what: &str) -> Result<T>
where
    T: DeserializeOwned + Serialize,
{
    let mut de = serde_json::Deserializer::from_str(text);
    let value: T = match serde_path_to_error::deserialize(&mut de) {
        Ok(v) => v,
        Err(e) => {
            let path = e.path().to_string();
            let inner = e.into_inner();
            let field = if path.is_empty() || path == "." {
                String::new()
            } else {
                format!(", field `{path}`")
            };
            let why = strip_position(&inner.to_string());
            return Err(Error::Invalid(format!(
                "{source} is not {what}: line {}{field}: {why}",
                inner.line()
            )));
        }
    };
    if let Err(e) = de.end() {
        return Err(Error::Invalid(format!(
            "{source} is not {what}: line {}: {}",
            e.line(),
            strip_position(&e.to_string())
        )));
    }
    // Fields serde skipped are the ones the type does not know: compare the
    // document with what the parsed value writes back.
    let original: Value = serde_json::from_str(text)
        .map_err(|e| Error::Invalid(format!("{source} is not valid JSON: {e}")))?;
    let back = serde_json::to_value(&value)
        .map_err(|e| Error::Invalid(format!("{source}: cannot re-encode {what}: {e}")))?;
    if let Some(path) = unknown_field(&original, &back, &mut Vec::new()) {
        let line = line_of_path(text, &path)
            .map(|l| format!("line {l}, "))
            .unwrap_or_default();
        return Err(Error::Invalid(format!(
            "{source} is not {what}: {line}unknown field `{}`",
            path.join(".")
        )));
    }
    Ok(value)
}

/// serde_json appends " at line L column C"; the message says the line itself.
fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_string(),
        None => message.to_string(),
    }
}

/// The path of the first key of `original` that `back` lacks (null values
/// are "absent" in both).
fn unknown_field(original: &Value, back: &Value, path: &mut Vec<String>) -> Option<Vec<String>> {
    match (original, back) {
        (Value::Object(o), Value::Object(b)) => {
            for (key, value) in o {
                if value.is_null() {
                    continue;
                }
                path.push(key.clone());
                match b.get(key) {
                    None => return Some(path.clone()),
                    Some(bv) => {
                        if let Some(p) = unknown_field(value, bv, path) {
                            return Some(p);
                        }
                    }
                }
                path.pop();
            }
            None
        }
        (Value::Array(o), Value::Array(b)) => {
            for (i, (ov, bv)) in o.iter().zip(b).enumerate() {
                path.push(i.to_string());
                if let Some(p) = unknown_field(ov, bv, path) {
                    return Some(p);
                }
                path.pop();
            }
            None
        }
        _ => None,
    }
}

/// The 1-based line on which the key at `path` appears in `text`: a small
/// scanner that tracks object keys and array indices.
fn line_of_path(text: &str, path: &[String]) -> Option<usize> {
    enum Frame {
        Object { key: Option<String> },
        Array { index: usize },
    }
    let bytes = text.as_bytes();
    let mut stack: Vec<Frame> = Vec::new();
    let mut line = 1;
    let mut i = 0;
    let mut expecting_key = false;
    let current = |stack: &[Frame]| -> Vec<String> {
        stack
            .iter()
            .map(|f| match f {
                Frame::Object { key } => key.clone().unwrap_or_default(),
                Frame::Array { index } => index.to_string(),
            })
            .collect()
    };
    while i < bytes.len() {
        match bytes[i] {
            b'\n' => line += 1,
            b'{' => {
                stack.push(Frame::Object { key: None });
                expecting_key = true;
            }
            b'[' => stack.push(Frame::Array { index: 0 }),
            b'}' | b']' => {
                stack.pop();
            }
            b',' => match stack.last_mut() {
                Some(Frame::Array { index }) => *index += 1,
                Some(Frame::Object { .. }) => expecting_key = true,
                None => {}
            },
            b'"' => {
                let start = i + 1;
                i += 1;
                while i < bytes.len() && bytes[i] != b'"' {
                    if bytes[i] == b'\\' {
                        i += 1;
                    }
                    i += 1;
                }
                if expecting_key {
                    let key: String =
                        serde_json::from_str(&text[start - 1..=i.min(text.len() - 1)])
                            .unwrap_or_default();
                    if let Some(Frame::Object { key: k }) = stack.last_mut() {
                        *k = Some(key);
                    }
                    expecting_key = false;
                    if current(&stack) == path {
                        return Some(line);
                    }
                }
            }
            _ => {}
        }
        i += 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::runtime::{LinuxResources, Process};

    #[test]
    fn wrong_type_names_line_and_field() {
        let text = "{\n  \"memory\": {\n    \"limit\": \"lots\"\n  }\n}\n";
        let err = parse_strict::<LinuxResources>(text, "r.json", "resources")
            .unwrap_err()
            .to_string();
        assert!(err.contains("r.json"), "{err}");
        assert!(err.contains("line 3"), "{err}");
        assert!(err.contains("memory.limit"), "{err}");
    }

    #[test]
    fn unknown_field_names_line_and_path() {
        let text = "{\n  \"cpu\": {\n    \"shares\": 5,\n    \"sharez\": 7\n  }\n}\n";
        let err = parse_strict::<LinuxResources>(text, "r.json", "resources")
            .unwrap_err()
            .to_string();
        assert!(err.contains("unknown field `cpu.sharez`"), "{err}");
        assert!(err.contains("line 4"), "{err}");
    }

    #[test]
    fn good_documents_pass() {
        let r: LinuxResources = parse_strict(
            r#"{"memory":{"limit":1024,"swap":null},"pids":{"limit":3}}"#,
            "-",
            "x",
        )
        .unwrap();
        assert_eq!(r.pids().as_ref().unwrap().limit(), 3);
        let p: Process = parse_strict(
            r#"{"args":["sh"],"cwd":"/","user":{"uid":0,"gid":0},"env":["A=1"]}"#,
            "p.json",
            "a process",
        )
        .unwrap();
        assert_eq!(p.args().as_ref().unwrap()[0], "sh");
    }

    #[test]
    fn syntax_errors_and_trailing_garbage() {
        let err = parse_strict::<Process>("{\n\"args\": [\"sh\",\n", "p.json", "a process")
            .unwrap_err()
            .to_string();
        assert!(err.contains("p.json") && err.contains("line"), "{err}");
        assert!(parse_strict::<Process>("{} x", "p.json", "a process").is_err());
    }
}
