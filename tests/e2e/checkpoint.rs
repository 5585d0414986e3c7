//! Checkpoint and restore through real runc and real CRIU, and the exact
//! argv both send (with a small recording fake runtime).
//!
//! The container under test runs a shell loop whose counter lives only in
//! the shell's memory and is appended to /count in its rootfs: a restore
//! that works continues the count; one that restarted the process would
//! start again at 1. Its stdio is /dev/null, which CRIU can checkpoint
//! (a host file or pipe as stdio makes CRIU fail).

use crate::common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::counter::*;
use common::{unique_id, Env};
use predicates::prelude::*;

#[test]
fn checkpoint_stops_it_and_restore_continues_the_count_detached_and_foreground() {
    let env = Env::new();
    let (id, bundle) = start_counter(&env, "ck");
    let img = env.dir.path().join("img1");

    env.cmd()
        .args(["checkpoint", "--image-path"])
        .arg(&img)
        .arg(&id)
        .assert()
        .success()
        .stdout("");
    assert!(
        env.status(&id).is_none_or(|s| s == "stopped"),
        "a checkpoint without --leave-running stops the container"
    );
    let before = counts(&bundle);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(counts(&bundle), before, "nothing counts while checkpointed");

    // Detached: returns once it runs.
    let restored = ocictl_null(
        &env,
        args!["restore", "-d", "-b", bundle, "--image-path", img, id],
    );
    assert_eq!(restored, Some(0));
    assert_eq!(env.status(&id).as_deref(), Some("running"));
    assert_continues(&bundle, before.len(), *before.last().unwrap());

    // Foreground: waits, and exits with the restored process's status.
    let img2 = env.dir.path().join("img2");
    env.cmd()
        .args(["checkpoint", "--image-path"])
        .arg(&img2)
        .arg(&id)
        .assert()
        .success();
    let before = counts(&bundle);
    let mut fg = spawn_null(
        &env,
        args!["restore", "-b", bundle, "--image-path", img2, id],
    );
    assert_continues(&bundle, before.len(), *before.last().unwrap());
    assert!(
        fg.try_wait().unwrap().is_none(),
        "restore is in the foreground"
    );
    std::fs::write(bundle.join("rootfs/stop"), "").unwrap();
    assert_eq!(fg.wait().unwrap().code(), Some(7));
}

#[test]
fn leave_running_keeps_it_running_and_the_image_restores_under_a_new_id() {
    let env = Env::new();
    let (id, bundle) = start_counter(&env, "lr");
    let img = env.dir.path().join("img");
    env.cmd()
        .args(["checkpoint", "--leave-running", "--image-path"])
        .arg(&img)
        .arg(&id)
        .assert()
        .success();
    assert_eq!(env.status(&id).as_deref(), Some("running"));
    let at_checkpoint = counts(&bundle).len();
    wait_counts(&bundle, at_checkpoint + 2);

    env.cmd()
        .args(["delete", "--force", &id])
        .assert()
        .success();
    let before = counts(&bundle);
    let new_id = unique_id("lr-new");
    // Detached with JSON: the result names the monitor, like `run -d`'s.
    let out = env
        .std_cmd()
        .args(["--format", "json", "restore", "-d", "-b"])
        .arg(&bundle)
        .arg("--image-path")
        .arg(&img)
        .arg(&new_id)
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let result: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(result["action"], "restore");
    assert_eq!(result["detached"], true);
    let monitor = result["monitor_pid"].as_i64().expect("a monitor pid");
    let cmdline = std::fs::read(format!("/proc/{monitor}/cmdline")).unwrap();
    assert!(
        String::from_utf8_lossy(&cmdline).contains("shim"),
        "monitor_pid {monitor} is the container's monitor"
    );
    assert_eq!(env.status(&new_id).as_deref(), Some("running"));
    let after = wait_counts(&bundle, before.len());
    let next = after[before.len()];
    assert!(
        next > 1 && next <= *before.last().unwrap() + 1,
        "the restored counter goes on from the checkpoint ({next} after {:?})",
        &before[before.len() - 3..]
    );
}

#[test]
fn image_root_with_keep_2_leaves_two_complete_images_and_restores_the_latest() {
    let env = Env::new();
    let (id, bundle) = start_counter(&env, "keep");
    let root = env.dir.path().join("images");
    let mut written = Vec::new();
    for _ in 0..4 {
        let out = env
            .cmd()
            .args([
                "--format",
                "json",
                "checkpoint",
                "--leave-running",
                "--keep",
                "2",
            ])
            .arg("--image-root")
            .arg(&root)
            .arg(&id)
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(summary["id"], id.as_str());
        assert_eq!(summary["left_running"], true);
        assert!(summary["bytes"].as_u64().unwrap() > 0);
        assert!(summary["duration"].as_f64().unwrap() > 0.0);
        assert!(summary["criu_version"]
            .as_str()
            .unwrap()
            .starts_with(char::is_numeric));
        written.push(PathBuf::from(summary["image_path"].as_str().unwrap()));
    }
    let dir = root.join(&id);
    assert_eq!(complete_images(&dir), written[2..].to_vec());
    assert_eq!(hidden_dirs(&dir), Vec::<String>::new());

    // Without -v or --format json: silent.
    env.cmd()
        .args([
            "checkpoint",
            "--leave-running",
            "--keep",
            "2",
            "--image-root",
        ])
        .arg(&root)
        .arg(&id)
        .assert()
        .success()
        .stdout("")
        .stderr("");
    assert_eq!(complete_images(&dir).len(), 2);

    env.cmd()
        .args(["delete", "--force", &id])
        .assert()
        .success();
    let before = counts(&bundle);
    assert_eq!(
        ocictl_null(
            &env,
            args![
                "restore",
                "-d",
                "-b",
                bundle,
                "--image-root",
                root,
                "--latest",
                id
            ]
        ),
        Some(0)
    );
    assert_eq!(env.status(&id).as_deref(), Some("running"));
    let after = wait_counts(&bundle, before.len());
    assert!(after[before.len()] > 1, "restored, not restarted");
}

#[test]
fn a_second_checkpoint_while_the_lock_is_held_exits_75_at_once() {
    let env = Env::new();
    let bundle = env.bundle(&["sleep", "1000"]);
    let id = unique_id("lock");
    assert_eq!(
        ocictl_null(&env, args!["run", "-d", "-b", bundle, id]),
        Some(0)
    );
    let root = env.dir.path().join("images");
    // The lock a running checkpoint of this container holds.
    let lock = open_lock(&root.join(&id).join(".lock"));
    assert!(flock(&lock, libc::LOCK_EX | libc::LOCK_NB));

    let out = env
        .cmd()
        .args(["checkpoint", "--image-root"])
        .arg(&root)
        .arg(&id)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(75), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
    assert!(
        stderr.contains("another checkpoint") && stderr.contains(&id),
        "{stderr}"
    );
    assert_eq!(env.status(&id).as_deref(), Some("running"));
    assert!(complete_images(&root.join(&id)).is_empty());
    assert!(hidden_dirs(&root.join(&id)).is_empty());

    // Released: the next run works.
    drop(lock);
    env.cmd()
        .args(["checkpoint", "--leave-running", "--image-root"])
        .arg(&root)
        .arg(&id)
        .assert()
        .success();
    assert_eq!(complete_images(&root.join(&id)).len(), 1);
}

#[test]
fn a_checkpoint_killed_midway_leaves_no_complete_looking_image_and_the_next_run_recovers_it() {
    let env = Env::new();
    let (id, bundle) = start_counter(&env, "killed");
    // A CRIU that takes its time, so ocictl can be killed mid-checkpoint.
    let slow = env.dir.path().join("slow-criu");
    std::fs::write(
        &slow,
        "#!/bin/sh\n[ \"$1\" = swrk ] && sleep 1\nexec criu \"$@\"\n",
    )
    .unwrap();
    std::fs::set_permissions(&slow, std::fs::Permissions::from_mode(0o755)).unwrap();
    let root = env.dir.path().join("images");
    let dir = root.join(&id);
    let mut child = spawn_null(
        &env,
        args!["--criu", slow, "checkpoint", "--image-root", root, id],
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    while !dir.exists() || hidden_dirs(&dir).is_empty() {
        assert!(Instant::now() < deadline, "no partial image appeared");
        assert!(child.try_wait().unwrap().is_none(), "ocictl ended too soon");
        std::thread::sleep(Duration::from_millis(10));
    }
    std::thread::sleep(Duration::from_millis(200));
    assert!(child.try_wait().unwrap().is_none(), "still checkpointing");
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();

    // The orphaned runc and CRIU keep the lock until they are done.
    let lock = open_lock(&root.join(&id).join(".lock"));
    assert!(
        !flock(&lock, libc::LOCK_EX | libc::LOCK_NB),
        "the lock outlives a killed ocictl while runc and CRIU still write"
    );
    assert!(flock(&lock, libc::LOCK_EX), "waits for them to finish");
    drop(lock);

    assert!(
        complete_images(&dir).is_empty(),
        "{:?}",
        complete_images(&dir)
    );
    assert_eq!(hidden_dirs(&dir).len(), 1);
    // CRIU finished the orphaned dump: the next run commits it (and says
    // so) rather than hiding or pruning it, and it restores.
    let before = counts(&bundle);
    let out = env
        .std_cmd()
        .args(["restore", "-d", "-b"])
        .arg(&bundle)
        .args(["--latest", "--image-root"])
        .arg(&root)
        .arg(&id)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("had completed"), "{stderr}");
    assert_eq!(complete_images(&dir).len(), 1);
    assert!(hidden_dirs(&dir).is_empty(), "{:?}", hidden_dirs(&dir));
    assert_continues(&bundle, before.len(), *before.last().unwrap());
}

#[test]
fn restore_of_a_missing_or_corrupted_image_fails_clearly() {
    let env = Env::new();
    let bundle = counter_bundle(&env);
    let id = unique_id("bad");
    let missing = env.dir.path().join("nothing-here");
    env.cmd()
        .args(["restore", "-d", "-b"])
        .arg(&bundle)
        .arg("--image-path")
        .arg(&missing)
        .arg(&id)
        .assert()
        .code(1)
        .stderr(predicates::str::contains("is not a checkpoint image"));

    let (id, bundle) = start_counter(&env, "bad");
    let img = env.dir.path().join("img");
    env.cmd()
        .args(["checkpoint", "--image-path"])
        .arg(&img)
        .arg(&id)
        .assert()
        .success();
    for entry in std::fs::read_dir(&img).unwrap().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with("core-") || name.starts_with("pstree") {
            std::fs::write(entry.path(), b"\x01\x02").unwrap();
        }
    }
    let out = env
        .std_cmd()
        .args(["restore", "-d", "-b"])
        .arg(&bundle)
        .arg("--image-path")
        .arg(&img)
        .arg(&id)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    assert_ne!(out.status.code(), Some(0));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("cannot restore container"), "{stderr}");
    assert!(
        stderr.contains(&format!("{}/restore.log", img.display())),
        "names CRIU's log: {stderr}"
    );
    assert!(stderr.contains("Error ("), "quotes CRIU's errors: {stderr}");
    assert_ne!(env.status(&id).as_deref(), Some("running"));
}

#[test]
fn pre_dump_says_this_kernel_has_no_memory_tracking() {
    let env = Env::new();
    let bundle = env.bundle(&["sleep", "1000"]);
    let id = unique_id("pre");
    assert_eq!(
        ocictl_null(&env, args!["run", "-d", "-b", bundle, id]),
        Some(0)
    );
    let out = env
        .cmd()
        .args(["checkpoint", "--pre-dump", "--image-path"])
        .arg(env.dir.path().join("pre"))
        .arg(&id)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("this kernel has no memory (dirty page) tracking"),
        "{stderr}"
    );
    assert!(!stderr.contains("missing features"), "{stderr}");
    assert_eq!(env.status(&id).as_deref(), Some("running"));
}

#[test]
fn a_failed_dump_reports_criu_and_leaves_the_container_running() {
    let env = Env::new();
    let bundle = env.bundle(&["sleep", "1000"]);
    let id = unique_id("fail");
    // stdout on a host file: CRIU cannot dump it.
    let started = env.run_detached(args!["run", "-d", "-b", bundle, id]);
    assert_eq!(started.code, Some(0), "{started:?}");
    let root = env.dir.path().join("images");
    let out = env
        .cmd()
        .args(["checkpoint", "--image-root"])
        .arg(&root)
        .arg(&id)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("dump.log ends with:"), "{stderr}");
    assert!(stderr.contains("Error ("), "{stderr}");
    assert!(
        !stderr.contains("RLIMIT_NOFILE"),
        "harmless line skipped: {stderr}"
    );
    assert!(stderr.contains("still running"), "{stderr}");
    assert_eq!(env.status(&id).as_deref(), Some("running"));
    assert!(complete_images(&root.join(&id)).is_empty());
    assert!(
        hidden_dirs(&root.join(&id)).is_empty(),
        "the partial is removed"
    );

    // The log the message names exists, and outlives the next (failing) run.
    let log = criu_log_named(&stderr);
    assert!(log.starts_with(root.join(&id).join(".failed")), "{log:?}");
    assert!(log.is_file(), "{log:?}");
    let again = env
        .cmd()
        .args(["checkpoint", "--image-root"])
        .arg(&root)
        .arg(&id)
        .output()
        .unwrap();
    assert_eq!(again.status.code(), Some(1));
    let second = criu_log_named(&String::from_utf8_lossy(&again.stderr));
    assert_ne!(second, log);
    assert!(log.is_file() && second.is_file(), "both logs are kept");
}

/// The path in "CRIU's log PATH ends with:".
fn criu_log_named(stderr: &str) -> PathBuf {
    let after = stderr
        .split("CRIU's log ")
        .nth(1)
        .unwrap_or_else(|| panic!("no CRIU log named: {stderr}"));
    PathBuf::from(after.split(" ends with:").next().unwrap().trim())
}

#[test]
fn missing_criu_is_reported_before_runc_runs() {
    let env = Env::new();
    env.cmd()
        .args(["--criu", "/nonexistent/criu", "checkpoint", "x"])
        .assert()
        .code(1)
        .stderr(predicates::str::contains("CRIU is missing"));
}

// ---- argv, with a fake runtime that records what it was given ----

/// The shared fake runtime, failing `state` (no such container) and
/// succeeding otherwise; its `argv.log` holds every call.
fn fake_runtime() -> common::FakeRuntime {
    let fake = common::FakeRuntime::new();
    fake.set(
        "script",
        "for a in \"$@\"; do [ \"$a\" = state ] && exit 1; done\n",
    );
    fake
}

/// The recorded call of `sub`, from the subcommand on.
fn recorded(dir: &Path, sub: &str) -> Vec<String> {
    let text = std::fs::read_to_string(dir.join("argv.log")).unwrap();
    text.split("--\n")
        .map(|call| call.lines().map(str::to_string).collect::<Vec<_>>())
        .find_map(|words| {
            let at = words.iter().position(|w| w == sub)?;
            Some(words[at..].to_vec())
        })
        .unwrap_or_else(|| panic!("no {sub} call in {text}"))
}

/// The long flags runc's own `--help` lists for `sub`.
fn runc_flags(sub: &str) -> Vec<String> {
    let out = std::process::Command::new("runc")
        .args([sub, "--help"])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .filter(|w| w.starts_with("--"))
        .map(|w| w.trim_end_matches(',').to_string())
        .collect()
}

/// Run ocictl `sub` with `flags` (long forms, in runc's order) through the
/// fake runtime and a fake CRIU; returns what the runtime got from `sub` on.
fn through_fake(dir: &Path, sub: &str, flags: &[String]) -> Vec<String> {
    let fake = fake_runtime();
    let criu = fake_criu(dir, "4.1.1");
    fake.cmd()
        .arg("--criu")
        .arg(&criu)
        .arg("--root")
        .arg(dir.join("root"))
        .arg(sub)
        .args(flags)
        .arg("c1")
        .assert()
        .success();
    let all = std::fs::read_to_string(fake.dir.path().join("argv.log")).unwrap();
    assert!(
        all.contains(&format!("--criu\n{}\n{sub}", criu.display())),
        "the global --criu reaches runc: {all}"
    );
    recorded(fake.dir.path(), sub)
}

/// `[sub, flags…, "c1"]`: what runc must receive.
fn expected(sub: &str, flags: &[String]) -> Vec<String> {
    let mut v = vec![sub.to_string()];
    v.extend(flags.iter().cloned());
    v.push("c1".into());
    v
}

fn strings(words: &[&str]) -> Vec<String> {
    words.iter().map(|w| w.to_string()).collect()
}

/// Long flags in `words` that runc's own help for `sub` does not list.
fn unknown_to_runc(sub: &str, words: &[String]) -> Vec<String> {
    let known = runc_flags(sub);
    words
        .iter()
        .filter(|w| w.starts_with("--") && !known.contains(w))
        .cloned()
        .collect()
}

#[test]
fn every_checkpoint_flag_reaches_the_runtime() {
    let dir = tempfile::tempdir().unwrap();
    let d = |name: &str| dir.path().join(name).to_string_lossy().into_owned();
    let mut flags = strings(&["--image-path", &d("img"), "--work-path", &d("work")]);
    flags.extend(strings(&[
        "--parent-path",
        "../pre",
        "--leave-running",
        "--tcp-established",
        "--tcp-skip-in-flight",
        "--link-remap",
        "--ext-unix-sk",
        "--shell-job",
        "--lazy-pages",
        "--status-fd",
        "5",
        "--page-server",
        "10.0.0.1:1234",
        "--file-locks",
        "--manage-cgroups-mode",
        "full",
        "--empty-ns",
        "network",
        "--empty-ns",
        "ipc",
        "--auto-dedup",
    ]));
    let words = through_fake(dir.path(), "checkpoint", &flags);
    assert_eq!(words, expected("checkpoint", &flags));
    // runc 1.1.5 knows every flag but the two that came with runc 1.2.
    assert_eq!(
        unknown_to_runc("checkpoint", &words),
        ["--tcp-skip-in-flight", "--link-remap"]
    );

    // --pre-dump reaches runc when CRIU says the kernel can track memory.
    let dir2 = tempfile::tempdir().unwrap();
    let flags = strings(&["--image-path", "/p", "--pre-dump"]);
    assert_eq!(
        through_fake(dir2.path(), "checkpoint", &flags),
        expected("checkpoint", &flags)
    );
}

#[test]
fn too_old_a_criu_is_refused_before_runc_checkpoint_runs() {
    let dir = tempfile::tempdir().unwrap();
    let fake = fake_runtime();
    let criu = fake_criu(dir.path(), "2.9");
    fake.cmd()
        .arg("--criu")
        .arg(&criu)
        .args(["checkpoint", "c1"])
        .assert()
        .code(1)
        .stderr(predicates::str::contains("CRIU 2.9").and(predicates::str::contains("too old")));
    let calls = std::fs::read_to_string(fake.dir.path().join("argv.log")).unwrap_or_default();
    assert!(
        !calls.lines().any(|w| w == "checkpoint"),
        "runc checkpoint never ran: {calls}"
    );
}

/// A fake CRIU: prints `Version: VERSION`, and every `criu check` passes.
fn fake_criu(dir: &Path, version: &str) -> PathBuf {
    let path = dir.join("fake-criu");
    std::fs::write(
        &path,
        format!(
            "#!/bin/sh
[ \"$1\" = --version ] && echo 'Version: {version}'\nexit 0\n"
        ),
    )
    .unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

#[test]
fn every_restore_flag_reaches_the_runtime_and_none_it_rejects() {
    let dir = tempfile::tempdir().unwrap();
    let d = |name: &str| dir.path().join(name).to_string_lossy().into_owned();
    std::fs::create_dir(d("img")).unwrap();
    std::fs::write(dir.path().join("img/inventory.img"), b"").unwrap();
    let mut flags = strings(&[
        "--console-socket",
        &d("console.sock"),
        "--image-path",
        &d("img"),
        "--work-path",
        &d("work"),
    ]);
    flags.extend(strings(&[
        "--tcp-established",
        "--ext-unix-sk",
        "--shell-job",
        "--file-locks",
        "--manage-cgroups-mode",
        "strict",
        "--bundle",
        &d("bundle"),
        "--detach",
        "--pid-file",
        &d("pid"),
        "--no-subreaper",
        "--no-pivot",
        "--empty-ns",
        "network",
        "--auto-dedup",
        "--lazy-pages",
        "--lsm-profile",
        "apparmor:p",
        "--lsm-mount-context",
        "ctx",
    ]));
    let words = through_fake(dir.path(), "restore", &flags);
    assert_eq!(words, expected("restore", &flags));
    assert!(
        unknown_to_runc("restore", &words).is_empty(),
        "runc restore rejects {:?}",
        unknown_to_runc("restore", &words)
    );

    // runc's short forms.
    let dir2 = tempfile::tempdir().unwrap();
    let img = dir2.path().join("img").to_string_lossy().into_owned();
    std::fs::create_dir(&img).unwrap();
    std::fs::write(dir2.path().join("img/inventory.img"), b"").unwrap();
    let words = through_fake(
        dir2.path(),
        "restore",
        &strings(&["-b", "/b", "-d", "--image-path", &img]),
    );
    // (A detached restore gets a shim, which gives runc a private pid file
    // in the container's state directory, as for `run -d`.)
    let pid_file = std::fs::canonicalize(dir2.path())
        .unwrap()
        .join("root.ocictl/c1/pid");
    assert_eq!(
        words,
        strings(&[
            "restore",
            "--image-path",
            &img,
            "--bundle",
            "/b",
            "--detach",
            "--pid-file",
            pid_file.to_str().unwrap(),
            "c1"
        ])
    );

    // Checkpoint-only flags are not restore flags at all.
    for flag in [
        "--parent-path",
        "--page-server",
        "--leave-running",
        "--pre-dump",
    ] {
        common::ocictl()
            .args(["restore", flag, "x", "c1"])
            .assert()
            .code(2);
    }
}

#[test]
fn a_detached_restore_of_a_terminal_checkpoint_gives_its_pty_to_the_shim() {
    let env = Env::new();
    let bundle = env.bundle_with(&["sh", "-c", COUNTER], true);
    let id = unique_id("tty");
    assert_eq!(
        ocictl_null(&env, args!["run", "-d", "-b", bundle, id]),
        Some(0)
    );
    wait_counts(&bundle, 2);
    let img = env.dir.path().join("img");
    assert_eq!(
        ocictl_null(&env, args!["checkpoint", "--image-path", img, id]),
        Some(0)
    );
    // No --console-socket: the shim receives the pty, as for `run -d`.
    assert_eq!(
        ocictl_null(
            &env,
            args!["restore", "-d", "-b", bundle, "--image-path", img, id]
        ),
        Some(0)
    );
    assert_eq!(env.state(&id)["status"], "running");
    let n = counts(&bundle).len();
    wait_counts(&bundle, n);
    std::fs::write(bundle.join("rootfs/stop"), "").unwrap();
    env.cmd().args(["wait", &id]).assert().code(7);
    env.cmd().args(["delete", &id]).assert().success();
}

#[test]
fn foreground_restore_of_a_terminal_checkpoint_relays_the_pty() {
    let env = Env::new();
    let bundle = env.bundle_with(&["sh", "-c", COUNTER], true);
    let id = unique_id("ckpt-tty");
    let socket = env.dir.path().join("console.sock");
    let mut console = spawn_null(&env, args!["console", "--mode", "null", socket]);
    for _ in 0..100 {
        if socket.exists() {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(
        ocictl_null(
            &env,
            args!["run", "-d", "--console-socket", socket, "-b", bundle, id]
        ),
        Some(0)
    );
    wait_counts(&bundle, 3);
    let image = env.dir.path().join("tty-image");
    assert_eq!(
        ocictl_null(&env, args!["checkpoint", "--image-path", image, id]),
        Some(0)
    );
    let _ = console.wait();
    let seen = counts(&bundle);
    let last = *seen.last().unwrap();

    let mut cmd = env.std_cmd();
    cmd.args(["restore", "--image-path"])
        .arg(&image)
        .arg("-b")
        .arg(&bundle)
        .arg(&id);
    let mut session = common::PtySession::spawn(cmd, 24, 80);
    let before = session.initial_termios.clone();
    assert_continues(&bundle, seen.len(), last);
    std::fs::write(bundle.join("rootfs/stop"), "").unwrap();
    let status = session.wait();
    assert_eq!(status.code(), Some(7), "{}", session.text());
    assert_eq!(session.termios_bytes(), before);
    assert!(
        env.runc_ids().is_empty(),
        "the restored container is deleted after it exits"
    );
}

// ---- cron: the README's own lines, under cron's environment ----

/// The command of the README's crontab line (after the five time fields),
/// and its restore line, with this test's binary, image root, ID and
/// `--root` put in.
fn readme_cron_lines(env: &Env, root: &Path, id: &str) -> (String, String) {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let cron = readme
        .lines()
        .find(|l| l.starts_with("*/15 * * * * "))
        .expect("the README has a crontab line");
    let command: Vec<&str> = cron.split_whitespace().skip(5).collect();
    let restore = readme
        .lines()
        .find(|l| l.starts_with("ocictl restore --image-root"))
        .expect("the README has a restore line");
    let fill = |line: &str| {
        line.replace("/usr/local/bin/ocictl", "ocictl")
            .replacen(
                "ocictl ",
                &format!(
                    "{} --root {} ",
                    common::ocictl_path().display(),
                    env.root.display()
                ),
                1,
            )
            .replace("/var/lib/ocictl/checkpoints", &root.to_string_lossy())
            .replace("/path/to/web-bundle", "BUNDLE")
            .trim_end_matches(" web")
            .to_string()
            + " "
            + id
    };
    (fill(&command.join(" ")), fill(restore))
}

/// Run a shell line as cron does: /bin/sh, `PATH=/usr/bin:/bin`, nothing else.
fn as_cron(line: &str) -> std::process::Output {
    std::process::Command::new("env")
        .args(["-i", "PATH=/usr/bin:/bin", "HOME=/root", "SHELL=/bin/sh"])
        .args(["/bin/sh", "-c", line])
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

#[test]
fn the_readme_crontab_line_works_under_cron_s_path_and_is_silent() {
    // What makes this a test: under cron's PATH neither CRIU nor the
    // iptables-restore it runs can be found by name.
    for tool in ["criu", "iptables-restore"] {
        let found = as_cron(&format!("command -v {tool}"));
        assert!(!found.status.success(), "{tool} is on /usr/bin:/bin here");
    }
    let env = Env::new();
    let (id, bundle) = start_counter(&env, "cron");
    let root = env.dir.path().join("checkpoints");
    let (line, restore) = readme_cron_lines(&env, &root, &id);
    for _ in 0..2 {
        let out = as_cron(&line);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{line}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.stdout.is_empty() && out.stderr.is_empty(), "{out:?}");
    }
    assert_eq!(complete_images(&root.join(&id)).len(), 2);

    // A run that finds another holding the lock: exit 75 and not a word,
    // so cron sends no mail.
    let lock = open_lock(&root.join(&id).join(".lock"));
    assert!(flock(&lock, libc::LOCK_EX | libc::LOCK_NB));
    let out = as_cron(&line);
    assert_eq!(out.status.code(), Some(75), "{out:?}");
    assert!(out.stdout.is_empty() && out.stderr.is_empty(), "{out:?}");
    drop(lock);

    // The README's restore line, under the same environment.
    env.cmd()
        .args(["delete", "--force", &id])
        .assert()
        .success();
    let restore = restore.replace("BUNDLE", &bundle.to_string_lossy());
    let out = std::process::Command::new("env")
        .args(["-i", "PATH=/usr/bin:/bin", "/bin/sh", "-c", &restore])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{restore}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(env.status(&id).as_deref(), Some("running"));
}
