//! Reading the runtime's own error message out of what it wrote: logrus text
//! lines (`time="…" level=error msg="…"`), JSON log lines
//! (`{"level":"error","msg":"…"}`), or plain text.

/// The most useful error message in `text`: the last error-level log
/// message; else the last plain line that is not a log record; else the last
/// non-empty line. Empty when `text` has no content.
pub fn error_message(text: &str) -> String {
    let mut last_error = None;
    let mut last_plain = None;
    let mut last_any = None;
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        last_any = Some(line);
        match parse_log_line(line) {
            Some(record)
                if record.level.eq_ignore_ascii_case("error")
                    || record.level.eq_ignore_ascii_case("fatal") =>
            {
                last_error = Some(record.msg)
            }
            Some(_) => {}
            None => last_plain = Some(line.to_string()),
        }
    }
    last_error
        .or(last_plain)
        .or(last_any.map(str::to_string))
        .unwrap_or_default()
}

/// One structured log record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogRecord {
    pub level: String,
    pub msg: String,
}

/// Parse one line of runc's log in either format; `None` when it is not one.
pub fn parse_log_line(line: &str) -> Option<LogRecord> {
    let line = line.trim();
    if line.starts_with('{') {
        let value: serde_json::Value = serde_json::from_str(line).ok()?;
        let level = value.get("level")?.as_str()?.to_string();
        let msg = value
            .get("msg")
            .or_else(|| value.get("message"))
            .and_then(|m| m.as_str())
            .unwrap_or_default()
            .to_string();
        return Some(LogRecord { level, msg });
    }
    let fields = parse_logfmt(line)?;
    let level = fields.iter().find(|(k, _)| k == "level")?.1.clone();
    let msg = fields
        .iter()
        .find(|(k, _)| k == "msg")
        .map(|(_, v)| v.clone())
        .unwrap_or_default();
    Some(LogRecord { level, msg })
}

/// logfmt as logrus writes it: `key=value` or `key="quoted \"value\""`.
/// `None` unless every word is a key=value pair.
fn parse_logfmt(line: &str) -> Option<Vec<(String, String)>> {
    let mut fields = Vec::new();
    let mut chars = line.chars().peekable();
    loop {
        while chars.peek() == Some(&' ') {
            chars.next();
        }
        if chars.peek().is_none() {
            break;
        }
        let mut key = String::new();
        for c in chars.by_ref() {
            if c == '=' {
                break;
            }
            if c == ' ' || c == '"' {
                return None;
            }
            key.push(c);
        }
        if key.is_empty() {
            return None;
        }
        let mut value = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            let mut closed = false;
            while let Some(c) = chars.next() {
                match c {
                    '\\' => match chars.next() {
                        Some('n') => value.push('\n'),
                        Some('t') => value.push('\t'),
                        Some(other) => value.push(other),
                        None => return None,
                    },
                    '"' => {
                        closed = true;
                        break;
                    }
                    c => value.push(c),
                }
            }
            if !closed {
                return None;
            }
        } else {
            while let Some(&c) = chars.peek() {
                if c == ' ' {
                    break;
                }
                value.push(c);
                chars.next();
            }
        }
        fields.push((key, value));
    }
    (!fields.is_empty()).then_some(fields)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logrus_text() {
        let text = "time=\"2026-11-28T19:00:00Z\" level=warning msg=\"hm\"\ntime=\"2026-11-28T19:00:00Z\" level=error msg=\"container \\\"x\\\" does not exist\"\n";
        assert_eq!(error_message(text), "container \"x\" does not exist");
    }

    #[test]
    fn json_lines() {
        let text = "{\"level\":\"info\",\"msg\":\"a\"}\n{\"level\":\"error\",\"msg\":\"boom\",\"time\":\"t\"}\n";
        assert_eq!(error_message(text), "boom");
    }

    #[test]
    fn plain_text_and_garbage() {
        assert_eq!(
            error_message("\n  container does not exist \n\n"),
            "container does not exist"
        );
        assert_eq!(error_message(""), "");
        assert_eq!(error_message("level=info msg=x"), "level=info msg=x");
        assert_eq!(error_message("{not json"), "{not json");
        assert_eq!(error_message("key=\"unterminated"), "key=\"unterminated");
    }

    #[test]
    fn prefers_error_records_over_plain_lines() {
        let text = "some noise\nlevel=error msg=real\n";
        assert_eq!(error_message(text), "real");
    }
}
