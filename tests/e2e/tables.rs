//! Tables for people, on real runc: missing data is `-` (never a made-up
//! `0B / 0B`), no header above an error, numbers right-aligned.

use crate::common;

use common::{unique_id, Env};

#[test]
fn stats_show_dashes_for_what_runc_does_not_report_and_no_header_before_an_error() {
    let env = Env::new();
    let bundle = env.bundle(&["sleep", "1000"]);
    let id = unique_id("tables");
    let r = env.run_detached(args!["run", "-d", "-b", bundle, id]);
    assert_eq!(r.code, Some(0), "{r:?}");
    // The busybox bundle has no network interfaces runc reports on.
    let stats = env.json(&["stats", &id]);
    assert!(stats[0]["stats"]["network_interfaces"].is_null(), "{stats}");
    let out = env
        .cmd()
        .args(["stats", "--interval", "100ms", &id])
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let row = text.lines().nth(1).unwrap();
    assert!(row.trim_end().ends_with(" -"), "NET I/O is -: {text}");
    assert!(!text.contains("0B / 0B"), "{text}");

    let out = env
        .cmd()
        .args(["stats", "--interval", "100ms", "nosuch"])
        .output()
        .unwrap();
    assert_ne!(out.status.code(), Some(0));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "",
        "no header above the error"
    );
    env.cmd()
        .args(["delete", "--force", &id])
        .assert()
        .success();
}

#[test]
fn top_right_aligns_its_numbers() {
    let env = Env::new();
    let id = env.started(
        &["sh", "-c", "sleep 1000 & sleep 1000 & wait"],
        "tables-top",
    );
    let out = env
        .cmd()
        .args(["top", &id, "-o", "pid,rss,comm"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines.len() >= 2, "{text}");
    // Right-aligned: every PID cell (and the header) ends in one column.
    let end = lines[0].find("PID").unwrap() + 3;
    for line in &lines {
        let cell_end = line
            .char_indices()
            .find(|(i, c)| *i > 0 && *c == ' ' && line[..*i].trim() != "")
            .map(|(i, _)| i)
            .unwrap();
        assert_eq!(cell_end, end, "{text}");
    }
    env.cmd()
        .args(["delete", "--force", &id])
        .assert()
        .success();
}

/// `stats --watch` on a terminal too short for every row: each frame keeps
/// the header in view and says how many rows did not fit.
#[test]
fn stats_watch_keeps_its_header_in_view_on_a_short_terminal() {
    let env = Env::new();
    let bundle = env.bundle(&["sleep", "1000"]);
    let ids: Vec<String> = (0..5).map(|_| unique_id("tables-watch")).collect();
    for id in &ids {
        let r = env.run_detached(args!["run", "-d", "-b", bundle, id]);
        assert_eq!(r.code, Some(0), "{r:?}");
    }
    let mut cmd = env.std_cmd();
    cmd.args(["stats", "--all", "--watch", "--interval", "100ms"]);
    let mut pty = common::PtySession::spawn(cmd, 5, 120);
    // 5 rows: the header, 2 containers, then the count of the 3 others.
    pty.expect("… 3 more");
    pty.send(b"\x03");
    pty.wait();
    let text = pty.text();
    let frame = text
        .split("\x1b[2J")
        .find(|f| f.contains("more"))
        .expect("a whole frame");
    let lines: Vec<&str> = frame.lines().filter(|l| !l.trim().is_empty()).collect();
    assert!(
        lines[0].starts_with("ID") && lines[0].contains("CPU %"),
        "{frame:?}"
    );
    // The terminal echoes the interrupt as "^C" after the last frame's text.
    assert_eq!(
        lines.get(3).map(|l| l.trim().trim_end_matches("^C")),
        Some("… 3 more"),
        "{frame:?}"
    );
    for id in &ids {
        env.cmd().args(["delete", "--force", id]).assert().success();
    }
}
