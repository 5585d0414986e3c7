//! runc's spellings of flags, through the fake runtime (exact argv): every
//! long flag also takes one dash (`-pid-file x`, `-no-subreaper`,
//! `-bundle=x`, `-root /x` before the subcommand), as urfave/cli accepts
//! them, and the runtime gets exactly what the two-dash spelling gives it.
//! Short flags, their clusters and the container's command are untouched.

use crate::common;

use common::FakeRuntime;

/// The runtime's argv (after argv[0]) for one ocictl call, and the exit code.
fn argv_of(fake: &FakeRuntime, args: &[&str]) -> (Vec<String>, Option<i32>) {
    let _ = std::fs::remove_file(fake.dir.path().join("argv"));
    let out = fake.cmd().args(args).output().unwrap();
    let mut words = fake.last_argv().unwrap_or_else(|| {
        panic!(
            "ocictl {args:?} did not run the runtime: {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    // The private log's /proc/PID/fd/N differs from call to call.
    for w in &mut words {
        if w.starts_with("/proc/") {
            *w = "/proc/PID/fd/N".into();
        }
    }
    (words, out.status.code())
}

/// Both spellings give the runtime the same argv, which is `expected`.
fn same_argv(single: &[&str], double: &[&str], expected: &[&str]) {
    let fake = FakeRuntime::new();
    let (a, code_a) = argv_of(&fake, single);
    let (b, code_b) = argv_of(&fake, double);
    assert_eq!(a, b, "{single:?} vs {double:?}");
    assert_eq!(code_a, code_b);
    assert_eq!(code_a, Some(0), "{single:?}");
    assert_eq!(a, expected, "{single:?}");
}

#[test]
fn global_flags_take_one_dash() {
    let root = tempfile::tempdir().unwrap();
    let r = root.path().to_str().unwrap();
    let log = root.path().join("x.log");
    let log = log.to_str().unwrap();
    same_argv(
        &["-root", r, "-log", log, "-log-format=json", "start", "c1"],
        &[
            "--root",
            r,
            "--log",
            log,
            "--log-format=json",
            "start",
            "c1",
        ],
        &[
            "--root",
            r,
            "--log",
            log,
            "--log-format",
            "json",
            "start",
            "c1",
        ],
    );
    let root_eq = format!("-root={r}");
    same_argv(
        &[&root_eq, "-debug", "pause", "c1"],
        &["--root", r, "--debug", "pause", "c1"],
        &["--root", r, "--debug", "pause", "c1"],
    );
}

#[test]
fn subcommand_flags_take_one_dash() {
    same_argv(
        &["kill", "-all", "c1", "KILL"],
        &["kill", "--all", "c1", "KILL"],
        &["kill", "--all", "c1", "9"],
    );
    same_argv(
        &["delete", "-force", "c1"],
        &["delete", "--force", "c1"],
        &["delete", "--force", "c1"],
    );
    let img = tempfile::tempdir().unwrap();
    let i = img.path().to_str().unwrap();
    same_argv(
        &["checkpoint", "-leave-running", "-image-path", i, "c1"],
        &["checkpoint", "--leave-running", "--image-path", i, "c1"],
        &["checkpoint", "--image-path", i, "--leave-running", "c1"],
    );
}

#[test]
fn exec_flags_take_one_dash_but_the_command_is_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let pid = dir.path().join("pid");
    let p = pid.to_str().unwrap();
    same_argv(
        &[
            "exec",
            "-detach",
            "-pid-file",
            p,
            "-cwd=/tmp",
            "-user",
            "0:0",
            "c1",
            "sh",
            "-c",
            "-debug",
            "-tty",
        ],
        &[
            "exec",
            "--detach",
            "--pid-file",
            p,
            "--cwd=/tmp",
            "--user",
            "0:0",
            "c1",
            "sh",
            "-c",
            "-debug",
            "-tty",
        ],
        &[
            "--log",
            "/proc/PID/fd/N",
            "--log-format",
            "json",
            "exec",
            "--cwd",
            "/tmp",
            "--user",
            "0:0",
            "--detach",
            "--pid-file",
            p,
            "c1",
            "sh",
            "-c",
            "-debug",
            "-tty",
        ],
    );
    // Short flags and their values.
    same_argv(
        &["exec", "-d", "-c", "CAP_CHOWN", "-u", "1:1", "c1", "-root"],
        &[
            "exec",
            "--detach",
            "--cap",
            "CAP_CHOWN",
            "--user",
            "1:1",
            "c1",
            "-root",
        ],
        &[
            "--log",
            "/proc/PID/fd/N",
            "--log-format",
            "json",
            "exec",
            "--user",
            "1:1",
            "--detach",
            "--cap",
            "CAP_CHOWN",
            "c1",
            "-root",
        ],
    );
}

#[test]
fn a_single_dash_word_that_is_no_long_flag_is_still_refused() {
    let fake = FakeRuntime::new();
    let out = fake.cmd().args(["kill", "-bogus", "c1"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(fake.calls(), 0);
}

#[test]
fn dash_v_prints_the_runtimes_version_lines_then_ocictls() {
    let fake = FakeRuntime::new();
    let runc_lines =
        "runc version 1.1.5+ds1\ncommit: 1.1.5+ds1-1+deb12u1\nspec: 1.0.2-dev\ngo: go1.19.8\n";
    fake.set("stdout", runc_lines);
    for flag in ["-v", "--version", "-version"] {
        let out = fake.cmd().arg(flag).output().unwrap();
        assert!(out.status.success(), "{flag}");
        let text = String::from_utf8(out.stdout).unwrap();
        assert_eq!(
            text,
            format!("{runc_lines}ocictl version {}\n", env!("CARGO_PKG_VERSION")),
            "{flag}"
        );
    }
    let raw = std::fs::read(fake.dir.path().join("argv")).unwrap();
    assert_eq!(raw, b"--version\0");
    // `ocictl version` stays the structured command.
    let out = fake.cmd().args(["version"]).output().unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.starts_with("ocictl: "), "{text}");
    assert!(text.contains("runtime: runc 1.1.5+ds1"), "{text}");
}
