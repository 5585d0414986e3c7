//! Reading the OCI JSON documents runc reads (a bundle's config.json, a
//! `process.json` for exec, a `LinuxResources` document for update) as
//! loosely as runc does, which is as Go's encoding/json does: object keys
//! match field names case-insensitively (`CPU` is `cpu`), unknown fields
//! are ignored, missing fields and `null` are the zero value, and a name
//! in a list that ocictl's types do not know (a capability newer than
//! them, `CAP_UNKNOWN`) is left out (runc warns and carries on). What was
//! ignored is returned, for a warning. A value of the wrong type is still
//! an error, with the file, the line and the field's path (`memory.limit`).
//!
//! This is one serde `Deserializer` over a parsed `serde_json::Value`: it
//! gets each struct's field names from serde, so it needs nothing per type.
//! (Over 600 lines: a serde `Deserializer` has that many entry points.)

use std::cell::RefCell;

use serde::de::{
    self, DeserializeOwned, DeserializeSeed, Deserializer as _, IntoDeserializer, Visitor,
};
use serde_json::Value;

use super::error::{Error, Result};

/// A document read the Go way, and what in it was left out.
#[derive(Debug)]
pub struct Decoded<T> {
    pub value: T,
    /// Paths (`cpu.sharez`, `process.capabilities.bounding.0`) of unknown
    /// fields and of list entries that were not understood.
    pub ignored: Vec<String>,
}

impl<T> Decoded<T> {
    /// The value, after a warning (a `tracing` one: shown with `--debug`)
    /// for what was ignored in `source`. runc ignores the same silently, so
    /// stderr stays as runc's callers expect it.
    pub fn warn_ignored(self, source: &str) -> T {
        for path in &self.ignored {
            tracing::warn!(%source, field = %path, "ignored: not a field (or value) ocictl knows");
        }
        self.value
    }
}

/// At most this many unknown list entries are left out of one document
/// (each costs one more pass).
const MAX_DROPPED: usize = 256;

/// Parse `text` (read from `source`, a file name or "standard input") as a
/// `T` the way runc's Go decoder would; `what` names the kind of document
/// in errors ("an OCI process spec").
pub fn decode_document<T: DeserializeOwned>(
    text: &str,
    source: &str,
    what: &str,
) -> Result<Decoded<T>> {
    let mut value: Value = serde_json::from_str(text).map_err(|e| {
        Error::Invalid(format!(
            "{source} is not {what}: line {}: {}",
            e.line(),
            strip_position(&e.to_string())
        ))
    })?;
    let mut dropped = Vec::new();
    loop {
        let ignored = RefCell::new(Vec::new());
        let de = GoValue {
            value: Some(&value),
            path: String::new(),
            ignored: &ignored,
        };
        let err = match serde_path_to_error::deserialize::<_, T>(de) {
            Ok(v) => {
                let mut ignored = ignored.into_inner();
                ignored.extend(dropped);
                return Ok(Decoded { value: v, ignored });
            }
            Err(e) => e,
        };
        let path: Vec<String> = err
            .path()
            .iter()
            .filter_map(|s| match s {
                serde_path_to_error::Segment::Seq { index } => Some(index.to_string()),
                serde_path_to_error::Segment::Map { key } => Some(key.clone()),
                serde_path_to_error::Segment::Enum { variant } => Some(variant.clone()),
                serde_path_to_error::Segment::Unknown => None,
            })
            .collect();
        // A string in a list that the type refused for its content (not
        // its JSON type): Go would have taken it as a string. Leave it out.
        let refused_content = !err.inner().to_string().starts_with("invalid type");
        if refused_content && dropped.len() < MAX_DROPPED && remove_string_entry(&mut value, &path)
        {
            dropped.push(path.join("."));
            continue;
        }
        let field = if path.is_empty() {
            String::new()
        } else {
            format!(", field `{}`", path.join("."))
        };
        let line = line_of_path(text, &path).unwrap_or(1);
        let why = strip_position(&err.into_inner().to_string());
        return Err(Error::Invalid(format!(
            "{source} is not {what}: line {line}{field}: {why}"
        )));
    }
}

/// Remove the entry at `path` when it is a string inside an array whose
/// other entries are strings too (a list of names).
fn remove_string_entry(value: &mut Value, path: &[String]) -> bool {
    let Some((last, parent)) = path.split_last() else {
        return false;
    };
    let mut node = value;
    for key in parent {
        node = match node {
            Value::Object(map) => match find_key(map, key) {
                Some(k) => &mut map[&k],
                None => return false,
            },
            Value::Array(items) => match key.parse::<usize>().ok().and_then(|i| items.get_mut(i)) {
                Some(v) => v,
                None => return false,
            },
            _ => return false,
        };
    }
    let (Value::Array(items), Ok(index)) = (node, last.parse::<usize>()) else {
        return false;
    };
    if !items.iter().all(Value::is_string) || index >= items.len() {
        return false;
    }
    items.remove(index);
    true
}

/// The key of `map` that a Go decoder would match with `name`.
fn find_key(map: &serde_json::Map<String, Value>, name: &str) -> Option<String> {
    if map.contains_key(name) {
        return Some(name.to_string());
    }
    map.keys().find(|k| k.eq_ignore_ascii_case(name)).cloned()
}

/// serde_json appends " at line L column C"; the message says the line itself.
fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_string(),
        None => message.to_string(),
    }
}

/// A node of the document (`None`: a field it does not have, read as the
/// zero value), and where it is.
struct GoValue<'a> {
    value: Option<&'a Value>,
    path: String,
    ignored: &'a RefCell<Vec<String>>,
}

impl<'a> GoValue<'a> {
    fn child(&self, value: Option<&'a Value>, key: &str) -> GoValue<'a> {
        GoValue {
            value,
            path: if self.path.is_empty() {
                key.to_string()
            } else {
                format!("{}.{key}", self.path)
            },
            ignored: self.ignored,
        }
    }

    /// `null` and a missing field are both Go's zero value.
    fn present(&self) -> Option<&'a Value> {
        self.value.filter(|v| !v.is_null())
    }
}

type DeError = serde_json::Error;

/// Primitives: the zero value when absent, else the JSON value's own
/// (strict) conversion.
macro_rules! primitive {
    ($($method:ident => $zero:expr),* $(,)?) => {$(
        fn $method<V: Visitor<'a>>(self, visitor: V) -> std::result::Result<V::Value, DeError> {
            match self.present() {
                Some(v) => v.$method(visitor),
                #[allow(clippy::redundant_closure_call)]
                None => ($zero)(visitor),
            }
        }
    )*};
}

impl<'a> de::Deserializer<'a> for GoValue<'a> {
    type Error = DeError;

    fn deserialize_any<V: Visitor<'a>>(self, visitor: V) -> std::result::Result<V::Value, DeError> {
        match self.present() {
            None => visitor.visit_unit(),
            Some(Value::Object(map)) => visitor.visit_map(GoMap::new(self, map, None)),
            Some(Value::Array(items)) => visitor.visit_seq(GoSeq::new(self, items)),
            Some(v) => v.deserialize_any(visitor),
        }
    }

    primitive! {
        deserialize_bool => |v: V| v.visit_bool(false),
        deserialize_i8 => |v: V| v.visit_i64(0),
        deserialize_i16 => |v: V| v.visit_i64(0),
        deserialize_i32 => |v: V| v.visit_i64(0),
        deserialize_i64 => |v: V| v.visit_i64(0),
        deserialize_i128 => |v: V| v.visit_i64(0),
        deserialize_u8 => |v: V| v.visit_u64(0),
        deserialize_u16 => |v: V| v.visit_u64(0),
        deserialize_u32 => |v: V| v.visit_u64(0),
        deserialize_u64 => |v: V| v.visit_u64(0),
        deserialize_u128 => |v: V| v.visit_u64(0),
        deserialize_f32 => |v: V| v.visit_f64(0.0),
        deserialize_f64 => |v: V| v.visit_f64(0.0),
        deserialize_char => |v: V| v.visit_char('\0'),
        deserialize_str => |v: V| v.visit_str(""),
        deserialize_string => |v: V| v.visit_str(""),
        deserialize_bytes => |v: V| v.visit_bytes(b""),
        deserialize_byte_buf => |v: V| v.visit_bytes(b""),
        deserialize_unit => |v: V| v.visit_unit(),
        deserialize_identifier => |v: V| v.visit_str(""),
    }

    fn deserialize_option<V: Visitor<'a>>(
        self,
        visitor: V,
    ) -> std::result::Result<V::Value, DeError> {
        match self.present() {
            None => visitor.visit_none(),
            Some(_) => visitor.visit_some(self),
        }
    }

    fn deserialize_unit_struct<V: Visitor<'a>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> std::result::Result<V::Value, DeError> {
        match self.present() {
            None => visitor.visit_unit(),
            Some(v) => v.deserialize_unit_struct(name, visitor),
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'a>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> std::result::Result<V::Value, DeError> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_seq<V: Visitor<'a>>(self, visitor: V) -> std::result::Result<V::Value, DeError> {
        match self.present() {
            None => visitor.visit_seq(GoSeq::new(self, &[])),
            Some(Value::Array(items)) => visitor.visit_seq(GoSeq::new(self, items)),
            Some(v) => v.deserialize_seq(visitor),
        }
    }

    fn deserialize_tuple<V: Visitor<'a>>(
        self,
        _len: usize,
        visitor: V,
    ) -> std::result::Result<V::Value, DeError> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_tuple_struct<V: Visitor<'a>>(
        self,
        _name: &'static str,
        _len: usize,
        visitor: V,
    ) -> std::result::Result<V::Value, DeError> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_map<V: Visitor<'a>>(self, visitor: V) -> std::result::Result<V::Value, DeError> {
        self.deserialize_fields(None, visitor)
    }

    fn deserialize_struct<V: Visitor<'a>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> std::result::Result<V::Value, DeError> {
        self.deserialize_fields(Some(fields), visitor)
    }

    fn deserialize_enum<V: Visitor<'a>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> std::result::Result<V::Value, DeError> {
        match self.value {
            Some(v) => v.deserialize_enum(name, variants, visitor),
            None => Value::Null.deserialize_enum(name, variants, visitor),
        }
    }

    fn deserialize_ignored_any<V: Visitor<'a>>(
        self,
        visitor: V,
    ) -> std::result::Result<V::Value, DeError> {
        visitor.visit_unit()
    }
}

impl<'a> GoValue<'a> {
    fn deserialize_fields<V: Visitor<'a>>(
        self,
        fields: Option<&'static [&'static str]>,
        visitor: V,
    ) -> std::result::Result<V::Value, DeError> {
        static EMPTY: std::sync::LazyLock<serde_json::Map<String, Value>> =
            std::sync::LazyLock::new(serde_json::Map::new);
        match self.present() {
            None => visitor.visit_map(GoMap::new(self, &EMPTY, fields)),
            Some(Value::Object(map)) => visitor.visit_map(GoMap::new(self, map, fields)),
            Some(v) => v.deserialize_map(visitor),
        }
    }
}

/// An object: its keys matched to a struct's fields the Go way, then the
/// fields it lacks, as zero values.
struct GoMap<'a> {
    node: GoValue<'a>,
    entries: serde_json::map::Iter<'a>,
    fields: Option<&'static [&'static str]>,
    seen: Vec<&'static str>,
    missing: usize,
    next: Option<(Option<&'a Value>, String)>,
}

impl<'a> GoMap<'a> {
    fn new(
        node: GoValue<'a>,
        map: &'a serde_json::Map<String, Value>,
        fields: Option<&'static [&'static str]>,
    ) -> GoMap<'a> {
        GoMap {
            node,
            entries: map.iter(),
            fields,
            seen: Vec::new(),
            missing: 0,
            next: None,
        }
    }
}

impl<'a> de::MapAccess<'a> for GoMap<'a> {
    type Error = DeError;

    fn next_key_seed<K: DeserializeSeed<'a>>(
        &mut self,
        seed: K,
    ) -> std::result::Result<Option<K::Value>, DeError> {
        let Some(fields) = self.fields else {
            // A map: keys as they are.
            return match self.entries.next() {
                Some((key, value)) => {
                    self.next = Some((Some(value), key.clone()));
                    seed.deserialize(key.as_str().into_deserializer()).map(Some)
                }
                None => Ok(None),
            };
        };
        for (key, value) in self.entries.by_ref() {
            // Go prefers an exact match, then any case-insensitive one.
            let field = fields
                .iter()
                .find(|f| **f == key)
                .or_else(|| fields.iter().find(|f| f.eq_ignore_ascii_case(key)));
            match field {
                Some(f) if !self.seen.contains(f) => {
                    self.seen.push(f);
                    self.next = Some((Some(value), key.clone()));
                    return seed.deserialize((*f).into_deserializer()).map(Some);
                }
                // Unknown, or a second spelling of a field already read.
                _ => self
                    .node
                    .ignored
                    .borrow_mut()
                    .push(self.node.child(None, key).path),
            }
        }
        while let Some(f) = fields.get(self.missing) {
            self.missing += 1;
            if !self.seen.contains(f) {
                self.next = Some((None, (*f).to_string()));
                return seed.deserialize((*f).into_deserializer()).map(Some);
            }
        }
        Ok(None)
    }

    fn next_value_seed<S: DeserializeSeed<'a>>(
        &mut self,
        seed: S,
    ) -> std::result::Result<S::Value, DeError> {
        let (value, key) = self
            .next
            .take()
            .ok_or_else(|| de::Error::custom("a value was asked for before its key"))?;
        seed.deserialize(self.node.child(value, &key))
    }
}

/// An array's entries, each read the Go way.
struct GoSeq<'a> {
    node: GoValue<'a>,
    items: std::iter::Enumerate<std::slice::Iter<'a, Value>>,
}

impl<'a> GoSeq<'a> {
    fn new(node: GoValue<'a>, items: &'a [Value]) -> GoSeq<'a> {
        GoSeq {
            node,
            items: items.iter().enumerate(),
        }
    }
}

impl<'a> de::SeqAccess<'a> for GoSeq<'a> {
    type Error = DeError;

    fn next_element_seed<T: DeserializeSeed<'a>>(
        &mut self,
        seed: T,
    ) -> std::result::Result<Option<T::Value>, DeError> {
        match self.items.next() {
            Some((i, item)) => seed
                .deserialize(self.node.child(Some(item), &i.to_string()))
                .map(Some),
            None => Ok(None),
        }
    }
}

/// The 1-based line on which the key at `path` appears in `text` (keys
/// compared as a Go decoder matches them): a small scanner that tracks
/// object keys and array indices.
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
    let matches = |stack: &[Frame]| -> bool {
        stack.len() == path.len()
            && stack.iter().zip(path).all(|(f, p)| match f {
                Frame::Object { key } => key.as_deref().is_some_and(|k| k.eq_ignore_ascii_case(p)),
                Frame::Array { index } => index.to_string() == *p,
            })
    };
    while i < bytes.len() {
        match bytes[i] {
            b'\n' => line += 1,
            b'{' => {
                stack.push(Frame::Object { key: None });
                expecting_key = true;
            }
            b'[' => {
                stack.push(Frame::Array { index: 0 });
                if matches(&stack) {
                    return Some(line);
                }
            }
            b'}' | b']' => {
                stack.pop();
            }
            b',' => match stack.last_mut() {
                Some(Frame::Array { index }) => {
                    *index += 1;
                    if matches(&stack) {
                        return Some(line);
                    }
                }
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
                    if matches(&stack) {
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
    use oci_spec::runtime::{Capability, LinuxResources, Process, Spec};

    #[test]
    fn wrong_type_names_line_and_field() {
        let text = "{\n  \"memory\": {\n    \"limit\": \"lots\"\n  }\n}\n";
        let err = decode_document::<LinuxResources>(text, "r.json", "resources")
            .unwrap_err()
            .to_string();
        assert!(err.contains("r.json"), "{err}");
        assert!(err.contains("line 3"), "{err}");
        assert!(err.contains("memory.limit"), "{err}");
    }

    #[test]
    fn unknown_fields_are_ignored_and_reported() {
        let text = "{\n  \"cpu\": {\n    \"shares\": 5,\n    \"sharez\": 7\n  }\n}\n";
        let d = decode_document::<LinuxResources>(text, "r.json", "resources").unwrap();
        assert_eq!(d.value.cpu().as_ref().unwrap().shares(), Some(5));
        assert_eq!(d.ignored, ["cpu.sharez"]);
    }

    #[test]
    fn keys_match_fields_case_insensitively() {
        let d = decode_document::<LinuxResources>(
            r#"{"CPU":{"Cpus":"0","MEMS":"0"},"Pids":{"limit":3}}"#,
            "-",
            "x",
        )
        .unwrap();
        let cpu = d.value.cpu().as_ref().unwrap();
        assert_eq!(cpu.cpus().as_deref(), Some("0"));
        assert_eq!(cpu.mems().as_deref(), Some("0"));
        assert_eq!(d.value.pids().as_ref().unwrap().limit(), 3);
        assert!(d.ignored.is_empty(), "{:?}", d.ignored);
    }

    #[test]
    fn missing_fields_and_nulls_are_zero() {
        let p: Process = decode_document(r#"{"args":["sh"],"cwd":"/"}"#, "p.json", "a process")
            .unwrap()
            .value;
        assert_eq!(p.user().uid(), 0);
        assert_eq!(p.user().gid(), 0);
        let p: Process = decode_document(
            r#"{"args":["sh"],"cwd":"/","user":null,"env":null}"#,
            "p.json",
            "a process",
        )
        .unwrap()
        .value;
        assert_eq!(p.user().uid(), 0);
    }

    #[test]
    fn unknown_names_in_lists_are_left_out() {
        let text = r#"{"ociVersion":"1.0.2","process":{"cwd":"/","args":["sh"],
            "capabilities":{"bounding":["CAP_UNKNOWN","CAP_KILL","UNKNOWN_CAP"]}}}"#;
        let d: Decoded<Spec> = decode_document(text, "config.json", "a spec").unwrap();
        let caps = d.value.process().as_ref().unwrap().capabilities().clone();
        let bounding = caps.unwrap().bounding().clone().unwrap();
        assert_eq!(bounding.into_iter().collect::<Vec<_>>(), [Capability::Kill]);
        assert_eq!(d.ignored.len(), 2, "{:?}", d.ignored);
    }

    /// The one pattern oci-spec matches (vendor/README.md: regex-lite in
    /// place of regex): CPU lists decode, anything else is an error naming
    /// the field, never a panic. Digits are ASCII only, as runc's are.
    #[test]
    fn exec_cpu_affinity_is_checked_by_its_pattern() {
        let process = |affinity: &str| {
            format!(
                r#"{{"args":["sh"],"cwd":"/","execCPUAffinity":{{"initial":"{affinity}","final":"2"}}}}"#
            )
        };
        for good in ["0", "0-3,7", "1,2,3-4"] {
            let p: Process = decode_document(&process(good), "p.json", "a process")
                .unwrap()
                .value;
            let affinity = p.exec_cpu_affinity().clone().unwrap();
            assert_eq!(affinity.initial().as_deref(), Some(good));
        }
        for bad in ["", "x", "0-", "1,,2", "٣", "0-3;rm"] {
            let err = decode_document::<Process>(&process(bad), "p.json", "a process")
                .unwrap_err()
                .to_string();
            assert!(err.contains("execCPUAffinity"), "{bad:?}: {err}");
        }
    }

    #[test]
    fn syntax_errors_and_trailing_garbage() {
        let err = decode_document::<Process>("{\n\"args\": [\"sh\",\n", "p.json", "a process")
            .unwrap_err()
            .to_string();
        assert!(err.contains("p.json") && err.contains("line"), "{err}");
        assert!(decode_document::<Process>("{} x", "p.json", "a process").is_err());
        // A number is still not a list of strings.
        let err = decode_document::<Process>(r#"{"args":[1]}"#, "p.json", "a process")
            .unwrap_err()
            .to_string();
        assert!(err.contains("args.0"), "{err}");
    }
}
