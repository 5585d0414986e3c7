//! argv: every flag of every lifecycle subcommand reaches the runtime exactly
//! as runc 1.1 expects it, proved with a fake runtime (tests/fake-runtime)
//! that records its argv, environment and stdin and answers with canned
//! output. Also how ocictl reports a runtime that fails, dies, hangs or
//! prints garbage.

use crate::common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use assert_cmd::Command;
use common::{fixture, ocictl};
use tempfile::TempDir;

/// A fake runtime with its own recording directory, and a working directory
/// for ocictl so relative paths can be checked.
struct Fake {
    dir: TempDir,
    cwd: TempDir,
}

impl Fake {
    fn new() -> Fake {
        Fake {
            dir: tempfile::Builder::new()
                .prefix("ocictl-fake-")
                .tempdir()
                .unwrap(),
            cwd: tempfile::Builder::new()
                .prefix("ocictl-cwd-")
                .tempdir()
                .unwrap(),
        }
    }

    fn runtime() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fake-runtime")
    }

    /// ocictl using the fake runtime, run in `self.cwd`.
    fn cmd(&self) -> Command {
        let mut cmd = ocictl();
        cmd.env("FAKE_RUNTIME_DIR", self.dir.path())
            .current_dir(self.cwd.path())
            .arg("--runtime")
            .arg(Self::runtime());
        cmd
    }

    fn set(&self, file: &str, content: impl AsRef<[u8]>) -> &Self {
        std::fs::write(self.dir.path().join(file), content).unwrap();
        self
    }

    /// The arguments the runtime got (without argv[0]).
    fn argv(&self) -> Vec<String> {
        let raw = std::fs::read(self.dir.path().join("argv"))
            .expect("the fake runtime ran and recorded its argv");
        let text = String::from_utf8(raw).unwrap();
        let mut words: Vec<String> = text.split('\0').map(str::to_string).collect();
        assert_eq!(words.pop().as_deref(), Some(""), "argv ends with a NUL");
        words
    }

    /// [`Fake::argv_of`] with fds 3 … 3+fds-1 open (for `--preserve-fds`).
    fn argv_with_fds<S: AsRef<std::ffi::OsStr>>(&self, args: &[S], fds: i32) -> Vec<String> {
        let _ = std::fs::remove_file(self.dir.path().join("argv"));
        let mut cmd = self.cmd();
        cmd.args(args);
        common::with_inherited_fds(&cmd, fds).assert().success();
        self.argv()
    }

    /// How many times the runtime ran.
    fn calls(&self) -> usize {
        std::fs::read_to_string(self.dir.path().join("calls"))
            .map(|s| s.lines().count())
            .unwrap_or(0)
    }

    fn env(&self) -> BTreeMap<String, String> {
        let raw = std::fs::read(self.dir.path().join("env")).unwrap();
        String::from_utf8(raw)
            .unwrap()
            .split('\0')
            .filter(|kv| !kv.is_empty())
            .map(|kv| {
                let (k, v) = kv.split_once('=').unwrap();
                (k.to_string(), v.to_string())
            })
            .collect()
    }

    fn stdin(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("stdin")).unwrap()
    }

    /// An absolute path inside ocictl's working directory.
    fn abs(&self, rel: &str) -> String {
        self.cwd.path().join(rel).to_str().unwrap().to_string()
    }

    /// A minimal valid bundle at `cwd/rel` (config.json from runc's own
    /// `runc spec`, terminal off, an empty rootfs).
    fn bundle(&self, rel: &str) {
        let dir = self.cwd.path().join(rel);
        std::fs::create_dir_all(dir.join("rootfs")).unwrap();
        let mut spec: serde_json::Value =
            serde_json::from_slice(&std::fs::read(fixture("runc-1.1.5/spec.json")).unwrap())
                .unwrap();
        spec["process"]["terminal"] = false.into();
        std::fs::write(
            dir.join("config.json"),
            serde_json::to_vec_pretty(&spec).unwrap(),
        )
        .unwrap();
    }

    /// Run ocictl with `args`, assert success, return the runtime's argv.
    fn argv_of<S: AsRef<std::ffi::OsStr>>(&self, args: &[S]) -> Vec<String> {
        let _ = std::fs::remove_file(self.dir.path().join("argv"));
        self.cmd().args(args).assert().success();
        self.argv()
    }
}

fn strings(words: &[&str]) -> Vec<String> {
    words.iter().map(|w| w.to_string()).collect()
}

/// An argv written as one line (no word here contains a space).
fn words(line: &str) -> Vec<String> {
    line.split_whitespace().map(str::to_string).collect()
}

fn stderr_of(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

// ---- global flags ------------------------------------------------------

#[test]
fn global_flags_come_first_in_go_runc_order() {
    let fake = Fake::new();
    fake.set(
        "stdout",
        std::fs::read(fixture("runc-1.1.5/state-running.json")).unwrap(),
    );
    let expected = words(&format!(
        "--root {} --debug --log {} --log-format json --systemd-cgroup --rootless=true \
         --criu {} state fx-main",
        fake.abs("state-dir"),
        fake.abs("runc.log"),
        fake.abs("bin/criu"),
    ));
    // Given before the subcommand, in another order…
    let before = words(
        "--criu bin/criu --rootless true --systemd-cgroup --log-format json --log runc.log \
         --debug --root state-dir state fx-main",
    );
    assert_eq!(fake.argv_of(&before), expected);
    // …or after it (they are global options): the same argv.
    let after = words(
        "state fx-main --root state-dir --log runc.log --log-format json --debug \
         --systemd-cgroup --rootless true --criu bin/criu",
    );
    assert_eq!(fake.argv_of(&after), expected);
    assert_eq!(fake.calls(), 2, "one runtime call per ocictl state");
}

#[test]
fn no_global_flags_means_none_are_passed() {
    let fake = Fake::new();
    fake.set(
        "stdout",
        std::fs::read(fixture("runc-1.1.5/state-running.json")).unwrap(),
    );
    assert_eq!(
        fake.argv_of(&["state", "fx-main"]),
        strings(&["state", "fx-main"])
    );
}

#[test]
fn rootless_is_tri_state() {
    let fake = Fake::new();
    fake.set("stdout", "null");
    for (value, expected) in [
        ("true", vec!["--rootless=true"]),
        ("false", vec!["--rootless=false"]),
        ("auto", vec![]),
    ] {
        let argv = fake.argv_of(&["list", "--rootless", value]);
        let mut want = strings(&expected);
        want.extend(strings(&["list", "--format", "json"]));
        assert_eq!(argv, want, "list --rootless {value}");
        let argv = fake.argv_of(&["--rootless", value, "list"]);
        let mut want = strings(&expected);
        want.extend(strings(&["list", "--format", "json"]));
        assert_eq!(argv, want, "--rootless {value}");
    }
}

#[test]
fn log_format_text_and_absolute_root_pass_unchanged() {
    let fake = Fake::new();
    fake.set("stdout", "null");
    let global = "--root /run/some/root --log /var/log/runc.log --log-format text";
    let argv = fake.argv_of(&words(&format!("{global} list")));
    assert_eq!(argv, words(&format!("{global} list --format json")));
}

// ---- subcommands ------------------------------------------------------

#[test]
fn create_passes_every_flag_absolutized_and_never_detach() {
    let fake = Fake::new();
    fake.bundle("b");
    let argv = fake.argv_with_fds(
        &words(
            "--log l.log create -b b --console-socket tty.sock --pid-file x.pid --no-pivot \
             --no-new-keyring --preserve-fds 2 web-1",
        ),
        2,
    );
    assert_eq!(
        argv,
        words(&format!(
            "--log {} create --bundle {} --console-socket {} --pid-file {} --no-pivot \
             --no-new-keyring --preserve-fds 2 web-1",
            fake.abs("l.log"),
            fake.abs("b"),
            fake.abs("tty.sock"),
            fake.abs("x.pid"),
        ))
    );
    assert!(!argv.iter().any(|w| w == "--detach" || w == "-d"));
}

#[test]
fn create_defaults_to_the_current_directory_as_bundle() {
    let fake = Fake::new();
    fake.bundle(".");
    // --no-monitor: the runtime's argv exactly as runc gets it (the
    // monitor adds a --pid-file of its own; see the monitor tests below).
    let argv = fake.argv_of(&["--debug", "create", "--no-monitor", "c1"]);
    assert_eq!(
        argv,
        strings(&[
            "--debug",
            "create",
            "--bundle",
            fake.cwd.path().to_str().unwrap(),
            "c1"
        ])
    );
}

#[test]
fn run_passes_every_flag() {
    let fake = Fake::new();
    fake.bundle("b");
    let argv = fake.argv_with_fds(
        &words(
            "--debug run --bundle b --console-socket /tmp/tty.sock --pid-file x.pid --no-pivot \
             --no-new-keyring --preserve-fds 1 -d --keep --no-subreaper r1",
        ),
        1,
    );
    assert_eq!(
        argv,
        words(&format!(
            "--debug run --bundle {} --console-socket /tmp/tty.sock --pid-file {} --no-pivot \
             --no-new-keyring --preserve-fds 1 --detach --keep --no-subreaper r1",
            fake.abs("b"),
            fake.abs("x.pid"),
        ))
    );
    let minimal = fake.argv_of(&["--debug", "run", "-b", "b", "r2"]);
    assert_eq!(
        minimal,
        strings(&["--debug", "run", "--bundle", &fake.abs("b"), "r2"])
    );
}

/// Started with fds 0-2 closed (by a careless supervisor), ocictl opens
/// them on /dev/null before anything else, as std's start-up did: a file
/// of its own (here the runtime's private log) never becomes its stdin,
/// stdout or stderr.
#[test]
fn closed_stdio_is_opened_on_dev_null_before_anything_else() {
    use std::os::unix::process::CommandExt as _;
    let fake = Fake::new();
    fake.bundle("b");
    let mut cmd = common::std_command_of(&fake.cmd());
    cmd.args(["create", "--no-monitor", "-b", "b", "c1"]);
    // SAFETY: close(2) is async-signal-safe.
    unsafe {
        cmd.pre_exec(|| {
            for fd in 0..3 {
                libc::close(fd);
            }
            Ok(())
        });
    }
    assert!(cmd.status().unwrap().success());
    let argv = fake.argv();
    assert_eq!(argv[0], "--log", "{argv:?}");
    let fd: u32 = argv[1].rsplit('/').next().unwrap().parse().unwrap();
    assert!(fd >= 3, "the private log took fd {fd}: {argv:?}");
}

#[test]
fn create_and_run_get_a_private_json_log_unless_the_user_chose_one() {
    let fake = Fake::new();
    fake.bundle("b");
    for sub in ["create", "run"] {
        // (--no-monitor: create's monitor would add its own --pid-file.)
        let argv = fake.argv_of(&[sub, "--no-monitor", "-b", "b", "c1"]);
        assert_eq!(argv.len(), 8, "{argv:?}");
        assert_eq!(argv[0], "--log");
        // /proc/<ocictl's pid>/fd/<n>: an anonymous file, nothing on disk.
        let parts: Vec<&str> = argv[1].split('/').collect();
        assert_eq!(parts.len(), 5, "{}", argv[1]);
        assert_eq!((parts[0], parts[1], parts[3]), ("", "proc", "fd"));
        assert!(parts[2].parse::<u32>().is_ok(), "{}", argv[1]);
        assert!(parts[4].parse::<u32>().is_ok(), "{}", argv[1]);
        assert_ne!(parts[2], std::process::id().to_string());
        let rest = format!("--log-format json {sub} --bundle {} c1", fake.abs("b"));
        assert_eq!(argv[2..], words(&rest)[..]);
    }
    // The user's own log wins (with their format, or none); --debug sends
    // the runtime's log to stderr, where the user sees it.
    let (mine, b) = (fake.abs("mine.log"), fake.abs("b"));
    for (args, expected) in [
        (
            "--log mine.log create --no-monitor -b b c2",
            format!("--log {mine} create --bundle {b} c2"),
        ),
        (
            "--log mine.log --log-format text run -b b c3",
            format!("--log {mine} --log-format text run --bundle {b} c3"),
        ),
        (
            "--debug create --no-monitor -b b c4",
            format!("--debug create --bundle {b} c4"),
        ),
    ] {
        assert_eq!(fake.argv_of(&words(args)), words(&expected), "{args}");
    }
}

#[test]
fn no_monitor_passes_exactly_runcs_argv() {
    let fake = Fake::new();
    fake.bundle("b");
    let b = fake.abs("b");
    for (args, expected) in [
        (
            "--debug run -d --no-monitor -b b r1",
            format!("--debug run --bundle {b} --detach r1"),
        ),
        (
            "--debug create --no-monitor -b b c1",
            format!("--debug create --bundle {b} c1"),
        ),
        (
            "--debug run -d --no-monitor --console-socket s.sock --pid-file p -b b r2",
            format!(
                "--debug run --bundle {b} --console-socket {} --pid-file {} --detach r2",
                fake.abs("s.sock"),
                fake.abs("p")
            ),
        ),
    ] {
        assert_eq!(fake.argv_of(&words(args)), words(&expected), "{args}");
    }
}

/// A fake that, as runc does, writes the init's pid into `--pid-file` (when
/// given one) and leaves the init behind, exiting with `code` after a
/// moment; the monitor (a subreaper) reaps it. `first` runs before.
fn fake_leaving_an_init(first: &str, code: i32) -> (Fake, PathBuf) {
    let fake = Fake::new();
    fake.bundle("b");
    let root = fake.cwd.path().join("root");
    fake.set(
        "script",
        format!(
            r#"pf=""; prev=""
for a in "$@"; do [ "$prev" = --pid-file ] && pf="$a"; prev="$a"; done
if [ -n "$pf" ]; then
  {first}
  sh -c 'sleep 0.3; exit {code}' </dev/null >/dev/null 2>&1 &
  echo $! >"$pf"
fi
"#
        ),
    );
    (fake, root)
}

#[test]
fn the_monitor_adds_only_a_private_pid_file_and_reaps_the_init() {
    let (fake, root) = fake_leaving_an_init(":", 3);
    let root_s = root.to_str().unwrap();
    let argv = fake.argv_of(&["--debug", "--root", root_s, "run", "-d", "-b", "b", "r1"]);
    assert_eq!(argv.len(), 10, "{argv:?}");
    assert_eq!(
        [&argv[..6], &argv[8..]].concat(),
        strings(&[
            "--root",
            root_s,
            "--debug",
            "run",
            "--bundle",
            &fake.abs("b"),
            "--detach",
            "r1"
        ])
    );
    assert_eq!(argv[6], "--pid-file");
    // In the container's private state directory, beside the root.
    let real_root = std::fs::canonicalize(fake.cwd.path()).unwrap().join("root");
    let pid_file = format!("{}.ocictl/r1/pid", real_root.display());
    assert_eq!(argv[7], pid_file, "{argv:?}");
    // The monitor reaped the "init" and recorded its status.
    let out = fake
        .cmd()
        .args(["--root", root_s, "wait", "r1"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", stderr_of(&out));
}

#[test]
fn capture_adds_nothing_to_the_runtimes_argv_and_logs_its_stdout_and_stderr() {
    // The runtime's stdout and stderr are the container's (runc passes
    // them on): with --capture, pipes the monitor reads into the log.
    let (fake, root) = fake_leaving_an_init("echo from-stdout; echo from-stderr >&2", 0);
    let root_s = root.to_str().unwrap();
    let run = |id: &str, capture: bool| {
        // (--log: no private log, whose /proc/PID/fd/N path differs.)
        let mut words = vec!["--root", root_s, "--log", "l.log", "run", "-d"];
        words.extend(capture.then_some("--capture"));
        words.extend(["-b", "b", id]);
        let argv = fake.argv_of(&words);
        // The private pid file's path names the container.
        argv.into_iter()
            .map(|a| a.replace(id, "ID"))
            .collect::<Vec<_>>()
    };
    assert_eq!(run("c1", true), run("c2", false));
    fake.cmd()
        .args(["--root", root_s, "wait", "c1"])
        .assert()
        .code(0);
    let out = fake
        .cmd()
        .args(["--root", root_s, "logs", "c1"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "from-stdout\n");
    assert_eq!(stderr_of(&out), "from-stderr\n");
}

#[test]
fn create_reports_the_error_the_runtime_wrote_to_the_private_log() {
    let fake = Fake::new();
    fake.bundle("b");
    // Write a runc-style JSON error record into whatever --log names.
    fake.set(
        "script",
        r#"log=""; prev=""
for a in "$@"; do [ "$prev" = --log ] && log="$a"; prev="$a"; done
printf '{"level":"info","msg":"starting"}\n{"level":"error","msg":"runc create failed: unable to start container process: exec: \\"nope\\": executable file not found in $PATH","time":"2026-11-28T19:07:47Z"}\n' >>"$log"
"#,
    );
    fake.set("exit", "1");
    let before = dir_entries(fake.cwd.path());
    let out = fake
        .cmd()
        .args(["create", "-b", "b", "c1"])
        .output()
        .unwrap();
    let stderr = stderr_of(&out);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("container c1"), "{stderr}");
    assert!(
        stderr.contains(r#"exec: "nope": executable file not found in $PATH"#),
        "{stderr}"
    );
    assert!(!stderr.contains("starting"), "{stderr}");
    assert_eq!(
        dir_entries(fake.cwd.path()),
        before,
        "no log file left behind"
    );
}

#[test]
fn foreground_run_exit_code_is_the_containers() {
    let fake = Fake::new();
    fake.bundle("b");
    fake.set("exit", "3");
    let out = fake.cmd().args(["run", "-b", "b", "r1"]).output().unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", stderr_of(&out));
    assert_eq!(stderr_of(&out), "", "a container's own exit is no error");
}

#[test]
fn create_and_run_share_ocictls_stdin_with_the_runtime() {
    let fake = Fake::new();
    fake.bundle("b");
    fake.cmd()
        .args(["--debug", "run", "-b", "b", "r1"])
        .write_stdin("typed by the user\n")
        .assert()
        .success();
    assert_eq!(fake.stdin(), "typed by the user\n");
}

#[test]
fn start_pause_resume_state_pass_only_the_id() {
    let fake = Fake::new();
    for sub in ["start", "pause", "resume"] {
        assert_eq!(fake.argv_of(&[sub, "c-1"]), strings(&[sub, "c-1"]));
    }
    fake.set(
        "stdout",
        std::fs::read(fixture("runc-1.1.5/state-created.json")).unwrap(),
    );
    assert_eq!(fake.argv_of(&["state", "c-1"]), strings(&["state", "c-1"]));
    // Nothing is sent on stdin for commands that owe an answer.
    assert_eq!(fake.stdin(), "");
}

#[test]
fn delete_force() {
    let fake = Fake::new();
    assert_eq!(fake.argv_of(&["delete", "c"]), strings(&["delete", "c"]));
    for force in ["-f", "--force"] {
        assert_eq!(
            fake.argv_of(&["delete", force, "c"]),
            strings(&["delete", "--force", "c"])
        );
    }
}

#[test]
fn kill_sends_the_signal_as_a_number() {
    let fake = Fake::new();
    for spelling in ["KILL", "SIGKILL", "kill", "9", "sigkill"] {
        assert_eq!(
            fake.argv_of(&["kill", "c", spelling]),
            strings(&["kill", "c", "9"]),
            "{spelling}"
        );
    }
    assert_eq!(fake.argv_of(&["kill", "c"]), strings(&["kill", "c", "15"]));
    assert_eq!(
        fake.argv_of(&["kill", "c", "HUP"]),
        strings(&["kill", "c", "1"])
    );
    assert_eq!(
        fake.argv_of(&["kill", "c", "RTMIN+3"]),
        strings(&["kill", "c", "37"])
    );
    for all in ["-a", "--all"] {
        assert_eq!(
            fake.argv_of(&["kill", all, "c", "KILL"]),
            strings(&["kill", "--all", "c", "9"])
        );
    }
}

#[test]
fn kill_rejects_a_bogus_signal_before_running_the_runtime() {
    let fake = Fake::new();
    let out = fake.cmd().args(["kill", "c", "BOGUS"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr_of(&out).contains("BOGUS"), "{}", stderr_of(&out));
    assert_eq!(fake.calls(), 0);
}

#[test]
fn list_always_asks_for_json() {
    let fake = Fake::new();
    fake.set("stdout", "null");
    for args in [
        &["list"][..],
        &["list", "-q"],
        &["list", "--quiet"],
        &["list", "-f", "json"],
        &["list", "--format", "json"],
        &["ls"],
    ] {
        assert_eq!(
            fake.argv_of(args),
            strings(&["list", "--format", "json"]),
            "{args:?}"
        );
    }
}

#[test]
fn ps_json_and_table() {
    let fake = Fake::new();
    fake.set("stdout", "[5658]\n");
    assert_eq!(
        fake.argv_of(&["ps", "-f", "json", "c"]),
        strings(&["ps", "--format", "json", "c"])
    );
    assert_eq!(
        fake.argv_of(&["--format", "json", "ps", "c"]),
        strings(&["ps", "--format", "json", "c"])
    );
    fake.set(
        "stdout",
        std::fs::read(fixture("runc-1.1.5/ps-table-opts.txt")).unwrap(),
    );
    let out = fake
        .cmd()
        .args(["ps", "c", "-o", "pid,comm"])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(fake.argv(), strings(&["ps", "c", "-o", "pid,comm"]));
    // The table is ps's own output, unchanged.
    assert_eq!(
        out.stdout,
        std::fs::read(fixture("runc-1.1.5/ps-table-opts.txt")).unwrap()
    );
    assert_eq!(fake.argv_of(&["ps", "c"]), strings(&["ps", "c"]));
    assert_eq!(
        fake.argv_of(&["ps", "c", "-eLf"]),
        strings(&["ps", "c", "-eLf"])
    );
}

#[test]
fn version_features_spec() {
    let fake = Fake::new();
    fake.set(
        "stdout",
        std::fs::read(fixture("runc-1.1.5/version.txt")).unwrap(),
    );
    assert_eq!(fake.argv_of(&["version"]), strings(&["--version"]));
    assert_eq!(
        fake.argv_of(&["--root", "/r", "version"]),
        strings(&["--root", "/r", "--version"])
    );
    fake.set(
        "stdout",
        std::fs::read(fixture("runc-1.1.5/features.json")).unwrap(),
    );
    assert_eq!(fake.argv_of(&["features"]), strings(&["features"]));
    assert_eq!(fake.argv_of(&["spec"]), strings(&["spec"]));
    // spec's own --rootless (a flag) shares its name with the global
    // --rootless VALUE: both spellings give runc's `spec --rootless`.
    for args in [
        &["spec", "-b", "bdir", "--rootless"][..],
        &["spec", "--rootless", "-b", "bdir"],
        &["--rootless", "true", "spec", "-b", "bdir"],
    ] {
        assert_eq!(
            fake.argv_of(args),
            strings(&["spec", "--bundle", &fake.abs("bdir"), "--rootless"]),
            "{args:?}"
        );
    }
    assert_eq!(
        fake.argv_of(&["spec", "--rootless", "false"]),
        strings(&["spec"])
    );
}

#[test]
fn every_subcommand_has_a_consistent_command_line() {
    // clap checks a subcommand's definition (in debug builds) when it is
    // used: `--help` exercises each one without running the runtime.
    let fake = Fake::new();
    for sub in [
        "create", "start", "run", "delete", "kill", "pause", "resume", "state", "list", "ps",
        "version", "features", "spec", "bundle",
    ] {
        let out = fake.cmd().args([sub, "--help"]).output().unwrap();
        assert!(out.status.success(), "{sub}: {}", stderr_of(&out));
        assert!(!stderr_of(&out).contains("panicked"), "{sub}");
    }
    assert_eq!(fake.calls(), 0);
}

#[test]
fn notify_socket_is_removed_and_other_variables_pass() {
    let fake = Fake::new();
    fake.bundle("b");
    for args in [&["start", "c"][..], &["--debug", "run", "-b", "b", "c"]] {
        fake.cmd()
            .env("NOTIFY_SOCKET", "/run/systemd/notify")
            .env("OCICTL_TEST_VAR", "kept as is")
            .args(args)
            .assert()
            .success();
        let env = fake.env();
        assert!(!env.contains_key("NOTIFY_SOCKET"), "{args:?}: {env:?}");
        assert_eq!(
            env.get("OCICTL_TEST_VAR").map(String::as_str),
            Some("kept as is")
        );
        assert!(env.contains_key("PATH"));
    }
}

// ---- results rendered -------------------------------------------------

#[test]
fn list_table_has_runcs_column_layout() {
    let fake = Fake::new();
    fake.set(
        "stdout",
        std::fs::read(fixture("runc-1.1.5/list-many.json")).unwrap(),
    );
    let out = fake.cmd().arg("list").output().unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    let ours = String::from_utf8(out.stdout).unwrap();
    let runcs = std::fs::read_to_string(fixture("runc-1.1.5/list-table-many.txt")).unwrap();
    assert_eq!(ours, runcs);

    let out = fake.cmd().args(["list", "-q"]).output().unwrap();
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        std::fs::read_to_string(fixture("runc-1.1.5/list-quiet.txt")).unwrap()
    );
}

#[test]
fn list_table_with_no_containers_is_the_header() {
    let fake = Fake::new();
    fake.set(
        "stdout",
        std::fs::read(fixture("runc-1.1.5/list-empty.json")).unwrap(),
    );
    fake.cmd()
        .arg("list")
        .assert()
        .success()
        .stdout("ID          PID         STATUS      BUNDLE      CREATED     OWNER\n");
    fake.cmd()
        .args(["list", "--format", "json"])
        .assert()
        .success()
        .stdout("[]\n");
}

#[test]
fn state_prints_what_runc_printed() {
    let fake = Fake::new();
    let raw = std::fs::read_to_string(fixture("runc-1.1.5/state-running.json")).unwrap();
    fake.set("stdout", &raw);
    let out = fake.cmd().args(["state", "fx-main"]).output().unwrap();
    assert!(out.status.success());
    // runc prints no trailing newline; ocictl ends its line.
    assert_eq!(String::from_utf8(out.stdout).unwrap(), format!("{raw}\n"));
}

/// RUST_LOG's `target=level` directives choose what tracing shows; one
/// that does not parse is named in a warning, and the others still apply.
#[test]
fn rust_log_directives_filter_tracing_and_a_bad_one_is_named() {
    let fake = Fake::new();
    let raw = std::fs::read_to_string(fixture("runc-1.1.5/state-running.json")).unwrap();
    fake.set("stdout", &raw);
    let stderr_with = |filter: &str| {
        let out = fake
            .cmd()
            .env("RUST_LOG", filter)
            .args(["state", "fx-main"])
            .output()
            .unwrap();
        assert!(out.status.success(), "{filter}: {out:?}");
        assert_eq!(String::from_utf8_lossy(&out.stdout), format!("{raw}\n"));
        String::from_utf8(out.stderr).unwrap()
    };
    for shown in ["ocictl=debug", "debug", "warn,ocictl=trace"] {
        assert!(
            stderr_with(shown).contains("running the runtime"),
            "{shown}"
        );
    }
    for hidden in ["info", "ocictl=info", "other=debug"] {
        assert_eq!(stderr_with(hidden), "", "{hidden}");
    }
    let stderr = stderr_with("ocictl=loud,ocictl=debug");
    assert!(
        stderr.contains("RUST_LOG: ignoring `ocictl=loud`"),
        "{stderr}"
    );
    assert!(stderr.contains("running the runtime"), "{stderr}");
}

// ---- the runtime failing ----------------------------------------------

#[test]
fn runtime_error_message_names_the_container() {
    let fake = Fake::new();
    fake.set(
        "stderr",
        "time=\"2026-11-28T19:07:47Z\" level=error msg=\"container does not exist\"\n",
    );
    fake.set("exit", "1");
    for (sub, verb) in [
        ("state", "state of container ghost"),
        ("start", "start container ghost"),
        ("pause", "pause container ghost"),
        ("resume", "resume container ghost"),
        ("delete", "delete container ghost"),
        ("kill", "container ghost"),
        ("ps", "container ghost"),
    ] {
        let out = fake.cmd().args([sub, "ghost"]).output().unwrap();
        let stderr = stderr_of(&out);
        assert_eq!(out.status.code(), Some(1), "{sub}: {stderr}");
        assert!(stderr.contains(verb), "{sub}: {stderr}");
        assert!(
            stderr.contains("container does not exist"),
            "{sub}: {stderr}"
        );
        assert!(
            !stderr.contains("level=error"),
            "{sub}: only the message: {stderr}"
        );
        assert!(!stderr.contains("panicked"), "{sub}: {stderr}");
        assert_eq!(out.stdout, b"", "{sub}");
    }
}

#[test]
fn runtime_exit_code_is_ocictls() {
    let fake = Fake::new();
    fake.set("stderr", "something odd\n");
    fake.set("exit", "3");
    let out = fake.cmd().args(["start", "c"]).output().unwrap();
    assert_eq!(out.status.code(), Some(3));
    assert!(
        stderr_of(&out).contains("something odd"),
        "{}",
        stderr_of(&out)
    );
}

#[test]
fn runtime_failing_silently_still_gets_a_message() {
    let fake = Fake::new();
    fake.set("exit", "1");
    let out = fake.cmd().args(["pause", "c"]).output().unwrap();
    let stderr = stderr_of(&out);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr.contains("cannot pause container c"), "{stderr}");
    assert!(stderr.contains("exit status 1"), "{stderr}");
}

#[test]
fn garbage_from_state_and_list_is_a_clear_error() {
    let fake = Fake::new();
    for (stdout, args, what) in [
        (
            "{\"id\": \"c\", \"stat",
            &["state", "c"][..],
            "container state",
        ),
        ("not json at all\n", &["state", "c"], "container state"),
        ("", &["state", "c"], "container state"),
        ("[{\"id\": 42}]", &["list"], "container list"),
        ("{}", &["list"], "container list"),
        ("", &["list", "-q"], "container list"),
        ("[1, \"x\"]", &["ps", "-f", "json", "c"], "process list"),
        ("", &["version"], "version"),
        ("hello world\n", &["version"], "version"),
        ("{\"trunc", &["features"], "features"),
    ] {
        fake.set("stdout", stdout);
        let out = fake.cmd().args(args).output().unwrap();
        let stderr = stderr_of(&out);
        assert_eq!(out.status.code(), Some(1), "{args:?} {stdout:?}: {stderr}");
        assert!(stderr.contains(what), "{args:?} {stdout:?}: {stderr}");
        assert!(stderr.contains("could not be read"), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
        assert_eq!(out.stdout, b"", "{args:?}");
        if stdout.is_empty() {
            assert!(stderr.contains("printed nothing"), "{args:?}: {stderr}");
        }
    }
}

#[test]
fn unknown_status_is_kept_not_rejected() {
    let fake = Fake::new();
    let state = std::fs::read_to_string(fixture("runc-1.1.5/state-running.json"))
        .unwrap()
        .replace("\"running\"", "\"hibernating\"");
    fake.set("stdout", state);
    let out = fake
        .cmd()
        .args(["--format", "json", "state", "fx-main"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["status"], "hibernating");
}

#[test]
fn runtime_killed_by_a_signal() {
    let fake = Fake::new();
    fake.set("script", "kill -9 $$\n");
    let out = fake.cmd().args(["state", "c"]).output().unwrap();
    let stderr = stderr_of(&out);
    assert_eq!(out.status.code(), Some(128 + 9), "{stderr}");
    assert!(stderr.contains("container c"), "{stderr}");
    assert!(stderr.contains("SIGKILL"), "{stderr}");
}

#[test]
fn hung_runtime_is_killed_after_the_timeout() {
    let fake = Fake::new();
    // exec: the hung process is the one ocictl started, so its kill ends it.
    fake.set("script", "exec sleep 100\n");
    let out = fake
        .cmd()
        .args(["--timeout", "500ms", "state", "c"])
        .output()
        .unwrap();
    let stderr = stderr_of(&out);
    assert_eq!(out.status.code(), Some(124), "{stderr}");
    assert!(stderr.contains("container c"), "{stderr}");
    assert!(stderr.contains("did not finish within 500ms"), "{stderr}");
    assert!(stderr.contains("--timeout"), "{stderr}");
}

#[test]
fn missing_runtime_is_127_and_not_executable_is_126() {
    let fake = Fake::new();
    let missing = fake.cwd.path().join("no-such-runtime");
    let out = ocictl()
        .arg("--runtime")
        .arg(&missing)
        .args(["state", "c"])
        .output()
        .unwrap();
    let stderr = stderr_of(&out);
    assert_eq!(out.status.code(), Some(127), "{stderr}");
    assert!(stderr.contains("no-such-runtime"), "{stderr}");
    assert!(stderr.contains("not found"), "{stderr}");

    let out = ocictl()
        .args(["--runtime", "no-such-runtime-on-path", "list"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(127), "{}", stderr_of(&out));

    let plain = fake.cwd.path().join("plain-file");
    std::fs::write(&plain, "#!/bin/sh\nexit 0\n").unwrap();
    let out = ocictl()
        .arg("--runtime")
        .arg(&plain)
        .args(["state", "c"])
        .output()
        .unwrap();
    let stderr = stderr_of(&out);
    assert_eq!(out.status.code(), Some(126), "{stderr}");
    assert!(stderr.contains("plain-file"), "{stderr}");
    assert!(stderr.contains("cannot be executed"), "{stderr}");

    // The same for the commands whose stdio the runtime inherits.
    fake.bundle("b");
    let out = ocictl()
        .current_dir(fake.cwd.path())
        .arg("--runtime")
        .arg(&missing)
        .args(["run", "-b", "b", "c"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(127), "{}", stderr_of(&out));
}

#[test]
fn json_errors_are_one_object_on_stderr() {
    let fake = Fake::new();
    fake.set(
        "stderr",
        "time=\"2026-11-28T19:07:47Z\" level=error msg=\"container does not exist\"\n",
    );
    fake.set("exit", "1");
    let out = fake
        .cmd()
        .args(["--format", "json", "state", "ghost"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(out.stdout, b"");
    let stderr = stderr_of(&out);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    let v: serde_json::Value = serde_json::from_str(&stderr).unwrap();
    let error = v["error"].as_str().unwrap();
    assert!(error.contains("ghost"), "{v}");
    let causes: Vec<&str> = v["causes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    assert!(
        causes
            .iter()
            .any(|c| c.contains("container does not exist")),
        "{v}"
    );
    assert_eq!(v["exit_code"], 1);
    assert!(v["hint"].as_str().unwrap().contains("ocictl list"), "{v}");

    // Timeouts, missing runtimes and usage errors too.
    fake.set("script", "exec sleep 100\n");
    let out = fake
        .cmd()
        .args(["--format", "json", "--timeout", "200ms", "list"])
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stderr).unwrap();
    assert_eq!(v["exit_code"], 124);
    assert_eq!(out.status.code(), Some(124));
    assert!(v["hint"].as_str().unwrap().contains("--timeout"), "{v}");

    let out = ocictl()
        .args(["--format", "json", "--runtime", "/nonexistent/runc", "list"])
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stderr).unwrap();
    assert_eq!(v["exit_code"], 127);
    assert_eq!(out.status.code(), Some(127));
}

#[test]
fn json_usage_errors_are_one_object_too() {
    let fake = Fake::new();
    for (args, env, says) in [
        (&["--format", "json", "state", ".."][..], None, "reserved"),
        (
            &["state", "a/b", "--format=json"],
            None,
            "'/' is not allowed",
        ),
        (&["kill", "c", "BOGUS"], Some("json"), "unknown signal"),
        (&["--format", "json", "state", "-x"], None, "'-x'"),
        (
            &["--format", "json", "ps", "c", "-o", "pid"],
            None,
            "ps options",
        ),
    ] {
        let mut cmd = fake.cmd();
        if let Some(format) = env {
            cmd.env("OCICTL_FORMAT", format);
        }
        let out = cmd.args(args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert_eq!(out.stdout, b"", "{args:?}");
        let stderr = stderr_of(&out);
        assert_eq!(stderr.lines().count(), 1, "{args:?}: {stderr}");
        let v: serde_json::Value =
            serde_json::from_str(&stderr).unwrap_or_else(|e| panic!("{args:?}: {e}: {stderr}"));
        assert_eq!(v["exit_code"], 2, "{args:?}");
        assert!(v["error"].as_str().unwrap().contains(says), "{args:?}: {v}");
    }
    assert_eq!(fake.calls(), 0, "the runtime never ran");
    // Without JSON, clap's own text; help is still help.
    let out = fake.cmd().args(["state", ".."]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr_of(&out).starts_with("error: "),
        "{}",
        stderr_of(&out)
    );
    fake.cmd()
        .args(["--format", "json", "state", "--help"])
        .assert()
        .success();
}

fn dir_entries(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    v.sort();
    v
}
