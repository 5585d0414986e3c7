//! argv layer for exec, update, events, stats and top: a small fake runtime
//! (local to this file) records its argv and stdin and prints canned output,
//! proving each flag reaches the runtime exactly as runc expects it, and
//! that bad input never reaches it at all.

use crate::common;

use std::path::PathBuf;

use common::{fixture, ocictl};

/// A fake runtime in a temp dir: writes `argv` (one word per line) and
/// `stdin` (for update) there.
struct Fake {
    dir: tempfile::TempDir,
}

const SCRIPT: &str = r#"#!/bin/sh
d="$(dirname "$0")"
: > "$d/argv"
for a in "$@"; do printf '%s\n' "$a" >> "$d/argv"; done
sub=""
skip=0
for a in "$@"; do
  if [ "$skip" = 1 ]; then skip=0; continue; fi
  case "$a" in
    --root|--log|--log-format|--criu) skip=1 ;;
    -*) ;;
    *) sub="$a"; break ;;
  esac
done
case "$sub" in
  update) cat > "$d/stdin" ;;
  state) printf '{"ociVersion":"1.0.2-dev","id":"c1","pid":%s,"status":"running","bundle":"%s","rootfs":"/b/rootfs","created":"2025-11-28T19:07:00.5Z","owner":""}' "$FAKE_PID" "${FAKE_BUNDLE:-/b}" ;;
  exec) prev=""; for a in "$@"; do [ "$prev" = --process ] && cat "$a" > "$d/process"; prev="$a"; done ;;
  events) [ -f "$d/events" ] && cat "$d/events" ;;
  ps) [ -f "$d/ps" ] && cat "$d/ps" ;;
esac
exit "${FAKE_STATUS:-0}"
"#;

impl Fake {
    fn new() -> Fake {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("runc");
        std::fs::write(&path, SCRIPT).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        Fake { dir }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn cmd(&self) -> assert_cmd::Command {
        let mut cmd = ocictl();
        cmd.arg("--runtime")
            .arg(self.path("runc"))
            .arg("--root")
            .arg("/fake/root")
            .env("FAKE_PID", std::process::id().to_string());
        cmd
    }

    /// The subcommand's words (global flags and the private log dropped).
    fn argv(&self) -> Vec<String> {
        let text = std::fs::read_to_string(self.path("argv")).expect("the runtime ran");
        let words: Vec<String> = text.lines().map(str::to_string).collect();
        let mut out = Vec::new();
        let mut i = 0;
        let mut in_sub = false;
        while i < words.len() {
            let w = &words[i];
            if !in_sub {
                if ["--root", "--log", "--log-format"].contains(&w.as_str()) {
                    i += 2;
                    continue;
                }
                if !w.starts_with('-') {
                    in_sub = true;
                } else {
                    i += 1;
                    continue;
                }
            }
            out.push(w.clone());
            i += 1;
        }
        out
    }

    fn ran(&self) -> bool {
        self.path("argv").exists()
    }
}

/// Exit code and stderr of a run.
fn run(cmd: &mut assert_cmd::Command) -> (Option<i32>, String) {
    let out = cmd.output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn words(s: &str) -> Vec<String> {
    s.split(' ').map(str::to_string).collect()
}

#[test]
fn exec_passes_every_flag() {
    let fake = Fake::new();
    let mut cmd = fake.cmd();
    cmd.args([
        "exec",
        "--console-socket",
        "/run/c.sock",
        "--cwd",
        "/tmp",
        "-t",
        "-u",
        "1000:1000",
        "-g",
        "10",
        "--additional-gids",
        "20",
        "-d",
        "--pid-file",
        "/run/x.pid",
        "--process-label",
        "lbl",
        "--apparmor",
        "prof",
        "--no-new-privs",
        "-c",
        "CAP_NET_ADMIN",
        "--cap",
        "CAP_SYS_TIME",
        "--preserve-fds",
        "2",
        "--cgroup",
        "memory:/sub",
        "--ignore-paused",
        "c1",
        "sh",
        "-c",
        "exit 3",
    ]);
    common::with_inherited_fds(&cmd, 2).assert().success();
    let mut expected = words(
        "exec --console-socket /run/c.sock --cwd /tmp --tty --user 1000:1000 \
         --additional-gids 10 --additional-gids 20 --detach --pid-file /run/x.pid \
         --process-label lbl --apparmor prof --no-new-privs --cap CAP_NET_ADMIN \
         --cap CAP_SYS_TIME --preserve-fds 2 --cgroup memory:/sub --ignore-paused c1 sh -c",
    );
    expected.push("exit 3".into());
    assert_eq!(fake.argv(), expected);
}

/// With -e, the process runc would build from the container's config.json
/// travels in a private file; no value (nor any process flag, which runc
/// ignores with --process) is on argv.
#[test]
fn exec_env_travels_in_a_process_file_built_as_runc_builds_it() {
    let fake = Fake::new();
    let bundle = fake.path("bundle");
    std::fs::create_dir(&bundle).unwrap();
    std::fs::write(
        bundle.join("config.json"),
        r#"{"process":{"args":["sh"],"cwd":"/","env":["PATH=/bin"],"terminal":true,
            "user":{"uid":0,"gid":0},"capabilities":{"bounding":["CAP_KILL"]}}}"#,
    )
    .unwrap();
    let mut cmd = fake.cmd();
    cmd.env("FAKE_BUNDLE", &bundle).args([
        "exec",
        "--cwd",
        "/tmp",
        "-e",
        "A=s3cret",
        "--env",
        "B=2",
        "-u",
        "1000:1001",
        "-g",
        "7",
        "--cap",
        "CAP_NET_ADMIN",
        "--no-new-privs",
        "-d",
        "--pid-file",
        "/run/x.pid",
        "--preserve-fds",
        "1",
        "--cgroup",
        "memory:/sub",
        "--ignore-paused",
        "c1",
        "sh",
        "-c",
        "exit 3",
    ]);
    common::with_inherited_fds(&cmd, 1).assert().success();
    let argv = fake.argv();
    let at = argv
        .iter()
        .position(|w| w == "--process")
        .expect("--process");
    let file = argv[at + 1].clone();
    assert!(file.starts_with("/proc/"), "{file}");
    let mut expected = words(
        "exec --detach --pid-file /run/x.pid --preserve-fds 1 --cgroup memory:/sub \
         --ignore-paused --process",
    );
    expected.extend([file, "c1".into()]);
    assert_eq!(argv, expected);
    let p: serde_json::Value =
        serde_json::from_slice(&std::fs::read(fake.path("process")).unwrap()).unwrap();
    assert_eq!(p["args"], serde_json::json!(["sh", "-c", "exit 3"]));
    assert_eq!(
        p["env"],
        serde_json::json!(["PATH=/bin", "A=s3cret", "B=2"])
    );
    assert_eq!(p["cwd"], "/tmp");
    assert_eq!(p["terminal"], false);
    assert_eq!(p["noNewPrivileges"], true);
    assert_eq!(
        p["user"],
        serde_json::json!({"uid": 1000, "gid": 1001, "additionalGids": [7]})
    );
    assert_eq!(
        p["capabilities"]["bounding"],
        serde_json::json!(["CAP_KILL", "CAP_NET_ADMIN"])
    );
}

#[test]
fn exec_foreground_status_is_the_runtimes() {
    let fake = Fake::new();
    fake.cmd()
        .env("FAKE_STATUS", "42")
        .args(["exec", "c1", "true"])
        .assert()
        .code(42);
    assert_eq!(fake.argv(), words("exec c1 true"));
}

#[test]
fn exec_process_file_is_checked_then_passed_absolute() {
    let fake = Fake::new();
    let good = fake.path("process.json");
    std::fs::write(
        &good,
        r#"{"args":["sh"],"cwd":"/","user":{"uid":0,"gid":0},"env":["A=1"]}"#,
    )
    .unwrap();
    fake.cmd()
        .current_dir(fake.dir.path())
        .args(["exec", "-p", "process.json", "c1"])
        .assert()
        .success();
    assert_eq!(
        fake.argv(),
        vec![
            "exec".to_string(),
            "--process".into(),
            good.display().to_string(),
            "c1".into()
        ]
    );
}

#[test]
fn broken_process_file_never_reaches_the_runtime() {
    let fake = Fake::new();
    let bad = fake.path("bad.json");
    std::fs::write(
        &bad,
        "{\n  \"args\": [\"sh\"],\n  \"cwd\": \"/\",\n  \"user\": {\"uid\": \"root\", \"gid\": 0}\n}\n",
    )
    .unwrap();
    let (code, err) = run(fake.cmd().args(["exec", "-p"]).arg(&bad).arg("c1"));
    assert_eq!(code, Some(1));
    assert!(err.contains("bad.json"), "{err}");
    assert!(err.contains("line 4"), "{err}");
    assert!(err.contains("user.uid"), "{err}");
    assert!(!fake.ran(), "the runtime must not run");

    // An unknown field is ignored, as runc's Go decoder ignores it
    // (tests/e2e/dropin.rs has the rest of runc's looseness).
    std::fs::write(
        &bad,
        "{\"args\":[\"sh\"],\"cwd\":\"/\",\"user\":{\"uid\":0,\"gid\":0},\n\"termnal\":true}",
    )
    .unwrap();
    let (code, err) = run(fake.cmd().args(["exec", "-p"]).arg(&bad).arg("c1"));
    assert_eq!(code, Some(0), "{err}");
    assert!(fake.ran());
}

#[test]
fn exec_usage_errors() {
    let fake = Fake::new();
    let (code, err) = run(fake.cmd().args(["exec", "-d", "-t", "c1", "sh"]));
    assert_eq!(code, Some(2));
    assert!(
        err.contains("exec -d -t needs --console-socket PATH") && err.contains("ocictl console"),
        "{err}"
    );
    assert!(!fake.ran(), "the runtime must not run");
    fake.cmd().args(["exec", "c1"]).assert().code(2);
    fake.cmd()
        .args(["exec", "-u", "root", "c1", "id"])
        .assert()
        .code(2);
    fake.cmd()
        .args(["exec", "-p", "/x.json", "c1", "sh"])
        .assert()
        .code(2);
    assert!(!fake.ran());
}

#[test]
fn update_flags_become_resources_on_stdin() {
    let fake = Fake::new();
    fake.cmd()
        .args([
            "update",
            "--memory",
            "64M",
            "--memory-swap",
            "-1",
            "--memory-reservation",
            "32m",
            "--kernel-memory",
            "1g",
            "--kernel-memory-tcp",
            "1k",
            "--cpu-share",
            "512",
            "--cpu-quota",
            "-1",
            "--cpu-period",
            "100000",
            "--cpu-rt-period",
            "1000",
            "--cpu-rt-runtime",
            "500",
            "--cpuset-cpus",
            "0-1",
            "--cpuset-mems",
            "0",
            "--pids-limit",
            "20",
            "--blkio-weight",
            "300",
            "--l3-cache-schema",
            "L3:0=ff",
            "--mem-bw-schema",
            "MB:0=70",
            "c1",
        ])
        .assert()
        .success();
    assert_eq!(
        fake.argv(),
        words("update --resources - --l3-cache-schema L3:0=ff --mem-bw-schema MB:0=70 c1")
    );
    let stdin: serde_json::Value =
        serde_json::from_slice(&std::fs::read(fake.path("stdin")).unwrap()).unwrap();
    assert_eq!(
        stdin,
        serde_json::json!({
            "memory": {"limit": 67108864, "swap": -1, "reservation": 33554432,
                       "kernel": 1073741824, "kernelTCP": 1024},
            "cpu": {"shares": 512, "quota": -1, "period": 100000, "realtimePeriod": 1000,
                    "realtimeRuntime": 500, "cpus": "0-1", "mems": "0"},
            "pids": {"limit": 20},
            "blockIO": {"weight": 300}
        })
    );
    // runc's own spelling and the plural both work.
    fake.cmd()
        .args(["update", "--cpu-shares", "7", "c1"])
        .assert()
        .success();
}

#[test]
fn update_resources_from_stdin_and_file() {
    let fake = Fake::new();
    fake.cmd()
        .args(["update", "-r", "-", "c1"])
        .write_stdin(r#"{"cpu":{"shares":256},"pids":{"limit":9}}"#)
        .assert()
        .success();
    assert_eq!(fake.argv(), words("update --resources - c1"));
    let stdin: serde_json::Value =
        serde_json::from_slice(&std::fs::read(fake.path("stdin")).unwrap()).unwrap();
    assert_eq!(
        stdin,
        serde_json::json!({"cpu": {"shares": 256}, "pids": {"limit": 9}})
    );

    let file = fake.path("r.json");
    std::fs::write(&file, "{\n \"memory\": {\n  \"limit\": \"5\"\n }\n}\n").unwrap();
    std::fs::remove_file(fake.path("argv")).unwrap();
    let (code, err) = run(fake
        .cmd()
        .args(["update", "--resources"])
        .arg(&file)
        .arg("c1"));
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains("r.json") && err.contains("memory.limit") && err.contains("line 3"),
        "{err}"
    );
    assert!(!fake.ran());

    let (_, err) = run(fake
        .cmd()
        .args(["update", "-r", "-", "c1"])
        .write_stdin(r#"{"pids":{"limit":"many"}}"#));
    assert!(
        err.contains("standard input") && err.contains("pids.limit"),
        "{err}"
    );
    assert!(!fake.ran());
}

#[test]
fn update_usage_errors() {
    let fake = Fake::new();
    fake.cmd().args(["update", "c1"]).assert().code(2);
    fake.cmd()
        .args(["update", "--memory", "12X", "c1"])
        .assert()
        .code(2);
    fake.cmd()
        .args(["update", "-r", "-", "--memory", "1M", "c1"])
        .write_stdin("{}")
        .assert()
        .code(2);
    assert!(!fake.ran());
}

#[test]
fn events_argv_and_stream_with_a_malformed_line() {
    let fake = Fake::new();
    let stats = std::fs::read_to_string(fixture("runc-1.1.5/events-stats.json"))
        .unwrap()
        .trim()
        .to_string();
    let events = format!("{stats}\n{{\"type\":\"oom\",\"id\":\"c1\"}}\nnot json at all\n{stats}\n");
    std::fs::write(fake.path("events"), events).unwrap();
    let out = fake
        .cmd()
        .args(["--format", "json", "events", "--interval", "200ms", "c1"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(fake.argv(), words("events --interval 200ms c1"));
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let kinds: Vec<&str> = lines.iter().map(|l| l["type"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["stats", "oom", "error", "stats"]);
    assert_eq!(lines[2]["line"], 3);
    assert_eq!(lines[0]["data"]["memory"]["usage"]["usage"], 487424);

    // For people: one readable line per event.
    let out = fake
        .cmd()
        .args(["--format", "table", "events", "c1"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(text.lines().count(), 4, "{text}");
    assert!(text.contains("oom") && !text.contains('{'), "{text}");
    assert_eq!(fake.argv(), words("events --interval 5s c1"));

    // A script that chose no format gets runc's shape: JSON lines.
    let out = fake.cmd().args(["events", "c1"]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(text.lines().count(), 4, "{text}");
    for line in text.lines() {
        serde_json::from_str::<serde_json::Value>(line).unwrap();
    }
}

#[test]
fn events_stats_and_interval_errors() {
    let fake = Fake::new();
    std::fs::copy(fixture("runc-1.1.5/events-stats.json"), fake.path("events")).unwrap();
    let out = fake
        .cmd()
        .args(["--format", "json", "events", "--stats", "c1"])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(fake.argv(), words("events --stats c1"));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["type"], "stats");
    for bad in ["0s", "-1s", "0", "5x"] {
        let out = fake
            .cmd()
            .args(["events", "--interval", bad, "c1"])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{bad}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("interval") || err.contains("duration"),
            "{err}"
        );
    }
}

#[test]
fn stats_samples_each_container() {
    let fake = Fake::new();
    std::fs::copy(fixture("runc-1.1.5/events-stats.json"), fake.path("events")).unwrap();
    let out = fake
        .cmd()
        .args(["--format", "json", "stats", "c1"])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(fake.argv(), words("events --stats c1"));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v[0]["id"], "c1");
    assert_eq!(v[0]["stats"]["pids"]["current"], 1);
    // Unknown runc fields (cpuset's, intel_rdt) are kept.
    assert_eq!(v[0]["stats"]["cpuset"]["sched_load_balance"], 1);

    let mut cmd = fake.cmd();
    cmd.args(["stats", "--interval", "10ms", "c1", "c2"]);
    let text = common::stdout_of(cmd);
    assert!(text.starts_with("ID "), "{text}");
    assert!(text.contains("c1 ") && text.contains("c2 "), "{text}");
    assert!(text.contains("/ unlimited"), "{text}");
}

#[test]
fn top_passes_ps_options() {
    let fake = Fake::new();
    std::fs::copy(fixture("runc-1.1.5/ps-table-opts.txt"), fake.path("ps")).unwrap();
    let out = fake
        .cmd()
        .args(["--format", "json", "top", "c1", "-o", "pid,comm,args"])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(fake.argv(), words("ps c1 -o pid,comm,args"));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        v["headers"],
        serde_json::json!(["PID", "COMMAND", "COMMAND"])
    );
    assert_eq!(v["processes"][0][2], "sleep 1000");
}
