//! Security: hostile container IDs are refused before anything runs;
//! hostile bundle paths go to the runtime as one argv word each and are
//! never interpreted by a shell; ocictl's source never runs a shell.

use crate::common;

use std::path::Path;

use common::{unique_id, Env, FakeRuntime};

#[test]
fn shell_metacharacters_in_ids_are_refused() {
    let fake = FakeRuntime::new();
    let marker = format!("/tmp/ocictl-pwned-{}", std::process::id());
    for id in [
        "a;b".to_string(),
        format!("$(touch {marker})"),
        "`id`".into(),
        "a b".into(),
        "a\nb".into(),
        "a|b".into(),
        "a&b".into(),
        "a>b".into(),
        "'a'".into(),
        "a\0b".replace('\0', "\\0"),
    ] {
        for sub in ["state", "create", "run", "kill", "delete"] {
            let out = fake.cmd().args([sub, "--", &id]).output().unwrap();
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(2), "{sub} {id:?}: {stderr}");
            assert!(
                stderr.contains("not a valid container ID"),
                "{id:?}: {stderr}"
            );
            assert!(stderr.contains("use letters, digits"), "{id:?}: {stderr}");
        }
    }
    assert_eq!(fake.calls(), 0, "the runtime never ran");
    assert!(!Path::new(&marker).exists());
}

#[test]
fn hostile_bundle_paths_are_passed_through_as_they_are() {
    let env = Env::new();
    let marker = format!("/tmp/ocictl-pwned-{}", unique_id("m"));
    // A bundle in a directory named like a shell injection, with spaces,
    // quotes, a semicolon and a newline on the way.
    let hostile = env
        .dir
        .path()
        .join("a b; echo x")
        .join(format!("$(touch {marker})"))
        .join("`touch x`'\"\nz");
    std::fs::create_dir_all(hostile.parent().unwrap()).unwrap();
    let made = env.bundle(&["sh", "-c", "exit 7"]);
    std::fs::rename(&made, &hostile).unwrap();

    // Foreground: the container runs and its status comes back.
    let id = unique_id("hostile");
    let out = env
        .cmd()
        .arg("run")
        .arg("-b")
        .arg(&hostile)
        .arg(&id)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(7),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Detached, and the bundle path runc recorded is exactly ours.
    let bundle_sleep = env.bundle(&["sleep", "1000"]);
    std::fs::remove_dir_all(&hostile).unwrap();
    std::fs::rename(&bundle_sleep, &hostile).unwrap();
    let id = unique_id("hostile");
    let out = env.run_detached(args!["run", "-d", "-b", hostile, id]);
    assert_eq!(out.code, Some(0), "{out:?}");
    assert_eq!(env.state(&id)["bundle"], hostile.to_str().unwrap());
    env.cmd().args(["delete", "-f", &id]).assert().success();
    assert!(!Path::new(&marker).exists(), "a shell ran the path");
}

/// Every .rs file under `dir`.
fn sources(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn ocictl_never_runs_a_shell() {
    let mut files = Vec::new();
    sources(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
        &mut files,
    );
    assert!(files.len() > 10);
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        // Unit tests build argv for containers (`sh -c …` inside a
        // container is the user's business); only ocictl's own code counts.
        let code = text.split("#[cfg(test)]").next().unwrap_or_default();
        for (n, line) in code.lines().enumerate() {
            for shell in [
                "Command::new(\"sh\")",
                "Command::new(\"bash\")",
                "\"/bin/sh\"",
                ".arg(\"-c\")",
            ] {
                assert!(
                    !line.contains(shell),
                    "{}:{}: runs a shell: {line}",
                    file.display(),
                    n + 1
                );
            }
        }
    }
}

#[test]
fn debug_output_never_shows_environment_values() {
    let fake = FakeRuntime::new();
    // `exec -e` reads the container's process from its bundle (as runc does).
    let bundle = fake.dir.path().join("bundle");
    std::fs::create_dir(&bundle).unwrap();
    std::fs::write(
        bundle.join("config.json"),
        r#"{"process":{"args":["sh"],"cwd":"/","user":{"uid":0,"gid":0}}}"#,
    )
    .unwrap();
    fake.set(
        "stdout",
        format!(
            r#"{{"ociVersion":"1.0.2","id":"c1","pid":1,"status":"running","bundle":{:?},"rootfs":"/r","created":"2025-11-28T19:07:00.5Z","owner":""}}"#,
            bundle
        ),
    );
    let out = fake
        .cmd()
        .args([
            "--debug",
            "exec",
            "-e",
            "TOKEN=s3cret-value",
            "--env=KEY=hunter2",
            "c1",
            "true",
        ])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("--process /proc/"),
        "the exec ran with a process file: {stderr}"
    );
    assert!(
        !stderr.contains("s3cret-value") && !stderr.contains("hunter2"),
        "--debug printed a secret: {stderr}"
    );
    // Nor are they on the runtime's argv: they travel in a process file.
    let argv = std::fs::read(fake.dir.path().join("argv")).unwrap();
    let argv = String::from_utf8_lossy(&argv);
    assert!(
        !argv.contains("s3cret-value") && !argv.contains("hunter2"),
        "{argv}"
    );
}
