//! The per-container monitor on real runc: exit statuses (`wait`, `state`),
//! terminals that outlive the shell that started them (`attach`, `logs`),
//! what happens when the monitor is killed, and what it costs.

use crate::common;

use std::path::PathBuf;
use std::time::Duration;

use common::{unique_id, Env, PtySession};

/// The monitor's state directory for `id` (a sibling of the root).
fn state_dir(env: &Env, id: &str) -> PathBuf {
    env.root.with_file_name("root.ocictl").join(id)
}

fn meta(env: &Env, id: &str) -> serde_json::Value {
    let raw = std::fs::read(state_dir(env, id).join("meta.json")).expect("the monitor's meta.json");
    serde_json::from_slice(&raw).unwrap()
}

fn monitor_pid(env: &Env, id: &str) -> i32 {
    meta(env, id)["monitor_pid"].as_i64().unwrap() as i32
}

fn run_d(env: &Env, extra: &[&str], bundle: &std::path::Path, id: &str) {
    let mut a: Vec<&std::ffi::OsStr> = vec!["run".as_ref(), "-d".as_ref()];
    a.extend(extra.iter().map(|s| std::ffi::OsStr::new(*s)));
    a.extend(["-b".as_ref(), bundle.as_os_str(), id.as_ref()]);
    let out = env.run_detached(&a);
    assert_eq!(out.code, Some(0), "run -d {id}: {out:?}");
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

fn wait_gone(pid: i32) {
    for _ in 0..200 {
        if gone(pid) {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("process {pid} is still there");
}

#[test]
fn wait_returns_the_exit_code_and_state_shows_it() {
    let env = Env::new();
    let id = unique_id("mon-exit");
    let bundle = env.bundle(&["sh", "-c", "sleep 1; exit 7"]);
    run_d(&env, &[], &bundle, &id);
    assert_eq!(env.state(&id)["status"], "running");
    assert!(
        env.state(&id).get("exit").is_none(),
        "no exit while it runs"
    );
    let out = env.cmd().args(["wait", &id]).output().unwrap();
    assert_eq!(out.status.code(), Some(7), "{out:?}");
    let state = env.state(&id);
    assert_eq!(state["status"], "stopped");
    assert_eq!(state["exit"]["code"], 7, "{state}");
    assert!(state["exit"]["signal"].is_null(), "{state}");
    assert!(state["exit"]["at"].is_string(), "{state}");
    // Again after the exit, with the record.
    let out = env
        .cmd()
        .args(["--format", "json", "wait", &id])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(7));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["exit"]["code"], 7);
    assert_eq!(v["exit_code"], 7);
    // list's JSON carries it too; its table stays runc's.
    let out = env.cmd().args(["list", "-f", "json"]).output().unwrap();
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(list[0]["exit"]["code"], 7, "{list}");
    let table = env.cmd().arg("list").output().unwrap();
    let header = String::from_utf8_lossy(&table.stdout);
    assert!(header.starts_with("ID "), "{header}");
    assert!(!header.contains("EXIT"), "{header}");
}

#[test]
fn a_container_killed_with_kill_reports_signal_9() {
    let env = Env::new();
    let id = unique_id("mon-kill");
    let bundle = env.bundle(&["sleep", "100"]);
    run_d(&env, &[], &bundle, &id);
    env.cmd().args(["kill", &id, "KILL"]).assert().success();
    let out = env.cmd().args(["wait", &id]).output().unwrap();
    assert_eq!(out.status.code(), Some(128 + 9), "{out:?}");
    let state = env.state(&id);
    assert_eq!(state["exit"]["signal"], "SIGKILL", "{state}");
    assert!(state["exit"]["code"].is_null(), "{state}");
}

#[test]
fn create_then_start_works_and_the_exit_is_recorded() {
    let env = Env::new();
    let id = unique_id("mon-create");
    let bundle = env.bundle(&["sh", "-c", "exit 4"]);
    let out = env.run_detached(args!["create", "-b", bundle, id]);
    assert_eq!(out.code, Some(0), "{out:?}");
    assert_eq!(env.state(&id)["status"], "created");
    env.cmd().args(["start", &id]).assert().success();
    let out = env.cmd().args(["wait", &id]).output().unwrap();
    assert_eq!(out.status.code(), Some(4), "{out:?}");
}

#[test]
fn the_runtimes_error_and_exit_code_reach_the_caller() {
    let env = Env::new();
    let id = unique_id("mon-fail");
    let bundle = env.bundle(&["/no/such/program"]);
    let out = env.run_detached(args!["run", "-d", "-b", bundle, id]);
    assert_eq!(out.code, Some(1), "{out:?}");
    assert!(out.stderr.contains(&format!("container {id}")), "{out:?}");
    assert!(out.stderr.contains("/no/such/program"), "{out:?}");
    assert!(
        !state_dir(&env, &id).exists(),
        "no state left for a failed start"
    );
    let base = env.root.with_file_name("root.ocictl");
    assert!(!base.exists(), "an empty state base is removed again");
}

#[test]
fn log_output_captures_a_plain_containers_stdout_and_stderr() {
    let env = Env::new();
    let id = unique_id("mon-logout");
    let bundle = env.bundle(&["sh", "-c", "echo to-out; echo to-err >&2; exit 3"]);
    let log = env.dir.path().join("out.log");
    run_d(&env, &["--log-output", log.to_str().unwrap()], &bundle, &id);
    let out = env.cmd().args(["wait", &id]).output().unwrap();
    assert_eq!(out.status.code(), Some(3));
    let out = env.cmd().args(["logs", &id]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("to-out") && text.contains("to-err"),
        "{out:?}"
    );
    let out = env
        .cmd()
        .args(["logs", "--tail", "1", &id])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 1);
}

#[test]
fn a_killed_monitor_leaves_the_container_running_and_the_status_unknown() {
    let env = Env::new();
    let id = unique_id("mon-lost");
    let bundle = env.bundle(&["sleep", "100"]);
    run_d(&env, &[], &bundle, &id);
    let pid = monitor_pid(&env, &id);
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    wait_gone(pid);
    let state = env.state(&id);
    assert_eq!(state["status"], "running", "{state}");
    assert!(state["exit"]["code"].is_null(), "{state}");
    assert!(state["exit"]["unknown"].is_string(), "{state}");
    env.cmd().args(["kill", &id, "KILL"]).assert().success();
    env.wait_status(&id, "stopped");
    let state = env.state(&id);
    assert!(state["exit"]["code"].is_null(), "never invented: {state}");
    assert!(state["exit"]["signal"].is_null(), "never invented: {state}");
    let out = env.cmd().args(["wait", &id]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown"));
    env.cmd().args(["delete", &id]).assert().success();
    assert!(!state_dir(&env, &id).exists());
}

#[test]
fn no_monitor_remains_after_the_container_exits_and_is_deleted() {
    let env = Env::new();
    let id = unique_id("mon-gone");
    let bundle = env.bundle(&["sh", "-c", "exit 0"]);
    run_d(&env, &[], &bundle, &id);
    let pid = monitor_pid(&env, &id);
    env.cmd().args(["wait", &id]).assert().code(0);
    env.cmd().args(["delete", &id]).assert().success();
    assert!(
        !state_dir(&env, &id).exists(),
        "delete removes the monitor's state"
    );
    wait_gone(pid);
}

#[test]
fn an_idle_shim_holds_under_4_mib_of_its_own() {
    let env = Env::new();
    let id = unique_id("mon-rss");
    let bundle = env.bundle(&["sleep", "100"]);
    run_d(&env, &[], &bundle, &id);
    let pid = monitor_pid(&env, &id);
    // Idle: it has let go of the caller's stdio (the last step before it
    // blocks in waitpid).
    for _ in 0..200 {
        if std::fs::read_link(format!("/proc/{pid}/fd/2")).ok() == Some("/dev/null".into()) {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    // What the shim itself holds: its anonymous memory (heap, stacks,
    // relocated data), its proportional share. File pages are the ocictl
    // binary's page cache, shared with every ocictl: measured here at
    // 6-11 MiB Pss right after a debug build (pages of a freshly linked
    // binary count as dirty until written back) against 1.3 MiB Pss_Anon,
    // so only the latter says whether the shim grew. (trim_memory, which
    // unmapped file pages to bring the total under 4 MiB, is gone.)
    let rollup = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).unwrap();
    let anon_kib: u64 = rollup
        .lines()
        .find_map(|l| l.strip_prefix("Pss_Anon:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("Pss_Anon");
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    assert!(
        anon_kib < 4096,
        "shim {pid} holds {anon_kib} KiB of its own (Pss_Anon):\n{rollup}\n{status}"
    );
    // It holds none of the caller's stdio.
    for fd in 0..3 {
        let target = std::fs::read_link(format!("/proc/{pid}/fd/{fd}")).unwrap();
        assert_eq!(target, PathBuf::from("/dev/null"));
    }
}

/// ocictl in a fresh pty: `attach ID` (or any args).
fn ocictl_in_pty(env: &Env, args: &[&str]) -> PtySession {
    let mut cmd = env.std_cmd();
    cmd.args(args);
    PtySession::spawn(cmd, 24, 80)
}

#[test]
fn a_terminal_container_outlives_its_shell_and_can_be_attached_again() {
    let env = Env::new();
    let id = unique_id("mon-tty");
    let bundle = env.bundle(&["sh"]);
    // Started from a shell on a terminal that then exits (and hangs up).
    let mut starter = StdCommand::new("sh");
    starter.arg("-c").arg(format!(
        "'{}' --root '{}' run -d -t -b '{}' {id}; echo started=$?; exit",
        common::ocictl_path().display(),
        env.root.display(),
        bundle.display()
    ));
    let mut shell = PtySession::spawn(starter, 24, 80);
    shell.expect("started=0");
    assert!(shell.wait().success());
    drop(shell);
    env.wait_status(&id, "running");

    let mut a = ocictl_in_pty(&env, &["attach", &id]);
    a.send(b"echo hel''lo-$((6*7))\r");
    a.expect("hello-42");
    // A second client is refused while one is attached.
    let second = env.cmd().args(["attach", &id]).output().unwrap();
    assert_eq!(second.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&second.stderr).contains("another client"),
        "{second:?}"
    );
    a.send(b"\x10\x11");
    let status = a.wait();
    assert_eq!(status.code(), Some(0), "{}", a.text());
    assert!(a.text().contains("detached"), "{}", a.text());
    assert_eq!(env.status(&id).as_deref(), Some("running"));

    let mut b = ocictl_in_pty(&env, &["attach", &id]);
    b.send(b"stty size; echo se''cond\r");
    b.expect("24 80");
    b.expect("second");
    b.send(b"\x10\x11");
    assert_eq!(b.wait().code(), Some(0));

    let out = env.cmd().args(["logs", &id]).output().unwrap();
    let logs = String::from_utf8_lossy(&out.stdout);
    assert!(
        logs.contains("hello-42") && logs.contains("second"),
        "{logs}"
    );

    // Exiting the shell through attach: attach exits with its status.
    let mut c = ocictl_in_pty(&env, &["attach", &id]);
    c.send(b"exit 5\r");
    assert_eq!(c.wait().code(), Some(5), "{}", c.text());
    assert_eq!(env.state(&id)["exit"]["code"], 5);
}

use std::process::Command as StdCommand;

/// CPU time (user + system, in clock ticks) a process has used.
fn cpu_ticks(pid: i32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .unwrap()
        .1
        .split_whitespace()
        .collect();
    // utime and stime are fields 14 and 15; the text after ')' starts at 3.
    fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap()
}

#[test]
fn a_monitor_sleeps_when_the_container_closed_its_terminal() {
    let env = Env::new();
    let id = unique_id("mon-closed-pty");
    let bundle = env.bundle_with(
        &["sh", "-c", "exec </dev/null >/dev/null 2>&1; sleep 100"],
        true,
    );
    run_d(&env, &[], &bundle, &id);
    let pid = monitor_pid(&env, &id);
    std::thread::sleep(Duration::from_millis(300));
    let before = cpu_ticks(pid);
    std::thread::sleep(Duration::from_secs(1));
    let used = cpu_ticks(pid) - before;
    // A monitor blocked in poll uses nothing; one spinning on the closed pty
    // used the whole second (100 ticks). Half of that is a wide margin.
    assert!(
        used < 50,
        "the idle monitor used {used} ticks of CPU in one second"
    );
    env.cmd().args(["kill", &id, "KILL"]).assert().success();
    env.cmd().args(["wait", &id]).assert().code(137);
}

#[test]
fn run_d_t_keeps_the_terminal_bundle_copy_until_delete() {
    let env = Env::new();
    let id = unique_id("mon-copy");
    let bundle = env.bundle(&["sleep", "100"]);
    let config_before = std::fs::read(bundle.join("config.json")).unwrap();
    run_d(&env, &["-t"], &bundle, &id);
    // ocictl shows the user's bundle; the runtime itself records the copy,
    // which lives in the container's private state directory.
    assert_eq!(env.state(&id)["bundle"], bundle.to_str().unwrap());
    let runc = std::process::Command::new("runc")
        .arg("--root")
        .arg(&env.root)
        .args(["state", &id])
        .output()
        .unwrap();
    let raw: serde_json::Value = serde_json::from_slice(&runc.stdout).unwrap();
    let copy = PathBuf::from(raw["bundle"].as_str().unwrap());
    assert_eq!(copy, state_dir(&env, &id).join("bundle"), "{raw}");
    let config: serde_json::Value =
        serde_json::from_slice(&std::fs::read(copy.join("config.json")).unwrap()).unwrap();
    assert_eq!(config["process"]["terminal"], true);
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(copy.join("config.json"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(
        mode & 0o777,
        0o600,
        "the copy holds the container's environment"
    );
    assert_eq!(
        std::fs::read(bundle.join("config.json")).unwrap(),
        config_before
    );
    let listed = env.json(&["list"]);
    assert_eq!(listed[0]["bundle"], bundle.to_str().unwrap(), "{listed}");
    let table = common::stdout_of({
        let mut c = env.cmd();
        c.arg("list");
        c
    });
    assert!(table.contains(bundle.to_str().unwrap()), "{table}");
    env.cmd()
        .args(["delete", "--force", &id])
        .assert()
        .success();
    assert!(!copy.exists(), "delete removes the copy {}", copy.display());
}

#[test]
fn ps_tells_the_shims_apart_and_debug_logs_to_the_state_dir() {
    let env = Env::new();
    let id = unique_id("mon-ps");
    let bundle = env.bundle(&["sleep", "100"]);
    run_d(&env, &["--debug"], &bundle, &id);
    let pid = monitor_pid(&env, &id);
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap();
    let words: Vec<String> = cmdline
        .split(|&b| b == 0)
        .filter(|w| !w.is_empty())
        .map(|w| String::from_utf8_lossy(w).into_owned())
        .collect();
    let root = std::fs::canonicalize(&env.root).unwrap();
    assert_eq!(
        words[1..],
        [
            "shim",
            "--id",
            &id,
            "--root",
            root.to_str().unwrap(),
            "--fd",
            "3"
        ],
        "{words:?}"
    );
    let log = state_dir(&env, &id).join("shim.log");
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.contains("starts the runtime"), "{text}");
    assert!(
        !text.contains('\u{1b}'),
        "no colour codes in a file: {text}"
    );
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&log).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    env.cmd().args(["kill", &id, "KILL"]).assert().success();
    env.cmd().args(["wait", &id]).assert().code(137);
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.contains("init ended"), "{text}");
}

#[test]
fn a_kept_foreground_run_t_shows_the_users_bundle_until_delete() {
    let env = Env::new();
    let id = unique_id("mon-keep");
    let bundle = env.bundle(&["sh", "-c", "exit 3"]);
    let mut cmd = env.std_cmd();
    cmd.args(["run", "-t", "--keep", "-b"])
        .arg(&bundle)
        .arg(&id);
    let mut session = PtySession::spawn(cmd, 24, 80);
    assert_eq!(session.wait().code(), Some(3), "{}", session.text());
    let state = env.state(&id);
    assert_eq!(state["status"], "stopped", "{state}");
    assert_eq!(state["bundle"], bundle.to_str().unwrap(), "{state}");
    let copy = state_dir(&env, &id).join("bundle");
    assert!(copy.join("config.json").exists());
    env.cmd().args(["delete", &id]).assert().success();
    assert!(!state_dir(&env, &id).exists());
}
