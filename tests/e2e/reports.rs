//! What ocictl reports, checked against real runc: the signal a name
//! sends, which stream a foreground summary goes to, how a failure is said
//! (once; one JSON object), colour in tracing output, and what `--timeout`
//! leaves behind.

use crate::common;

use std::process::Command as StdCommand;
use std::time::Duration;

use common::{unique_id, Env, FakeRuntime, PtySession};

fn run_d(env: &Env, bundle: &std::path::Path, id: &str) {
    let out = env.run_detached(args!["run", "-d", "-b", bundle, id]);
    assert_eq!(out.code, Some(0), "run -d {id}: {out:?}");
}

/// `kill ID RTMIN+3` sends 37, as bash, systemd and Docker mean it: a
/// container shell trapping 37 (and only 37) exits with 37 when it comes.
#[test]
fn rtmin_plus_3_delivers_signal_37_to_a_real_container() {
    let env = Env::new();
    let id = unique_id("rt3");
    let bundle = env.bundle(&[
        "sh",
        "-c",
        "trap 'exit 35' 35; trap 'exit 37' 37; touch /ready; while :; do sleep 0.1; done",
    ]);
    run_d(&env, &bundle, &id);
    let ready = bundle.join("rootfs/ready");
    for _ in 0..200 {
        if ready.exists() {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(ready.exists(), "the container's shell never set its traps");
    let json = env.json(&["kill", &id, "RTMIN+3"]);
    assert_eq!(json["signal"], "SIGRTMIN+3");
    let out = env.cmd().args(["wait", &id]).output().unwrap();
    assert_eq!(out.status.code(), Some(37), "{out:?}");
}

/// `--format json exec`: stdout is exactly what the process printed; the
/// summary is one JSON object, the last line of stderr.
#[test]
fn json_exec_leaves_stdout_to_the_process_and_summarises_on_stderr() {
    let env = Env::new();
    let id = unique_id("jx");
    run_d(&env, &env.bundle(&["sleep", "1000"]), &id);
    let out = env
        .cmd()
        .args([
            "--format",
            "json",
            "exec",
            &id,
            "sh",
            "-c",
            "echo hi; echo oops >&2",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "hi\n");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let (before, last) = stderr.trim_end().rsplit_once('\n').unwrap();
    assert_eq!(before, "oops");
    let summary: serde_json::Value = serde_json::from_str(last).unwrap();
    assert_eq!(summary["action"], "exec");
    assert_eq!(summary["exit_code"], 0);

    // A process may exit 137 by itself: no signal is claimed for it.
    let out = env
        .cmd()
        .args(["--format", "json", "exec", &id, "sh", "-c", "exit 137"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(137));
    assert!(out.stdout.is_empty(), "{out:?}");
    let summary: serde_json::Value = serde_json::from_slice(&out.stderr).unwrap();
    assert_eq!(summary["exit_code"], 137);
    assert!(summary.get("signal").is_none(), "{summary}");
}

/// With -t ocictl reaps the process itself: a signal that killed it is
/// known, and reported; stdout carries only the terminal's output.
#[test]
fn json_run_t_reports_the_signal_it_saw() {
    let env = Env::new();
    let id = unique_id("jsig");
    let bundle = env.bundle(&["sh", "-c", "echo up; exec sleep 1000"]);
    let err_file = env.dir.path().join("summary.json");
    let mut sh = StdCommand::new("sh");
    sh.arg("-c").arg(format!(
        "exec '{}' --root '{}' --format json run -t -b '{}' {id} 2>'{}'",
        common::ocictl_path().display(),
        env.root.display(),
        bundle.display(),
        err_file.display()
    ));
    let mut s = PtySession::spawn(sh, 24, 80);
    s.expect("up");
    env.wait_status(&id, "running");
    env.cmd().args(["kill", &id, "KILL"]).assert().success();
    assert_eq!(s.wait().code(), Some(137), "{}", s.text());
    assert!(!s.text().contains("exit_code"), "{}", s.text());
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&err_file).unwrap()).unwrap();
    assert_eq!(summary["exit_code"], 137);
    assert_eq!(summary["signal"], "SIGKILL");
}

/// A run that fails to start says why once, and with --format json its
/// stderr is exactly one JSON object (runc's own line is not passed on).
#[test]
fn a_failed_run_says_its_cause_once() {
    let env = Env::new();
    let bundle = env.bundle(&["no-such-program"]);
    let cause = "executable file not found";

    let out = env
        .cmd()
        .args(["run", "-b"])
        .arg(&bundle)
        .arg(unique_id("fail"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.matches(cause).count(), 1, "{stderr}");
    assert!(
        stderr.starts_with("ocictl: error: cannot run container"),
        "{stderr}"
    );

    let out = env
        .cmd()
        .args(["--format", "json", "run", "-b"])
        .arg(&bundle)
        .arg(unique_id("fail"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty(), "{out:?}");
    let error: serde_json::Value = serde_json::from_slice(&out.stderr)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    assert_eq!(error["exit_code"], 1);
    assert!(
        error["causes"][0].as_str().unwrap().contains(cause),
        "{error}"
    );

    // exec of a missing program: the same.
    let id = unique_id("fx");
    run_d(&env, &env.bundle(&["sleep", "1000"]), &id);
    let out = env
        .cmd()
        .args(["--format", "json", "exec", &id, "no-such-program"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let error: serde_json::Value = serde_json::from_slice(&out.stderr)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    assert!(error["error"].as_str().unwrap().contains(&id), "{error}");
}

/// `--debug` colours its lines on a terminal only, and never with NO_COLOR.
#[test]
fn tracing_is_coloured_only_on_a_terminal() {
    let env = Env::new();
    let out = env.cmd().args(["--debug", "list"]).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("running the runtime"), "{stderr}");
    assert!(!stderr.contains('\x1b'), "{stderr:?}");

    for (no_color, coloured) in [(None, true), (Some("1"), false)] {
        let mut cmd = env.std_cmd();
        cmd.args(["--debug", "list"]);
        if let Some(v) = no_color {
            cmd.env("NO_COLOR", v);
        } else {
            cmd.env_remove("NO_COLOR");
        }
        let mut s = PtySession::spawn(cmd, 24, 200);
        assert!(s.wait().success(), "{}", s.text());
        assert!(s.text().contains("running the runtime"), "{}", s.text());
        assert_eq!(s.text().contains('\x1b'), coloured, "{:?}", s.text());
    }
}

/// Whether a process is gone (or a zombie nobody reaped yet).
fn gone(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z')),
    }
}

/// A hung runtime wrapper is killed after --timeout with the child it
/// started (with and without --setpgid).
#[test]
fn timeout_ends_the_runtime_and_its_children() {
    for setpgid in [false, true] {
        let fake = FakeRuntime::new();
        let child_file = fake.dir.path().join("child");
        fake.set(
            "script",
            format!("sleep 1000 & echo $! > '{}'; wait\n", child_file.display()),
        );
        let mut cmd = fake.cmd();
        if setpgid {
            cmd.arg("--setpgid");
        }
        let out = cmd
            // Long enough for the script to start its child on a loaded
            // machine (the child file is read below).
            .args(["--timeout", "3s", "state", "c"])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(124), "{out:?}");
        let child: i32 = std::fs::read_to_string(&child_file)
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        // Killed before ocictl returned: no wait needed, only its reaping
        // by init may lag (a zombie counts as gone).
        assert!(
            gone(child),
            "setpgid={setpgid}: the runtime's child {child} survived"
        );
    }
}
