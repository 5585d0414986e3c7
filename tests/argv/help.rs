//! Help and man pages that teach, and runc's command-line parity: read
//! from the generated help text and the committed man pages.

use crate::common;

use std::path::Path;
use std::process::Command;

use common::{ocictl, FakeRuntime};

fn help_of(words: &[&str]) -> String {
    let out = ocictl().args(words).output().unwrap();
    assert!(
        out.status.success(),
        "{words:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Every visible subcommand's name, from the top-level help.
fn subcommands() -> Vec<String> {
    let help = help_of(&["--help"]);
    help.lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .filter_map(|l| l.split_whitespace().next().map(str::to_string))
        .filter(|name| name != "help")
        .collect()
}

#[test]
fn each_commands_help_shows_its_own_options_first_then_global_options_then_examples() {
    let names = subcommands();
    assert!(names.len() > 20, "{names:?}");
    for name in names {
        for flag in ["-h", "--help"] {
            let help = help_of(&[&name, flag]);
            let own = help
                .find("\nOptions:\n")
                .unwrap_or_else(|| panic!("{name} {flag}: {help}"));
            let global = help
                .find("\nGlobal options:\n")
                .unwrap_or_else(|| panic!("{name} {flag}: {help}"));
            let examples = help
                .find("\nExamples:\n")
                .unwrap_or_else(|| panic!("{name} {flag}: {help}"));
            assert!(own < global && global < examples, "{name} {flag}: {help}");
            let global_part = &help[global..examples];
            assert!(
                global_part.contains("--root <DIR>") && global_part.contains("--format"),
                "{name}"
            );
            assert!(
                !help[own..global].contains("--root <DIR>"),
                "{name}: globals among its own options"
            );
            let lines: Vec<&str> = help[examples..]
                .lines()
                .filter(|l| l.starts_with("  # "))
                .collect();
            assert!((2..=4).contains(&lines.len()), "{name}: {lines:?}");
        }
    }
    let pause = help_of(&["pause", "-h"]);
    assert!(pause.lines().count() < 45, "{pause}");
}

#[test]
fn help_and_no_arguments_work_as_in_runc() {
    let out = ocictl().output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let bare = String::from_utf8(out.stdout).unwrap();
    assert!(
        bare.contains("Commands:") && bare.contains("checkpoint"),
        "{bare}"
    );
    assert_eq!(out.stderr, b"");
    assert_eq!(help_of(&["help"]), help_of(&["--help"]));
    assert_eq!(help_of(&["help", "kill"]), help_of(&["kill", "--help"]));
}

#[test]
fn a_bare_rootless_means_true() {
    let fake = FakeRuntime::new();
    fake.set("stdout", "[]");
    fake.cmd().args(["--rootless", "list"]).assert().success();
    let argv = std::fs::read_to_string(fake.dir.path().join("argv")).unwrap();
    assert!(argv.starts_with("--rootless=true\0list\0"), "{argv:?}");
    fake.cmd()
        .args(["--rootless", "false", "list"])
        .assert()
        .success();
    let argv = std::fs::read_to_string(fake.dir.path().join("argv")).unwrap();
    assert!(argv.starts_with("--rootless=false\0list\0"), "{argv:?}");
    // A container's own argv is never touched.
    let help = ocictl().args(["exec", "--help"]).output().unwrap();
    assert!(help.status.success());
}

#[test]
fn usage_lines_do_not_show_options_that_came_from_the_environment() {
    let out = ocictl()
        .env("OCICTL_ROOT", "/tmp")
        .env("OCICTL_FORMAT", "table")
        .env("OCICTL_TIMEOUT", "5s")
        .arg("kill")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.contains("Usage: ocictl kill <ID> [SIGNAL]"),
        "{stderr}"
    );
}

#[test]
fn a_bad_value_in_the_environment_names_the_variable() {
    for (var, value) in [
        ("OCICTL_FORMAT", "yaml"),
        ("OCICTL_TIMEOUT", "soon"),
        ("OCICTL_ROOT", "/etc/passwd"),
    ] {
        let out = ocictl().env(var, value).arg("list").output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{var}");
        let stderr = String::from_utf8(out.stderr).unwrap();
        assert!(
            stderr.contains(var) && stderr.contains(value),
            "{var}: {stderr}"
        );
    }
}

#[test]
fn stats_without_an_id_suggests_all() {
    let out = ocictl().arg("stats").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("--all"), "{stderr}");
}

#[test]
fn console_lists_its_modes_and_has_its_own_output_flag() {
    let help = help_of(&["console", "--help"]);
    for mode in ["- forward:", "- null:", "- log:"] {
        assert!(help.contains(mode), "{help}");
    }
    let own = &help[..help.find("Global options:").unwrap()];
    assert!(own.contains("--output <FILE>"), "{help}");
    let out = ocictl()
        .args(["console", "--mode", "log", "/tmp/no.sock"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--output FILE"));
}

fn man_text(page: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("man").join(page);
    let out = Command::new("man")
        .arg("-l")
        .arg(&path)
        .env("MANWIDTH", "200")
        .env("MANPAGER", "cat")
        .env("MAN_KEEP_FORMATTING", "0")
        .output()
        .expect("man runs (scripts/setup --tests installs man-db)");
    assert!(out.status.success(), "{page}");
    // Without a terminal man still overstrikes bold (`N\bN`): drop that.
    let mut text = String::new();
    for c in String::from_utf8_lossy(&out.stdout).chars() {
        if c == '\u{8}' {
            text.pop();
        } else {
            text.push(c);
        }
    }
    text
}

/// The section headings of a rendered page, in order.
fn sections(text: &str) -> Vec<String> {
    text.lines()
        .filter(|l| {
            !l.is_empty()
                && l.chars().next().is_some_and(|c| c.is_ascii_uppercase())
                && l.trim() == *l
                && l.to_uppercase() == *l
        })
        .filter(|l| !l.starts_with("OCICTL"))
        .map(str::to_string)
        .collect()
}

#[test]
fn every_man_page_teaches_with_standard_sections() {
    const STANDARD: &[&str] = &[
        "NAME",
        "SYNOPSIS",
        "DESCRIPTION",
        "OPTIONS",
        "EXIT STATUS",
        "ENVIRONMENT",
        "FILES",
        "EXAMPLES",
        "SEE ALSO",
    ];
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("man");
    let mut pages: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    pages.sort();
    for page in &pages {
        let text = man_text(page);
        let found = sections(&text);
        for s in &found {
            assert!(
                STANDARD.contains(&s.as_str()),
                "{page}: non-standard section {s}"
            );
        }
        for s in [
            "EXAMPLES",
            "EXIT STATUS",
            "ENVIRONMENT",
            "FILES",
            "SEE ALSO",
        ] {
            assert!(found.iter().any(|f| f == s), "{page}: no {s} in {found:?}");
        }
        for var in [
            "OCICTL_TIMEOUT",
            "XDG_RUNTIME_DIR",
            "TMPDIR",
            "OCICTL_ROOT",
            "OCICTL_FORMAT",
        ] {
            assert!(text.contains(var), "{page}: {var}");
        }
        assert!(
            text.contains("runc.ocictl"),
            "{page}: ocictl's own state directory"
        );
        assert!(text.contains("runc(8)"), "{page}: SEE ALSO runc(8)");
    }
    let wait = man_text("ocictl-wait.1");
    assert!(wait.contains("exits with the container's status"), "{wait}");
    let checkpoint = man_text("ocictl-checkpoint.1");
    let examples = &checkpoint[checkpoint.find("EXAMPLES").unwrap()..];
    assert!(
        examples.contains("*/15 * * * *"),
        "the cron example: {examples}"
    );
    assert!(checkpoint.contains("75"), "{checkpoint}");
}

/// Hints name the container the command was about, and fit the command.
#[test]
fn hints_name_the_container_and_fit_the_command() {
    let fake = FakeRuntime::new();
    fake.set("exit", "1");
    for (words, runc_says, hint) in [
        (
            &["pause", "web"][..],
            "container not running",
            "`ocictl resume web`",
        ),
        (
            &["start", "web"],
            "cannot start a container that has stopped",
            "`ocictl delete web`",
        ),
        (
            &["start", "web"],
            "cannot start a container in the paused state",
            "`ocictl resume web`",
        ),
        (
            &["delete", "web"],
            "cannot delete container web that is not stopped: running",
            "`ocictl kill web KILL`",
        ),
        (
            &["resume", "db"],
            "container not paused",
            "`ocictl state db`",
        ),
    ] {
        fake.set(
            "stderr",
            format!("time=\"2026-11-28T19:07:42Z\" level=error msg=\"{runc_says}\"\n"),
        );
        let out = fake.cmd().args(words).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        let line = stderr
            .lines()
            .find_map(|l| l.trim().strip_prefix("hint: "))
            .unwrap_or_else(|| panic!("{words:?}: no hint: {stderr}"));
        assert!(line.contains(hint), "{words:?}: {line}");
        assert!(!line.contains(" ID"), "{words:?}: a literal ID: {line}");
    }
}
