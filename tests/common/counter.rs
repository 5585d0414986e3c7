//! A container whose restore can be told from a restart, and the image-dir
//! views the checkpoint tests share.
//!
//! The container runs a shell loop whose counter lives only in the shell's
//! memory and is appended to /count in its rootfs: a restore that works
//! continues the count; one that restarted the process would start again
//! at 1. Its stdio is /dev/null, which CRIU can checkpoint.
#![allow(dead_code)]

use std::fs::File;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use super::{unique_id, Env};

/// Counts in memory, appends each value to /count; exits 7 once /stop exists.
pub const COUNTER: &str =
    "i=0; while [ ! -e /stop ]; do i=$((i+1)); echo $i >> /count; sleep 0.05; done; exit 7";

pub fn counter_bundle(env: &Env) -> PathBuf {
    env.bundle(&["sh", "-c", COUNTER])
}

/// Run ocictl with all stdio on /dev/null and wait for it.
pub fn ocictl_null(env: &Env, args: &[&std::ffi::OsStr]) -> Option<i32> {
    spawn_null(env, args).wait().unwrap().code()
}

pub fn spawn_null(env: &Env, args: &[&std::ffi::OsStr]) -> Child {
    env.std_cmd()
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

/// The values the container wrote so far.
pub fn counts(bundle: &Path) -> Vec<u64> {
    std::fs::read_to_string(bundle.join("rootfs/count"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .collect()
}

/// Wait until the container has written more than `n` values.
pub fn wait_counts(bundle: &Path, n: usize) -> Vec<u64> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let c = counts(bundle);
        if c.len() > n {
            return c;
        }
        assert!(
            Instant::now() < deadline,
            "the counter never passed {n} values (has {c:?})"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A running counter container.
pub fn start_counter(env: &Env, prefix: &str) -> (String, PathBuf) {
    let bundle = counter_bundle(env);
    let id = unique_id(prefix);
    assert_eq!(
        ocictl_null(env, crate::args!["run", "-d", "-b", bundle, id]),
        Some(0)
    );
    env.wait_status(&id, "running");
    wait_counts(&bundle, 3);
    (id, bundle)
}

pub fn complete_images(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|r| {
            r.flatten()
                .filter(|e| e.file_type().unwrap().is_dir())
                .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
                .map(|e| e.path())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// Hidden directories of a container's image dir, but for `.failed/`
/// (where failed dumps' logs are kept).
pub fn hidden_dirs(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .filter(|e| e.file_type().unwrap().is_dir())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.') && n != ".failed")
        .collect()
}

/// After a restore, the counter goes on from `last` (its last value before
/// the checkpoint), not from 1.
pub fn assert_continues(bundle: &Path, seen: usize, last: u64) {
    let after = wait_counts(bundle, seen);
    let next = after[seen];
    assert_eq!(
        next,
        last + 1,
        "after the restore the counter went on with {next}, not {}: {:?}",
        last + 1,
        &after[seen.saturating_sub(3)..]
    );
}

pub fn flock(file: &File, how: i32) -> bool {
    // SAFETY: flock on an fd the caller owns.
    unsafe { libc::flock(file.as_raw_fd(), how) == 0 }
}

pub fn open_lock(path: &Path) -> File {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .unwrap()
}
