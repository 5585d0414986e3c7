//! ocictl installed as `runc` ahead of the real runc on PATH (how podman and
//! containerd pick it up by default): its own default runtime `runc` must be
//! the real one, never itself (that would start ocictl after ocictl,
//! forever), and with no other runc on PATH it says so.

use crate::common;

use std::process::Command;

/// A directory holding `runc` → the ocictl under test.
fn ocictl_as_runc() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(common::ocictl_path(), dir.path().join("runc")).unwrap();
    dir
}

fn runc_as(path: &std::ffi::OsStr, dir: &tempfile::TempDir) -> assert_cmd::Command {
    let mut cmd = assert_cmd::Command::new(dir.path().join("runc"));
    cmd.env("PATH", path)
        .env_remove("OCICTL_RUNTIME")
        .timeout(std::time::Duration::from_secs(30))
        .arg("--root")
        .arg(dir.path().join("root"));
    cmd
}

#[test]
fn installed_as_runc_first_on_path_it_runs_the_real_runc() {
    common::require_e2e();
    let dir = ocictl_as_runc();
    let mut path = std::ffi::OsString::from(dir.path());
    path.push(":");
    path.push(std::env::var_os("PATH").unwrap_or_default());
    path.push(":/usr/sbin:/usr/bin:/sbin:/bin");
    let out = runc_as(&path, &dir)
        .args(["--debug", "list", "-q"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let real = Command::new("sh")
        .args(["-c", "command -v runc"])
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .output()
        .unwrap();
    let real = String::from_utf8_lossy(&real.stdout).trim().to_string();
    assert!(
        stderr.contains(&real),
        "the real runc ({real}) ran: {stderr}"
    );
}

#[test]
fn with_no_other_runc_on_path_it_says_so_instead_of_running_itself() {
    let dir = ocictl_as_runc();
    let out = runc_as(dir.path().as_os_str(), &dir)
        .arg("list")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(127), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("is ocictl itself"), "{stderr}");
    assert!(stderr.contains("--runtime"), "{stderr}");
}
