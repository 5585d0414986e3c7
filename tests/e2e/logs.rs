//! `logs` on real runc: `--capture`'s stdout and stderr kept apart, the
//! read time of each line (`-t`, `--since`, `--until`), the cap across
//! rotations, `-f` to the end, terminals timed too, and nothing changed
//! for a container started without `--capture`.

use crate::common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, Utc};
use common::{unique_id, Env};

fn state_dir(env: &Env, id: &str) -> PathBuf {
    env.root.with_file_name("root.ocictl").join(id)
}

/// A container running `sh -c SCRIPT`, started with `run -d --capture
/// EXTRA…` through pipes: ocictl returns (the container holds none of its
/// stdio) and prints nothing of the container's. Its ID, from `prefix`.
fn captured(env: &Env, prefix: &str, extra: &[&str], script: &str) -> String {
    let id = unique_id(prefix);
    let bundle = env.bundle(&["sh", "-c", script]);
    let words = [&["run", "-d", "--capture"], extra].concat();
    quietly_started(env.cmd(), &words, &bundle, &id);
    id
}

/// `CMD WORDS… -b BUNDLE ID` through pipes: it returns (the container
/// holds none of ocictl's stdio), successfully, having printed nothing.
fn quietly_started(mut cmd: assert_cmd::Command, words: &[&str], bundle: &Path, id: &str) {
    let out = cmd
        .args(words)
        .arg("-b")
        .arg(bundle)
        .arg(id)
        .timeout(Duration::from_secs(60))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(out.stdout.is_empty() && out.stderr.is_empty(), "{out:?}");
}

/// `ocictl logs ARGS ID`: its stdout and stderr (it must succeed).
fn logs(env: &Env, args: &[&str], id: &str) -> (String, String) {
    let out = env
        .cmd()
        .arg("logs")
        .args(args)
        .arg(id)
        .timeout(Duration::from_secs(60))
        .output()
        .unwrap();
    assert!(out.status.success(), "logs {args:?}: {out:?}");
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The lines of `logs -t` output: each line's time and text.
fn timed(text: &str) -> Vec<(DateTime<Utc>, String)> {
    text.lines()
        .map(|l| {
            let (t, rest) = l.split_once(' ').unwrap_or_else(|| panic!("{l:?}"));
            assert!(t.ends_with('Z') && t.len() == 30, "UTC, nanoseconds: {t}");
            let t = DateTime::parse_from_rfc3339(t).unwrap_or_else(|e| panic!("{t}: {e}"));
            (t.with_timezone(&Utc), rest.to_string())
        })
        .collect()
}

fn ordered(lines: &[(DateTime<Utc>, String)]) -> bool {
    lines.windows(2).all(|w| w[0].0 <= w[1].0)
}

#[test]
fn capture_keeps_stdout_and_stderr_apart_with_the_time_of_each_line() {
    let env = Env::new();
    let script = "echo out-1; echo err-1 >&2; cat; echo out-2; echo err-2 >&2; printf no-newline";
    let before = Utc::now();
    let id = captured(&env, "logs-cap", &[], script);
    // stdin is /dev/null: `cat` ends at once.
    env.cmd().args(["wait", &id]).assert().code(0);
    let after = Utc::now();
    let (out, err) = logs(&env, &[], &id);
    assert_eq!(out, "out-1\nout-2\nno-newline");
    assert_eq!(err, "err-1\nerr-2\n");

    let (out, err) = logs(&env, &["-t"], &id);
    let (out, err) = (timed(&out), timed(&err));
    let texts = |l: &[(DateTime<Utc>, String)]| l.iter().map(|x| x.1.clone()).collect::<Vec<_>>();
    assert_eq!(texts(&out), ["out-1", "out-2", "no-newline"]);
    assert_eq!(texts(&err), ["err-1", "err-2"]);
    assert!(ordered(&out) && ordered(&err), "{out:?} {err:?}");
    assert!(out
        .iter()
        .chain(&err)
        .all(|(t, _)| before <= *t && *t <= after));

    // The same with docker's spelling, and the last line only (of both
    // streams, in the order the monitor read them).
    let (out, err) = logs(&env, &["--timestamps", "-n", "1"], &id);
    let last = [timed(&out), timed(&err)].concat();
    assert!(
        texts(&last) == ["no-newline"] || texts(&last) == ["err-2"],
        "{last:?}"
    );

    // JSON lines: every record with its stream and time.
    let out = env
        .cmd()
        .args(["--format", "json", "logs", &id])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let records: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let of = |stream: &str| {
        records
            .iter()
            .filter(|r| r["stream"] == stream)
            .map(|r| r["output"].as_str().unwrap().to_string())
            .collect::<String>()
    };
    assert_eq!(of("stdout"), "out-1\nout-2\nno-newline");
    assert_eq!(of("stderr"), "err-1\nerr-2\n");
    for r in &records {
        assert_eq!(r["id"], id.as_str());
        DateTime::parse_from_rfc3339(r["timestamp"].as_str().unwrap()).unwrap();
    }
    env.cmd().args(["delete", &id]).assert().success();
}

#[test]
fn since_and_until_pick_lines_by_when_they_were_read() {
    let env = Env::new();
    let id = captured(&env, "logs-since", &[], "echo early; sleep 4; echo late");
    env.cmd().args(["wait", &id]).assert().code(0);
    let (out, _) = logs(&env, &["-t"], &id);
    let lines = timed(&out);
    assert_eq!(lines.len(), 2, "{out}");
    let (early, late) = (lines[0].0, lines[1].0);
    // (What the duration check below needs.)
    assert!(late - early > chrono::Duration::milliseconds(2500), "{out}");

    let rfc = late.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true);
    assert_eq!(logs(&env, &["--since", &rfc], &id).0, "late\n");
    assert_eq!(logs(&env, &["--until", &rfc], &id).0, "early\n");
    let epoch = format!("{}.{:09}", late.timestamp(), late.timestamp_subsec_nanos());
    assert_eq!(logs(&env, &["--since", &epoch], &id).0, "late\n");
    // A duration back from now: 2.5 s before `late` as seen from here,
    // which is still after `early`, and not after `late` unless `logs`
    // takes more than 2.5 s to start.
    let back = Utc::now() - late + chrono::Duration::milliseconds(2500);
    let back = format!("{}ms", back.num_milliseconds());
    assert_eq!(logs(&env, &["--since", &back], &id).0, "late\n");
    // Both ends, and an empty window.
    assert_eq!(
        logs(&env, &["--since", "1h", "--until", &rfc], &id).0,
        "early\n"
    );
    assert_eq!(logs(&env, &["--since", "0"], &id).0, "early\nlate\n");
    assert_eq!(logs(&env, &["--until", "0"], &id).0, "");

    let bad = env
        .cmd()
        .args(["logs", "--since", "teatime", &id])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2), "{bad:?}");
    assert!(String::from_utf8_lossy(&bad.stderr).contains("RFC 3339"));
    env.cmd().args(["delete", &id]).assert().success();
}

#[test]
fn a_captured_log_stays_within_its_cap_across_rotations() {
    let env = Env::new();
    let script = "i=0; while [ $i -lt 3000 ]; do echo line-$i; echo err-$i >&2; i=$((i+1)); done";
    let id = captured(&env, "logs-rot", &["--log-max-size", "4K"], script);
    env.cmd().args(["wait", &id]).assert().code(0);
    let dir = state_dir(&env, &id);
    for name in ["console.log", "console.log.1"] {
        let len = std::fs::metadata(dir.join(name)).unwrap().len();
        assert!(len <= 4096, "{name} is {len} bytes");
    }
    let (out, err) = logs(&env, &[], &id);
    assert!(!err.contains("ocictl:"), "no damaged records: {err}");
    // What is kept is the end, whole lines in order: of each stream
    // whose output is still kept, its last lines (the streams were read
    // in chunks, so the newest 8K may all be of one).
    assert!(!(out.is_empty() && err.is_empty()));
    for (text, prefix) in [(&out, "line-"), (&err, "err-")] {
        let n: Vec<u32> = text
            .lines()
            .map(|l| l.strip_prefix(prefix).unwrap().parse().unwrap())
            .collect();
        assert!(n.is_empty() || n.last() == Some(&2999), "{text}");
        assert!(n.windows(2).all(|w| w[1] == w[0] + 1), "{text}");
    }
    env.cmd().args(["delete", &id]).assert().success();
}

#[test]
fn logs_follow_prints_captured_output_until_the_container_exits() {
    let env = Env::new();
    let script = "sleep 0.5; echo one; sleep 0.5; echo two >&2; sleep 0.5; printf thr; echo ee";
    let id = captured(&env, "logs-follow", &[], script);
    let (out, err) = logs(&env, &["-f", "-t"], &id);
    let texts: Vec<String> = timed(&out).into_iter().map(|l| l.1).collect();
    assert_eq!(texts, ["one", "three"]);
    assert_eq!(timed(&err).len(), 1, "{err}");
    assert!(err.ends_with(" two\n"), "{err}");
    env.cmd().args(["wait", &id]).assert().code(0);
    env.cmd().args(["delete", &id]).assert().success();
}

#[test]
fn a_terminal_containers_log_is_timed_too() {
    let env = Env::new();
    let id = unique_id("logs-tty");
    let bundle = env.bundle(&["sh", "-c", "echo tty-1; echo tty-2"]);
    let run = env.run_detached(args!["run", "-d", "-t", "-b", bundle, id]);
    assert_eq!(run.code, Some(0), "{run:?}");
    env.cmd().args(["wait", &id]).assert().code(0);
    // Byte for byte what the pty printed.
    assert_eq!(logs(&env, &[], &id).0, "tty-1\r\ntty-2\r\n");
    let (out, _) = logs(&env, &["-t"], &id);
    let lines = timed(&out);
    let texts: Vec<&str> = lines.iter().map(|l| l.1.as_str()).collect();
    assert_eq!(texts, ["tty-1", "tty-2"]);
    assert!(out.ends_with("tty-2\r\n"), "{out:?}");
    assert!(ordered(&lines));
    env.cmd().args(["delete", &id]).assert().success();
}

#[test]
fn without_capture_the_container_gets_ocictls_stdio_as_before() {
    let env = Env::new();
    let id = unique_id("logs-plain");
    let bundle = env.bundle(&["sh", "-c", "echo plain-out; echo plain-err >&2"]);
    let (out_path, err_path) = (env.dir.path().join("o"), env.dir.path().join("e"));
    let status = env
        .std_cmd()
        .args(["run", "-d", "-b"])
        .arg(&bundle)
        .arg(&id)
        .stdin(std::process::Stdio::null())
        .stdout(std::fs::File::create(&out_path).unwrap())
        .stderr(std::fs::File::create(&err_path).unwrap())
        .status()
        .unwrap();
    assert!(status.success());
    env.cmd().args(["wait", &id]).assert().code(0);
    assert_eq!(std::fs::read_to_string(&out_path).unwrap(), "plain-out\n");
    assert_eq!(std::fs::read_to_string(&err_path).unwrap(), "plain-err\n");
    assert!(!state_dir(&env, &id).join("console.log").exists());
    let out = env.cmd().args(["logs", &id]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("--capture"),
        "{out:?}"
    );
    env.cmd().args(["delete", &id]).assert().success();
}

#[test]
fn times_need_ocictls_own_log_and_capture_needs_the_monitor() {
    let env = Env::new();
    let id = unique_id("logs-file");
    let bundle = env.bundle(&["sh", "-c", "echo to-file"]);
    let file = env.dir.path().join("out.log");
    let f = file.to_str().unwrap();
    let run = env.run_detached(args!["run", "-d", "--log-output", f, "-b", bundle, id]);
    assert_eq!(run.code, Some(0), "{run:?}");
    env.cmd().args(["wait", &id]).assert().code(0);
    assert_eq!(logs(&env, &[], &id).0, "to-file\n");
    let out = env.cmd().args(["logs", "-t", &id]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("without times"),
        "{out:?}"
    );
    env.cmd().args(["delete", &id]).assert().success();

    let b = bundle.to_str().unwrap();
    for (words, says) in [
        (
            vec!["run", "-d", "--capture", "--log-output", f, "-b", b, "x"],
            "--log-output",
        ),
        (vec!["run", "--capture", "-b", b, "x"], "detached"),
        (
            vec!["run", "-d", "--capture", "--no-monitor", "-b", b, "x"],
            "monitor",
        ),
        (
            vec!["create", "--capture", "--pid-file", f, "-b", b, "x"],
            "monitor",
        ),
    ] {
        let out = env.cmd().args(&words).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{words:?}: {out:?}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains(says),
            "{out:?}"
        );
    }
    assert!(env.runc_ids().is_empty());
}

#[test]
fn a_damaged_log_is_read_around_with_a_note() {
    let env = Env::new();
    let id = captured(&env, "logs-damaged", &[], "echo first; echo second");
    env.cmd().args(["wait", &id]).assert().code(0);
    let log = state_dir(&env, &id).join("console.log");
    let mut text = std::fs::read(&log).unwrap();
    text.splice(0..0, b"garbage\n\x00\x01\n".iter().copied());
    text.extend_from_slice(b"2026-12-02T07:00:00Z stdout F cut sh");
    std::fs::write(&log, text).unwrap();
    let (out, err) = logs(&env, &[], &id);
    assert_eq!(out, "first\nsecond\n");
    assert!(err.contains("skipped 3 damaged line(s)"), "{err}");
    env.cmd().args(["delete", &id]).assert().success();
}

/// On a full disk the log stops, not the container, and `logs` prints
/// the last 1 MiB the monitor kept, times and streams included: with
/// `--capture` and with a terminal.
#[test]
fn a_full_disk_stops_the_log_and_logs_shows_what_the_monitor_kept() {
    let env = Env::new();
    let disk = crate::adversarial_store::SmallDisk::new(&env.dir.path().join("small"), "256k");
    let root = disk.0.join("root");
    std::fs::create_dir(&root).unwrap();
    let on_disk = || {
        let mut cmd = common::ocictl();
        cmd.arg("--root").arg(&root);
        cmd
    };
    let script = "i=0; while [ $i -lt 40000 ]; do echo line-$i; i=$((i+1)); done; \
                  echo done >&2; sleep 100";
    for (prefix, flag, last) in [
        ("logs-full-cap", "--capture", "line-39999"),
        ("logs-full-tty", "-t", "line-39999\r"),
    ] {
        let id = unique_id(prefix);
        let bundle = env.bundle(&["sh", "-c", script]);
        quietly_started(on_disk(), &["run", "-d", flag], &bundle, &id);
        let logs_t = || {
            let out = on_disk()
                .args(["logs", "-t", &id])
                .timeout(Duration::from_secs(60))
                .output()
                .unwrap();
            assert!(out.status.success(), "{out:?}");
            out
        };
        common::wait_until(
            "the container wrote everything",
            Duration::from_secs(60),
            || String::from_utf8_lossy(&logs_t().stdout).contains(last),
        );
        let out = logs_t();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("stopped (disk full?)"), "{err}");
        let lines = timed(&String::from_utf8_lossy(&out.stdout));
        assert!(ordered(&lines));
        let n: Vec<u32> = lines
            .iter()
            .filter_map(|l| l.1.trim_end().strip_prefix("line-")?.parse().ok())
            .collect();
        assert!(
            n.len() > 1000 && n.windows(2).all(|w| w[1] == w[0] + 1),
            "{n:?}"
        );
        assert_eq!(n.last(), Some(&39999));
        let status = on_disk().args(["state", &id]).output().unwrap();
        assert!(String::from_utf8_lossy(&status.stdout).contains("running"));
        on_disk().args(["delete", "-f", &id]).assert().success();
    }
}

#[test]
fn create_capture_then_start_logs_what_the_process_wrote() {
    let env = Env::new();
    let id = unique_id("logs-create");
    let bundle = env.bundle(&["sh", "-c", "echo started; echo oops >&2; exit 5"]);
    quietly_started(env.cmd(), &["create", "--capture"], &bundle, &id);
    assert_eq!(logs(&env, &[], &id), (String::new(), String::new()));
    env.cmd().args(["start", &id]).assert().success();
    env.cmd().args(["wait", &id]).assert().code(5);
    assert_eq!(
        logs(&env, &[], &id),
        ("started\n".to_string(), "oops\n".to_string())
    );
    // No terminal to attach to: said before anything is sent.
    let out = env.cmd().args(["attach", &id]).output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("no terminal"),
        "{out:?}"
    );
    env.cmd().args(["delete", &id]).assert().success();
}
