//! The run-time override flags of `run` and `create`, through the fake
//! runtime (which copies the config.json of the bundle it is given): the
//! config under the `--bundle` the runtime got has exactly the requested
//! changes (everything else equal to the user's), the user's config.json
//! bytes are unchanged, and with no override the argv is exactly runc's.

use crate::common;

use std::path::{Path, PathBuf};

use common::{fixture, FakeRuntime};
use serde_json::{json, Value};

/// A fake runtime, a user's bundle (`runc spec`'s config, terminal off)
/// and a runtime root, all private.
struct Setup {
    fake: FakeRuntime,
    dir: tempfile::TempDir,
}

impl Setup {
    fn new() -> Setup {
        let dir = tempfile::Builder::new()
            .prefix("ocictl-overrides-")
            .tempdir()
            .unwrap();
        let bundle = dir.path().join("bundle");
        std::fs::create_dir_all(bundle.join("rootfs/etc")).unwrap();
        std::fs::write(
            bundle.join("rootfs/etc/passwd"),
            "root:x:0:0::/root:/bin/sh\nweb:x:33:44::/:/bin/sh\n",
        )
        .unwrap();
        std::fs::write(
            bundle.join("rootfs/etc/group"),
            "root:x:0:\nwww:x:44:\nlog:x:77:web\n",
        )
        .unwrap();
        let mut spec: Value =
            serde_json::from_slice(&std::fs::read(fixture("runc-1.1.5/spec.json")).unwrap())
                .unwrap();
        spec["process"]["terminal"] = false.into();
        spec["root"]["readonly"] = false.into();
        std::fs::write(
            bundle.join("config.json"),
            serde_json::to_vec_pretty(&spec).unwrap(),
        )
        .unwrap();
        Setup {
            fake: FakeRuntime::new(),
            dir,
        }
    }

    fn bundle(&self) -> PathBuf {
        self.dir.path().join("bundle")
    }

    fn root(&self) -> PathBuf {
        self.dir.path().join("root")
    }

    fn user_bytes(&self) -> Vec<u8> {
        std::fs::read(self.bundle().join("config.json")).unwrap()
    }

    /// The user's config as the copy starts from it: `root.path` absolute.
    fn base_config(&self) -> Value {
        let mut v: Value = serde_json::from_slice(&self.user_bytes()).unwrap();
        v["root"]["path"] = self.bundle().join("rootfs").to_str().unwrap().into();
        v
    }

    /// `ocictl --root R SUB… -b BUNDLE ARGS… c1` (the command's own words
    /// after `--` go last), not yet run.
    fn cmd(&self, sub: &[&str], args: &[&str]) -> assert_cmd::Command {
        let (flags, command) = split_command(args);
        let mut cmd = self.fake.cmd();
        cmd.arg("--root")
            .arg(self.root())
            .args(sub)
            .arg("-b")
            .arg(self.bundle())
            .args(flags)
            .arg("c1")
            .args(command);
        cmd
    }

    /// [`Setup::cmd`], which must succeed: the runtime's argv.
    fn run(&self, sub: &[&str], args: &[&str]) -> Vec<String> {
        let _ = std::fs::remove_file(self.fake.dir.path().join("argv"));
        let _ = std::fs::remove_file(self.fake.dir.path().join("config.json"));
        succeeded(self.cmd(sub, args));
        self.fake.last_argv().expect("the runtime ran")
    }

    /// The config.json under the `--bundle` the runtime got.
    fn runtime_config(&self) -> Value {
        serde_json::from_slice(&std::fs::read(self.fake.dir.path().join("config.json")).unwrap())
            .unwrap()
    }

    /// `SUB --print-config ARGS…`: its output, parsed.
    fn printed(&self, sub: &str, args: &[&str]) -> Value {
        serde_json::from_slice(&succeeded(self.cmd(&[sub, "--print-config"], args))).unwrap()
    }

    fn calls(&self) -> usize {
        self.fake.calls()
    }
}

/// Run `cmd`, which must succeed; its stdout.
fn succeeded(mut cmd: assert_cmd::Command) -> Vec<u8> {
    let out = cmd.output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{cmd:?}: {stderr}");
    out.stdout
}

/// The flags, and the words from `--` on.
fn split_command<'a>(args: &'a [&'a str]) -> (&'a [&'a str], &'a [&'a str]) {
    match args.iter().position(|a| *a == "--") {
        Some(i) => args.split_at(i),
        None => (args, &[]),
    }
}

/// The value after `flag` in `argv`.
fn value_of<'a>(argv: &'a [String], flag: &str) -> &'a str {
    let i = argv.iter().position(|a| a == flag).expect(flag);
    &argv[i + 1]
}

/// Flags, and the change they must make to the config (and nothing else).
type Case = (Vec<String>, Box<dyn Fn(&mut Value)>);

/// Each flag, and what it must change (and nothing else).
fn cases(src: &Path) -> Vec<Case> {
    let src = src.to_str().unwrap().to_string();
    let s = |w: &[&str]| w.iter().map(|w| w.to_string()).collect::<Vec<_>>();
    let mut cases: Vec<Case> = vec![
        (
            s(&["-e", "TERM=dumb", "--env", "NEW=a=b"]),
            Box::new(|v| {
                v["process"]["env"] = json!([
                    "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                    "TERM=dumb",
                    "NEW=a=b"
                ])
            }),
        ),
        (
            s(&["--tmpfs", "/scratch:size=1m,exec"]),
            Box::new(|v| {
                v["mounts"].as_array_mut().unwrap().push(json!({
                    "destination": "/scratch", "type": "tmpfs", "source": "tmpfs",
                    "options": ["rw", "nosuid", "nodev", "size=1m", "exec"]}))
            }),
        ),
        (
            s(&["-w", "/srv"]),
            Box::new(|v| v["process"]["cwd"] = "/srv".into()),
        ),
        (
            s(&["-u", "1000:1001"]),
            Box::new(|v| v["process"]["user"] = json!({"uid": 1000, "gid": 1001})),
        ),
        (
            s(&["--user", "web"]),
            Box::new(|v| {
                v["process"]["user"] = json!({"uid": 33, "gid": 44, "additionalGids": [77]})
            }),
        ),
        (
            s(&["--hostname", "box"]),
            Box::new(|v| v["hostname"] = "box".into()),
        ),
        (
            s(&["--memory", "64M"]),
            Box::new(|v| v["linux"]["resources"]["memory"] = json!({"limit": 64 << 20})),
        ),
        (
            s(&["--cpus", "1.5"]),
            Box::new(|v| {
                v["linux"]["resources"]["cpu"] = json!({"quota": 150000, "period": 100000})
            }),
        ),
        (
            s(&["--pids-limit", "20"]),
            Box::new(|v| v["linux"]["resources"]["pids"] = json!({"limit": 20})),
        ),
        (
            s(&["--read-only"]),
            Box::new(|v| v["root"]["readonly"] = true.into()),
        ),
        (
            s(&["--cap-add", "net_admin", "--cap-drop", "CAP_KILL"]),
            Box::new(|v| {
                let caps = json!(["CAP_AUDIT_WRITE", "CAP_NET_BIND_SERVICE", "CAP_NET_ADMIN"]);
                for set in ["bounding", "effective", "permitted", "ambient"] {
                    v["process"]["capabilities"][set] = caps.clone();
                }
            }),
        ),
        (
            s(&["--net", "host"]),
            Box::new(|v| {
                v["linux"]["namespaces"]
                    .as_array_mut()
                    .unwrap()
                    .retain(|ns| ns["type"] != "network")
            }),
        ),
        (
            s(&["--", "sh", "-c", "echo hi"]),
            Box::new(|v| v["process"]["args"] = json!(["sh", "-c", "echo hi"])),
        ),
    ];
    let mount = json!({"destination": "/data", "type": "bind", "source": src,
                       "options": ["rbind", "ro"]});
    cases.push((
        vec!["-v".into(), format!("{src}:/data:ro")],
        Box::new(move |v| v["mounts"].as_array_mut().unwrap().push(mount.clone())),
    ));
    let tmp = json!({"destination": "/tmp", "type": "bind", "source": src,
                     "options": ["rbind", "rw"]});
    cases.push((
        // The same destination twice: the later one replaces it.
        vec![
            "--volume".into(),
            format!("{src}:/tmp:ro"),
            "--volume".into(),
            format!("{src}:/tmp"),
        ],
        Box::new(move |v| v["mounts"].as_array_mut().unwrap().push(tmp.clone())),
    ));
    cases
}

#[test]
fn without_overrides_the_runtime_gets_the_users_bundle() {
    let t = Setup::new();
    let user = t.user_bytes();
    let argv = t.run(&["run"], &[]);
    assert_eq!(value_of(&argv, "--bundle"), t.bundle().to_str().unwrap());
    assert_eq!(argv.last().map(String::as_str), Some("c1"));
    assert_eq!(
        std::fs::read(t.fake.dir.path().join("config.json")).unwrap(),
        user
    );
    assert!(!t.root().with_extension("ocictl").join("c1").exists());
    // --print-config prints the user's own bytes.
    let out = succeeded(t.cmd(&["run", "--print-config"], &[]));
    assert_eq!(out.strip_suffix(b"\n").unwrap_or(&out), &user[..]);
    assert_eq!(t.calls(), 1, "--print-config runs nothing");
}

#[test]
fn each_flag_changes_exactly_its_part_of_a_private_copy() {
    let t = Setup::new();
    let user = t.user_bytes();
    let src = t.dir.path().join("src");
    std::fs::create_dir(&src).unwrap();
    for (args, edit) in cases(&src) {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let mut expected = t.base_config();
        edit(&mut expected);
        for sub in ["run", "create"] {
            let argv = t.run(&[sub, "--no-monitor"], &args);
            let given = value_of(&argv, "--bundle");
            assert_ne!(given, t.bundle().to_str().unwrap(), "{sub} {args:?}");
            assert_eq!(t.runtime_config(), expected, "{sub} {args:?}");
            assert_eq!(t.user_bytes(), user, "the user's config.json is untouched");
            assert_eq!(
                t.printed(sub, &args),
                expected,
                "{sub} --print-config {args:?}"
            );
        }
    }
    // A foreground run's copy was private and is gone.
    assert!(!Path::new(&value_of(&t.run(&["run"], &["-e", "A=1"]), "--bundle")).exists());
}

#[test]
fn a_container_that_outlives_the_command_keeps_its_copy_and_the_record() {
    let t = Setup::new();
    let base = t.root().with_extension("ocictl").join("c1");
    for sub in [
        &["run", "-d", "--no-monitor"][..],
        &["create", "--no-monitor"],
    ] {
        let argv = t.run(
            sub,
            &["-e", "A=1", "--memory", "64M", "--", "sh", "-c", "x"],
        );
        assert_eq!(
            value_of(&argv, "--bundle"),
            base.join("bundle").to_str().unwrap()
        );
        let origin: Value =
            serde_json::from_slice(&std::fs::read(base.join("origin.json")).unwrap()).unwrap();
        assert_eq!(
            origin,
            json!({
                "bundle": t.bundle(),
                "terminal": false,
                "overrides": ["--env", "A=1", "--memory", "64M", "--", "sh", "-c", "x"],
            }),
            "{sub:?}"
        );
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(base.join("bundle/config.json"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        std::fs::remove_dir_all(&base).unwrap();
    }
}

#[test]
fn env_file_is_read_and_e_wins_and_key_alone_comes_from_ocictls_environment() {
    let t = Setup::new();
    let file = t.dir.path().join("vars.env");
    std::fs::write(
        &file,
        "# comment\n\nA=from-file\n  B=2\nFROM_HOST\nUNSET_HERE\n",
    )
    .unwrap();
    let file = file.to_str().unwrap();
    let mut cmd = t.cmd(
        &["run", "--print-config"],
        &["--env-file", file, "-e", "A=from-flag", "-e", "ALSO"],
    );
    cmd.env("FROM_HOST", "h")
        .env("ALSO", "x")
        .env_remove("UNSET_HERE");
    let v: Value = serde_json::from_slice(&succeeded(cmd)).unwrap();
    assert_eq!(
        v["process"]["env"],
        json!([
            "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "TERM=xterm",
            "A=from-flag",
            "B=2",
            "FROM_HOST=h",
            "ALSO=x"
        ])
    );
}

#[test]
fn bad_values_are_usage_errors_naming_the_flag_and_the_value_and_nothing_runs() {
    let t = Setup::new();
    let user = t.user_bytes();
    let cases: &[&[&str]] = &[
        &["-e", "=x"],
        &["--env-file", "/nonexistent/vars"],
        &["-v", "relative:/data"],
        &["-v", "/nonexistent-src:/data"],
        &["-v", "/tmp:data"],
        &["-v", "/tmp:/data:z"],
        &["--tmpfs", "scratch"],
        &["-w", "relative"],
        &["-u", "nobody-here"],
        &["-u", ":"],
        &["--hostname", "no spaces"],
        &["--memory", "lots"],
        &["--memory", "1M"],
        &["--cpus", "0"],
        &["--cpus", "many"],
        &["--pids-limit", "0"],
        &["--cap-add", "CAP_FLY"],
        &["--cap-drop", "fly"],
        &["--net", "bridge"],
    ];
    for args in cases {
        for sub in ["run", "create"] {
            let out = t.cmd(&[sub], args).output().unwrap();
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(2), "{sub} {args:?}: {stderr}");
            let flag = args[0];
            let named = stderr.contains(flag)
                || (flag == "-e" && stderr.contains("--env"))
                || (flag == "-v" && stderr.contains("--volume"))
                || (flag == "-w" && stderr.contains("--workdir"))
                || (flag == "-u" && stderr.contains("--user"));
            assert!(named, "{sub} {args:?} names the flag: {stderr}");
            assert!(
                stderr.contains(args[1]),
                "{sub} {args:?} names the value: {stderr}"
            );
        }
    }
    assert_eq!(t.calls(), 0, "nothing ran");
    assert!(!t.root().with_extension("ocictl").join("c1").exists());
    assert_eq!(t.user_bytes(), user);
}

#[test]
fn hostname_without_a_uts_namespace_is_refused() {
    let t = Setup::new();
    let path = t.bundle().join("config.json");
    let mut v: Value = serde_json::from_slice(&t.user_bytes()).unwrap();
    v["linux"]["namespaces"]
        .as_array_mut()
        .unwrap()
        .retain(|ns| ns["type"] != "uts");
    std::fs::write(&path, serde_json::to_vec(&v).unwrap()).unwrap();
    let out = t.cmd(&["run"], &["--hostname", "box"]).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("--hostname box") && stderr.contains("UTS"),
        "{stderr}"
    );
    assert_eq!(t.calls(), 0);
}

#[test]
fn runcs_one_dash_spelling_and_short_flags_work_with_the_overrides() {
    let t = Setup::new();
    let mut expected = t.base_config();
    expected["process"]["env"]
        .as_array_mut()
        .unwrap()
        .push("A=1".into());
    expected["process"]["cwd"] = "/srv".into();
    expected["process"]["user"] = json!({"uid": 5, "gid": 6});
    expected["mounts"].as_array_mut().unwrap().push(
        json!({"destination": "/d", "type": "bind", "source": "/tmp", "options": ["rbind", "rw"]}),
    );
    for args in [
        &[
            "-env",
            "A=1",
            "-workdir",
            "/srv",
            "-user=5:6",
            "-volume",
            "/tmp:/d",
        ][..],
        &["-e", "A=1", "-w", "/srv", "-u", "5:6", "-v", "/tmp:/d"],
        &["-eA=1", "-w/srv", "-u5:6", "-v/tmp:/d"],
    ] {
        t.run(&["run"], args);
        assert_eq!(t.runtime_config(), expected, "{args:?}");
    }
}

#[test]
fn the_command_follows_the_id_and_an_id_after_the_double_dash_is_still_the_id() {
    let t = Setup::new();
    let mut expected = t.base_config();
    expected["process"]["args"] = json!(["sh", "-c", "echo -bundle x"]);
    // With `--`, and without it (as exec takes its command, and docker).
    for dashes in [&["--"][..], &[]] {
        let mut cmd = t.cmd(&["run"], &[]);
        cmd.args(dashes).args(["sh", "-c", "echo -bundle x"]);
        succeeded(cmd);
        let argv = t.fake.last_argv().unwrap();
        assert_eq!(argv.last().map(String::as_str), Some("c1"));
        assert_eq!(t.runtime_config(), expected, "{dashes:?}");
    }
    // runc's `run -- ID` spelling: the ID, refused here for its dash.
    let out = t
        .fake
        .cmd()
        .args(["run", "-b"])
        .arg(t.bundle())
        .args(["--", "-x"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot start with `-`"));
    assert_eq!(t.calls(), 2);
}
