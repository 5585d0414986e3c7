//! Every flag ocictl hands the runtime is one the real runc lists in its own
//! `--help`, for every subcommand and the global flags: a typed option can
//! never emit a flag runc 1.1 rejects (go-runc's `create --detach` fault).
//! The fake runtime records the argv; the real `runc` only prints its help.

use crate::common;

use std::collections::BTreeSet;
use std::path::Path;

use common::{fixture, ocictl};

/// The long flags `runc [SUB] --help` lists.
fn runc_flags(sub: Option<&str>) -> BTreeSet<String> {
    let mut cmd = std::process::Command::new("runc");
    if let Some(sub) = sub {
        cmd.arg(sub);
    }
    let out = cmd
        .arg("--help")
        .output()
        .expect("runc is installed (scripts/setup)");
    assert!(out.status.success(), "runc {sub:?} --help runs");
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .filter(|w| w.starts_with("--") && w.len() > 2)
        .map(|w| w.trim_end_matches(',').to_string())
        .collect()
}

/// Run `ocictl GLOBALS… WORDS…` on the fake runtime; return the argv of the
/// runtime call whose subcommand is `sub`, split into (globals, sub's own).
fn call(fake: &Path, globals: &[&str], words: &[&str], sub: &str) -> (Vec<String>, Vec<String>) {
    // runc's state of a running container whose bundle is the test's own
    // (exec -e reads the container's process from it).
    let mut state: serde_json::Value =
        serde_json::from_slice(&std::fs::read(fixture("runc-1.1.5/state-running.json")).unwrap())
            .unwrap();
    state["bundle"] = fake
        .parent()
        .unwrap()
        .join("bundle")
        .to_string_lossy()
        .into();
    let state_path = fake.join("state.json");
    std::fs::write(&state_path, serde_json::to_vec(&state).unwrap()).unwrap();
    let script = format!(
        "case \" $* \" in\n\
         *' state '*) cat '{state}' ;;\n\
         *' list '*) echo '[]' ;;\n\
         *' ps '*) echo '[1]' ;;\n\
         *' events '*) cat '{stats}' ;;\n\
         esac\n\
         printf '%s\\0' \"$@\" >> \"$FAKE_RUNTIME_DIR/all\"; printf '\\n' >> \"$FAKE_RUNTIME_DIR/all\"\n",
        state = state_path.display(),
        stats = fixture("runc-1.1.5/events-stats.json").display(),
    );
    std::fs::write(fake.join("script"), script).unwrap();
    let _ = std::fs::remove_file(fake.join("all"));
    let out = ocictl()
        .env("FAKE_RUNTIME_DIR", fake)
        .arg("--runtime")
        .arg(common::fake_runtime_path())
        .args(globals)
        .args(words)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "ocictl {words:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let all = std::fs::read(fake.join("all")).unwrap();
    let calls: Vec<Vec<String>> = String::from_utf8(all)
        .unwrap()
        .lines()
        .map(|l| {
            l.split('\0')
                .filter(|w| !w.is_empty())
                .map(str::to_string)
                .collect()
        })
        .collect();
    let argv = calls
        .iter()
        .find(|c| c.iter().any(|w| w == sub))
        .unwrap_or_else(|| panic!("no `{sub}` call among {calls:?}"));
    let at = argv.iter().position(|w| w == sub).unwrap();
    (argv[..at].to_vec(), argv[at + 1..].to_vec())
}

fn long_flags(words: &[String]) -> Vec<String> {
    words
        .iter()
        .filter(|w| w.starts_with("--"))
        .map(|w| w.split('=').next().unwrap().to_string())
        .collect()
}

#[test]
fn every_flag_ocictl_passes_is_one_runc_accepts() {
    let t = tempfile::tempdir().unwrap();
    let fake = t.path().join("fake");
    std::fs::create_dir(&fake).unwrap();
    let d = |name: &str| t.path().join(name).to_string_lossy().into_owned();
    // A bundle ocictl's check accepts (runc's own default spec).
    let bundle = d("bundle");
    std::fs::create_dir_all(t.path().join("bundle/rootfs")).unwrap();
    let mut spec: serde_json::Value =
        serde_json::from_slice(&std::fs::read(fixture("runc-1.1.5/spec.json")).unwrap()).unwrap();
    spec["process"]["terminal"] = false.into();
    std::fs::write(
        t.path().join("bundle/config.json"),
        serde_json::to_vec(&spec).unwrap(),
    )
    .unwrap();
    let resources = d("resources.json");
    std::fs::write(&resources, r#"{"pids":{"limit":10}}"#).unwrap();
    let (pid, log, criu, sock) = (d("pid"), d("log"), d("criu"), d("console.sock"));

    let globals = [
        "--root",
        &d("root"),
        "--log",
        &log,
        "--log-format",
        "json",
        "--systemd-cgroup",
        "--rootless",
        "false",
        "--criu",
        &criu,
    ];
    let cases: Vec<(&str, Vec<&str>)> = vec![
        (
            "create",
            vec![
                "create",
                "--no-monitor",
                "-b",
                &bundle,
                "--pid-file",
                &pid,
                "--no-pivot",
                "--no-new-keyring",
                "--preserve-fds",
                "0",
                "c1",
            ],
        ),
        (
            "create",
            vec![
                "create",
                "--no-monitor",
                "-b",
                &bundle,
                "--console-socket",
                &sock,
                "c1",
            ],
        ),
        (
            "run",
            vec![
                "run",
                "--no-monitor",
                "-d",
                "-b",
                &bundle,
                "--pid-file",
                &pid,
                "--no-pivot",
                "--no-new-keyring",
                "--no-subreaper",
                "--keep",
                "c1",
            ],
        ),
        (
            "exec",
            vec![
                "exec",
                "-d",
                "--cwd",
                "/tmp",
                "-e",
                "A=b",
                "-u",
                "0:0",
                "-g",
                "10",
                "--process-label",
                "l",
                "--apparmor",
                "a",
                "--no-new-privs",
                "-c",
                "CAP_CHOWN",
                "--preserve-fds",
                "0",
                "--cgroup",
                "x",
                "--ignore-paused",
                "--pid-file",
                &pid,
                "c1",
                "true",
            ],
        ),
        ("delete", vec!["delete", "-f", "c1"]),
        ("kill", vec!["kill", "-a", "c1", "KILL"]),
        ("ps", vec!["ps", "c1"]),
        ("list", vec!["list"]),
        ("list", vec!["list", "-q"]),
        ("state", vec!["state", "c1"]),
        (
            "events",
            vec!["events", "--stats", "--interval", "2s", "c1"],
        ),
        (
            "update",
            vec![
                "update",
                "--blkio-weight",
                "100",
                "--cpu-period",
                "100000",
                "--cpu-quota",
                "50000",
                "--cpu-share",
                "512",
                "--cpu-rt-period",
                "1000",
                "--cpu-rt-runtime",
                "100",
                "--cpuset-cpus",
                "0",
                "--cpuset-mems",
                "0",
                "--memory",
                "64M",
                "--memory-reservation",
                "32M",
                "--memory-swap",
                "128M",
                "--pids-limit",
                "20",
                "--l3-cache-schema",
                "L3:0=f",
                "--mem-bw-schema",
                "MB:0=70",
                "c1",
            ],
        ),
        ("update", vec!["update", "-r", &resources, "c1"]),
        ("pause", vec!["pause", "c1"]),
        ("resume", vec!["resume", "c1"]),
        ("start", vec!["start", "c1"]),
        ("spec", vec!["spec", "-b", &bundle]),
    ];
    let global_help = runc_flags(None);
    for (sub, words) in &cases {
        let (before, own) = call(&fake, &globals, words, sub);
        for flag in long_flags(&before) {
            assert!(
                global_help.contains(&flag),
                "`{flag}` before `{sub}` is not a global flag of runc (ocictl {words:?} gave {before:?})"
            );
        }
        let known = runc_flags(Some(sub));
        for flag in long_flags(&own) {
            assert!(
                known.contains(&flag),
                "`runc {sub}` does not know `{flag}` (ocictl {words:?} gave {own:?})"
            );
        }
    }
}

/// The override flags of `run` and `create` (ocictl's own, applied to a
/// private copy of config.json) are none of runc's: neither their long
/// names nor their short ones appear in `runc run/create --help`.
#[test]
fn override_flags_collide_with_no_runc_flag() {
    let ours = [
        "--env",
        "--env-file",
        "--volume",
        "--tmpfs",
        "--workdir",
        "--user",
        "--hostname",
        "--memory",
        "--cpus",
        "--pids-limit",
        "--read-only",
        "--cap-add",
        "--cap-drop",
        "--net",
        "--print-config",
    ];
    for sub in ["run", "create"] {
        let runc = runc_flags(Some(sub));
        for flag in ours {
            assert!(!runc.contains(flag), "runc {sub} has {flag} of its own");
        }
        let out = std::process::Command::new("runc")
            .args([sub, "--help"])
            .output()
            .expect("runc is installed (scripts/setup)");
        let help = String::from_utf8_lossy(&out.stdout);
        let shorts: BTreeSet<&str> = help
            .split(|c: char| c.is_whitespace() || c == ',')
            .filter(|w| w.len() == 2 && w.starts_with('-'))
            .collect();
        for short in ["-e", "-v", "-u", "-w"] {
            assert!(!shorts.contains(short), "runc {sub} has {short} of its own");
        }
        // And ocictl's help lists them all.
        let ocictl_help = ocictl().args([sub, "--help"]).output().unwrap();
        let ocictl_help = String::from_utf8_lossy(&ocictl_help.stdout);
        for flag in ours {
            assert!(
                ocictl_help.contains(flag),
                "ocictl {sub} --help lists {flag}"
            );
        }
    }
}
