//! Rendering for people and for scripts: the output format switch, JSON
//! values, runc-shaped tables and timestamps. Every writer returns an
//! io::Result so a closed pipe (`ocictl list | head -1`) ends quietly.

use std::io::{self, Write};

use chrono::{DateTime, Utc};
use serde::Serialize;

/// `--format`: aligned text for people, or one JSON value for scripts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Format {
    /// Human-readable output; runc's own shape where runc has one.
    #[default]
    #[value(alias = "human", alias = "text")]
    Table,
    /// One JSON value on stdout (JSON lines for streams; a foreground
    /// run/exec/restore's summary on stderr); errors as JSON on stderr.
    Json,
}

/// Print one JSON value on one line. Each value is built whole and written
/// with one write: stdout is line-buffered, and a reader never sees half.
pub fn print_json<T: Serialize + ?Sized>(value: &T) -> io::Result<()> {
    let mut line = serde_json::to_vec(value)?;
    line.push(b'\n');
    write_stdout(&line)
}

/// Print one JSON value on one line on stderr: the summary of a foreground
/// `run`/`exec`/`restore`, whose stdout is the container's.
pub fn print_json_stderr<T: Serialize + ?Sized>(value: &T) -> io::Result<()> {
    let mut line = serde_json::to_vec(value)?;
    line.push(b'\n');
    let mut err = io::stderr().lock();
    err.write_all(&line)?;
    err.flush()
}

/// Print a JSON value indented as runc indents it (`runc state`), in one
/// write as [`print_json`] does.
pub fn print_json_pretty<T: Serialize + ?Sized>(value: &T) -> io::Result<()> {
    let mut text = serde_json::to_vec_pretty(value)?;
    text.push(b'\n');
    write_stdout(&text)
}

/// Print text as it is.
pub fn print_text(text: &str) -> io::Result<()> {
    write_stdout(text.as_bytes())
}

/// Whole lines go straight through stdout's line buffer: one write(2) for
/// the lot, where line by line there would be one per line.
fn write_stdout(bytes: &[u8]) -> io::Result<()> {
    let mut out = io::stdout().lock();
    out.write_all(bytes)?;
    out.flush()
}

/// A table laid out like Go's tabwriter as runc configures it (minimum
/// cell width 12, padding 3): every column but the last is padded.
pub struct Table {
    rows: Vec<Vec<String>>,
    min_width: usize,
    padding: usize,
    /// Columns whose cells are all numbers are right-aligned (top's PID,
    /// %CPU, RSS…); runc's list layout keeps tabwriter's left alignment.
    align_numbers: bool,
    /// Widths a column never shrinks below (stats --watch stays steady).
    floor: Vec<usize>,
}

impl Table {
    /// runc's `list` layout.
    pub fn runc_style(header: &[&str]) -> Table {
        Table {
            rows: vec![header.iter().map(|h| h.to_string()).collect()],
            min_width: 12,
            padding: 3,
            align_numbers: false,
            floor: Vec::new(),
        }
    }

    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    /// The width of each column: its widest cell, at least its floor.
    pub fn widths(&self) -> Vec<usize> {
        let columns = self.rows.iter().map(Vec::len).max().unwrap_or(0);
        let mut widths = vec![0; columns];
        for row in &self.rows {
            for (i, cell) in row.iter().enumerate() {
                widths[i] = widths[i].max(cell.chars().count());
            }
        }
        for (w, floor) in widths.iter_mut().zip(&self.floor) {
            *w = (*w).max(*floor);
        }
        widths
    }

    /// Keep every column at least as wide as `widths` (a previous frame's).
    pub fn at_least(&mut self, widths: &[usize]) {
        self.floor = widths.to_vec();
    }

    pub fn render(&self) -> String {
        let widths = self.widths();
        let numeric: Vec<bool> = (0..widths.len())
            .map(|i| {
                self.align_numbers
                    && self.rows.len() > 1
                    && self.rows[1..]
                        .iter()
                        .all(|r| r.get(i).is_some_and(|c| is_number(c)))
            })
            .collect();
        let mut text = String::new();
        for row in &self.rows {
            let mut line = String::new();
            for (i, cell) in row.iter().enumerate() {
                let last = i + 1 == row.len();
                let len = cell.chars().count();
                let fill = widths[i].saturating_sub(len);
                if numeric[i] {
                    line.extend(std::iter::repeat_n(' ', fill));
                    line.push_str(cell);
                } else {
                    line.push_str(cell);
                    if !last {
                        line.extend(std::iter::repeat_n(' ', fill));
                    }
                }
                if !last {
                    let width = (widths[i] + self.padding).max(self.min_width);
                    line.extend(std::iter::repeat_n(' ', width - widths[i]));
                }
            }
            text.push_str(line.trim_end());
            text.push('\n');
        }
        text
    }

    pub fn print(&self) -> io::Result<()> {
        print_text(&self.render())
    }
}

/// A timestamp as Go's RFC3339Nano writes it (trailing zeros dropped).
pub fn rfc3339_nano(t: &DateTime<Utc>) -> String {
    ocictl::runtime::types::rfc3339_nano(t)
}

/// Bytes for people, in binary units as runc's sizes are: `512B`,
/// `1.5KiB`, `64MiB`, `2GiB`.
pub fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 6] = ["KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    if bytes < 1024 {
        return format!("{bytes}B");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    let text = if value < 10.0 {
        format!("{value:.2}")
    } else if value < 100.0 {
        format!("{value:.1}")
    } else {
        format!("{value:.0}")
    };
    let text = if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        text
    };
    format!("{text}{}", UNITS[unit])
}

impl Table {
    /// A compact layout for wide tables (stats, top): columns two spaces apart.
    pub fn compact(header: &[&str]) -> Table {
        Table {
            rows: vec![header.iter().map(|h| h.to_string()).collect()],
            min_width: 0,
            padding: 2,
            align_numbers: true,
            floor: Vec::new(),
        }
    }

    /// How many rows there are below the header.
    pub fn len(&self) -> usize {
        self.rows.len() - 1
    }
}

/// A titled section of aligned `key  value` lines (`inspect`'s human view):
/// keys padded to the widest, values as they are.
pub fn key_values(title: &str, rows: &[(&str, String)]) -> String {
    let width = rows
        .iter()
        .map(|(k, _)| k.chars().count())
        .max()
        .unwrap_or(0);
    let mut text = format!("{title}\n");
    for (key, value) in rows {
        let line = format!("  {key:<width$}  {value}");
        text.push_str(line.trim_end());
        text.push('\n');
    }
    text
}

/// A cell that is a number (`42`, `0.5`, `12.5%`) is right-aligned.
fn is_number(cell: &str) -> bool {
    let digits = cell.strip_suffix('%').unwrap_or(cell);
    !digits.is_empty()
        && digits.parse::<f64>().is_ok()
        && digits.chars().all(|c| c.is_ascii_digit() || c == '.')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_pad_like_tabwriter() {
        let mut t = Table::runc_style(&["ID", "PID", "OWNER"]);
        t.row(vec![
            "a-long-container-id".into(),
            "42".into(),
            "root".into(),
        ]);
        let text = t.render();
        let lines: Vec<_> = text.lines().collect();
        assert_eq!(lines[0], "ID                    PID         OWNER");
        assert_eq!(lines[1], "a-long-container-id   42          root");
    }

    #[test]
    fn compact_tables_right_align_numbers() {
        let mut t = Table::compact(&["PID", "CMD"]);
        t.row(vec!["7".into(), "sh".into()]);
        t.row(vec!["1234".into(), "sleep 10".into()]);
        let text = t.render();
        let lines: Vec<_> = text.lines().collect();
        assert_eq!(lines, [" PID  CMD", "   7  sh", "1234  sleep 10"]);
    }

    #[test]
    fn a_floor_keeps_columns_steady() {
        let mut t = Table::compact(&["ID", "CPU %"]);
        t.row(vec!["a".into(), "1.00%".into()]);
        t.at_least(&[6, 7]);
        assert_eq!(t.render().lines().next().unwrap(), "ID        CPU %");
        assert_eq!(t.widths(), [6, 7]);
    }

    #[test]
    fn key_values_align_their_values() {
        let text = key_values("Process", &[("cwd", "/".into()), ("terminal", "no".into())]);
        assert_eq!(text, "Process\n  cwd       /\n  terminal  no\n");
    }

    #[test]
    fn bytes_for_people() {
        assert_eq!(human_bytes(0), "0B");
        assert_eq!(human_bytes(1023), "1023B");
        assert_eq!(human_bytes(1536), "1.5KiB");
        assert_eq!(human_bytes(64 << 20), "64MiB");
        assert_eq!(human_bytes(487_424), "476KiB");
        assert_eq!(human_bytes(9_223_372_036_854_771_712), "8EiB");
    }
}
