//! The bad-input table (RELIABILITY.md lists it): the rows tests/e2e/errors.rs,
//! tests/argv/argv.rs and tests/parse/parsing.rs do not already cover. Each row asserts
//! the exact exit code, that the message names the thing that is wrong and
//! says what to do, that nothing panicked, and — for input ocictl can check
//! itself — that the runtime never ran.

use crate::common;

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use common::{ocictl, unique_id, Env, FakeRuntime, ReadOnlyDir};
use ocictl::runtime::read_pid_file;

fn stderr_of(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Run `cmd` with `args`; assert the code, an empty stdout and no panic.
fn fails(mut cmd: assert_cmd::Command, args: &[&OsStr], code: i32) -> String {
    let out = cmd.args(args).output().unwrap();
    let stderr = stderr_of(&out);
    assert_eq!(out.status.code(), Some(code), "{args:?}: {stderr}");
    assert_eq!(out.stdout, b"", "{args:?}: nothing on stdout");
    assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    stderr
}

/// Every command that takes a container ID, with `id` in its place.
fn every_id_command(id: &OsStr, bundle: &OsStr) -> Vec<Vec<OsString>> {
    let words = |w: &[&OsStr]| w.iter().map(|w| w.to_os_string()).collect::<Vec<_>>();
    vec![
        words(&["state".as_ref(), id]),
        words(&["start".as_ref(), id]),
        words(&["kill".as_ref(), id, "KILL".as_ref()]),
        words(&["delete".as_ref(), "-f".as_ref(), id]),
        words(&["pause".as_ref(), id]),
        words(&["resume".as_ref(), id]),
        words(&["ps".as_ref(), id]),
        words(&["create".as_ref(), "-b".as_ref(), bundle, id]),
        words(&["run".as_ref(), "-b".as_ref(), bundle, id]),
    ]
}

// ---- container IDs ------------------------------------------------------

#[test]
fn non_utf8_id_is_refused_by_name_before_the_runtime_runs() {
    let fake = FakeRuntime::new();
    let id = OsStr::from_bytes(b"web\xff\xfe1");
    for args in every_id_command(id, "bundle".as_ref()) {
        let args: Vec<&OsStr> = args.iter().map(OsString::as_os_str).collect();
        let stderr = fails(fake.cmd(), &args, 2);
        assert!(stderr.contains("container ID"), "{args:?}: {stderr}");
        assert!(stderr.contains("not UTF-8"), "{args:?}: {stderr}");
        assert!(stderr.contains("use letters, digits"), "{args:?}: {stderr}");
        // The ID is shown, with its bad bytes replaced.
        assert!(
            stderr.contains("web\u{fffd}\u{fffd}1"),
            "{args:?}: {stderr}"
        );
    }
    // As JSON: one valid object even though the input was not UTF-8.
    let out = fake
        .cmd()
        .args([
            OsStr::new("--format"),
            "json".as_ref(),
            "state".as_ref(),
            id,
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let v: serde_json::Value = serde_json::from_slice(&out.stderr).unwrap();
    assert_eq!(v["exit_code"], 2);
    assert!(v["error"].as_str().unwrap().contains("not UTF-8"), "{v}");
    assert_eq!(fake.calls(), 0, "the runtime never ran");
}

#[test]
fn thousand_character_id_is_refused_without_echoing_it() {
    let fake = FakeRuntime::new();
    let long = "a".repeat(1000);
    for args in every_id_command(long.as_ref(), "bundle".as_ref()) {
        let args: Vec<&OsStr> = args.iter().map(OsString::as_os_str).collect();
        let stderr = fails(fake.cmd(), &args, 2);
        assert!(stderr.contains("container ID"), "{args:?}: {stderr}");
        assert!(
            stderr.contains("1000 characters long"),
            "{args:?}: {stderr}"
        );
        assert!(stderr.contains("use at most 255"), "{args:?}: {stderr}");
        assert!(
            !stderr.contains(&long[..300]),
            "{args:?}: the message does not repeat the whole ID: {stderr}"
        );
    }
    assert_eq!(fake.calls(), 0, "the runtime never ran");
}

// ---- --root ---------------------------------------------------------------

#[test]
fn root_that_is_a_file_is_a_usage_error() {
    let fake = FakeRuntime::new();
    let file = fake.dir.path().join("not-a-dir");
    std::fs::write(&file, "").unwrap();
    for args in [&["list"][..], &["state", "x"], &["kill", "x", "KILL"]] {
        let mut cmd = fake.cmd();
        cmd.arg("--root").arg(&file);
        let args: Vec<&OsStr> = args.iter().map(OsStr::new).collect();
        let stderr = fails(cmd, &args, 2);
        assert!(stderr.contains(file.to_str().unwrap()), "{stderr}");
        assert!(stderr.contains("is not a directory"), "{stderr}");
        assert!(stderr.contains("--root names the directory"), "{stderr}");
    }
    // The same through OCICTL_ROOT.
    let mut cmd = fake.cmd();
    cmd.env("OCICTL_ROOT", &file);
    let stderr = fails(cmd, &["list".as_ref()], 2);
    assert!(stderr.contains("is not a directory"), "{stderr}");
    assert_eq!(fake.calls(), 0, "the runtime never ran");
}

#[test]
fn unwritable_root_fails_create_and_run_but_not_list() {
    let env = Env::new();
    let bundle = env.bundle(&["true"]);
    // Root writes anywhere, except on a read-only mount.
    let ro = ReadOnlyDir::new(&env.dir.path().join("ro-root"));
    for sub in ["create", "run"] {
        let id = unique_id("ro");
        let out = std::process::Command::new(common::ocictl_path())
            .arg("--root")
            .arg(&ro.path)
            .args([sub, "-b"])
            .arg(&bundle)
            .arg(&id)
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap();
        let stderr = stderr_of(&out);
        assert_eq!(out.status.code(), Some(1), "{sub}: {stderr}");
        assert!(
            stderr.contains(&format!("cannot {sub} container {id}")),
            "{sub}: {stderr}"
        );
        assert!(
            stderr.contains(&format!("{}/{id}", ro.path.display())),
            "{sub}: names the path: {stderr}"
        );
        assert!(stderr.contains("read-only file system"), "{sub}: {stderr}");
        assert!(
            stderr.contains("hint:") && stderr.contains("--root"),
            "{sub}: says what to do: {stderr}"
        );
        // ocictl names the failed command once, not `runc run failed: runc
        // run failed`. A foreground run's stderr passes through ocictl, which
        // holds runc's own line back; create's is the container's too, so
        // runc's line stays.
        let lines = if sub == "run" { 1 } else { 2 };
        assert_eq!(
            stderr.matches(&format!("runc {sub} failed")).count(),
            lines,
            "{sub}: {stderr}"
        );
    }
    // Reading a read-only root is fine.
    ocictl()
        .arg("--root")
        .arg(&ro.path)
        .args(["list", "-q"])
        .assert()
        .success()
        .stdout("");
}

// ---- durations --------------------------------------------------------------

#[test]
fn bad_timeouts_are_usage_errors_naming_the_flag() {
    let fake = FakeRuntime::new();
    for (value, says) in [
        ("0", "would kill the runtime before it answers"),
        ("0s", "would kill the runtime before it answers"),
        ("-5s", "it is negative"),
        ("5x", "unknown unit"),
        ("", "it is empty"),
        ("1..5s", "expected a number"),
        ("s", "expected a number"),
        ("99999999999999999999h", "too large"),
    ] {
        for args in [
            vec!["--timeout", value, "list"],
            vec![&format!("--timeout={value}"), "state", "c"],
        ] {
            let args: Vec<&OsStr> = args.iter().map(OsStr::new).collect();
            let stderr = fails(fake.cmd(), &args, 2);
            assert!(stderr.contains("--timeout"), "{value:?}: {stderr}");
            assert!(stderr.contains(says), "{value:?}: {stderr}");
            assert!(
                stderr.contains("e.g. 10s") || stderr.contains("examples: 500ms, 5s"),
                "{value:?}: says what to give: {stderr}"
            );
        }
    }
    // The same from the environment.
    let mut cmd = fake.cmd();
    cmd.env("OCICTL_TIMEOUT", "5x");
    let stderr = fails(cmd, &["list".as_ref()], 2);
    assert!(stderr.contains("--timeout"), "{stderr}");
    assert_eq!(fake.calls(), 0, "the runtime never ran");
}

#[test]
fn bad_pdeath_signal_is_a_usage_error() {
    let fake = FakeRuntime::new();
    let stderr = fails(
        fake.cmd(),
        &[
            "--pdeath-signal".as_ref(),
            "BOGUS".as_ref(),
            "list".as_ref(),
        ],
        2,
    );
    assert!(stderr.contains("--pdeath-signal"), "{stderr}");
    assert!(stderr.contains("unknown signal \"BOGUS\""), "{stderr}");
    assert!(stderr.contains("use a name like TERM"), "{stderr}");
    assert_eq!(fake.calls(), 0);
}

// ---- a hung runtime and the default timeout ---------------------------------

#[test]
fn prompt_commands_have_a_default_timeout() {
    // The default is documented where people look.
    let out = ocictl().arg("--help").output().unwrap();
    let help = String::from_utf8(out.stdout).unwrap();
    assert!(help.contains("[default: 60s]"), "{help}");
    assert!(help.contains("OCICTL_TIMEOUT"), "{help}");

    // Without --timeout a hung runtime is still killed: here the default
    // is shortened through OCICTL_TIMEOUT so the test does not wait 60 s.
    let fake = FakeRuntime::new();
    fake.set("script", "exec sleep 100\n");
    for args in [
        &["state", "c"][..],
        &["list"],
        &["kill", "c"],
        &["pause", "c"],
        &["version"],
    ] {
        let mut cmd = fake.cmd();
        cmd.env("OCICTL_TIMEOUT", "300ms");
        let args: Vec<&OsStr> = args.iter().map(OsStr::new).collect();
        let stderr = fails(cmd, &args, 124);
        assert!(stderr.contains("did not finish within 300ms"), "{stderr}");
        assert!(stderr.contains("raise --timeout"), "{stderr}");
    }
    // --timeout wins over the environment.
    let mut cmd = fake.cmd();
    cmd.env("OCICTL_TIMEOUT", "1h");
    let stderr = fails(
        cmd,
        &["--timeout".as_ref(), "200ms".as_ref(), "list".as_ref()],
        124,
    );
    assert!(stderr.contains("within 200ms"), "{stderr}");
}

#[test]
fn runtime_that_exits_but_leaves_its_output_open_is_timed_out() {
    // The runtime returns, but a process it started still holds its stdout:
    // ocictl must not wait for that process forever.
    let fake = FakeRuntime::new();
    fake.set("stdout", "[]");
    fake.set("script", "sleep 30 &\n");
    let mut cmd = fake.cmd();
    cmd.env("OCICTL_TIMEOUT", "500ms");
    let stderr = fails(cmd, &["list".as_ref()], 124);
    assert!(stderr.contains("cannot list containers"), "{stderr}");
    assert!(stderr.contains("did not finish within 500ms"), "{stderr}");
}

// ---- a runtime killed by a signal, where the container inherits stdio ------

#[test]
fn runtime_killed_by_a_signal_during_create_and_run() {
    let fake = FakeRuntime::new();
    // A bundle good enough for ocictl's own checks (the fake never reads it).
    let bundle = fake.dir.path().join("bundle");
    std::fs::create_dir_all(bundle.join("rootfs")).unwrap();
    let mut spec: serde_json::Value =
        serde_json::from_slice(&std::fs::read(common::fixture("runc-1.1.5/spec.json")).unwrap())
            .unwrap();
    spec["process"]["terminal"] = false.into();
    std::fs::write(bundle.join("config.json"), spec.to_string()).unwrap();
    fake.set("script", "kill -9 $$\n");
    for sub in ["create", "run"] {
        let out = fake
            .cmd()
            .args([sub, "-b"])
            .arg(&bundle)
            .arg("victim")
            .output()
            .unwrap();
        let stderr = stderr_of(&out);
        assert_eq!(out.status.code(), Some(128 + 9), "{sub}: {stderr}");
        if sub == "create" {
            // create is the runtime's own failure: say what killed it.
            assert!(
                stderr.contains("cannot create container victim"),
                "{stderr}"
            );
            assert!(stderr.contains("killed by SIGKILL"), "{stderr}");
        }
        // (A foreground run reports 128+N like a shell: the container's
        // status and the runtime's are one.)
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
}

// ---- pid files (the library's read_pid_file) ----------------------------------

#[test]
fn bad_pid_files_are_errors_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let at = |name: &str| dir.path().join(name);
    std::fs::write(at("empty"), "").unwrap();
    std::fs::write(at("blank"), " \n\t\n").unwrap();
    std::fs::write(at("words"), "not a pid\n").unwrap();
    std::fs::write(at("negative"), "-42\n").unwrap();
    std::fs::write(at("zero"), "0").unwrap();
    std::fs::write(at("huge"), "99999999999999999999").unwrap();
    std::fs::write(at("two"), "12\n34\n").unwrap();
    std::fs::write(at("binary"), b"\xff\xfe\x00\x01").unwrap();
    std::fs::write(at("big"), "7".repeat(1 << 20)).unwrap();
    std::fs::create_dir(at("a-dir")).unwrap();
    nix_mkfifo(&at("fifo"));
    for (name, says) in [
        ("empty", "is empty"),
        ("blank", "is empty"),
        ("words", "does not hold a process ID"),
        ("negative", "does not hold a process ID"),
        ("zero", "does not hold a process ID"),
        ("huge", "does not hold a process ID"),
        ("two", "does not hold a process ID"),
        ("binary", "does not hold a process ID"),
        ("big", "does not hold a process ID"),
        ("a-dir", "is not a regular file"),
        // A FIFO planted at the path: refused, never waited on.
        ("fifo", "is not a regular file"),
        ("missing", "cannot read pid file"),
    ] {
        let err = read_pid_file(&at(name)).unwrap_err().to_string();
        assert!(err.contains(at(name).to_str().unwrap()), "{name}: {err}");
        assert!(err.contains(says), "{name}: {err}");
    }
    // Surrounding whitespace is fine.
    std::fs::write(at("ok"), " 4242 \n").unwrap();
    assert_eq!(read_pid_file(&at("ok")).unwrap(), 4242);
}

fn nix_mkfifo(path: &Path) {
    let c = std::ffi::CString::new(path.as_os_str().as_bytes()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
}

#[test]
fn list_and_ps_with_f_json_report_errors_as_json() {
    for args in [&["list", "-f", "json"][..], &["ps", "-f", "json", "c1"][..]] {
        let out = common::ocictl()
            .args(["--runtime", "/nonexistent/runc"])
            .args(args)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(127), "{args:?}");
        let err: serde_json::Value = serde_json::from_slice(&out.stderr).unwrap_or_else(|e| {
            panic!(
                "{args:?}: stderr is not one JSON object ({e}): {}",
                String::from_utf8_lossy(&out.stderr)
            )
        });
        assert_eq!(err["exit_code"], 127);
        assert!(err["causes"][0]
            .as_str()
            .unwrap()
            .contains("/nonexistent/runc"));
    }
}
