//! End to end on real runc: the override flags of `run` and `create` are
//! seen inside the container (env, mounts, limits, user, hostname,
//! capabilities, network), the user's bundle stays as it was and is the
//! one `state` and `list` name, `delete` removes ocictl's copy, and
//! `--print-config` prints exactly what runc got.

use crate::common;

use std::path::{Path, PathBuf};

use common::{unique_id, Env};
use serde_json::Value;

/// ocictl's state directory of container `id` under `env`'s root.
fn state_dir(env: &Env, id: &str) -> PathBuf {
    env.root.with_extension("ocictl").join(id)
}

/// The flags, and the words from `--` on.
fn split_command<'a>(args: &'a [&'a str]) -> (&'a [&'a str], &'a [&'a str]) {
    args.split_at(args.iter().position(|a| *a == "--").unwrap_or(args.len()))
}

/// The lines of `out` that start with `key=`, without it.
fn field<'a>(out: &'a str, key: &str) -> Vec<&'a str> {
    let prefix = format!("{key}=");
    out.lines()
        .filter_map(|l| l.strip_prefix(&prefix))
        .collect()
}

/// The first cgroup file of `candidates` (v1 names, then v2) the
/// container can read: a shell snippet printing `key=VALUE`.
fn cgroup_probe(key: &str, candidates: &[&str]) -> String {
    let reads: Vec<String> = candidates
        .iter()
        .map(|f| format!("cat /sys/fs/cgroup/{f} 2>/dev/null"))
        .collect();
    format!("echo {key}=$({})", reads.join(" || "))
}

#[test]
fn a_foreground_run_sees_every_override_inside_the_container() {
    let env = Env::new();
    let bundle = env.bundle(&["sh", "-c", "echo the bundle's own command"]);
    let user_config = std::fs::read(bundle.join("config.json")).unwrap();
    let src = env.dir.path().join("src");
    std::fs::create_dir(&src).unwrap();
    std::fs::write(src.join("file"), "from the host\n").unwrap();
    let vars = env.dir.path().join("vars.env");
    std::fs::write(&vars, "# a comment\nFROM_FILE=f\nBOTH=file\n").unwrap();
    let script = [
        "echo env=$GREETING/$FROM_FILE/$BOTH/$PASSED".to_string(),
        "echo file=$(cat /data/file)".into(),
        "touch /data/new 2>/dev/null && echo rw=yes || echo rw=no".into(),
        "touch /rw/new && echo rwvol=yes || echo rwvol=no".into(),
        "echo tmpfs=$(grep ' /scratch ' /proc/mounts | cut -d' ' -f3,4)".into(),
        "echo pwd=$(pwd)".into(),
        "echo id=$(id -u):$(id -g)".into(),
        "echo hostname=$(hostname)".into(),
        "touch /rootfile 2>/dev/null && echo rootfs=rw || echo rootfs=ro".into(),
        "echo capeff=$(grep CapEff /proc/self/status | cut -f2)".into(),
        "echo net=$(tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' ' | tr '\\n' ,)".into(),
        cgroup_probe("memory", &["memory/memory.limit_in_bytes", "memory.max"]),
        cgroup_probe("pids", &["pids/pids.max", "pids.max"]),
        cgroup_probe(
            "cpu",
            &[
                "cpu/cpu.cfs_quota_us",
                "cpu,cpuacct/cpu.cfs_quota_us",
                "cpu.max",
            ],
        ),
    ]
    .join("; ");
    let id = unique_id("ov-fg");
    let rw = env.dir.path().join("rw");
    std::fs::create_dir(&rw).unwrap();
    // The container's user 1000 writes there.
    std::fs::set_permissions(&rw, std::os::unix::fs::PermissionsExt::from_mode(0o777)).unwrap();
    let out = env
        .cmd()
        .env("PASSED", "p")
        .args(["run", "-b"])
        .arg(&bundle)
        .args(["-e", "GREETING=hello", "-e", "BOTH=flag", "-e", "PASSED"])
        .arg("--env-file")
        .arg(&vars)
        .arg("-v")
        .arg(format!("{}:/data:ro", src.display()))
        .arg("--volume")
        .arg(format!("{}:/rw", rw.display()))
        .args([
            "--tmpfs",
            "/scratch:size=1m",
            "-w",
            "/scratch",
            "-u",
            "1000:1000",
        ])
        .args([
            "--hostname",
            "overridden",
            "--read-only",
            "--cap-drop",
            "kill",
        ])
        .args([
            "--net",
            "none",
            "--memory",
            "64M",
            "--pids-limit",
            "20",
            "--cpus",
            "1.5",
        ])
        .arg(&id)
        .args(["--", "sh", "-c", &script])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!stdout.contains("the bundle's own command"), "{stdout}");
    let one = |key: &str| -> String {
        let v = field(&stdout, key);
        assert_eq!(v.len(), 1, "{key} in {stdout}");
        v[0].to_string()
    };
    assert_eq!(one("env"), "hello/f/flag/p");
    assert_eq!(one("file"), "from the host");
    assert_eq!(one("rw"), "no", ":ro refuses a write");
    assert_eq!(one("rwvol"), "yes");
    assert!(rw.join("new").exists(), "the write reached the host");
    let tmpfs = one("tmpfs");
    assert!(tmpfs.starts_with("tmpfs rw,nosuid,nodev,noexec"), "{tmpfs}");
    assert!(tmpfs.contains("size=1024k"), "{tmpfs}");
    assert_eq!(one("pwd"), "/scratch");
    assert_eq!(one("id"), "1000:1000");
    assert_eq!(one("hostname"), "overridden");
    assert_eq!(one("rootfs"), "ro");
    let capeff = u64::from_str_radix(&one("capeff"), 16).unwrap();
    assert_eq!(capeff & (1 << 5), 0, "CAP_KILL is dropped: {capeff:x}");
    assert_ne!(
        capeff & (1 << 10),
        0,
        "CAP_NET_BIND_SERVICE stays: {capeff:x}"
    );
    assert_eq!(one("net"), "lo,");
    assert_eq!(one("memory"), (64u64 << 20).to_string());
    assert_eq!(one("pids"), "20");
    let cpu = one("cpu");
    assert!(cpu == "150000" || cpu == "150000 100000", "{cpu}");
    assert_eq!(
        std::fs::read(bundle.join("config.json")).unwrap(),
        user_config
    );
    assert!(env.runc_ids().is_empty(), "the run deleted its container");
    assert!(!state_dir(&env, &id).exists());
}

/// `--print-config` with `args`, parsed; `bundle` is unchanged by it.
fn printed_config(env: &Env, bundle: &Path, sub: &str, args: &[&str], id: &str) -> Value {
    let (flags, command) = split_command(args);
    let mut cmd = env.cmd();
    cmd.args([sub, "--print-config", "-b"])
        .arg(bundle)
        .args(flags)
        .arg(id)
        .args(command);
    serde_json::from_str(&common::stdout_of(cmd)).unwrap()
}

/// The config.json of the bundle runc runs container `id` from.
fn runc_config(env: &Env, id: &str) -> (PathBuf, Value) {
    let out = std::process::Command::new("runc")
        .arg("--root")
        .arg(&env.root)
        .args(["state", id])
        .output()
        .unwrap();
    assert!(out.status.success(), "runc state {id}");
    let state: Value = serde_json::from_slice(&out.stdout).unwrap();
    let bundle = PathBuf::from(state["bundle"].as_str().unwrap());
    let config =
        serde_json::from_slice(&std::fs::read(bundle.join("config.json")).unwrap()).unwrap();
    (bundle, config)
}

#[test]
fn a_detached_container_runs_a_kept_copy_and_every_output_names_the_users_bundle() {
    let env = Env::new();
    let bundle = env.bundle(&["sleep", "1000"]);
    let user_config = std::fs::read(bundle.join("config.json")).unwrap();
    let args = [
        "--env",
        "MARK=m1",
        "--hostname",
        "kept",
        "--memory",
        "32M",
        "--",
        "sleep",
        "999",
    ];
    // Under the monitor (run -d, create), and without one (run -d --no-monitor).
    let ways: [&[&str]; 3] = [&["run", "-d"], &["run", "-d", "--no-monitor"], &["create"]];
    for way in ways {
        let id = unique_id("ov-kept");
        let (flags, command) = split_command(&args);
        let mut words: Vec<&std::ffi::OsStr> = vec!["--format".as_ref(), "json".as_ref()];
        words.extend(way.iter().map(|w| std::ffi::OsStr::new(*w)));
        words.extend(["-b".as_ref(), bundle.as_os_str()]);
        words.extend(flags.iter().map(|w| std::ffi::OsStr::new(*w)));
        words.push(id.as_ref());
        words.extend(command.iter().map(|w| std::ffi::OsStr::new(*w)));
        let r = env.run_detached(&words);
        assert_eq!(r.code, Some(0), "{way:?}: {r:?}");
        // The JSON result lists the overrides applied.
        let result: Value = serde_json::from_str(&r.stdout).unwrap();
        assert_eq!(result["overrides"], serde_json::json!(args), "{way:?}");
        if way[0] == "create" {
            env.cmd().args(["start", &id]).assert().success();
        }
        // runc runs the copy in ocictl's state directory …
        let (copy, config) = runc_config(&env, &id);
        assert_eq!(copy, state_dir(&env, &id).join("bundle"), "{way:?}");
        // … which is exactly what --print-config prints.
        assert_eq!(
            config,
            printed_config(&env, &bundle, way[0], &args, &id),
            "{way:?}"
        );
        // state and list name the user's bundle.
        assert_eq!(
            env.state(&id)["bundle"],
            bundle.to_str().unwrap(),
            "{way:?}"
        );
        let list = env.json(&["list"]);
        let entry = list
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["id"] == id.as_str())
            .unwrap();
        assert_eq!(entry["bundle"], bundle.to_str().unwrap());
        let exec = env
            .cmd()
            .args(["exec", &id, "sh", "-c"])
            .arg("echo $MARK $(hostname) $(cat /proc/1/cmdline | tr '\\0' ' ')")
            .output()
            .unwrap();
        assert_eq!(
            String::from_utf8_lossy(&exec.stdout),
            "m1 kept sleep 999\n",
            "{way:?}"
        );
        // delete removes the copy with the container.
        env.cmd().args(["kill", &id, "KILL"]).assert().success();
        env.wait_status(&id, "stopped");
        env.cmd().args(["delete", &id]).assert().success();
        assert!(!state_dir(&env, &id).exists(), "{way:?}: the copy is gone");
    }
    assert_eq!(
        std::fs::read(bundle.join("config.json")).unwrap(),
        user_config
    );
}

#[test]
fn a_bad_override_is_a_usage_error_and_creates_nothing() {
    let env = Env::new();
    let bundle = env.bundle(&["sleep", "1000"]);
    for (sub, args) in [
        ("run", &["-d", "--memory", "lots"][..]),
        ("create", &["--cap-add", "CAP_FLY"]),
        ("run", &["-v", "/nonexistent-ocictl-src:/data"]),
    ] {
        let id = unique_id("ov-bad");
        let out = env
            .cmd()
            .arg(sub)
            .args(args)
            .arg("-b")
            .arg(&bundle)
            .arg(&id)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{sub} {args:?}: {stderr}");
        assert!(stderr.contains(args[args.len() - 1]), "{stderr}");
        assert!(env.runc_ids().is_empty());
        assert!(!state_dir(&env, &id).exists());
    }
}

#[test]
fn host_network_added_capability_and_a_user_by_name() {
    let env = Env::new();
    let bundle = env.bundle(&["true"]);
    let script = "echo capeff=$(grep CapEff /proc/self/status | cut -f2); \
                  echo id=$(id -u):$(id -g); \
                  echo ifaces=$(tail -n +3 /proc/net/dev | wc -l)";
    let mut cmd = env.cmd();
    cmd.args([
        "run",
        "--net",
        "host",
        "--cap-add",
        "NET_ADMIN",
        "-u",
        "nobody",
        "-b",
    ])
    .arg(&bundle)
    .arg(unique_id("ov-host"))
    .args(["--", "sh", "-c", script]);
    let out = common::stdout_of(cmd);
    let one = |key: &str| field(&out, key).first().map(|v| v.to_string());
    let capeff = u64::from_str_radix(&one("capeff").unwrap(), 16).unwrap();
    assert_ne!(capeff & (1 << 12), 0, "CAP_NET_ADMIN added: {capeff:x}");
    // The demo bundle's /etc/passwd: nobody is 65534:65534.
    assert_eq!(one("id").as_deref(), Some("65534:65534"), "{out}");
    let host_ifaces = std::fs::read_to_string("/proc/net/dev")
        .unwrap()
        .lines()
        .count()
        - 2;
    assert_eq!(one("ifaces"), Some(host_ifaces.to_string()), "{out}");
}

#[test]
fn a_kept_foreground_run_keeps_its_copy_until_delete() {
    let env = Env::new();
    let bundle = env.bundle(&["true"]);
    let id = unique_id("ov-keep");
    let mut cmd = env.cmd();
    cmd.args(["run", "--keep", "-e", "K=1", "-b"])
        .arg(&bundle)
        .arg(&id)
        .args(["--", "sh", "-c", "test \"$K\" = 1"]);
    common::stdout_of(cmd);
    assert_eq!(env.status(&id).as_deref(), Some("stopped"));
    assert_eq!(env.state(&id)["bundle"], bundle.to_str().unwrap());
    let (copy, config) = runc_config(&env, &id);
    assert_eq!(copy, state_dir(&env, &id).join("bundle"));
    assert_eq!(
        config["process"]["env"].as_array().unwrap().last().unwrap(),
        "K=1"
    );
    env.cmd().args(["delete", &id]).assert().success();
    assert!(!state_dir(&env, &id).exists());
}
