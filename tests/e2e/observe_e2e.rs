//! End to end on real runc: exec, stats, events, top and update against
//! busybox containers.

use crate::common;

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::{unique_id, Env};

/// Start a detached container running `command`; returns its ID.
fn start(env: &Env, command: &[&str]) -> String {
    let id = env.started(command, "obs");
    env.wait_status(&id, "running");
    id
}

fn stats_json(env: &Env, id: &str) -> serde_json::Value {
    let v = env.json(&["stats", id]);
    assert_eq!(v[0]["id"], id);
    v[0]["stats"].clone()
}

#[test]
fn exec_exit_codes() {
    let env = Env::new();
    let id = start(&env, &["sleep", "1000"]);
    for (script, code) in [("exit 0", 0), ("exit 1", 1), ("exit 42", 42)] {
        env.cmd()
            .args(["exec", &id, "sh", "-c", script])
            .assert()
            .code(code);
    }
    let out = env
        .cmd()
        .args(["exec", &id, "no-such-program"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(255));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&id) && err.contains("no-such-program"),
        "{err}"
    );
}

#[test]
fn exec_env_cwd_and_user_are_seen_inside() {
    let env = Env::new();
    let id = start(&env, &["sleep", "1000"]);
    let out = env
        .cmd()
        .args([
            "exec",
            "-e",
            "GREETING=hello there",
            "--env",
            "SECOND=2",
            "--cwd",
            "/tmp",
            "-u",
            "1000:1001",
            "-g",
            "7",
            &id,
            "sh",
            "-c",
            "echo \"$GREETING|$SECOND|$(pwd)|$(id -u)|$(id -g)|$(id -G)\"",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let line = String::from_utf8_lossy(&out.stdout);
    let fields: Vec<&str> = line.trim().split('|').collect();
    assert_eq!(&fields[..5], ["hello there", "2", "/tmp", "1000", "1001"]);
    assert!(fields[5].split(' ').any(|g| g == "7"), "{line}");
}

#[test]
fn exec_detached_writes_a_pid_file() {
    let env = Env::new();
    let id = start(&env, &["sleep", "1000"]);
    let pid_file = env.dir.path().join("exec.pid");
    let run = env.run_detached(args![
        "exec",
        "-d",
        "--pid-file",
        pid_file,
        id,
        "sleep",
        "500"
    ]);
    assert_eq!(run.code, Some(0), "{run:?}");
    let pid: i32 = std::fs::read_to_string(&pid_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let ps = env.cmd().args(["ps", "-f", "json", &id]).output().unwrap();
    let pids: Vec<i32> = serde_json::from_slice(&ps.stdout).unwrap();
    assert!(pids.contains(&pid), "{pids:?} lacks {pid}");
}

#[test]
fn exec_into_a_paused_container() {
    let env = Env::new();
    let id = start(&env, &["sleep", "1000"]);
    env.cmd().args(["pause", &id]).assert().success();
    let out = env.cmd().args(["exec", &id, "true"]).output().unwrap();
    assert_eq!(out.status.code(), Some(255));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("paused") && err.contains("--ignore-paused"),
        "{err}"
    );

    // Accepted with --ignore-paused: the process runs once the container resumes.
    let child = env
        .std_cmd()
        .args(["exec", "--ignore-paused", &id, "echo", "ran"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(500));
    env.cmd().args(["resume", &id]).assert().success();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "ran\n");
}

#[test]
fn exec_process_file() {
    let env = Env::new();
    let id = start(&env, &["sleep", "1000"]);
    let good = env.dir.path().join("process.json");
    std::fs::write(
        &good,
        r#"{"args":["sh","-c","echo $FROM_FILE; exit 7"],"cwd":"/","user":{"uid":0,"gid":0},"env":["FROM_FILE=yes","PATH=/bin"]}"#,
    )
    .unwrap();
    let out = env
        .cmd()
        .args(["exec", "-p"])
        .arg(&good)
        .arg(&id)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(7));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "yes\n");

    let bad = env.dir.path().join("broken.json");
    std::fs::write(&bad, "{\n \"args\": [\"true\"],\n \"cwd\": 5\n}\n").unwrap();
    let out = env
        .cmd()
        .args(["--debug", "exec", "-p"])
        .arg(&bad)
        .arg(&id)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("broken.json") && err.contains("line 3") && err.contains("cwd"),
        "{err}"
    );
    assert!(
        !err.contains("running the runtime"),
        "runc must not run: {err}"
    );
}

#[test]
fn stats_of_a_running_container() {
    let env = Env::new();
    let id = start(
        &env,
        &[
            "sh",
            "-c",
            "sleep 1000 & sleep 1000 & while true; do :; done",
        ],
    );
    let s = stats_json(&env, &id);
    assert!(s["cpu"]["usage"]["total"].as_u64().unwrap() > 0, "{s}");
    assert!(s["memory"]["usage"]["usage"].as_u64().unwrap() > 0, "{s}");
    assert_eq!(s["pids"]["current"], 3, "sh and two sleeps: {s}");

    let mut cmd = env.cmd();
    cmd.args(["stats", "--interval", "300ms", &id]);
    let text = common::stdout_of(cmd);
    let row = text.lines().find(|l| l.starts_with(&id)).expect(&text);
    let cpu: f64 = row
        .split_whitespace()
        .nth(1)
        .unwrap()
        .trim_end_matches('%')
        .parse()
        .unwrap();
    assert!(cpu > 1.0, "a busy loop uses CPU: {row}");

    let out = env
        .cmd()
        .args(["stats", "--all", "--interval", "100ms"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains(&id));

    let out = env
        .cmd()
        .args(["stats", "no-such-container"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no-such-container"));
}

#[test]
fn update_shows_in_the_next_stats() {
    let env = Env::new();
    let id = start(&env, &["sleep", "1000"]);
    env.cmd()
        .args(["update", "--memory", "64M", "--pids-limit", "20", &id])
        .assert()
        .success();
    let s = stats_json(&env, &id);
    assert_eq!(s["memory"]["usage"]["limit"], 64 << 20, "{s}");
    assert_eq!(s["pids"]["limit"], 20, "{s}");

    env.cmd()
        .args(["update", "-r", "-", &id])
        .write_stdin(r#"{"memory":{"limit":100663296},"pids":{"limit":30}}"#)
        .assert()
        .success();
    let s = stats_json(&env, &id);
    assert_eq!(s["memory"]["usage"]["limit"], 96 << 20, "{s}");
    assert_eq!(s["pids"]["limit"], 30, "{s}");
}

/// `ocictl --format json events --interval INTERVAL ID` in the background,
/// and its output's lines.
fn follow(
    env: &Env,
    id: &str,
    interval: &str,
) -> (
    std::process::Child,
    impl Iterator<Item = std::io::Result<String>>,
) {
    let mut child = env
        .std_cmd()
        .args(["--format", "json", "events", "--interval", interval, id])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    // Every read has a deadline: a stream that goes silent without ending
    // fails the test instead of hanging it.
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let lines = std::iter::from_fn(move || {
        use std::sync::mpsc::RecvTimeoutError;
        match rx.recv_timeout(Duration::from_secs(30)) {
            Ok(line) => Some(line),
            Err(RecvTimeoutError::Disconnected) => None,
            Err(RecvTimeoutError::Timeout) => panic!("ocictl events printed nothing for 30 s"),
        }
    });
    (child, lines)
}

/// Read JSON lines from a running `ocictl events` until `until` holds.
fn read_until(
    lines: &mut impl Iterator<Item = std::io::Result<String>>,
    seen: &mut Vec<serde_json::Value>,
    until: impl Fn(&[serde_json::Value]) -> bool,
) {
    while !until(seen) {
        let line = lines
            .next()
            .expect("events ended too early")
            .expect("readable");
        seen.push(serde_json::from_str(&line).expect("a JSON line"));
    }
}

#[test]
fn events_follow_until_the_container_is_gone() {
    let env = Env::new();
    let id = start(&env, &["sleep", "1000"]);
    let (mut child, mut lines) = follow(&env, &id, "200ms");
    let mut seen = Vec::new();
    read_until(&mut lines, &mut seen, |s| s.len() >= 3);
    assert!(seen.iter().all(|e| e["type"] == "stats" && e["id"] == id));
    env.cmd().args(["kill", &id, "KILL"]).assert().success();
    env.wait_status(&id, "stopped");
    env.cmd().args(["delete", &id]).assert().success();
    for line in lines {
        let v: serde_json::Value = serde_json::from_str(&line.unwrap()).unwrap();
        assert_eq!(v["type"], "stats");
    }
    // A safety net, not a timing assertion: the stream must end by itself.
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("events did not end after the container was deleted");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(status.code(), Some(0));
}

#[test]
fn events_end_cleanly_on_ctrl_c() {
    let env = Env::new();
    let id = start(&env, &["sleep", "1000"]);
    let (mut child, mut lines) = follow(&env, &id, "200ms");
    read_until(&mut lines, &mut Vec::new(), |s| !s.is_empty());
    nix_kill(child.id() as i32, libc::SIGINT);
    assert_eq!(child.wait().unwrap().code(), Some(0));
    assert_eq!(env.status(&id).as_deref(), Some("running"));
}

fn nix_kill(pid: i32, sig: i32) {
    // SAFETY: kill has no memory-safety preconditions.
    assert_eq!(unsafe { libc::kill(pid, sig) }, 0);
}

#[test]
fn oom_event_for_a_container_over_its_limit() {
    let env = Env::new();
    let bundle = env.bundle(&["sleep", "1000"]);
    Env::edit_config(&bundle, |c| {
        c["linux"]["resources"]["memory"] =
            serde_json::json!({"limit": 16777216, "swap": 16777216});
    });
    let id = unique_id("oom");
    let run = env.run_detached(args!["run", "-d", "-b", bundle, id]);
    assert_eq!(run.code, Some(0), "{run:?}");
    env.wait_status(&id, "running");
    let (mut child, mut lines) = follow(&env, &id, "1s");
    let mut seen = Vec::new();
    read_until(&mut lines, &mut seen, |s| !s.is_empty());
    // Buffer 100 MB in a shell variable: the kernel OOM-kills the shell.
    let out = env
        .cmd()
        .args(["exec", &id, "sh", "-c", "x=$(yes | head -c 100000000)"])
        .output()
        .unwrap();
    assert!(!out.status.success(), "the allocation must fail");
    read_until(&mut lines, &mut seen, |s| {
        s.iter().any(|e| e["type"] == "oom")
    });
    let oom = seen.iter().find(|e| e["type"] == "oom").unwrap();
    assert_eq!(oom["id"], id);
    env.cmd().args(["delete", "-f", &id]).assert().success();
    assert_eq!(child.wait().unwrap().code(), Some(0));
}

#[test]
fn top_with_and_without_ps_options() {
    let env = Env::new();
    let id = start(&env, &["sh", "-c", "sleep 1000 & sleep 999"]);
    let comms_of = |v: &serde_json::Value| -> Vec<String> {
        v["processes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p[1].as_str().unwrap().to_string())
            .collect()
    };
    // Right after start the shell may not have forked and exec'd yet.
    let mut v = env.json(&["top", &id, "-o", "pid,comm"]);
    for _ in 0..100 {
        if comms_of(&v).len() == 2 && comms_of(&v).iter().all(|c| c == "sleep") {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
        v = env.json(&["top", &id, "-o", "pid,comm"]);
    }
    assert_eq!(v["headers"], serde_json::json!(["PID", "COMMAND"]));
    let comms = comms_of(&v);
    // busybox sh execs its last command: two sleeps, no shell.
    assert_eq!(comms, ["sleep", "sleep"], "{v}");

    let out = env.cmd().args(["top", &id]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.lines().next().unwrap().contains("PID"), "{text}");
    assert!(text.contains("sleep 999"), "the command is whole: {text}");

    let out = env.cmd().args(["top", &id, "-o", "comm"]).output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("PID column"));
}
