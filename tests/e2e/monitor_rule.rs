//! The monitor rule, on real runc: a caller that passes `--pid-file` to
//! `create` or `run -d` is a supervisor that reaps the container itself, so
//! ocictl leaves no monitor between them (no state directory, the init is
//! not a child of an ocictl process); without `--pid-file` the monitor
//! stays. `--monitor always|never` and `OCICTL_MONITOR` override it;
//! `--no-monitor` means never.

use crate::common;

use std::ffi::OsStr;
use std::path::{Path, PathBuf};

use common::{unique_id, Env};

/// ocictl's state directory for container `id` under `env`'s root.
fn state_dir(env: &Env, id: &str) -> PathBuf {
    let mut base = env.root.clone().into_os_string();
    base.push(".ocictl");
    PathBuf::from(base).join(id)
}

/// `ocictl [global…] run -d [args…] -b BUNDLE ID`, which must succeed.
fn run_d(env: &Env, global: &[&str], args: &[&OsStr], bundle: &Path, id: &str) {
    let mut all: Vec<&OsStr> = global.iter().map(OsStr::new).collect();
    all.extend([OsStr::new("run"), OsStr::new("-d")]);
    all.extend_from_slice(args);
    all.extend([OsStr::new("-b"), bundle.as_os_str(), OsStr::new(id)]);
    let out = env.run_detached(&all);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
}

/// The command name of `pid`'s parent.
fn parent_comm(pid: i32) -> String {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let ppid = status
        .lines()
        .find_map(|l| l.strip_prefix("PPid:"))
        .map(|v| v.trim().to_string())
        .unwrap();
    std::fs::read_to_string(format!("/proc/{ppid}/comm"))
        .unwrap_or_default()
        .trim()
        .to_string()
}

fn init_pid(env: &Env, id: &str) -> i32 {
    env.state(id)["pid"].as_i64().unwrap() as i32
}

#[test]
fn a_pid_file_caller_gets_runcs_process_tree_and_no_state() {
    let env = Env::new();
    let bundle = env.bundle(&["sleep", "100"]);
    let (run_id, create_id) = (unique_id("rule-run"), unique_id("rule-create"));
    let pid_file = env.dir.path().join("run.pid");
    run_d(
        &env,
        &[],
        &[OsStr::new("--pid-file"), pid_file.as_os_str()],
        &bundle,
        &run_id,
    );
    let pid: i32 = std::fs::read_to_string(&pid_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert_eq!(pid, init_pid(&env, &run_id));
    assert_ne!(parent_comm(pid), "ocictl", "no monitor above the init");
    assert!(!state_dir(&env, &run_id).exists());

    let create_pid = env.dir.path().join("create.pid");
    let out = env.run_detached(&[
        OsStr::new("create"),
        OsStr::new("--pid-file"),
        create_pid.as_os_str(),
        OsStr::new("-b"),
        bundle.as_os_str(),
        OsStr::new(&create_id),
    ]);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert!(!state_dir(&env, &create_id).exists());
    assert_ne!(parent_comm(init_pid(&env, &create_id)), "ocictl");
    for id in [&run_id, &create_id] {
        env.cmd().args(["delete", "--force", id]).assert().success();
    }
}

#[test]
fn without_a_pid_file_the_monitor_stays_and_always_or_never_override() {
    let env = Env::new();
    let bundle = env.bundle(&["sh", "-c", "sleep 0.5; exit 3"]);
    let plain = unique_id("rule-plain");
    run_d(&env, &[], &[], &bundle, &plain);
    assert!(state_dir(&env, &plain).exists(), "the monitor's state");
    env.cmd().args(["wait", &plain]).assert().code(3);

    let always = unique_id("rule-always");
    let pid_file = env.dir.path().join("always.pid");
    let with_pid = [OsStr::new("--pid-file"), pid_file.as_os_str()];
    run_d(&env, &["--monitor", "always"], &with_pid, &bundle, &always);
    assert!(state_dir(&env, &always).exists());
    env.cmd().args(["wait", &always]).assert().code(3);

    let never = unique_id("rule-never");
    let out = env.run_detached(&[
        OsStr::new("run"),
        OsStr::new("-d"),
        OsStr::new("--no-monitor"),
        OsStr::new("-b"),
        bundle.as_os_str(),
        OsStr::new(&never),
    ]);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert!(!state_dir(&env, &never).exists());

    let from_env = unique_id("rule-env");
    let mut cmd = env.std_cmd();
    cmd.env("OCICTL_MONITOR", "never")
        .args(["run", "-d", "-b"])
        .arg(&bundle)
        .arg(&from_env)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    assert!(cmd.status().unwrap().success());
    assert!(!state_dir(&env, &from_env).exists());
    for id in [&plain, &always, &never, &from_env] {
        env.cmd().args(["delete", "--force", id]).assert().success();
    }
}

#[test]
fn what_needs_the_monitor_says_how_to_get_it() {
    let env = Env::new();
    let bundle = env.bundle(&["true"]);
    let log = env.dir.path().join("out.log");
    let pid_file = env.dir.path().join("p.pid");
    let out = env
        .cmd()
        .args(["run", "-d", "--log-output"])
        .arg(&log)
        .arg("--pid-file")
        .arg(&pid_file)
        .arg("-b")
        .arg(&bundle)
        .arg(unique_id("rule-log"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("--log-output needs ocictl's monitor"),
        "{stderr}"
    );
    assert!(stderr.contains("--monitor always"), "{stderr}");

    let tty = env.bundle_with(&["sh"], true);
    let out = env
        .cmd()
        .args(["--monitor", "never", "create", "-b"])
        .arg(&tty)
        .arg(unique_id("rule-tty"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("--console-socket"), "{stderr}");
    assert!(stderr.contains("--monitor never"), "{stderr}");
    assert!(env.runc_ids().is_empty(), "nothing was created");
}
