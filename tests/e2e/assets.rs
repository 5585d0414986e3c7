//! completions/ and man/ are generated from the clap definitions: they must
//! match the code, load in real shells, complete real container IDs, and
//! render as man pages without warnings.

use crate::common;

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
fn bash_completes_the_override_flags_values() {
    assert_eq!(
        bash_complete(&["ocictl", "run", "--cap-add", "net_a"]),
        vec!["NET_ADMIN".to_string()]
    );
    assert_eq!(
        bash_complete(&["ocictl", "create", "--cap-drop", "CAP_SYS_A"]),
        vec!["SYS_ADMIN".to_string()]
    );
    assert_eq!(
        bash_complete(&["ocictl", "run", "--net", "h"]),
        vec!["host".to_string()]
    );
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

#[test]
fn completion_offers_attachable_and_logged_containers_and_no_flag_twice() {
    let env = Env::new();
    let tty = env.bundle_with(&["sh"], true);
    let plain = env.bundle(&["sleep", "1000"]);
    let with_tty = unique_id("comp-tty");
    let without = unique_id("comp-plain");
    let r = env.run_detached(args!["run", "-d", "-t", "-b", tty, with_tty]);
    assert_eq!(r.code, Some(0), "{r:?}");
    let r = env.run_detached(args!["run", "-d", "-b", plain, without]);
    assert_eq!(r.code, Some(0), "{r:?}");
    let root = env.root.to_str().unwrap();

    assert_eq!(
        bash_complete(&["ocictl", "--root", root, "attach", ""]),
        vec![with_tty.clone()]
    );
    assert_eq!(
        bash_complete(&["ocictl", "--root", root, "logs", ""]),
        vec![with_tty.clone()]
    );
    let mut kill = bash_complete(&["ocictl", "--root", root, "kill", ""]);
    kill.sort();
    let mut both = vec![with_tty.clone(), without.clone()];
    both.sort();
    assert_eq!(kill, both, "kill still offers every live container");

    let flags = bash_flags(&["ocictl", "--root", root, "kill", "--all", "--"]);
    assert!(!flags.contains(&"--all".to_string()), "{flags:?}");
    assert!(!flags.contains(&"--root".to_string()), "{flags:?}");
    assert!(flags.contains(&"--format".to_string()), "{flags:?}");
    let exec = bash_flags(&["ocictl", "exec", "-e", "A=1", "--"]);
    assert!(
        exec.contains(&"--env".to_string()),
        "-e may be repeated: {exec:?}"
    );
}

#[test]
fn restore_with_an_image_root_completes_the_ids_under_it() {
    let images = tempfile::tempdir().unwrap();
    for dir in ["web", "db", ".partial-x"] {
        std::fs::create_dir(images.path().join(dir)).unwrap();
    }
    std::fs::write(images.path().join("notes.txt"), "").unwrap();
    let root = images.path().to_str().unwrap();
    let mut ids = bash_complete(&["ocictl", "restore", "--image-root", root, "--latest", ""]);
    ids.sort();
    assert_eq!(ids, ["db", "web"]);
    assert_eq!(
        bash_complete(&["ocictl", "restore", "--image-root", root, "--latest", "w"]),
        ["web"]
    );
}

/// The flags bash is offered for `words`.
fn bash_flags(words: &[&str]) -> Vec<String> {
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
        .expect("bash runs");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect()
}

/// zsh with the completions directory on fpath, in a real terminal (tmux):
/// the very first TAB completes.
#[test]
fn zsh_from_fpath_completes_on_the_first_tab() {
    let home = tempfile::tempdir().unwrap();
    let bin_dir = ocictl_path().parent().unwrap().to_path_buf();
    let socket = format!("ocictl-zsh-{}", std::process::id());
    let tmux = |args: &[&str]| {
        Command::new("tmux")
            .arg("-L")
            .arg(&socket)
            .args(args)
            .output()
            .expect("tmux runs (scripts/setup --tests installs it)")
    };
    let shell = format!(
        "env -i HOME={} TERM=xterm PATH={}:/usr/bin:/bin zsh -f",
        home.path().display(),
        bin_dir.display()
    );
    assert!(
        tmux(&["new-session", "-d", "-x", "150", "-y", "20", &shell])
            .status
            .success()
    );
    let screen = || String::from_utf8_lossy(&tmux(&["capture-pane", "-p"]).stdout).into_owned();
    let wait_for = |needle: &str| {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        loop {
            let text = screen();
            if text.contains(needle) {
                return text;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "no {needle:?} on the screen:\n{text}"
            );
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
    };
    let setup = format!(
        "fpath=({}/completions $fpath); autoload -U compinit; compinit -u; echo READY",
        repo().display()
    );
    tmux(&["send-keys", &setup, "Enter"]);
    wait_for("\nREADY");
    tmux(&["send-keys", "ocictl resu", "Tab"]);
    let text = wait_for("ocictl resume");
    tmux(&["kill-server"]);
    assert!(text.contains("ocictl resume"), "{text}");
}
