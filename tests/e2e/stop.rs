//! End to end on real runc: `stop` (signal, grace period, SIGKILL; through
//! the monitor or by polling state) and several IDs for `delete` and `kill`.
//!
//! A container's init is pid 1 of its pid namespace, so a signal it has no
//! handler for is ignored (busybox `sleep` as init ignores TERM): the
//! containers that end on TERM trap it.

use crate::common;

use common::{unique_id, Env};
use serde_json::Value;

/// A shell that exits 143 on SIGTERM, at once (the trap runs when `wait`
/// is interrupted).
const ENDS_ON_TERM: &[&str] = &["sh", "-c", "trap 'exit 143' TERM; sleep 1000 & wait"];
/// A shell that ignores SIGTERM.
const IGNORES_TERM: &[&str] = &["sh", "-c", "trap '' TERM; while :; do sleep 1; done"];

/// A container running `command` (one of the shells above), started with
/// `run -d`, once its trap is set: the shell has started `sleep`.
fn started(env: &Env, command: &[&str], prefix: &str) -> String {
    let id = env.started(command, prefix);
    sleeping(env, &id);
    id
}

/// Wait until the container's shell has started `sleep` (its trap is set).
fn sleeping(env: &Env, id: &str) {
    common::wait_until(
        "the container's shell has set its trap",
        std::time::Duration::from_secs(10),
        || {
            let out = env
                .cmd()
                .args(["ps", id, "-o", "pid,comm"])
                .output()
                .unwrap();
            String::from_utf8_lossy(&out.stdout).contains("sleep")
        },
    );
}

/// `ocictl --format json WORDS`: (exit code, JSON lines on stdout, on stderr).
fn json_lines(env: &Env, words: &[&str]) -> (Option<i32>, Vec<Value>, Vec<Value>) {
    let out = env
        .cmd()
        .args(["--format", "json"])
        .args(words)
        .output()
        .unwrap();
    let parse = |bytes: &[u8]| -> Vec<Value> {
        String::from_utf8_lossy(bytes)
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{words:?}: {e}: {l}")))
            .collect()
    };
    (out.status.code(), parse(&out.stdout), parse(&out.stderr))
}

/// `ocictl --format json stop WORDS` that must succeed: its results by ID.
fn stopped(env: &Env, words: &[&str]) -> Vec<Value> {
    let mut all = vec!["stop"];
    all.extend_from_slice(words);
    let (code, done, errors) = json_lines(env, &all);
    assert_eq!(code, Some(0), "{all:?}: {errors:?}");
    done
}

#[test]
fn stop_ends_a_container_on_term_and_reports_its_exit_from_the_monitor() {
    let env = Env::new();
    let id = started(&env, ENDS_ON_TERM, "stop-term");
    let done = stopped(&env, &[&id]);
    assert_eq!(done.len(), 1);
    let r = &done[0];
    assert_eq!(r["id"], id.as_str());
    assert_eq!(r["signal"], "SIGTERM");
    assert_eq!(r["escalated"], false, "{r}");
    assert_eq!(r["already_stopped"], false);
    assert_eq!(r["exit"]["code"], 143, "{r}");
    assert_eq!(r["exit_code"], 143);
    assert_eq!(env.status(&id).as_deref(), Some("stopped"));
    // Stopping it again: already stopped, the same recorded exit.
    let again = stopped(&env, &[&id]);
    assert_eq!(again[0]["already_stopped"], true);
    assert_eq!(again[0]["exit"]["code"], 143);
    assert!(again[0].get("signal").is_none(), "nothing sent");
    // For people: one line.
    let out = env.cmd().args(["stop", &id]).output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!("{id}: already stopped; exit status 143\n")
    );
}

#[test]
fn stop_kills_a_container_that_ignores_term_after_the_grace_period() {
    let env = Env::new();
    let id = started(&env, IGNORES_TERM, "stop-stubborn");
    let out = env
        .cmd()
        .args(["stop", "--time", "1", &id])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!(
            "{id}: stopped after SIGKILL (still running 1s after SIGTERM); killed by SIGKILL\n"
        )
    );
    assert_eq!(env.status(&id).as_deref(), Some("stopped"));
    let state = env.state(&id);
    assert_eq!(state["exit"]["signal"], "SIGKILL");
}

#[test]
fn stop_several_in_one_call_each_reported() {
    let env = Env::new();
    let polite = started(&env, ENDS_ON_TERM, "stop-many");
    let stubborn = started(&env, IGNORES_TERM, "stop-many");
    // busybox sleep as pid 1 has no TERM handler: the kernel ignores TERM.
    let sleeper = env.started(&["sleep", "1000"], "stop-many");
    let done = stopped(&env, &["-t", "1s", &polite, &stubborn, &sleeper]);
    let ids: Vec<&str> = done.iter().map(|r| r["id"].as_str().unwrap()).collect();
    assert_eq!(ids, [&polite, &stubborn, &sleeper]);
    assert_eq!(done[0]["escalated"], false, "{}", done[0]);
    assert_eq!(done[0]["exit_code"], 143);
    for r in &done[1..] {
        assert_eq!(r["escalated"], true, "{r}");
        assert_eq!(r["exit"]["signal"], "SIGKILL", "{r}");
        assert_eq!(r["exit_code"], 137, "{r}");
    }
    for id in [&polite, &stubborn, &sleeper] {
        assert_eq!(env.status(id).as_deref(), Some("stopped"), "{id}");
    }
}

#[test]
fn stop_resumes_a_paused_container_so_it_acts_on_the_signal() {
    let env = Env::new();
    let id = started(&env, ENDS_ON_TERM, "stop-paused");
    env.cmd().args(["pause", &id]).assert().success();
    assert_eq!(env.status(&id).as_deref(), Some("paused"));
    let done = stopped(&env, &[&id]);
    // It ended on TERM, by its own trap: it was resumed after the signal.
    assert_eq!(done[0]["escalated"], false, "{}", done[0]);
    assert_eq!(done[0]["exit_code"], 143, "{}", done[0]);
    assert_eq!(env.status(&id).as_deref(), Some("stopped"));
}

#[test]
fn stop_without_a_monitor_polls_state_and_knows_no_exit_status() {
    let env = Env::new();
    let bundle = env.bundle(ENDS_ON_TERM);
    let never = unique_id("stop-nomon");
    let pid_file = env.dir.path().join("init.pid");
    let with_pid = unique_id("stop-pidfile");
    for args in [
        args!["--monitor", "never", "run", "-d", "-b", bundle, never],
        args!["run", "-d", "--pid-file", pid_file, "-b", bundle, with_pid],
    ] {
        let run = env.run_detached(args);
        assert_eq!(run.code, Some(0), "{run:?}");
    }
    sleeping(&env, &never);
    sleeping(&env, &with_pid);
    let done = stopped(&env, &[&never, &with_pid]);
    for r in &done {
        assert_eq!(r["signal"], "SIGTERM", "{r}");
        assert_eq!(r["escalated"], false, "{r}");
        assert_eq!(r["exit"]["code"], Value::Null, "{r}");
        assert!(
            r["exit"]["unknown"]
                .as_str()
                .unwrap()
                .contains("no monitor"),
            "{r}"
        );
        assert!(r.get("exit_code").is_none(), "never invented: {r}");
        assert_eq!(
            env.status(r["id"].as_str().unwrap()).as_deref(),
            Some("stopped")
        );
    }
}

#[test]
fn stop_kills_a_created_container_at_once() {
    let env = Env::new();
    let bundle = env.bundle(IGNORES_TERM);
    let id = unique_id("stop-created");
    let created = env.run_detached(args!["create", "-b", bundle, id]);
    assert_eq!(created.code, Some(0), "{created:?}");
    let done = stopped(&env, &[&id]);
    assert_eq!(done[0]["signal"], "SIGKILL", "{}", done[0]);
    assert_eq!(done[0]["escalated"], false);
    assert_eq!(done[0]["exit"]["signal"], "SIGKILL", "{}", done[0]);
    assert_eq!(env.status(&id).as_deref(), Some("stopped"));
}

#[test]
fn stop_of_a_missing_container_fails_and_the_others_still_stop() {
    let env = Env::new();
    let a = started(&env, ENDS_ON_TERM, "stop-miss");
    let b = started(&env, ENDS_ON_TERM, "stop-miss");
    let (code, done, errors) = json_lines(&env, &["stop", &a, "nosuch", &b]);
    assert_eq!(code, Some(1), "{errors:?}");
    assert_eq!(done.len(), 2);
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0]["id"], "nosuch");
    assert!(errors[0]["error"]
        .as_str()
        .unwrap()
        .contains("container nosuch"));
    for id in [&a, &b] {
        assert_eq!(env.status(id).as_deref(), Some("stopped"), "{id}");
    }
    for bad in [
        &["stop", "-s", "BOGUS", &a][..],
        &["stop", "-t", "soon", &a],
    ] {
        let (code, _, errors) = json_lines(&env, bad);
        assert_eq!(code, Some(2), "{bad:?}");
        assert_eq!(errors.len(), 1, "{bad:?}");
    }
}

#[test]
fn delete_several_deletes_all_but_the_missing_one() {
    let env = Env::new();
    let a = env.started(&["sleep", "1000"], "del-many");
    let b = env.started(&["sleep", "1000"], "del-many");
    let c = env.started(&["sleep", "1000"], "del-many");
    let d = env.started(&["sleep", "1000"], "del-many");
    env.cmd().args(["delete", "-f", &a, &b]).assert().success();
    assert_eq!(env.runc_ids().len(), 2, "{:?}", env.runc_ids());
    env.cmd().args(["kill", &c, &d, "KILL"]).assert().success();
    env.wait_status(&c, "stopped");
    env.wait_status(&d, "stopped");
    let out = env
        .cmd()
        .args(["delete", &c, "nosuch", &d])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert_eq!(String::from_utf8_lossy(&out.stdout), format!("{c}\n{d}\n"));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("cannot delete container nosuch"),
        "{stderr}"
    );
    assert!(env.runc_ids().is_empty(), "{:?}", env.runc_ids());
    // Their monitors' state went with them.
    let base = std::path::PathBuf::from(format!("{}.ocictl", env.root.display()));
    for id in [&a, &b, &c, &d] {
        assert!(!base.join(id).exists(), "{id}");
    }
}

#[test]
fn kill_several_signals_each_and_a_mistyped_signal_signals_none() {
    let env = Env::new();
    let a = env.started(&["sleep", "1000"], "kill-many");
    let b = env.started(&["sleep", "1000"], "kill-many");
    for words in [&["kill", &a, &b, "KILLL"][..], &["kill", &a, &b]] {
        let out = env.cmd().args(words).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{words:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("to kill several containers give the signal"),
            "{stderr}"
        );
    }
    for id in [&a, &b] {
        assert_eq!(env.status(id).as_deref(), Some("running"), "{id}");
    }
    let (code, done, errors) = json_lines(&env, &["kill", &a, "nosuch", &b, "KILL"]);
    assert_eq!(code, Some(1), "{errors:?}");
    assert_eq!(done.len(), 2);
    assert_eq!(done[0]["signal"], "SIGKILL");
    assert_eq!(errors[0]["id"], "nosuch");
    for id in [&a, &b] {
        env.wait_status(id, "stopped");
    }
    // -s: every positional is a container.
    let c = started(&env, ENDS_ON_TERM, "kill-many");
    let d = started(&env, ENDS_ON_TERM, "kill-many");
    env.cmd()
        .args(["kill", "-s", "TERM", &c, &d])
        .assert()
        .success();
    for id in [&c, &d] {
        env.wait_status(id, "stopped");
    }
}

#[test]
fn stop_never_reports_an_earlier_containers_exit() {
    let env = Env::new();
    let bundle = env.bundle(ENDS_ON_TERM);
    let id = env.started(&["sh", "-c", "exit 7"], "stop-stale");
    env.cmd().args(["wait", &id]).assert().code(7);
    // Bare runc deletes it (ocictl's record of it stays) and makes a new
    // container with the same ID, which no monitor watches.
    assert!(env.bare_runc(&["delete", &id]).success());
    assert!(env
        .bare_runc(args!["run", "-d", "--bundle", bundle, id])
        .success());
    sleeping(&env, &id);
    let done = stopped(&env, &[&id]);
    let r = &done[0];
    assert_eq!(r["already_stopped"], false, "the new one was running: {r}");
    assert_eq!(r["escalated"], false, "{r}");
    assert_eq!(
        r["exit"]["code"],
        Value::Null,
        "not the earlier container's 7: {r}"
    );
    assert!(r.get("exit_code").is_none(), "{r}");
    assert_eq!(env.status(&id).as_deref(), Some("stopped"));
}
