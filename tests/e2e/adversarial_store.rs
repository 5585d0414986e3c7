//! The checkpoint image store under attack and under faults: a real
//! unprivileged user plants links and directories where root's image root
//! goes, tries to read images, and keeps their own notes there; signals, a
//! full disk and a hung CRIU hit real runc and CRIU. Each test asserts the
//! outcome (victims intact, secrets unreadable, images restorable).

use crate::common;

use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command as StdCommand, Stdio};
use std::time::{Duration, Instant};

use common::attacker::{shared_dir, victim, Attacker};
use common::counter::*;
use common::{unique_id, Env};

/// `ocictl … checkpoint --image-root ROOT [extra] ID` with its output.
fn checkpoint(env: &Env, root: &Path, id: &str, extra: &[&str]) -> std::process::Output {
    env.std_cmd()
        .arg("checkpoint")
        .args(extra)
        .arg("--image-root")
        .arg(root)
        .arg(id)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .unwrap()
}

fn text(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A root-owned directory tree the attacker wants ocictl to prune.
fn victim_tree(env: &Env) -> PathBuf {
    let dir = env.dir.path().join("precious");
    for sub in ["20260101T000000.000Z", "20260101T000001.000Z", "data"] {
        std::fs::create_dir_all(dir.join(sub)).unwrap();
        std::fs::write(dir.join(sub).join("inventory.img"), "root's").unwrap();
    }
    dir
}

fn assert_tree_intact(dir: &Path) {
    for sub in ["20260101T000000.000Z", "20260101T000001.000Z", "data"] {
        assert_eq!(
            std::fs::read_to_string(dir.join(sub).join("inventory.img")).unwrap(),
            "root's",
            "{} was touched",
            dir.join(sub).display()
        );
    }
}

#[test]
fn a_planted_image_root_or_container_link_is_refused_and_nothing_outside_is_pruned() {
    let env = Env::new();
    let attacker = Attacker::get();
    let bundle = env.bundle(&["sleep", "1000"]);
    let id = unique_id("adv-link");
    assert_eq!(
        ocictl_null(&env, args!["run", "-d", "-b", bundle, id]),
        Some(0)
    );
    let precious = victim_tree(&env);
    let tmp = shared_dir(env.dir.path(), "tmp");

    // The attacker makes the image root (before root's first cron run) and
    // links DIR/ID to root's directory.
    let root = tmp.join("ckpt");
    attacker.must(&format!(
        "mkdir -m 755 {r} && ln -s {p} {r}/{id}",
        r = root.display(),
        p = precious.display()
    ));
    let out = checkpoint(&env, &root, &id, &["--leave-running", "--keep", "1"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains(&format!("belongs to uid {}", attacker.uid)),
        "{}",
        text(&out)
    );
    assert_tree_intact(&precious);

    // A shared (world-writable) image root: the same link is refused too.
    let open = shared_dir(env.dir.path(), "open-root");
    attacker.must(&format!(
        "ln -s {} {}/{id}",
        precious.display(),
        open.display()
    ));
    let out = checkpoint(&env, &open, &id, &["--leave-running", "--keep", "1"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("writable by other users"),
        "{}",
        text(&out)
    );
    assert_tree_intact(&precious);

    // Root's own image root with DIR/ID a link (left by a restored backup,
    // say): refused by name, never followed; restore --latest neither.
    let mine = env.dir.path().join("mine");
    std::fs::create_dir(&mine).unwrap();
    symlink(&precious, mine.join(&id)).unwrap();
    let out = checkpoint(&env, &mine, &id, &["--leave-running", "--keep", "1"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("is a symbolic link"), "{}", text(&out));
    let out = env
        .std_cmd()
        .args(["restore", "-d", "--latest", "--image-root"])
        .arg(&mine)
        .arg(&id)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("is a symbolic link"), "{}", text(&out));
    assert_tree_intact(&precious);
    assert_eq!(env.status(&id).as_deref(), Some("running"));
}

#[test]
fn a_lock_linked_to_a_root_file_leaves_that_file_intact() {
    let env = Env::new();
    let attacker = Attacker::get();
    let etc = env.dir.path().join("etc");
    std::fs::create_dir(&etc).unwrap();
    let passwd = victim(&etc, "passwd");
    let id = unique_id("adv-lock");

    // As the attacker, in a /tmp-like directory.
    let tmp = shared_dir(env.dir.path(), "tmp");
    let root = tmp.join("ckpt");
    attacker.must(&format!(
        "mkdir -p -m 755 {r}/{id} && ln -s {v} {r}/{id}/.lock",
        r = root.display(),
        v = passwd.display()
    ));
    let out = checkpoint(&env, &root, &id, &[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert_eq!(std::fs::read_to_string(&passwd).unwrap(), "root's data\n");

    // In root's own directory: the link is refused by name.
    let mine = env.dir.path().join("mine");
    std::fs::create_dir_all(mine.join(&id)).unwrap();
    std::fs::set_permissions(mine.join(&id), std::fs::Permissions::from_mode(0o700)).unwrap();
    symlink(&passwd, mine.join(&id).join(".lock")).unwrap();
    let out = checkpoint(&env, &mine, &id, &[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains(".lock is a symbolic link"),
        "{}",
        text(&out)
    );
    assert_eq!(std::fs::read_to_string(&passwd).unwrap(), "root's data\n");
}

#[test]
fn another_user_cannot_read_an_image_in_a_shared_tmp() {
    let env = Env::new();
    let attacker = Attacker::get();
    let (id, _bundle) = start_counter(&env, "adv-read");
    let tmp = shared_dir(env.dir.path(), "tmp");
    let root = tmp.join("ckpt");
    let out = checkpoint(&env, &root, &id, &["--leave-running"]);
    assert!(out.status.success(), "{}", text(&out));
    let images = complete_images(&root.join(&id));
    assert_eq!(images.len(), 1);
    let pages = std::fs::read_dir(&images[0])
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("pages-")
        })
        .expect("CRIU wrote a pages image");
    // CRIU's own files are 0644: the 0700 directories are what protect them.
    let mode = std::fs::metadata(&images[0]).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o700);
    let out = attacker.sh(&format!("cat {}", pages.display()));
    assert!(!out.status.success() && out.stdout.is_empty(), "{out:?}");
    let out = attacker.sh(&format!("ls {}", root.join(&id).display()));
    assert!(!out.status.success() && out.stdout.is_empty(), "{out:?}");
}

#[test]
fn user_dirs_survive_keep_and_latest_skips_them_and_says_so() {
    let env = Env::new();
    let (id, bundle) = start_counter(&env, "adv-notes");
    let root = env.dir.path().join("images");
    let dir = root.join(&id);
    std::fs::create_dir_all(dir.join("my-notes")).unwrap();
    std::fs::write(dir.join("my-notes/todo"), "keep me").unwrap();
    // Named like a newer image, but not one (no inventory.img).
    std::fs::create_dir_all(dir.join("20991231T235959.999Z")).unwrap();
    for _ in 0..3 {
        let out = checkpoint(&env, &root, &id, &["--leave-running", "--keep", "1"]);
        assert!(out.status.success(), "{}", text(&out));
    }
    assert_eq!(
        std::fs::read_to_string(dir.join("my-notes/todo")).unwrap(),
        "keep me"
    );
    assert!(dir.join("20991231T235959.999Z").is_dir());
    let real: Vec<_> = complete_images(&dir)
        .into_iter()
        .filter(|p| p.join("inventory.img").exists())
        .collect();
    assert_eq!(real.len(), 1, "--keep 1 counts only images");

    env.cmd()
        .args(["delete", "--force", &id])
        .assert()
        .success();
    let before = counts(&bundle);
    let out = env
        .std_cmd()
        .args(["restore", "-d", "--latest", "-b"])
        .arg(&bundle)
        .arg("--image-root")
        .arg(&root)
        .arg(&id)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    let stderr = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("skipped") && stderr.contains("my-notes"),
        "{stderr}"
    );
    assert!(
        stderr.contains("20991231T235959.999Z (no inventory.img"),
        "{stderr}"
    );
    // --leave-running: the image is from before the last counts.
    let after = wait_counts(&bundle, before.len());
    let next = after[before.len()];
    assert!(
        next > 1 && next <= before.last().unwrap() + 1,
        "restored, not restarted: {next}"
    );
}

/// A CRIU that sleeps before dumping, so ocictl can be signalled mid-checkpoint.
fn slow_criu(env: &Env) -> PathBuf {
    let slow = env.dir.path().join("slow-criu");
    std::fs::write(
        &slow,
        format!(
            "#!/bin/sh\n[ \"$1\" = swrk ] && touch '{}' && sleep 1\nexec criu \"$@\"\n",
            env.dir.path().join("criu-started").display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&slow, std::fs::Permissions::from_mode(0o755)).unwrap();
    slow
}

/// Start a checkpoint through the slow CRIU and wait for its partial image
/// and for runc to have started CRIU (so runc is in its own process group,
/// not in the moment between fork and setpgid). ocictl leads a process
/// group of its own, as a shell's foreground job does.
fn checkpoint_in_progress(env: &Env, root: &Path, id: &str) -> std::process::Child {
    use std::os::unix::process::CommandExt;
    let dir = root.join(id);
    let _ = std::fs::remove_file(env.dir.path().join("criu-started"));
    let child = env
        .std_cmd()
        .process_group(0)
        .arg("--criu")
        .arg(slow_criu(env))
        .args(["checkpoint", "--image-root"])
        .arg(root)
        .arg(id)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let started = env.dir.path().join("criu-started");
    while !dir.exists() || hidden_dirs(&dir).is_empty() || !started.exists() {
        assert!(Instant::now() < deadline, "no partial image appeared");
        std::thread::sleep(Duration::from_millis(10));
    }
    child
}

fn sigterm(child: &std::process::Child) {
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
}

#[test]
fn sigterm_mid_checkpoint_waits_commits_and_the_image_restores() {
    let env = Env::new();
    let (id, bundle) = start_counter(&env, "adv-term");
    let root = env.dir.path().join("images");
    let dir = root.join(&id);
    let child = checkpoint_in_progress(&env, &root, &id);
    sigterm(&child);
    let out = child.wait_with_output().unwrap();
    let stderr = text(&out);
    assert_eq!(out.status.code(), Some(128 + 15), "{stderr}");
    assert!(stderr.contains("waiting for runc and CRIU"), "{stderr}");
    assert!(stderr.contains("the image is committed"), "{stderr}");
    assert_eq!(complete_images(&dir).len(), 1);
    assert!(hidden_dirs(&dir).is_empty(), "{:?}", hidden_dirs(&dir));
    // Without --leave-running the container is gone: the image is all there is.
    assert!(env.status(&id).is_none_or(|s| s == "stopped"));
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
    assert_continues(&bundle, before.len(), *before.last().unwrap());
    // Later runs keep it (nothing hidden is pruned: there is nothing hidden).
    let out = checkpoint(&env, &root, &id, &["--leave-running", "--keep", "2"]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(complete_images(&dir).len(), 2);
}

#[test]
fn ctrl_c_to_the_foreground_job_reaches_only_ocictl_which_commits() {
    let env = Env::new();
    let (id, _bundle) = start_counter(&env, "adv-int");
    let root = env.dir.path().join("images");
    let dir = root.join(&id);
    let child = checkpoint_in_progress(&env, &root, &id);
    // What the terminal does on Ctrl-C: SIGINT to the whole foreground group.
    nix::sys::signal::killpg(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGINT,
    )
    .unwrap();
    let out = child.wait_with_output().unwrap();
    let stderr = text(&out);
    assert_eq!(out.status.code(), Some(128 + 2), "{stderr}");
    assert!(stderr.contains("the image is committed"), "{stderr}");
    let images = complete_images(&dir);
    assert_eq!(images.len(), 1, "{stderr}");
    assert!(images[0].join("inventory.img").is_file());
    assert!(hidden_dirs(&dir).is_empty());
}

#[test]
fn a_second_sigterm_aborts_and_says_what_it_leaves_which_the_next_run_recovers() {
    let env = Env::new();
    let (id, _bundle) = start_counter(&env, "adv-term2");
    let root = env.dir.path().join("images");
    let dir = root.join(&id);
    let child = checkpoint_in_progress(&env, &root, &id);
    sigterm(&child);
    std::thread::sleep(Duration::from_millis(100));
    sigterm(&child);
    let out = child.wait_with_output().unwrap();
    let stderr = text(&out);
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(out.status.signal(), Some(15), "{stderr}");
    assert!(stderr.contains("second SIGTERM: stopping now"), "{stderr}");
    assert!(stderr.contains(".lock until they exit"), "{stderr}");
    // The orphans hold the lock until done; then the next run commits it.
    let lock = open_lock(&dir.join(".lock"));
    assert!(flock(&lock, libc::LOCK_EX), "waits for runc and CRIU");
    drop(lock);
    let out = checkpoint(&env, &root, &id, &["--leave-running"]);
    // The container was stopped by the dump the orphans finished.
    assert!(text(&out).contains("had completed"), "{}", text(&out));
    assert_eq!(complete_images(&dir).len(), 1, "{}", text(&out));
    assert!(hidden_dirs(&dir).is_empty());
}

/// A tmpfs of `size`, unmounted on drop.
pub(crate) struct SmallDisk(pub PathBuf);

impl SmallDisk {
    pub(crate) fn new(path: &Path, size: &str) -> SmallDisk {
        std::fs::create_dir_all(path).unwrap();
        let ok = StdCommand::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size},mode=0755"),
                "tmpfs",
            ])
            .arg(path)
            .status()
            .unwrap();
        assert!(ok.success(), "mount a tmpfs (the test needs root)");
        SmallDisk(path.to_path_buf())
    }

    fn resize(&self, size: &str) {
        let ok = StdCommand::new("mount")
            .args(["-o", &format!("remount,size={size}")])
            .arg(&self.0)
            .status()
            .unwrap();
        assert!(ok.success());
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = StdCommand::new("umount").arg(&self.0).status();
    }
}

#[test]
fn a_full_disk_fails_clearly_removes_the_partial_and_the_next_run_works() {
    let env = Env::new();
    let (id, _bundle) = start_counter(&env, "adv-full");
    let disk = SmallDisk::new(&env.dir.path().join("small"), "48k");
    let root = disk.0.join("ckpt");
    let out = checkpoint(&env, &root, &id, &["--leave-running"]);
    let stderr = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("cannot checkpoint container"), "{stderr}");
    assert!(stderr.contains("No space left on device"), "{stderr}");
    assert!(stderr.contains("still running"), "{stderr}");
    let dir = root.join(&id);
    assert!(complete_images(&dir).is_empty());
    assert!(
        hidden_dirs(&dir).is_empty(),
        "partial removed: {:?}",
        hidden_dirs(&dir)
    );
    assert_eq!(env.status(&id).as_deref(), Some("running"));

    disk.resize("64m");
    let out = checkpoint(&env, &root, &id, &["--leave-running"]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(complete_images(&dir).len(), 1);
}

#[test]
fn a_hung_criu_in_the_preflight_fails_after_the_timeout_and_releases_the_lock() {
    let env = Env::new();
    let hung = env.dir.path().join("hung-criu");
    std::fs::write(&hung, "#!/bin/sh\nexec sleep 1000\n").unwrap();
    std::fs::set_permissions(&hung, std::fs::Permissions::from_mode(0o755)).unwrap();
    let root = env.dir.path().join("images");
    let id = unique_id("adv-hung");
    let out = env
        .std_cmd()
        .arg("--timeout")
        .arg("1s")
        .arg("--criu")
        .arg(&hung)
        .args(["checkpoint", "--image-root"])
        .arg(&root)
        .arg(&id)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stderr = text(&out);
    assert_eq!(out.status.code(), Some(124), "{stderr}");
    assert!(stderr.contains("CRIU did not answer"), "{stderr}");
    let lock = open_lock(&root.join(&id).join(".lock"));
    assert!(
        flock(&lock, libc::LOCK_EX | libc::LOCK_NB),
        "the lock is free"
    );
    assert!(hidden_dirs(&root.join(&id)).is_empty());
}
