//! End to end on real runc: what goes wrong. Each failure has the right
//! exit code, a message that names the container or file, and leaves
//! nothing behind: no container under the root, no new file in the test's
//! directory or in ocictl's TMPDIR.

use crate::common;

use std::collections::BTreeSet;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};

use assert_cmd::Command;
use common::{unique_id, Env};

/// Every path under `dir`, recursively (symlinks not followed).
fn tree(dir: &Path) -> BTreeSet<PathBuf> {
    let mut all = BTreeSet::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let entry = entry.unwrap();
            let path = entry.path();
            if entry.file_type().unwrap().is_dir() {
                stack.push(path.clone());
            }
            all.insert(path);
        }
    }
    all
}

/// An Env whose ocictl gets a private, watched TMPDIR.
struct Watched {
    env: Env,
    tmp: PathBuf,
}

impl Watched {
    fn new() -> Watched {
        let env = Env::new();
        let tmp = env.dir.path().join("tmp");
        std::fs::create_dir(&tmp).unwrap();
        Watched { env, tmp }
    }

    fn cmd(&self) -> Command {
        let mut cmd = self.env.cmd();
        cmd.env("TMPDIR", &self.tmp);
        cmd
    }

    fn snapshot(&self) -> BTreeSet<PathBuf> {
        tree(self.env.dir.path())
    }

    /// Run ocictl; assert the exit code and that nothing was left behind.
    fn fails(&self, args: &[&str], code: i32) -> String {
        let before = self.snapshot();
        let containers = self.env.runc_ids();
        let out = self.cmd().args(args).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert_eq!(out.status.code(), Some(code), "{args:?}: {stderr}");
        assert_eq!(out.stdout, b"", "{args:?}: nothing on stdout");
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
        assert_eq!(self.snapshot(), before, "{args:?} left files behind");
        assert_eq!(self.env.runc_ids(), containers, "{args:?} left a container");
        stderr
    }

    /// A running container (`run -d`) with a fresh ID.
    fn running(&self, prefix: &str) -> String {
        let bundle = self.env.bundle(&["sleep", "1000"]);
        let id = unique_id(prefix);
        let out = self.env.run_detached(args!["run", "-d", "-b", bundle, id]);
        assert_eq!(out.code, Some(0), "{out:?}");
        assert_eq!(out.stdout, "");
        assert_eq!(self.env.state(&id)["status"], "running");
        id
    }
}

#[test]
fn unknown_container() {
    let w = Watched::new();
    let id = unique_id("ghost");
    for (sub, says) in [
        ("state", format!("cannot read the state of container {id}")),
        ("start", format!("cannot start container {id}")),
        ("kill", format!("cannot send SIGTERM to container {id}")),
        ("delete", format!("cannot delete container {id}")),
        ("pause", format!("cannot pause container {id}")),
        ("resume", format!("cannot resume container {id}")),
        ("ps", format!("cannot list the processes of container {id}")),
    ] {
        let stderr = w.fails(&[sub, &id], 1);
        assert!(stderr.contains(&says), "{sub}: {stderr}");
        assert!(
            stderr.contains("container does not exist"),
            "{sub}: {stderr}"
        );
        assert!(stderr.contains("ocictl list"), "{sub}: hint: {stderr}");
    }
    // As JSON: one object, the runtime's message among the causes.
    let stderr = w.fails(&["--format", "json", "state", &id], 1);
    let v: serde_json::Value = serde_json::from_str(&stderr).unwrap();
    assert_eq!(v["exit_code"], 1);
    assert!(v["error"].as_str().unwrap().contains(&id));
    assert!(v["causes"][0]
        .as_str()
        .unwrap()
        .contains("container does not exist"));
}

#[test]
fn invalid_ids_are_rejected_before_the_runtime_runs() {
    let w = Watched::new();
    let bundle = w.env.bundle(&["true"]);
    let bundle = bundle.to_str().unwrap();
    let long = "a".repeat(300);
    for (id, says) in [
        ("..", "reserved"),
        (".", "reserved"),
        ("a/b", "'/' is not allowed"),
        ("../x", "'/' is not allowed"),
        ("", "cannot be empty"),
        (long.as_str(), "300 characters long"),
    ] {
        for args in [
            vec!["state", id],
            vec!["start", id],
            vec!["kill", id, "KILL"],
            vec!["delete", "-f", id],
            vec!["pause", id],
            vec!["resume", id],
            vec!["ps", id],
            vec!["create", "-b", bundle, id],
            vec!["run", "-b", bundle, id],
        ] {
            let stderr = w.fails(&args, 2);
            assert!(stderr.contains(says), "{args:?}: {stderr}");
            assert!(stderr.contains("container ID"), "{args:?}: {stderr}");
            // A runtime that cannot even be found is never reached: had it
            // been started, the exit code would be 127.
            let mut with_missing_runtime = vec!["--runtime", "/nonexistent/runc"];
            with_missing_runtime.extend(&args);
            w.fails(&with_missing_runtime, 2);
        }
    }
    // A leading dash reads as an option; after `--` it is refused as an ID.
    let stderr = w.fails(&["state", "-x"], 2);
    assert!(stderr.contains("'-x'"), "{stderr}");
    let stderr = w.fails(&["state", "--", "-x"], 2);
    assert!(stderr.contains("cannot start with `-`"), "{stderr}");
    let stderr = w.fails(&["create", "-b", bundle, "--", "-x"], 2);
    assert!(stderr.contains("cannot start with `-`"), "{stderr}");
}

#[test]
fn broken_bundles_are_reported_with_their_file() {
    let w = Watched::new();
    let dir = w.env.dir.path();
    let good = w.env.bundle(&["true"]);

    let missing = dir.join("no-such-bundle");
    let empty = dir.join("empty");
    std::fs::create_dir(&empty).unwrap();
    let not_json = dir.join("not-json");
    std::fs::create_dir_all(not_json.join("rootfs")).unwrap();
    std::fs::write(
        not_json.join("config.json"),
        "{\n  \"ociVersion\": \"1.0.2\",\n  \"process\": { this is not json\n}\n",
    )
    .unwrap();
    let not_spec = dir.join("not-spec");
    std::fs::create_dir_all(not_spec.join("rootfs")).unwrap();
    std::fs::write(
        not_spec.join("config.json"),
        "{\"ociVersion\": \"1.0.2\", \"process\": {\"args\": \"sh\"}}",
    )
    .unwrap();
    let no_rootfs = dir.join("no-rootfs");
    std::fs::create_dir(&no_rootfs).unwrap();
    std::fs::copy(good.join("config.json"), no_rootfs.join("config.json")).unwrap();
    let a_file = dir.join("a-file");
    std::fs::write(&a_file, "").unwrap();

    let p = |p: &Path| p.to_str().unwrap().to_string();
    let cases: Vec<(PathBuf, Vec<String>)> = vec![
        (
            missing.clone(),
            vec![format!("bundle directory {} does not exist", p(&missing))],
        ),
        (
            a_file.clone(),
            vec![format!("bundle {} is not a directory", p(&a_file))],
        ),
        (
            empty.clone(),
            vec![
                format!("bundle {} has no config.json", p(&empty)),
                "ocictl spec --bundle".into(),
            ],
        ),
        (
            not_json.clone(),
            vec![
                format!("{} is not valid JSON", p(&not_json.join("config.json"))),
                "line 3".into(),
            ],
        ),
        (
            not_spec.clone(),
            vec![format!(
                "{} is not an OCI runtime spec",
                p(&not_spec.join("config.json"))
            )],
        ),
        (
            no_rootfs.clone(),
            vec![format!(
                "root filesystem {} named by {} does not exist",
                p(&no_rootfs.join("rootfs")),
                p(&no_rootfs.join("config.json"))
            )],
        ),
    ];
    for (bundle, says) in &cases {
        for sub in ["create", "run"] {
            let id = unique_id("badbundle");
            let stderr = w.fails(&[sub, "-b", &p(bundle), &id], 1);
            assert!(
                stderr.contains(&format!("cannot {sub} container {id}")),
                "{sub} {bundle:?}: {stderr}"
            );
            for s in says {
                assert!(
                    stderr.contains(s.as_str()),
                    "{sub} {bundle:?}: {s:?} in {stderr}"
                );
            }
            // Said once, not repeated as its own cause.
            assert_eq!(stderr.matches(says[0].as_str()).count(), 1, "{stderr}");
        }
    }
}

#[test]
fn wrong_state_transitions_say_why() {
    let w = Watched::new();
    let id = w.running("busy");
    let stderr = w.fails(&["start", &id], 1);
    assert!(
        stderr.contains(&format!("cannot start container {id}")),
        "{stderr}"
    );
    assert!(
        stderr.contains("cannot start an already running container"),
        "{stderr}"
    );
    let stderr = w.fails(&["resume", &id], 1);
    assert!(
        stderr.contains(&format!("cannot resume container {id}")),
        "{stderr}"
    );
    assert!(stderr.contains("container not paused"), "{stderr}");
    let stderr = w.fails(&["delete", &id], 1);
    assert!(
        stderr.contains(&format!("cannot delete container {id}")),
        "{stderr}"
    );
    assert!(stderr.contains("not stopped"), "{stderr}");
    assert!(stderr.contains("--force"), "hint: {stderr}");
    assert_eq!(w.env.state(&id)["status"], "running", "still running");

    // The same ID again. runc also prints its own line on the stderr it
    // shares with the container; ocictl's message follows it.
    let bundle = w.env.bundle(&["true"]);
    let again = w.env.run_detached(args!["create", "-b", bundle, id]);
    assert_eq!(again.code, Some(1), "{again:?}");
    assert!(
        again
            .stderr
            .contains(&format!("cannot create container {id}")),
        "{again:?}"
    );
    assert!(again.stderr.contains("already exists"), "{again:?}");
    assert!(again.stderr.contains("choose another ID"), "{again:?}");
    assert_eq!(w.env.runc_ids(), vec![id.clone()]);
    assert_eq!(
        w.env.state(&id)["status"],
        "running",
        "the first one is untouched"
    );

    w.cmd().args(["kill", &id, "KILL"]).assert().success();
    w.env.wait_status(&id, "stopped");
    // The monitor records the exit (exit.json beside the root) right after
    // the container stops: wait for that before `fails` compares snapshots.
    w.cmd().args(["wait", &id]).assert().code(128 + 9);
    let stderr = w.fails(&["pause", &id], 1);
    assert!(
        stderr.contains(&format!("cannot pause container {id}")),
        "{stderr}"
    );
    assert!(stderr.contains("container not running"), "{stderr}");
    assert!(stderr.contains("not running"), "hint: {stderr}");
    w.cmd().args(["delete", &id]).assert().success();
    assert!(w.env.runc_ids().is_empty());
}

#[test]
fn run_detached_then_kill_and_delete() {
    let w = Watched::new();
    let id = w.running("detached");
    let pid = w.env.state(&id)["pid"].as_i64().unwrap();
    assert!(pid > 0);
    // kill -a with a name, as runc takes it.
    w.cmd()
        .args(["kill", "-a", &id, "SIGKILL"])
        .assert()
        .success()
        .stdout("");
    w.env.wait_status(&id, "stopped");
    w.cmd()
        .args(["--format", "json", "delete", &id])
        .assert()
        .success()
        .stdout(format!("{{\"id\":\"{id}\",\"action\":\"delete\"}}\n"));
    assert!(w.env.runc_ids().is_empty());
    assert!(tree(&w.tmp).is_empty(), "nothing left in TMPDIR");
    // And gone for ocictl too.
    w.fails(&["state", &id], 1);
}

#[test]
fn missing_runtime_binary() {
    let w = Watched::new();
    let bundle = w.env.bundle(&["true"]);
    for args in [
        vec!["state", "x"],
        vec!["list"],
        vec!["create", "-b", bundle.to_str().unwrap(), "x"],
        vec!["run", "-b", bundle.to_str().unwrap(), "x"],
    ] {
        let mut full = vec!["--runtime", "/nonexistent"];
        full.extend(&args);
        let stderr = w.fails(&full, 127);
        assert!(stderr.contains("\"/nonexistent\" not found"), "{stderr}");
        assert!(stderr.contains("--runtime"), "{stderr}");
    }
}

#[test]
fn list_shows_several_containers_in_table_and_json() {
    let w = Watched::new();
    let bundle = w.env.bundle(&["sleep", "1000"]);
    let created = unique_id("lc");
    let out = w.env.run_detached(args!["create", "-b", bundle, created]);
    assert_eq!(out.code, Some(0), "{out:?}");
    let running = w.running("lr");
    let paused = w.running("lp");
    w.cmd().args(["pause", &paused]).assert().success();

    let out = w.cmd().arg("list").output().unwrap();
    assert!(out.status.success());
    let table = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines.len(), 4, "{table}");
    let header: Vec<&str> = lines[0].split_whitespace().collect();
    assert_eq!(
        header,
        ["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"]
    );
    // Columns line up: every cell starts where its header does.
    let starts: Vec<usize> = ["PID", "STATUS", "BUNDLE", "CREATED", "OWNER"]
        .iter()
        .map(|h| lines[0].find(h).unwrap())
        .collect();
    for (id, status) in [
        (&created, "created"),
        (&running, "running"),
        (&paused, "paused"),
    ] {
        let line = lines
            .iter()
            .find(|l| l.starts_with(&format!("{id} ")))
            .unwrap_or_else(|| panic!("{id} in {table}"));
        let cells: Vec<&str> = line.split_whitespace().collect();
        let pid = w.env.state(id)["pid"].as_i64().unwrap().to_string();
        assert_eq!(cells[1], pid, "{line}");
        assert_eq!(cells[2], status, "{line}");
        assert_eq!(cells[5], "root", "{line}");
        for (start, cell) in starts.iter().zip(&cells[1..]) {
            assert_eq!(&line[*start..*start + cell.len()], *cell, "{line}");
        }
    }

    let out = w.cmd().args(["list", "--format", "json"]).output().unwrap();
    let list: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(list.len(), 3);
    for (id, status) in [
        (&created, "created"),
        (&running, "running"),
        (&paused, "paused"),
    ] {
        let c = list.iter().find(|c| c["id"] == id.as_str()).unwrap();
        assert_eq!(c["status"], status);
        // The same object `state` gives, but for the owner: runc's `state`
        // leaves it empty, its `list` fills it in (see the fixtures).
        let mut state = w.env.state(id);
        assert_eq!(state["owner"], "");
        state["owner"] = "root".into();
        assert_eq!(c, &state);
    }
    // runc's own list agrees with ours.
    let mut ids: Vec<String> = w.env.runc_ids();
    ids.sort();
    let out = w.cmd().args(["list", "-q"]).output().unwrap();
    let mut ours: Vec<String> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    ours.sort();
    assert_eq!(ours, ids);
    assert!(tree(&w.tmp).is_empty());
}

#[test]
fn roots_are_isolated() {
    let a = Watched::new();
    let b = Watched::new();
    let id = a.running("iso");
    let list = |w: &Watched| -> Vec<serde_json::Value> {
        let out = w.cmd().args(["--format", "json", "list"]).output().unwrap();
        assert!(out.status.success());
        serde_json::from_slice(&out.stdout).unwrap()
    };
    assert_eq!(list(&a).len(), 1);
    assert_eq!(list(&a)[0]["id"], id.as_str());
    assert!(list(&b).is_empty(), "the other root sees nothing");
    let stderr = b.fails(&["state", &id], 1);
    assert!(stderr.contains("container does not exist"), "{stderr}");
    b.fails(&["kill", &id, "KILL"], 1);
    b.fails(&["delete", &id], 1);
    // (runc's `delete --force` of a container it does not know succeeds.)
    b.cmd().args(["delete", "--force", &id]).assert().success();
    assert_eq!(a.env.state(&id)["status"], "running", "untouched");
    // The same ID can live under both roots.
    let bundle = b.env.bundle(&["sleep", "1000"]);
    let out = b.env.run_detached(args!["run", "-d", "-b", bundle, id]);
    assert_eq!(out.code, Some(0), "{out:?}");
    assert_eq!(list(&a).len(), 1);
    assert_eq!(list(&b).len(), 1);
}

/// A pipe whose read end is already closed: the first write to it fails
/// with EPIPE, every time, whatever the timing.
fn closed_pipe() -> OwnedFd {
    let mut fds = [0; 2];
    // SAFETY: pipe2 fills `fds` with two new descriptors we then own.
    assert_eq!(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) }, 0);
    // SAFETY: both descriptors are fresh and owned by nobody else.
    let (read, write) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    drop(read);
    write
}

fn into_closed_pipe(w: &Watched, args: &[&str]) -> Output {
    let pipe = closed_pipe();
    assert!(pipe.as_raw_fd() > 2);
    let out = w
        .env
        .std_cmd()
        .env("TMPDIR", &w.tmp)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::from(pipe))
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    out
}

#[test]
fn output_into_a_closed_pipe_ends_quietly() {
    let w = Watched::new();
    let bundle = w.env.bundle(&["sleep", "1000"]);
    // Enough containers that the table is longer than `head -1` reads.
    let mut ids = Vec::new();
    for _ in 0..20 {
        let id = unique_id("pipe");
        let out = w.env.run_detached(args!["create", "-b", bundle, id]);
        assert_eq!(out.code, Some(0), "{out:?}");
        ids.push(id);
    }
    let running = w.running("piperun");

    // The reader is gone before ocictl writes anything: ocictl gets EPIPE
    // on its first write, stops, and exits 0 (main.rs: a closed stdout is
    // not an error), saying nothing and never panicking.
    for args in [
        &["list"][..],
        &["list", "--format", "json"],
        &["list", "-q"],
        &["state", &ids[0]],
        &["--format", "json", "state", &ids[0]],
        &["ps", "-f", "json", &running],
        &["ps", &running],
        &["version"],
        &["features"],
        &["--format", "json", "kill", &running, "CONT"],
    ] {
        let out = into_closed_pipe(&w, args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {stderr}");
        assert_eq!(stderr, "", "{args:?}");
    }

    // And through a shell, as people type it.
    let script = format!(
        "set -o pipefail; '{}' --root '{}' list | head -1",
        common::ocictl_path().display(),
        w.env.root.display()
    );
    let out = std::process::Command::new("bash")
        .args(["-c", &script])
        .env("TMPDIR", &w.tmp)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout)
            .split_whitespace()
            .collect::<Vec<_>>(),
        ["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"]
    );
    assert_eq!(w.env.runc_ids().len(), 21);
    assert!(tree(&w.tmp).is_empty());
}

#[test]
fn events_into_a_closed_pipe_end_quietly_and_stop_the_runtime() {
    let env = Env::new();
    let bundle = env.bundle(&["sleep", "1000"]);
    let id = unique_id("ev-pipe");
    let started = env.run_detached(args!["run", "-d", "--no-monitor", "-b", bundle, id]);
    assert_eq!(started.code, Some(0), "{started:?}");
    let script = format!(
        "set -o pipefail; {} --root {} --format json events --interval 100ms {} | head -2",
        common::ocictl_path().display(),
        env.root.display(),
        id
    );
    let out = std::process::Command::new("bash")
        .args(["-c", &script])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 2);
    // The `runc events` ocictl started is gone with it.
    let root = env.root.to_string_lossy().into_owned();
    for _ in 0..100 {
        let left = std::process::Command::new("pgrep")
            .args(["-f", &format!("runc --root {root} events")])
            .output()
            .unwrap();
        if left.stdout.is_empty() {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    panic!("a `runc events` process outlived ocictl");
}
