//! One suite, several runtimes: the end-to-end lifecycle, exec, stats,
//! events and update tests run against real runc AND real youki (through
//! `--runtime`), then their JSON is compared field by field for the same
//! bundle. crun cannot create containers on these hosts (ENVIRONMENT.md):
//! only its error reporting is tested. Needs root, runc, youki
//! (`scripts/install-youki`) and crun: `sudo scripts/setup --tests`.

use crate::common;

use std::io::{BufRead, BufReader};
use std::process::Stdio;

use common::{unique_id, Env};
use serde_json::Value;

/// An environment bound to one runtime; deletes its containers (through
/// ocictl and that runtime) before the shared Env cleans up after runc.
struct Rt {
    env: Env,
    runtime: &'static str,
}

impl Rt {
    fn new(runtime: &'static str) -> Rt {
        let found = std::process::Command::new("sh")
            .args(["-c", &format!("command -v {runtime}")])
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false);
        assert!(
            found,
            "{runtime} is missing: run `sudo scripts/setup --tests` (youki: scripts/install-youki)"
        );
        Rt {
            env: Env::new(),
            runtime,
        }
    }

    fn cmd(&self) -> assert_cmd::Command {
        let mut cmd = self.env.cmd();
        cmd.arg("--runtime").arg(self.runtime);
        cmd
    }

    fn json(&self, words: &[&str]) -> Value {
        common::json_of(self.cmd(), words)
    }

    fn state(&self, id: &str) -> Value {
        self.json(&["state", id])
    }

    fn status(&self, id: &str) -> String {
        self.state(id)["status"].as_str().unwrap().to_string()
    }

    fn wait_status(&self, id: &str, want: &str) {
        for _ in 0..200 {
            if self.status(id) == want {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        panic!("{}: {id} never became {want}", self.runtime);
    }

    /// `run -d` a fresh bundle running `command`; returns its ID.
    fn start(&self, command: &[&str]) -> String {
        let bundle = self.env.bundle(command);
        self.start_bundle(&bundle, "rt")
    }

    fn start_bundle(&self, bundle: &std::path::Path, prefix: &str) -> String {
        let id = unique_id(prefix);
        let d = self.env.run_detached(args![
            "--runtime",
            self.runtime,
            "run",
            "-d",
            "--bundle",
            bundle,
            id
        ]);
        assert_eq!(d.code, Some(0), "{}: run -d: {}", self.runtime, d.stderr);
        id
    }
}

impl Drop for Rt {
    fn drop(&mut self) {
        let Ok(out) = self.cmd().args(["list", "-q"]).output() else {
            return;
        };
        for id in String::from_utf8_lossy(&out.stdout).lines() {
            let _ = self.cmd().args(["resume", id]).output();
            let _ = self.cmd().args(["delete", "--force", id]).output();
        }
    }
}

/// One `#[test]` per runtime for a suite function taking the runtime name.
macro_rules! for_each_runtime {
    ($($suite:ident),* $(,)?) => {$(
        mod $suite {
            #[test]
            fn runc() {
                super::$suite("runc")
            }
            #[test]
            fn youki() {
                super::$suite("youki")
            }
        }
    )*};
}

for_each_runtime!(lifecycle, exec, stats_and_events, update);

fn lifecycle(runtime: &'static str) {
    let rt = Rt::new(runtime);
    let bundle = rt.env.bundle(&["sleep", "100"]);
    let id = unique_id("life");
    let d = rt.env.run_detached(args![
        "--runtime",
        runtime,
        "create",
        "--bundle",
        bundle,
        id
    ]);
    assert_eq!(d.code, Some(0), "create: {}", d.stderr);
    let state = rt.state(&id);
    assert_eq!(state["status"], "created");
    assert!(state["pid"].as_i64().unwrap() > 0);
    assert!(state["owner"].is_string());

    rt.cmd().args(["start", &id]).assert().success();
    rt.wait_status(&id, "running");
    rt.cmd().args(["pause", &id]).assert().success();
    assert_eq!(rt.status(&id), "paused");
    // The table's status is lower case whichever runtime printed it.
    let table = rt.cmd().arg("list").output().unwrap();
    let table = String::from_utf8_lossy(&table.stdout);
    assert!(table.starts_with("ID "), "{table}");
    assert!(
        table
            .lines()
            .any(|l| l.starts_with(&id) && l.contains(" paused ")),
        "{table}"
    );
    let quiet = rt.cmd().args(["list", "-q"]).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&quiet.stdout).trim(), id);
    rt.cmd().args(["resume", &id]).assert().success();
    assert_eq!(rt.status(&id), "running");

    rt.cmd().args(["kill", &id, "KILL"]).assert().success();
    rt.wait_status(&id, "stopped");
    assert_eq!(rt.state(&id)["pid"], 0, "a stopped container has pid 0");
    rt.cmd().args(["delete", &id]).assert().success();
    let out = rt.cmd().args(["state", &id]).output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("does not exist"), "{runtime}: {err}");
    assert!(
        !err.contains("backtrace") && !err.contains("<unknown>"),
        "{runtime}: {err}"
    );
}

fn exec(runtime: &'static str) {
    let rt = Rt::new(runtime);
    let id = rt.start(&["sleep", "100"]);
    rt.wait_status(&id, "running");
    rt.cmd()
        .args(["exec", &id, "sh", "-c", "exit 7"])
        .assert()
        .code(7);
    let out = rt
        .cmd()
        .args([
            "exec",
            "--env",
            "GREETING=hi",
            "--cwd",
            "/bin",
            &id,
            "sh",
            "-c",
        ])
        .arg("echo $GREETING $(pwd)")
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "hi /bin");
    let pids = rt.json(&["ps", &id]);
    assert!(pids.as_array().is_some_and(|p| !p.is_empty()), "{pids}");
}

/// Sample stats until the container has used at least `nanos` of CPU.
fn stats_after_cpu(rt: &Rt, id: &str, nanos: u64) -> Value {
    let mut ev = Value::Null;
    common::wait_until(
        &format!("{id} used {nanos} ns of CPU"),
        std::time::Duration::from_secs(60),
        || {
            ev = rt.json(&["events", "--stats", id]);
            ev["data"]["cpu"]["usage"]["total"].as_u64().unwrap() >= nanos
        },
    );
    ev
}

fn stats_and_events(runtime: &'static str) {
    let rt = Rt::new(runtime);
    let id = rt.start(&["sh", "-c", "while true; do echo x >/dev/null; done"]);
    rt.wait_status(&id, "running");
    let ev = stats_after_cpu(&rt, &id, 1_000_000_000);
    assert_eq!(ev["type"], "stats");
    assert_eq!(ev["id"], id.as_str());
    let cpu = &ev["data"]["cpu"]["usage"];
    let total = cpu["total"].as_u64().unwrap();
    let split = cpu["user"].as_u64().unwrap() + cpu["kernel"].as_u64().unwrap();
    // user+kernel (clock ticks for youki) are in ns like total: same order.
    assert!(
        split > total / 4 && split < total * 4,
        "{runtime}: user+kernel {split} vs total {total}"
    );
    assert!(ev["data"]["memory"]["usage"]["usage"].as_u64().unwrap() > 0);
    assert!(ev["data"]["pids"]["current"].as_u64().unwrap() >= 1);

    let table = rt.json(&["stats", &id]);
    assert_eq!(table[0]["id"], id.as_str());

    // The stream: JSON lines whatever the runtime prints.
    let mut child = rt
        .env
        .std_cmd()
        .args([
            "--runtime",
            runtime,
            "--format",
            "json",
            "events",
            "--interval",
            "1s",
            &id,
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    for _ in 0..2 {
        let line = lines.next().expect("an event").unwrap();
        let v: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["type"], "stats", "{line}");
        assert!(v["data"]["cpu"]["usage"]["total"].as_u64().unwrap() > 0);
    }
    rt.cmd().args(["kill", &id, "KILL"]).assert().success();
    let status = child.wait().unwrap();
    assert!(
        status.success(),
        "{runtime}: the stream ends cleanly: {status}"
    );

    // youki takes whole seconds: a sub-second interval is refused, naming it.
    if runtime == "youki" {
        let id = rt.start(&["sleep", "100"]);
        let out = rt
            .cmd()
            .args(["events", "--interval", "500ms", &id])
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success());
        assert!(
            err.contains("youki") && err.contains("whole seconds"),
            "{err}"
        );
    }
}

fn update(runtime: &'static str) {
    let rt = Rt::new(runtime);
    let id = rt.start(&["sleep", "100"]);
    rt.wait_status(&id, "running");
    rt.cmd()
        .args(["update", "--memory", "64M", "--pids-limit", "42", &id])
        .assert()
        .success();
    let ev = rt.json(&["events", "--stats", &id]);
    assert_eq!(ev["data"]["memory"]["usage"]["limit"], 64 * 1024 * 1024);
    assert_eq!(ev["data"]["pids"]["limit"], 42);
}

/// Every leaf of `v` as (JSON pointer, value).
fn leaves(v: &Value, at: String, out: &mut Vec<(String, Value)>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                leaves(x, format!("{at}/{k}"), out);
            }
        }
        other => out.push((at, other.clone())),
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

#[test]
fn runc_and_youki_give_the_same_json_for_the_same_bundle() {
    let runc = Rt::new("runc");
    let youki = Rt::new("youki");
    let bundle = runc
        .env
        .bundle(&["sh", "-c", "while true; do echo x >/dev/null; done"]);
    let a = runc.start_bundle(&bundle, "same");
    let b = youki.start_bundle(&bundle, "same");
    runc.wait_status(&a, "running");
    youki.wait_status(&b, "running");

    // state: the same keys, the same types, the same values where they
    // describe the same thing.
    let (sa, sb) = (runc.state(&a), youki.state(&b));
    let keys = |v: &Value| v.as_object().unwrap().keys().cloned().collect::<Vec<_>>();
    assert_eq!(keys(&sa), keys(&sb), "{sa}\n{sb}");
    for (k, va) in sa.as_object().unwrap() {
        assert_eq!(kind(va), kind(&sb[k]), "state.{k}: {va} vs {}", sb[k]);
    }
    for k in ["status", "bundle", "rootfs"] {
        assert_eq!(sa[k], sb[k], "state.{k}");
    }

    // list: one entry each, same keys and types; owner is a user name.
    let (la, lb) = (runc.json(&["list"]), youki.json(&["list"]));
    let (ea, eb) = (&la[0], &lb[0]);
    assert_eq!(keys(ea), keys(eb), "{ea}\n{eb}");
    for k in ["status", "bundle", "rootfs", "owner"] {
        assert_eq!(ea[k], eb[k], "list[0].{k}");
    }
    assert_eq!(
        eb["created"], sb["created"],
        "the list has state's exact time"
    );

    // stats: every field runc reports that youki reports too has the same
    // type, and the fields that measure this busy container are non-zero
    // in both.
    let xa = stats_after_cpu(&runc, &a, 300_000_000);
    let xb = stats_after_cpu(&youki, &b, 300_000_000);
    let (mut fa, mut fb) = (Vec::new(), Vec::new());
    leaves(&xa["data"], String::new(), &mut fa);
    leaves(&xb["data"], String::new(), &mut fb);
    let fb: std::collections::BTreeMap<_, _> = fb.into_iter().collect();
    let mut shared = 0;
    for (path, va) in &fa {
        if let Some(vb) = fb.get(path) {
            shared += 1;
            assert_eq!(kind(va), kind(vb), "stats {path}: {va} vs {vb}");
        }
    }
    assert!(shared > 40, "only {shared} shared stats fields");
    for path in [
        "/cpu/usage/total",
        "/cpu/usage/user",
        "/cpu/usage/kernel",
        "/memory/usage/usage",
        "/memory/usage/max",
        "/memory/usage/limit",
        "/memory/swap/limit",
        "/memory/kernel/usage",
        "/memory/raw/rss",
        "/pids/current",
    ] {
        for (who, x) in [("runc", &xa), ("youki", &xb)] {
            let v = x["data"].pointer(path);
            assert!(
                v.and_then(Value::as_u64).is_some_and(|n| n > 0),
                "{who} {path}: {v:?}"
            );
        }
    }
    for name in ["/cpu/usage/percpu", "/cpu/usage/percpu_user"] {
        assert!(xb["data"].pointer(name).is_some_and(Value::is_array));
    }
}

#[test]
fn a_runtime_lacking_a_command_says_so_before_running_it() {
    let rt = Rt::new("youki");
    for (words, feature) in [
        (&["checkpoint", "nosuch"][..], "`checkpoint`"),
        (&["restore", "nosuch"][..], "`restore`"),
        (&["--criu", "/usr/local/sbin/criu", "list"][..], "--criu"),
        (&["--rootless", "true", "list"][..], "--rootless"),
    ] {
        let out = rt.cmd().args(words).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{words:?}: {err}");
        assert!(
            err.contains(&format!("youki does not support the {feature}"))
                || err.contains(&format!("youki does not support the global {feature}")),
            "{words:?}: {err}"
        );
        assert!(!err.contains("does not exist"), "youki never ran: {err}");
    }
    let crun = Rt::new("crun");
    for words in [
        &["events", "--stats", "nosuch"][..],
        &["stats", "nosuch"],
        &["features"],
    ] {
        let out = crun.cmd().args(words).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{words:?}: {err}");
        assert!(
            err.contains("crun does not support the `"),
            "{words:?}: {err}"
        );
    }
}

#[test]
fn crun_reports_its_own_errors() {
    let rt = Rt::new("crun");
    let bundle = rt.env.bundle(&["sleep", "100"]);
    let id = unique_id("crun");
    let d = rt
        .env
        .run_detached(args!["--runtime", "crun", "create", "--bundle", bundle, id]);
    assert_ne!(d.code, Some(0));
    // crun's own words on this host (cgroup v1 hybrid).
    assert!(
        d.stderr.contains("cgroups in hybrid mode not supported"),
        "{}",
        d.stderr
    );
    let out = rt.cmd().args(["state", "nosuch"]).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("crun state failed") && err.contains("No such file"),
        "{err}"
    );
    // list works and is runc's JSON shape (empty).
    assert_eq!(rt.json(&["list"]), serde_json::json!([]));
}

#[test]
fn version_names_runtime_version_commit_and_spec() {
    for runtime in ["runc", "youki", "crun"] {
        let out = common::ocictl()
            .args(["--runtime", runtime, "--format", "json", "version"])
            .output()
            .unwrap();
        assert!(out.status.success(), "{runtime}");
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        let r = &v["runtime"];
        assert_eq!(r["runtime"], runtime);
        for k in ["version", "commit", "spec"] {
            assert!(
                r[k].as_str().is_some_and(|s| !s.is_empty()),
                "{runtime} {k}: {r}"
            );
        }
    }
}
