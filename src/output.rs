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

/// Print one JSON value on one line.
pub fn print_json<T: Serialize + ?Sized>(value: &T) -> io::Result<()> {
    let mut out = io::stdout().lock();
    serde_json::to_writer(&mut out, value)?;
    out.write_all(b"\n")?;
    out.flush()
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

/// Print a JSON value indented as runc indents it (`runc state`).
pub fn print_json_pretty<T: Serialize + ?Sized>(value: &T) -> io::Result<()> {
    let mut out = io::stdout().lock();
    serde_json::to_writer_pretty(&mut out, value)?;
    out.write_all(b"\n")?;
    out.flush()
}

/// Print text as it is.
pub fn print_text(text: &str) -> io::Result<()> {
    let mut out = io::stdout().lock();
    out.write_all(text.as_bytes())?;
    out.flush()
}

/// A table laid out like Go's tabwriter as runc configures it (minimum
/// cell width 12, padding 3): every column but the last is padded.
pub struct Table {
    rows: Vec<Vec<String>>,
    min_width: usize,
    padding: usize,
}

impl Table {
    /// runc's `list` layout.
    pub fn runc_style(header: &[&str]) -> Table {
        Table {
            rows: vec![header.iter().map(|h| h.to_string()).collect()],
            min_width: 12,
            padding: 3,
        }
    }

    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    pub fn render(&self) -> String {
        let columns = self.rows.iter().map(Vec::len).max().unwrap_or(0);
        let mut widths = vec![0; columns];
        for row in &self.rows {
            for (i, cell) in row.iter().enumerate() {
                widths[i] = widths[i].max(cell.chars().count());
            }
        }
        let mut text = String::new();
        for row in &self.rows {
            let mut line = String::new();
            for (i, cell) in row.iter().enumerate() {
                line.push_str(cell);
                if i + 1 < row.len() {
                    let width = (widths[i] + self.padding).max(self.min_width);
                    let pad = width.saturating_sub(cell.chars().count());
                    line.extend(std::iter::repeat_n(' ', pad));
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
        }
    }
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
    fn bytes_for_people() {
        assert_eq!(human_bytes(0), "0B");
        assert_eq!(human_bytes(1023), "1023B");
        assert_eq!(human_bytes(1536), "1.5KiB");
        assert_eq!(human_bytes(64 << 20), "64MiB");
        assert_eq!(human_bytes(487_424), "476KiB");
        assert_eq!(human_bytes(9_223_372_036_854_771_712), "8EiB");
    }
}
