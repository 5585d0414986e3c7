//! completions/ and man/ are generated from the clap definitions: they must
//! match the code, load in real shells, complete real container IDs, and
//! render as man pages without warnings.

mod common;

use std::path::Path;
use std::process::Command;

use common::{ocictl, ocictl_path, unique_id, Env};

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn committed_completions_and_man_pages_are_fresh() {
    let out = tempfile::tempdir().unwrap();
    ocictl()
        .arg("generate-assets")
        .arg(out.path())
        .assert()
        .success();
    for folder in ["completions", "man", "schemas"] {
        let mut generated: Vec<_> = std::fs::read_dir(out.path().join(folder))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        generated.sort();
        let mut committed: Vec<_> = std::fs::read_dir(repo().join(folder))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        committed.sort();
        assert_eq!(
            generated, committed,
            "{folder}/ lists other files: run scripts/regenerate-assets"
        );
        for name in generated {
            let fresh = std::fs::read(out.path().join(folder).join(&name)).unwrap();
            let old = std::fs::read(repo().join(folder).join(&name)).unwrap();
            assert!(
                fresh == old,
                "{folder}/{} is stale: run scripts/regenerate-assets",
                name.to_string_lossy()
            );
        }
    }
}

#[test]
fn completion_subcommand_prints_the_committed_script() {
    for (shell, file) in [
        ("bash", "ocictl.bash"),
        ("zsh", "_ocictl"),
        ("fish", "ocictl.fish"),
    ] {
        let committed = std::fs::read(repo().join("completions").join(file)).unwrap();
        ocictl()
            .args(["completion", shell])
            .assert()
            .success()
            .stdout(committed);
    }
}

/// Ask the committed bash script for completions of `words` (the last one
/// is the word being completed), with the built ocictl first on PATH.
fn bash_complete(words: &[&str]) -> Vec<String> {
    let bin_dir = ocictl_path().parent().unwrap().to_path_buf();
    let quoted: Vec<String> = words.iter().map(|w| format!("'{w}'")).collect();
    let script = format!(
        "source {}/completions/ocictl.bash\nCOMP_WORDS=({})\nCOMP_CWORD={}\n_clap_complete_ocictl ocictl '{}'\nprintf '%s\\n' \"${{COMPREPLY[@]}}\"",
        repo().display(),
        quoted.join(" "),
        words.len() - 1,
        words.last().unwrap(),
    );
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let out = Command::new("bash")
        .args(["--norc", "-c", &script])
        .env("PATH", path)
        .output()
        .expect("bash runs (scripts/setup --tests installs it)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .filter(|w| !w.starts_with('-'))
        .collect()
}

#[test]
fn bash_completes_container_ids_by_state_and_signal_names() {
    let env = Env::new();
    let bundle = env.bundle(&["sleep", "1000"]);
    let running = unique_id("comp-run");
    let paused = unique_id("comp-paused");
    for id in [&running, &paused] {
        let r = env.run_detached(args!["run", "-d", "-b", bundle, id]);
        assert_eq!(r.code, Some(0), "{r:?}");
    }
    env.cmd().args(["pause", &paused]).assert().success();
    let root = env.root.to_str().unwrap();

    let mut kill = bash_complete(&["ocictl", "--root", root, "kill", ""]);
    kill.sort();
    let mut both = vec![running.clone(), paused.clone()];
    both.sort();
    assert_eq!(kill, both);
    assert_eq!(
        bash_complete(&["ocictl", "--root", root, "resume", ""]),
        vec![paused.clone()]
    );
    assert_eq!(
        bash_complete(&["ocictl", "--root", root, "pause", ""]),
        vec![running.clone()]
    );
    let signals = bash_complete(&["ocictl", "--root", root, "kill", &running, "K"]);
    assert_eq!(signals, vec!["KILL".to_string()]);
    let subcommands = bash_complete(&["ocictl", "resu"]);
    assert_eq!(subcommands, vec!["resume".to_string()]);
}

#[test]
fn zsh_and_fish_scripts_load() {
    let zsh = Command::new("zsh")
        .args(["-f", "-c"])
        .arg(format!(
            "autoload -U compinit && compinit -u && source {}/completions/_ocictl",
            repo().display()
        ))
        .output()
        .expect("zsh runs (scripts/setup --tests installs it)");
    assert!(
        zsh.status.success(),
        "zsh: {}",
        String::from_utf8_lossy(&zsh.stderr)
    );
    assert!(
        zsh.stderr.is_empty(),
        "zsh: {}",
        String::from_utf8_lossy(&zsh.stderr)
    );

    let fish = Command::new("fish")
        .args(["--no-config", "-c"])
        .arg(format!(
            "source {}/completions/ocictl.fish",
            repo().display()
        ))
        .output()
        .expect("fish runs (scripts/setup --tests installs it)");
    assert!(
        fish.status.success(),
        "fish: {}",
        String::from_utf8_lossy(&fish.stderr)
    );
    assert!(
        fish.stderr.is_empty(),
        "fish: {}",
        String::from_utf8_lossy(&fish.stderr)
    );
}

#[test]
fn man_pages_render_without_warnings() {
    let mut pages: Vec<_> = std::fs::read_dir(repo().join("man"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    pages.sort();
    assert!(pages.len() > 10);
    for page in pages {
        let out = Command::new("man")
            .args(["--warnings", "-l"])
            .arg(&page)
            .env("MANWIDTH", "80")
            .env("MANPAGER", "cat")
            .output()
            .expect("man runs (scripts/setup --tests installs man-db)");
        assert!(out.status.success(), "{}", page.display());
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.is_empty(), "{}: {stderr}", page.display());
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            text.contains("EXIT STATUS") && text.contains("ENVIRONMENT"),
            "{}",
            page.display()
        );
    }
}
