//! `ocictl generate systemd` on real runc: the unit of a real container
//! (an ID with `+` and `.`, a bundle path with a space, `%` and `$`, a
//! `run -t` container, a restore unit, ocictl itself at an odd path) is
//! accepted by the real `systemd-analyze verify`, which checks the syntax
//! and that every command's program is an executable at the path the unit
//! names once systemd has unquoted it.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common;
use crate::contract::checked;

use common::{unique_id, Env};

/// `systemd-analyze verify FILE`: must succeed and say nothing of the unit.
fn assert_verifies(unit: &Path) {
    let out = Command::new("systemd-analyze")
        .arg("verify")
        .arg(unit)
        .output()
        .expect("systemd-analyze runs (scripts/setup --tests installs systemd)");
    let said = String::from_utf8_lossy(&out.stderr);
    let name = unit.file_name().unwrap().to_string_lossy();
    assert!(
        out.status.success() && !said.contains(name.as_ref()),
        "systemd-analyze verify {}: {said}\n{}",
        unit.display(),
        std::fs::read_to_string(unit).unwrap()
    );
}

/// The unit `generate systemd WORDS` prints (JSON), written where its name says.
fn generated(env: &Env, ocictl: &Path, words: &[&str], dir: &Path) -> (PathBuf, String) {
    let mut cmd = assert_cmd::Command::new(ocictl);
    cmd.arg("--root").arg(&env.root);
    let doc = common::json_of(cmd, &[&["generate", "systemd"], words].concat());
    let name = doc["name"].as_str().unwrap();
    let text = doc["unit"].as_str().unwrap().to_string();
    let path = dir.join(name);
    std::fs::write(&path, &text).unwrap();
    (path, text)
}

fn line<'a>(text: &'a str, key: &str) -> &'a str {
    text.lines()
        .find_map(|l| l.strip_prefix(key))
        .unwrap_or_else(|| panic!("no {key} in\n{text}"))
}

/// A busybox bundle at a path with a space, `%` and `$` in it.
fn odd_bundle(env: &Env) -> PathBuf {
    let bundle = env.dir.path().join("my bundle 100% $HOME");
    common::ocictl()
        .arg("bundle")
        .arg(&bundle)
        .args(["--", "sleep", "1000"])
        .assert()
        .success();
    bundle
}

#[test]
fn the_unit_of_a_real_container_verifies() {
    let env = Env::new();
    let bundle = odd_bundle(&env);
    let id = format!("a+b.c_{}", unique_id("unit"));
    let run = env.run_detached(args!["run", "-d", "-b", bundle, id]);
    assert_eq!(run.code, Some(0), "{run:?}");
    let units = env.dir.path().join("units");
    std::fs::create_dir(&units).unwrap();
    let (path, text) = generated(&env, &common::ocictl_path(), &[&id], &units);
    assert_eq!(
        path.file_name().unwrap().to_str().unwrap(),
        format!("ocictl-a\\x2bb.c_{}.service", &id[6..])
    );
    assert_verifies(&path);
    let root = env.root.to_str().unwrap();
    let ocictl = common::ocictl_path();
    let ocictl = ocictl.to_str().unwrap();
    let quoted = format!(
        "\"{}\"",
        bundle
            .to_str()
            .unwrap()
            .replace('%', "%%")
            .replace('$', "$$")
    );
    assert_eq!(
        line(&text, "ExecStart="),
        format!("{ocictl} --root {root} run --bundle {quoted} {id}")
    );
    assert_eq!(
        line(&text, "ExecStop="),
        format!("{ocictl} --root {root} stop --time 10 {id}")
    );
    assert_eq!(
        line(&text, "ExecStartPre="),
        format!("-{ocictl} --root {root} delete --force {id}")
    );

    // The same unit for a script, and the human one is its text.
    let doc = checked(&env, "generate-systemd", &["generate", "systemd", &id]);
    assert_eq!(doc["id"], id.as_str());
    assert_eq!(doc["unit"], text.as_str());
    let plain = common::stdout_of({
        let mut cmd = env.cmd();
        cmd.args(["generate", "systemd", &id]);
        cmd
    });
    assert_eq!(plain, text);
}

#[test]
fn run_t_and_restore_units_verify_and_name_the_users_bundle() {
    let env = Env::new();
    let bundle = odd_bundle(&env);
    let id = unique_id("unit-tty");
    let run = env.run_detached(args!["run", "-d", "-t", "-b", bundle, id]);
    assert_eq!(run.code, Some(0), "{run:?}");
    let units = env.dir.path().join("units");
    std::fs::create_dir(&units).unwrap();
    let ocictl = common::ocictl_path();
    let (path, text) = generated(&env, &ocictl, &["--time", "30", &id], &units);
    assert_verifies(&path);
    let start = line(&text, "ExecStart=");
    assert!(
        start.contains("run --bundle \"") && !start.contains(" -t "),
        "{start}"
    );
    assert!(
        !start.contains(".ocictl/"),
        "the user's bundle, not the copy: {start}"
    );
    assert_eq!(line(&text, "TimeoutStopSec="), "90");
    assert!(text.contains("started with -t"), "{text}");

    let images = env.dir.path().join("check points");
    let (path, text) = generated(
        &env,
        &ocictl,
        &[
            "--restore",
            "--image-root",
            images.to_str().unwrap(),
            "--restart-policy",
            "always",
            &id,
        ],
        &units,
    );
    assert_verifies(&path);
    let start = line(&text, "ExecStart=");
    assert!(
        start.contains(&format!(
            "restore --image-root \"{}\" --latest --bundle \"",
            images.display()
        )),
        "{start}"
    );
    assert_eq!(line(&text, "Restart="), "always");
}

#[test]
fn ocictl_at_an_odd_path_is_named_so_systemd_finds_it_or_refused() {
    let env = Env::new();
    let id = env.started(&["sleep", "1000"], "unit-bin");
    // A hard link: current_exe is the path it was started by.
    let place = |dir: &str| {
        let dir = env.dir.path().join(dir);
        std::fs::create_dir(&dir).unwrap();
        let copy = dir.join("ocictl");
        if std::fs::hard_link(common::ocictl_path(), &copy).is_err() {
            std::fs::copy(common::ocictl_path(), &copy).unwrap();
        }
        copy
    };
    let odd = place("bin dir 50%n $x");
    let units = env.dir.path().join("units");
    std::fs::create_dir(&units).unwrap();
    let (path, text) = generated(&env, &odd, &[&id], &units);
    assert!(
        line(&text, "ExecStart=").starts_with(&format!(
            "\"{}\" ",
            odd.to_str().unwrap().replace('%', "%%")
        )),
        "{text}"
    );
    assert_verifies(&path);
    // The check is real: with `%n` left single, systemd puts the unit name there.
    let wrong = units.join("ocictl-wrong.service");
    std::fs::write(&wrong, text.replace("%%", "%")).unwrap();
    let out = Command::new("systemd-analyze")
        .arg("verify")
        .arg(&wrong)
        .output()
        .unwrap();
    assert!(
        !out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // systemd takes no quote in a program's name, however escaped.
    let quote = place("it's");
    let out = Command::new(&quote)
        .arg("--root")
        .arg(&env.root)
        .args(["generate", "systemd", &id])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("cannot be named in a systemd unit"), "{err}");
}

#[test]
fn an_unknown_container_has_no_unit() {
    let env = Env::new();
    let nosuch = unique_id("unit-nosuch");
    let out = env
        .cmd()
        .args(["generate", "systemd", &nosuch])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!(
            "cannot generate a systemd unit for container {nosuch}"
        )),
        "{err}"
    );
}

/// A unit never names a foreground run's temporary bundle copy (gone when
/// the run ends; anyone could make a directory of that name then), and
/// keeps `--env` values out of its world-readable command lines.
#[test]
fn units_never_name_a_temporary_copy_nor_carry_env_values() {
    let env = Env::new();
    let bundle = env.bundle(&["sleep", "1000"]);
    let id = unique_id("unit-fg");
    let mut fg = env
        .std_cmd()
        .args(["run", "-e", "SECRET=hunter2", "-b"])
        .arg(&bundle)
        .arg(&id)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    env.wait_status(&id, "running");
    let out = env
        .cmd()
        .args(["generate", "systemd", &id])
        .assert()
        .code(1);
    let stderr = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
    assert!(
        stderr.contains("temporary copy") && stderr.contains("run -d"),
        "{stderr}"
    );
    assert!(out.get_output().stdout.is_empty());
    env.cmd().args(["kill", &id, "KILL"]).assert().success();
    let _ = fg.wait();

    let id = unique_id("unit-env");
    let run = env.run_detached(args![
        "run",
        "-d",
        "-e",
        "SECRET=hunter2",
        "--memory",
        "64M",
        "-b",
        bundle,
        id
    ]);
    assert_eq!(run.code, Some(0), "{run:?}");
    let units = env.dir.path().join("units");
    std::fs::create_dir(&units).unwrap();
    let (path, text) = generated(&env, &common::ocictl_path(), &[&id], &units);
    assert!(!text.contains("hunter2"), "{text}");
    assert!(
        line(&text, "ExecStart=").contains("--env SECRET --memory 64M"),
        "{text}"
    );
    let env_file = line(&text, "EnvironmentFile=");
    assert_eq!(env_file, format!("/etc/ocictl/ocictl-{id}.env"));
    assert_verifies(&path);
    // Asked for: the values are written in.
    let (_, shown) = generated(&env, &common::ocictl_path(), &["--show-env", &id], &units);
    assert!(
        line(&shown, "ExecStart=").contains("--env SECRET=hunter2"),
        "{shown}"
    );
    assert!(!shown.contains("EnvironmentFile="), "{shown}");
}
