//! The Debian package: `scripts/package` builds it, it unpacks into a
//! throwaway root (never the machine's own /usr), and from the unpacked
//! files `man ocictl` finds its page and bash-completion's own loader finds
//! the completion, which completes.

use std::path::{Path, PathBuf};
use std::process::Command;

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Build the package from the binary the tests already built (the dev
/// profile, no second build: `cargo test` holds the build directory).
fn build_package() -> PathBuf {
    let out = Command::new(repo().join("scripts/package"))
        .args(["--no-build", "--profile", "dev"])
        .env("PATH", path_with_cargo_bin())
        .output()
        .expect("scripts/package runs");
    assert!(
        out.status.success(),
        "scripts/package: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let version = env!("CARGO_PKG_VERSION");
    let mut debs: Vec<PathBuf> = std::fs::read_dir(repo().join("target/debian"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with(&format!("ocictl_{version}"))
        })
        .collect();
    assert_eq!(debs.len(), 1, "{debs:?}");
    debs.pop().unwrap()
}

/// PATH with cargo's install directory (where cargo-deb is).
fn path_with_cargo_bin() -> String {
    let home = std::env::var("CARGO_HOME")
        .unwrap_or_else(|_| format!("{}/.cargo", std::env::var("HOME").unwrap_or_default()));
    format!("{home}/bin:{}", std::env::var("PATH").unwrap_or_default())
}

#[test]
fn the_package_installs_the_binary_man_pages_and_completions_where_they_are_found() {
    let deb = build_package();
    let info = Command::new("dpkg-deb")
        .arg("--field")
        .arg(&deb)
        .arg("Package")
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&info.stdout).trim(), "ocictl");

    let root = tempfile::tempdir().unwrap();
    let unpacked = Command::new("dpkg-deb")
        .arg("-x")
        .arg(&deb)
        .arg(root.path())
        .status()
        .unwrap();
    assert!(unpacked.success());
    let r = root.path();
    for file in [
        "usr/bin/ocictl",
        "usr/share/man/man1/ocictl.1.gz",
        "usr/share/man/man1/ocictl-checkpoint.1.gz",
        "usr/share/bash-completion/completions/ocictl",
        "usr/share/zsh/vendor-completions/_ocictl",
        "usr/share/fish/vendor_completions.d/ocictl.fish",
    ] {
        assert!(r.join(file).is_file(), "{file} is not in the package");
    }
    let pages = std::fs::read_dir(r.join("usr/share/man/man1"))
        .unwrap()
        .count();
    let committed = std::fs::read_dir(repo().join("man")).unwrap().count();
    assert_eq!(pages, committed, "every man page is packaged");

    // `man ocictl`, looked up (not given a path), from the installed pages.
    let man = Command::new("man")
        .arg("ocictl-wait")
        .env("MANPATH", r.join("usr/share/man"))
        .env("MANPAGER", "cat")
        .env("MANWIDTH", "100")
        .output()
        .expect("man runs");
    assert!(
        man.status.success(),
        "{}",
        String::from_utf8_lossy(&man.stderr)
    );
    let text = String::from_utf8_lossy(&man.stdout);
    assert!(
        text.contains("EXIT STATUS") && text.contains("container"),
        "{text}"
    );

    // bash-completion's loader finds the completion by the command's name,
    // and it completes with the installed binary.
    let home = tempfile::tempdir().unwrap();
    let script = "source /usr/share/bash-completion/bash_completion\n\
        __load_completion ocictl || exit 3\n\
        complete -p ocictl >/dev/null || exit 4\n\
        COMP_WORDS=(ocictl resu)\nCOMP_CWORD=1\n\
        _clap_complete_ocictl ocictl resu\n\
        printf '%s\\n' \"${COMPREPLY[@]}\"";
    let bash = Command::new("bash")
        .args(["--norc", "-c", script])
        .env_clear()
        .env("HOME", home.path())
        .env("XDG_DATA_DIRS", r.join("usr/share"))
        .env(
            "PATH",
            format!("{}:/usr/bin:/bin", r.join("usr/bin").display()),
        )
        .output()
        .expect("bash runs");
    assert!(
        bash.status.success(),
        "bash completion from the package ({:?}): {}",
        bash.status,
        String::from_utf8_lossy(&bash.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&bash.stdout).trim(), "resume");
}
