//! The shim's state directory under attack (RELIABILITY.md's threat model):
//! a real unprivileged user with write access to the directory that holds
//! the runtime's root (a /tmp-like 1777 directory) prepares the attacks of
//! the Trust issue while root runs ocictl; each test asserts the outcome.
//! Then the faults: Ctrl-C during create, a chatty container, a 255-character
//! ID, `--root ''`, a root given through a symlink, `--preserve-fds` beyond
//! the open fds, silent clients on the attach socket.

use crate::common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command as StdCommand;
use std::time::Duration;

use common::attacker::{self, Attacker};
use common::{ocictl, unique_id, Env, PtySession};

/// A runtime root inside a 1777 directory both root and the attacker use.
struct Shared {
    env: Env,
    root: PathBuf,
    attacker: Attacker,
}

impl Shared {
    fn new() -> Shared {
        let env = Env::new();
        let attacker = Attacker::get();
        let shared = attacker::shared_dir(env.dir.path(), "shared");
        let root = shared.join("root");
        Shared {
            env,
            root,
            attacker,
        }
    }

    fn base(&self) -> PathBuf {
        self.root.with_file_name("root.ocictl")
    }

    fn cmd(&self) -> assert_cmd::Command {
        let mut cmd = ocictl();
        cmd.arg("--root").arg(&self.root);
        cmd
    }

    fn std_cmd(&self) -> StdCommand {
        let mut cmd = StdCommand::new(common::ocictl_path());
        cmd.arg("--root").arg(&self.root);
        cmd
    }

    /// runc's own list of containers under this root.
    fn runc_ids(&self) -> Vec<String> {
        let out = StdCommand::new("runc")
            .arg("--root")
            .arg(&self.root)
            .args(["list", "-q"])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::to_string)
            .collect()
    }
}

impl Drop for Shared {
    fn drop(&mut self) {
        for id in self.runc_ids() {
            let _ = StdCommand::new("runc")
                .arg("--root")
                .arg(&self.root)
                .args(["delete", "--force", &id])
                .status();
        }
    }
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A detached ocictl run: stdio to files, as a container would hold a pipe.
fn detached(mut cmd: StdCommand, dir: &Path) -> std::process::Output {
    let err = dir.join(format!("err-{}", std::process::id()));
    let status = cmd
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(&err).unwrap())
        .status()
        .unwrap();
    std::process::Output {
        status,
        stdout: Vec::new(),
        stderr: std::fs::read(&err).unwrap_or_default(),
    }
}

#[test]
fn a_pre_created_state_dir_with_a_hooked_config_is_refused_and_no_hook_runs() {
    let s = Shared::new();
    let id = unique_id("adv-hook");
    let bundle = s.env.bundle(&["sleep", "100"]);
    let marker = s.env.dir.path().join("shared/hook-ran");
    // The attacker prepares the state directory ocictl would use, with a
    // terminal bundle copy whose config runs a prestart hook as root.
    let mut config: serde_json::Value =
        serde_json::from_slice(&std::fs::read(bundle.join("config.json")).unwrap()).unwrap();
    config["process"]["terminal"] = true.into();
    config["root"]["path"] = bundle.join("rootfs").to_str().unwrap().into();
    config["hooks"] = serde_json::json!({"prestart": [{
        "path": "/bin/sh", "args": ["sh", "-c", format!("id -u > {}", marker.display())]
    }]});
    let planted = s.env.dir.path().join("shared/evil-config.json");
    std::fs::write(&planted, serde_json::to_vec(&config).unwrap()).unwrap();
    std::fs::set_permissions(&planted, std::fs::Permissions::from_mode(0o644)).unwrap();
    let base = s.base();
    s.attacker.must(&format!(
        "umask 0; mkdir -p '{b}/{id}/bundle' && cp '{p}' '{b}/{id}/bundle/config.json' && \
         : > '{b}/{id}/lock' && chmod -R a+rwX '{b}'",
        b = base.display(),
        p = planted.display()
    ));
    let mut cmd = s.std_cmd();
    cmd.args(["run", "-d", "-t", "-b"]).arg(&bundle).arg(&id);
    let out = detached(cmd, s.env.dir.path());
    assert!(!out.status.success(), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains(base.to_str().unwrap()), "names the dir: {err}");
    assert!(
        err.contains(&format!("uid {}", s.attacker.uid)),
        "names the owner: {err}"
    );
    assert!(!marker.exists(), "the attacker's hook ran as root");
    assert!(s.runc_ids().is_empty(), "nothing ran: {:?}", s.runc_ids());
    // The same for create and for a link planted as the base.
    std::fs::remove_dir_all(&base).unwrap();
    let elsewhere = s.env.dir.path().join("shared/elsewhere");
    s.attacker.must(&format!(
        "mkdir -p '{e}' && ln -s '{e}' '{b}'",
        e = elsewhere.display(),
        b = base.display()
    ));
    let mut cmd = s.std_cmd();
    cmd.args(["create", "-b"]).arg(&bundle).arg(&id);
    let out = detached(cmd, s.env.dir.path());
    assert!(!out.status.success());
    assert!(stderr(&out).contains("symbolic link"), "{}", stderr(&out));
    assert!(s.runc_ids().is_empty());
    assert_eq!(std::fs::read_dir(&elsewhere).unwrap().count(), 0);
}

#[test]
fn planted_temp_links_never_overwrite_a_root_file() {
    let s = Shared::new();
    let id = unique_id("adv-tmp");
    let bundle = s.env.bundle(&["sh", "-c", "exit 3"]);
    let victim = attacker::victim(s.env.dir.path(), "victim");
    let base = s.base();
    // Every temporary name the old layout used, and the records themselves.
    let mut script = format!(
        "mkdir -p '{b}/{id}' && chmod -R 777 '{b}'",
        b = base.display()
    );
    for name in [
        "exit.tmp",
        "meta.tmp",
        "exit.json",
        "meta.json",
        "console.log",
        "pid",
    ] {
        script.push_str(&format!(
            " && ln -s '{v}' '{b}/{id}/{name}'",
            v = victim.display(),
            b = base.display()
        ));
    }
    s.attacker.must(&script);
    let mut cmd = s.std_cmd();
    cmd.args(["run", "-d", "-b"]).arg(&bundle).arg(&id);
    let out = detached(cmd, s.env.dir.path());
    assert!(!out.status.success(), "{}", stderr(&out));
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "root's data\n");
    assert!(s.runc_ids().is_empty());
    // Once the attacker's directory is gone, ocictl makes its own: private.
    std::fs::remove_dir_all(&base).unwrap();
    let mut cmd = s.std_cmd();
    cmd.args(["run", "-d", "-b"]).arg(&bundle).arg(&id);
    let out = detached(cmd, s.env.dir.path());
    assert!(out.status.success(), "{}", stderr(&out));
    s.cmd().args(["wait", &id]).assert().code(3);
    for dir in [base.clone(), base.join(&id)] {
        let mode = std::fs::symlink_metadata(&dir)
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o7777, 0o700, "{}", dir.display());
    }
    for entry in std::fs::read_dir(base.join(&id)).unwrap() {
        let entry = entry.unwrap();
        let meta = entry.metadata().unwrap();
        if entry.file_name() != "pid" && meta.is_file() {
            assert_eq!(meta.permissions().mode() & 0o777, 0o600, "{entry:?}");
        }
    }
    // The attacker cannot even look inside.
    let peek = s.attacker.sh(&format!("ls '{}'", base.display()));
    assert!(!peek.status.success());
    s.cmd().args(["delete", &id]).assert().success();
}

/// The attacker's listener: answers like a shim and writes what it gets.
const FAKE_SHIM: &str = r#"
import socket, sys, os
s = socket.socket(socket.AF_UNIX)
s.bind(sys.argv[1]); os.chmod(sys.argv[1], 0o777); s.listen(5)
open(sys.argv[3], "w").write("ready")
while True:
    c, _ = s.accept()
    try:
        c.sendall(b"O")
        with open(sys.argv[2], "ab") as log:
            while True:
                d = c.recv(4096)
                if not d: break
                log.write(d); log.flush()
    except OSError:
        pass
"#;

#[test]
fn a_planted_attach_socket_never_gets_a_keystroke() {
    let s = Shared::new();
    let id = unique_id("adv-attach");
    let base = s.base();
    let dir = base.join(&id);
    let got = s.env.dir.path().join("shared/got");
    let ready = s.env.dir.path().join("shared/ready");
    let script = s.env.dir.path().join("shared/fake_shim.py");
    std::fs::write(&script, FAKE_SHIM).unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o644)).unwrap();
    // Socket, lock (held) and a meta record naming the attacker's process.
    s.attacker.must(&format!(
        "mkdir -p '{d}' && chmod -R 777 '{b}' && : > '{d}/lock' && \
         (flock '{d}/lock' python3 '{py}' '{d}/attach.sock' '{got}' '{ready}' >/dev/null 2>&1 &) && \
         for i in $(seq 100); do [ -f '{ready}' ] && break; sleep 0.05; done; \
         pid=$(pgrep -u $(id -u) -f fake_shim.py | head -1); \
         printf '{{\"monitor_pid\":%s,\"init_pid\":1,\"terminal\":true,\"log\":null}}' \"$pid\" > '{d}/meta.json'",
        d = dir.display(),
        b = base.display(),
        py = script.display(),
        got = got.display(),
        ready = ready.display(),
    ));
    assert!(ready.exists(), "the attacker's listener is up");
    let mut cmd = s.std_cmd();
    cmd.args(["attach", &id]);
    let mut session = PtySession::spawn(cmd, 24, 80);
    session.send(b"my-secret-password\r");
    let status = session.wait();
    assert!(!status.success(), "{}", session.text());
    assert!(
        session.text().contains(&format!("uid {}", s.attacker.uid)),
        "{}",
        session.text()
    );
    let stolen = std::fs::read(&got).unwrap_or_default();
    assert!(
        stolen.is_empty(),
        "the attacker got {:?}",
        String::from_utf8_lossy(&stolen)
    );
    let _ = s.attacker.sh("pkill -u $(id -u) -f fake_shim.py");
}

#[test]
fn an_impostor_on_the_attach_socket_is_refused_before_a_byte_is_sent() {
    // Even in ocictl's own directory: a socket whose peer is not the shim
    // the meta record names gets nothing (SO_PEERCRED).
    let env = Env::new();
    let id = unique_id("adv-peer");
    let bundle = env.bundle(&["sh"]);
    let out = env.run_detached(args!["run", "-d", "-t", "-b", bundle, id]);
    assert_eq!(out.code, Some(0), "{out:?}");
    let dir = env.root.with_file_name("root.ocictl").join(&id);
    let sock = dir.join("attach.sock");
    let got = env.dir.path().join("got");
    let ready = env.dir.path().join("ready");
    let script = env.dir.path().join("fake_shim.py");
    std::fs::write(&script, FAKE_SHIM).unwrap();
    std::fs::remove_file(&sock).unwrap();
    let mut impostor = StdCommand::new("/usr/bin/python3")
        .arg(&script)
        .arg(&sock)
        .arg(&got)
        .arg(&ready)
        .spawn()
        .unwrap();
    for _ in 0..100 {
        if ready.exists() {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let mut cmd = env.std_cmd();
    cmd.args(["attach", &id]);
    let mut session = PtySession::spawn(cmd, 24, 80);
    session.send(b"typed\r");
    assert!(!session.wait().success(), "{}", session.text());
    assert!(
        session.text().contains("not the container's"),
        "{}",
        session.text()
    );
    assert!(std::fs::read(&got).unwrap_or_default().is_empty());
    let _ = impostor.kill();
    let _ = impostor.wait();
}

/// Processes whose command line contains `needle`.
fn processes_with(needle: &str) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        if let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) {
            let text = String::from_utf8_lossy(&cmdline).replace('\0', " ");
            if text.contains(needle) && !text.contains("adversarial_shim") {
                found.push(text);
            }
        }
    }
    found
}

#[test]
fn ctrl_c_during_create_leaves_nothing_behind() {
    interrupted_start(&["create"], nix::sys::signal::Signal::SIGINT);
}

#[test]
fn sigterm_during_run_d_leaves_nothing_behind() {
    interrupted_start(&["run", "-d"], nix::sys::signal::Signal::SIGTERM);
}

/// Start `sub` on a bundle whose hook hangs before the container exists,
/// send ocictl `signal`, and find nothing left: no container, no shim, no
/// state directory, no hook; ocictl exits 128+N as bare runc would.
fn interrupted_start(sub: &[&str], signal: nix::sys::signal::Signal) {
    let env = Env::new();
    let id = unique_id("adv-intr");
    let bundle = env.bundle(&["sleep", "100"]);
    let started = env.dir.path().join("hook-started");
    // A sleep only this test runs (fractional seconds tell it apart).
    let tag = format!("99.{}", std::process::id());
    // A create that hangs in a hook before the container exists.
    Env::edit_config(&bundle, |c| {
        c["hooks"] = serde_json::json!({"createRuntime": [{
            "path": "/bin/sh",
            "args": ["sh", "-c", format!("touch {}; sleep {tag}", started.display())]
        }]});
    });
    let mut cmd = env.std_cmd();
    cmd.args(sub)
        .arg("-b")
        .arg(&bundle)
        .arg(&id)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped());
    let child = cmd.spawn().unwrap();
    for _ in 0..200 {
        if started.exists() {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(started.exists(), "the hook started");
    for _ in 0..200 {
        if !processes_with(&format!("sleep {tag}")).is_empty() {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(
        !processes_with(&format!("sleep {tag}")).is_empty(),
        "the hook sleeps"
    );
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(child.id() as i32), signal).unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(128 + signal as i32),
        "{}",
        stderr(&out)
    );
    assert!(
        env.runc_ids().is_empty(),
        "no container: {:?}",
        env.runc_ids()
    );
    assert!(!env.root.with_file_name("root.ocictl").join(&id).exists());
    assert!(processes_with(&format!("--id {id}")).is_empty(), "no shim");
    assert!(
        processes_with(&format!("sleep {tag}")).is_empty(),
        "no hook left"
    );
}

#[test]
fn a_chatty_container_stays_under_the_log_cap() {
    let env = Env::new();
    let id = unique_id("adv-yes");
    let bundle = env.bundle(&["sh", "-c", "yes; sleep 100"]);
    let out = env.run_detached(args![
        "run",
        "-d",
        "-t",
        "--log-max-size",
        "64K",
        "-b",
        bundle,
        id
    ]);
    assert_eq!(out.code, Some(0), "{out:?}");
    let dir = env.root.with_file_name("root.ocictl").join(&id);
    let old = dir.join("console.log.1");
    for _ in 0..400 {
        if old.exists() {
            break;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    assert!(old.exists(), "the log rotated");
    // Many rotations later, still at most two files of 64 KiB.
    std::thread::sleep(Duration::from_millis(500));
    for f in [dir.join("console.log"), old] {
        let len = std::fs::metadata(&f).unwrap().len();
        assert!(len <= 64 * 1024, "{} is {len} bytes", f.display());
    }
    let out = env
        .cmd()
        .args(["logs", "--tail", "2", &id])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.lines().all(|l| l.trim_end() == "y"), "{text:?}");
    env.cmd().args(["delete", "-f", &id]).assert().success();
}

#[test]
fn an_id_of_255_characters_works_through_every_command() {
    let env = Env::new();
    let id: String = "x".repeat(255);
    let bundle = env.bundle(&["sh"]);
    let out = env.run_detached(args!["run", "-d", "-t", "-b", bundle, id]);
    assert_eq!(out.code, Some(0), "{out:?}");
    assert_eq!(env.state(&id)["status"], "running");
    let listed = env.json(&["list"]);
    assert_eq!(listed[0]["id"], id.as_str());
    let mut cmd = env.std_cmd();
    cmd.args(["attach", &id]);
    let mut a = PtySession::spawn(cmd, 24, 80);
    a.send(b"echo long-''id-ok\r");
    a.expect("long-id-ok");
    a.send(b"exit 4\r");
    assert_eq!(a.wait().code(), Some(4), "{}", a.text());
    env.cmd().args(["wait", &id]).assert().code(4);
    let out = env.cmd().args(["logs", &id]).output().unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("long-id-ok"));
    env.cmd().args(["delete", &id]).assert().success();
    assert!(env.runc_ids().is_empty());
    let too_long = "x".repeat(256);
    env.cmd().args(["state", &too_long]).assert().code(2);
}

#[test]
fn an_empty_root_is_a_usage_error() {
    let out = ocictl().args(["--root", "", "list"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("--root"), "{}", stderr(&out));
}

#[test]
fn a_root_given_through_a_symlink_shares_its_state() {
    let env = Env::new();
    let id = unique_id("adv-link");
    let link = env.dir.path().join("link");
    std::os::unix::fs::symlink(&env.root, &link).unwrap();
    let bundle = env.bundle(&["sh", "-c", "exit 6"]);
    let mut cmd = StdCommand::new(common::ocictl_path());
    cmd.arg("--root")
        .arg(&link)
        .args(["run", "-d", "-b"])
        .arg(&bundle)
        .arg(&id);
    let out = detached(cmd, env.dir.path());
    assert!(out.status.success(), "{}", stderr(&out));
    env.cmd().args(["wait", &id]).assert().code(6);
    let mut via_link = ocictl();
    via_link.arg("--root").arg(&link).args(["wait", &id]);
    via_link.assert().code(6);
    assert!(!env.dir.path().join("link.ocictl").exists());
}

#[test]
fn preserve_fds_beyond_the_open_fds_is_refused_before_anything_runs() {
    let env = Env::new();
    let id = unique_id("adv-fds");
    let bundle = env.bundle(&["sleep", "100"]);
    let out = env.run_detached(args!["create", "--preserve-fds", "3", "-b", bundle, id]);
    assert_eq!(out.code, Some(1), "{out:?}");
    assert!(out.stderr.contains("fd 3 is not open"), "{out:?}");
    assert!(env.runc_ids().is_empty());
    assert!(!env.root.with_file_name("root.ocictl").join(&id).exists());
}

#[test]
fn silent_clients_on_the_attach_socket_never_stall_the_shim() {
    let env = Env::new();
    let id = unique_id("adv-silent");
    let bundle = env.bundle(&["sh"]);
    let out = env.run_detached(args!["run", "-d", "-t", "-b", bundle, id]);
    assert_eq!(out.code, Some(0), "{out:?}");
    let sock = env
        .root
        .with_file_name("root.ocictl")
        .join(&id)
        .join("attach.sock");
    // More silent connections than the shim handshakes at once; each would
    // have held the old loop for 2 s.
    let silent: Vec<_> = (0..20)
        .filter_map(|_| std::os::unix::net::UnixStream::connect(&sock).ok())
        .collect();
    assert!(!silent.is_empty());
    let mut cmd = env.std_cmd();
    cmd.args(["attach", &id]);
    let mut a = PtySession::spawn(cmd, 24, 80);
    a.send(b"echo still-''served\r");
    a.expect("still-served");
    a.send(b"\x10\x11");
    assert_eq!(a.wait().code(), Some(0), "{}", a.text());
    drop(silent);
    env.cmd().args(["delete", "-f", &id]).assert().success();
}

/// Run ocictl with all stdio on /dev/null (CRIU cannot checkpoint a host
/// file or pipe as the container's stdio).
fn null_run(env: &Env, args: &[&std::ffi::OsStr]) -> Option<i32> {
    env.std_cmd()
        .args(args)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .unwrap()
        .code()
}

/// Counts in memory into /count; exits 7 once /stop exists.
const COUNTER: &str =
    "i=0; while [ ! -e /stop ]; do i=$((i+1)); echo $i >> /count; sleep 0.05; done; exit 7";

fn count_lines(bundle: &Path) -> usize {
    std::fs::read_to_string(bundle.join("rootfs/count"))
        .unwrap_or_default()
        .lines()
        .count()
}

fn wait_more_counts(bundle: &Path, n: usize) {
    for _ in 0..400 {
        if count_lines(bundle) > n {
            return;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    panic!("the counter never passed {n}");
}

#[test]
fn checkpoint_then_restore_d_shows_no_stale_exit_and_gets_a_shim() {
    let env = Env::new();
    let id = unique_id("adv-ckpt");
    let bundle = env.bundle(&["sh", "-c", COUNTER]);
    assert_eq!(
        null_run(&env, args!["run", "-d", "-b", bundle, id]),
        Some(0)
    );
    wait_more_counts(&bundle, 2);
    let img = env.dir.path().join("img");
    assert_eq!(
        null_run(&env, args!["checkpoint", "--image-path", img, id]),
        Some(0)
    );
    let dir = env.root.with_file_name("root.ocictl").join(&id);
    assert!(
        !dir.exists(),
        "a checkpoint that stopped the container clears its shim state"
    );
    let restore = args!["restore", "-d", "-b", bundle, "--image-path", img, id];
    assert_eq!(null_run(&env, restore), Some(0));
    let state = env.state(&id);
    assert_eq!(state["status"], "running", "{state}");
    assert!(state.get("exit").is_none(), "no stale exit: {state}");
    let n = count_lines(&bundle);
    wait_more_counts(&bundle, n);
    // The restored container has a shim of its own: wait gets its status.
    std::fs::write(bundle.join("rootfs/stop"), "").unwrap();
    env.cmd().args(["wait", &id]).assert().code(7);
    assert_eq!(env.state(&id)["exit"]["code"], 7);
    env.cmd().args(["delete", &id]).assert().success();
}

#[test]
fn a_run_t_checkpoint_restores_with_the_users_bundle() {
    let env = Env::new();
    let id = unique_id("adv-ckpt-t");
    let bundle = env.bundle(&["sh", "-c", COUNTER]);
    assert_eq!(
        null_run(&env, args!["run", "-d", "-t", "-b", bundle, id]),
        Some(0)
    );
    wait_more_counts(&bundle, 2);
    let img = env.dir.path().join("img");
    assert_eq!(
        null_run(&env, args!["checkpoint", "--image-path", img, id]),
        Some(0)
    );
    // The user's bundle says "terminal": false; ocictl knows better.
    let restore = args!["restore", "-d", "-b", bundle, "--image-path", img, id];
    assert_eq!(null_run(&env, restore), Some(0));
    let state = env.state(&id);
    assert_eq!(state["status"], "running", "{state}");
    assert_eq!(state["bundle"], bundle.to_str().unwrap(), "{state}");
    let n = count_lines(&bundle);
    wait_more_counts(&bundle, n);
    std::fs::write(bundle.join("rootfs/stop"), "").unwrap();
    env.cmd().args(["wait", &id]).assert().code(7);
    env.cmd().args(["delete", &id]).assert().success();
    assert!(!env.root.with_file_name("root.ocictl").join(&id).exists());
}

#[test]
fn a_new_container_with_the_same_id_never_shows_the_old_exit() {
    let env = Env::new();
    let id = unique_id("adv-reuse");
    let bundle = env.bundle(&["sh", "-c", "exit 3"]);
    assert_eq!(
        null_run(&env, args!["run", "-d", "-b", bundle, id]),
        Some(0)
    );
    env.cmd().args(["wait", &id]).assert().code(3);
    // Bare runc deletes it and makes a new one with the same ID.
    assert!(env.bare_runc(&["delete", &id]).success());
    let sleeper = env.bundle(&["sleep", "100"]);
    assert!(env
        .bare_runc(&["run", "-d", "-b", sleeper.to_str().unwrap(), &id])
        .success());
    let state = env.state(&id);
    assert!(
        state.get("exit").is_none(),
        "another container's exit: {state}"
    );
    let out = env.cmd().args(["wait", &id]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("no monitor"), "{}", stderr(&out));
    assert!(
        !env.root.with_file_name("root.ocictl").join(&id).exists(),
        "cleaned up"
    );
}

#[test]
fn logs_follow_reads_across_the_rotation_to_the_end() {
    let env = Env::new();
    let id = unique_id("adv-follow");
    let script =
        "sleep 0.5; i=0; while [ $i -lt 3000 ]; do echo line-$i; i=$((i+1)); done; sleep 0.5";
    let bundle = env.bundle(&["sh", "-c", script]);
    let out = env.run_detached(args![
        "run",
        "-d",
        "-t",
        "--log-max-size",
        "4K",
        "-b",
        bundle,
        id
    ]);
    assert_eq!(out.code, Some(0), "{out:?}");
    let follow = env.cmd().args(["logs", "-f", &id]).output().unwrap();
    assert!(follow.status.success(), "{}", stderr(&follow));
    let text = String::from_utf8_lossy(&follow.stdout);
    assert!(
        text.contains("line-2999"),
        "the end is followed: {}",
        &text[text.len().saturating_sub(200)..]
    );
    env.cmd().args(["wait", &id]).assert().code(0);
    // After the end, the tail is still served across the two files.
    let tail = env
        .cmd()
        .args(["logs", "--tail", "1", &id])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&tail.stdout).trim_end(),
        "line-2999"
    );
    env.cmd().args(["delete", &id]).assert().success();
}

#[test]
fn a_root_inside_another_users_directory_is_refused() {
    // The attacker owns the directory that holds the root: they could
    // rename ocictl's state away between its checks and the runtime's use
    // of the paths (the bundle copy, the pid file).
    let s = Shared::new();
    let id = unique_id("adv-parent");
    let theirs = s.env.dir.path().join("shared/theirs");
    s.attacker
        .must(&format!("mkdir -m 0755 '{}'", theirs.display()));
    let bundle = s.env.bundle(&["sleep", "100"]);
    let root = theirs.join("root");
    let mut cmd = StdCommand::new(common::ocictl_path());
    cmd.arg("--root")
        .arg(&root)
        .args(["run", "-d", "-t", "-b"])
        .arg(&bundle)
        .arg(&id);
    let out = detached(cmd, s.env.dir.path());
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains(theirs.to_str().unwrap()), "{err}");
    assert!(err.contains(&format!("uid {}", s.attacker.uid)), "{err}");
    let listed = StdCommand::new("runc")
        .arg("--root")
        .arg(&root)
        .args(["list", "-q"])
        .output()
        .unwrap();
    assert!(listed.stdout.is_empty(), "nothing ran");
    assert!(!theirs.join("root.ocictl").exists(), "nothing made there");
}

#[test]
fn a_run_t_checkpoint_restores_in_the_foreground_with_the_users_bundle() {
    let env = Env::new();
    let id = unique_id("adv-ckpt-fg");
    let bundle = env.bundle(&["sh", "-c", COUNTER]);
    assert_eq!(
        null_run(&env, args!["run", "-d", "-t", "-b", bundle, id]),
        Some(0)
    );
    wait_more_counts(&bundle, 2);
    let img = env.dir.path().join("img");
    assert_eq!(
        null_run(&env, args!["checkpoint", "--image-path", img, id]),
        Some(0)
    );
    let mut cmd = env.std_cmd();
    cmd.args(["restore", "-b"])
        .arg(&bundle)
        .arg("--image-path")
        .arg(&img)
        .arg(&id);
    let mut session = PtySession::spawn(cmd, 24, 80);
    let n = count_lines(&bundle);
    wait_more_counts(&bundle, n);
    std::fs::write(bundle.join("rootfs/stop"), "").unwrap();
    assert_eq!(session.wait().code(), Some(7), "{}", session.text());
    assert!(
        env.runc_ids().is_empty(),
        "a foreground restore deletes it after"
    );
}
