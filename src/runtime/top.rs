//! go-runc's `Top`: `runc ps ID [ps options]`, the host's ps table parsed
//! into headers and rows.

use serde::Serialize;

use super::error::{Error, Result};
use super::id::ContainerId;
use super::Runtime;

/// A ps table: the header names and one row per process, each row with as
/// many cells as there are headers (the last, the command, kept whole).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct TopResults {
    pub headers: Vec<String>,
    pub processes: Vec<Vec<String>>,
}

/// Thread-id columns: a row whose thread id differs from its PID is a
/// thread of that process, not a process (`ps -L`, `ps -T`).
const THREAD_COLUMNS: &[&str] = &["LWP", "SPID", "TID"];

/// Parse ps output (go-runc's `ParsePSOutput`, with its gaps closed): rows
/// of threads are skipped (`-` in the PID column as `ps -m` prints them, or a
/// thread id that is not the PID), the last column keeps its spaces, and a
/// table without a PID column is an error saying so.
pub fn parse_ps_output(output: &str) -> std::result::Result<TopResults, String> {
    let mut lines = output.lines().filter(|l| !l.trim().is_empty());
    let header = lines.next().ok_or("ps printed nothing")?;
    let headers: Vec<String> = header.split_whitespace().map(str::to_string).collect();
    let pid_index = headers.iter().position(|h| h == "PID").ok_or_else(|| {
        format!(
            "the ps output has no PID column (its columns are {}): keep `pid` in the ps options, e.g. `-o pid,comm`",
            headers.join(" ")
        )
    })?;
    let thread_index = headers
        .iter()
        .position(|h| THREAD_COLUMNS.contains(&h.as_str()));
    let columns = headers.len();
    let mut processes = Vec::new();
    for line in lines {
        let fields = split_fields(line, columns);
        if fields.len() < columns {
            // A short row cannot be matched to the headers.
            return Err(format!(
                "a ps row has {} columns where the header has {columns}: {line:?}",
                fields.len()
            ));
        }
        let pid = &fields[pid_index];
        if pid == "-" {
            continue;
        }
        if let Some(t) = thread_index {
            if fields[t] != *pid && fields[t] != "-" {
                continue;
            }
        }
        processes.push(fields);
    }
    Ok(TopResults { headers, processes })
}

/// The first `columns - 1` whitespace-separated fields, then the rest of
/// the line as it is (the command with its own spacing).
fn split_fields(line: &str, columns: usize) -> Vec<String> {
    let mut fields = Vec::with_capacity(columns);
    let mut rest = line.trim();
    while !rest.is_empty() {
        if fields.len() + 1 == columns {
            fields.push(rest.to_string());
            break;
        }
        let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
        fields.push(rest[..end].to_string());
        rest = rest[end..].trim_start();
    }
    fields
}

impl Runtime {
    /// `runc ps ID [PS-OPTIONS…]` parsed (runc's default options are `-ef`).
    pub fn top(&self, id: &ContainerId, ps_options: &[String]) -> Result<TopResults> {
        let text = self
            .ps_table(id, ps_options)
            .map_err(|e| match e.runtime_message() {
                // runc checks for the PID column itself.
                Some(m) if m.contains("PID field") => Error::Invalid(format!(
                "the ps options {:?} drop the PID column: keep `pid` in them, e.g. `-o pid,comm`",
                ps_options.join(" ")
            )),
                _ => e,
            })?;
        parse_ps_output(&text).map_err(|detail| {
            Error::Invalid(format!(
                "cannot read the process table of container {id}: {detail}"
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_keep_their_spaces() {
        let t = parse_ps_output(
            "UID  PID PPID C STIME TTY TIME CMD\nroot 5 1 0 19:07 ? 00:00:00 sh -c  'a  b'\n",
        )
        .unwrap();
        assert_eq!(t.headers.len(), 8);
        assert_eq!(t.processes[0][7], "sh -c  'a  b'");
        assert_eq!(t.processes[0][1], "5");
    }

    #[test]
    fn ps_m_thread_rows_are_skipped() {
        let t = parse_ps_output(
            "  PID TTY      TIME CMD\n   12 ?    00:00:00 app\n    - -    00:00:00 -\n",
        )
        .unwrap();
        assert_eq!(t.processes.len(), 1);
    }

    #[test]
    fn no_pid_column() {
        let err = parse_ps_output("COMMAND\nsleep\n").unwrap_err();
        assert!(err.contains("no PID column"), "{err}");
        assert!(parse_ps_output("").is_err());
    }
}
