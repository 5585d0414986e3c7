//! Concurrency on real runc, the CI-sized version of scripts/load-test:
//! containers created, started, inspected, paused, resumed, killed and
//! deleted by concurrent ocictl processes, while another keeps listing.
//! No command may fail, every listing must be well-formed with valid
//! statuses, and nothing may be left: no container, no cgroup directory.

use crate::common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};

use common::{unique_id, Env};

const CONTAINERS: usize = 10;
const STATUSES: &[&str] = &[
    "creating", "created", "running", "pausing", "paused", "stopped",
];

/// Run ocictl (never `create`: see `lifecycle`); panics with the command
/// and its stderr on failure.
fn ocictl(env: &Env, args: &[&str]) -> Vec<u8> {
    let out = env
        .std_cmd()
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "ocictl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// One container's whole life, by separate ocictl processes.
fn lifecycle(env: &Env, bundle: &Path, id: &str) {
    let bundle = bundle.to_str().unwrap();
    // The container inherits create's stdio: files, never pipes.
    let out = env.run_detached(args!["create", "-b", bundle, id]);
    assert_eq!(out.code, Some(0), "create {id}: {out:?}");
    ocictl(env, &["start", id]);
    let state: serde_json::Value =
        serde_json::from_slice(&ocictl(env, &["--format", "json", "state", id])).unwrap();
    assert_eq!(state["id"], id);
    ocictl(env, &["pause", id]);
    ocictl(env, &["resume", id]);
    ocictl(env, &["ps", "-f", "json", id]);
    ocictl(env, &["kill", id, "KILL"]);
    env.wait_status(id, "stopped");
    ocictl(env, &["delete", id]);
}

/// Cgroup directories named `id` under any controller.
fn cgroups_named(id: &str) -> Vec<String> {
    let mut found = Vec::new();
    for controller in std::fs::read_dir("/sys/fs/cgroup").unwrap().flatten() {
        let dir = controller.path().join(id);
        if dir.exists() {
            found.push(dir.display().to_string());
        }
    }
    found
}

#[test]
fn concurrent_lifecycles_with_a_consistent_list() {
    let env = Env::new();
    let bundle = env.bundle(&["sleep", "1000"]);
    let ids: Vec<String> = (0..CONTAINERS).map(|_| unique_id("load")).collect();
    let done = AtomicBool::new(false);
    let listings = std::thread::scope(|s| {
        let lister = s.spawn(|| {
            let mut listings = 0;
            while !done.load(Ordering::SeqCst) {
                let out = ocictl(&env, &["--format", "json", "list"]);
                let list: Vec<serde_json::Value> = serde_json::from_slice(&out)
                    .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out)));
                for c in &list {
                    let status = c["status"].as_str().unwrap();
                    assert!(STATUSES.contains(&status), "{c}");
                    assert!(ids.iter().any(|id| c["id"] == id.as_str()), "{c}");
                }
                listings += 1;
            }
            listings
        });
        let workers: Vec<_> = ids
            .iter()
            .map(|id| s.spawn(|| lifecycle(&env, &bundle, id)))
            .collect();
        for w in workers {
            if let Err(panic) = w.join() {
                done.store(true, Ordering::SeqCst);
                std::panic::resume_unwind(panic);
            }
        }
        done.store(true, Ordering::SeqCst);
        lister.join().unwrap()
    });
    assert!(listings > 0);
    assert!(env.runc_ids().is_empty(), "left: {:?}", env.runc_ids());
    let out = Command::new(common::ocictl_path())
        .arg("--root")
        .arg(&env.root)
        .args(["list", "-q"])
        .output()
        .unwrap();
    assert_eq!(out.stdout, b"");
    for id in &ids {
        assert_eq!(cgroups_named(id), Vec::<String>::new(), "cgroups of {id}");
    }
}

/// The race above, made certain with the fake runtime: its first `list`
/// fails as runc 1.1 does when a container vanishes mid-listing, the second
/// answers. ocictl lists again instead of failing.
#[test]
fn list_is_taken_again_when_a_container_vanishes_mid_listing() {
    let fake = common::FakeRuntime::new();
    fake.set(
        "script",
        "if [ \"$(wc -l <\"$d/calls\")\" -lt 2 ]; then\n  echo 'time=\"2026-01-01T00:00:00Z\" level=error msg=\"stat /r/gone: no such file or directory\"' >&2\n  exit 1\nfi\necho '[]'\n",
    );
    fake.cmd()
        .args(["list", "-q"])
        .assert()
        .success()
        .stdout("");
    assert_eq!(fake.calls(), 2);
    // Any other failure is reported at once.
    let other = common::FakeRuntime::new();
    other.set("stderr", "level=error msg=\"permission denied\"\n");
    other.set("exit", "1");
    other.cmd().arg("list").assert().code(1);
    assert_eq!(other.calls(), 1);
}
