//! Hostile layers write nothing outside the rootfs: `../` entries, absolute
//! paths, a symlink to `/` or `../../..` with an entry below it, writes and
//! whiteouts through a symlink, hard links to outside files. For each, a
//! victim directory beside the bundle is unchanged afterwards (content,
//! link count, listing), whether ocictl refused the layer or contained it.

use crate::common;
use crate::image_fixture;

use std::os::unix::fs::MetadataExt;
use std::path::Path;

use common::ocictl;
use image_fixture::*;
use serde_json::json;

struct Case {
    dir: tempfile::TempDir,
}

impl Case {
    fn new() -> Case {
        let dir = tempfile::Builder::new()
            .prefix("ocictl-hostile-")
            .tempdir()
            .unwrap();
        let outside = dir.path().join("outside");
        std::fs::create_dir(&outside).unwrap();
        std::fs::write(outside.join("victim.txt"), b"original").unwrap();
        Case { dir }
    }

    fn outside(&self) -> String {
        self.dir.path().join("outside").display().to_string()
    }

    /// Unpack an image of `entries` (one layer, after a base layer with a
    /// directory); returns whether ocictl succeeded, after checking the
    /// victim and that a failure left no bundle and no build directory.
    fn unpack(&self, entries: &[Entry]) -> bool {
        let base = layer(&[Entry::Dir("base/", 0o755)]);
        let evil = layer(entries);
        let process = json!({"Cmd": ["/bin/true"]});
        let cfg = config(process, &[base.clone(), evil.clone()]);
        let img = self.dir.path().join("img");
        let _ = std::fs::remove_dir_all(&img);
        oci_layout(
            &img,
            "evil",
            &[(Compress::None, base), (Compress::Gzip, evil)],
            &cfg,
        );
        let bundle = self.dir.path().join("bundle");
        let _ = std::fs::remove_dir_all(&bundle);
        let out = ocictl()
            .args(["bundle", "--image"])
            .arg(format!("oci:{}:evil", img.display()))
            .arg(&bundle)
            .output()
            .unwrap();
        self.assert_victim_intact();
        let ok = out.status.success();
        let mut names: Vec<String> = std::fs::read_dir(self.dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        let expected: &[&str] = if ok {
            &["bundle", "img", "outside"]
        } else {
            &["img", "outside"]
        };
        assert_eq!(names, expected, "{out:?}");
        ok
    }

    fn assert_victim_intact(&self) {
        let outside = self.dir.path().join("outside");
        let victim = outside.join("victim.txt");
        assert_eq!(std::fs::read(&victim).unwrap(), b"original");
        let meta = std::fs::symlink_metadata(&victim).unwrap();
        assert!(meta.is_file());
        assert_eq!(meta.nlink(), 1, "no hard link to the victim was made");
        assert_eq!(meta.mode() & 0o7777, 0o644);
        let listing: Vec<_> = std::fs::read_dir(&outside).unwrap().collect();
        assert_eq!(listing.len(), 1, "nothing was added beside the victim");
    }

    fn rootfs(&self) -> std::path::PathBuf {
        self.dir.path().join("bundle/rootfs")
    }
}

#[test]
fn dot_dot_entries_land_inside_the_rootfs() {
    let case = Case::new();
    let ok = case.unpack(&[file("../../outside/victim.txt", b"pwned", 0o777)]);
    assert!(ok);
    assert_eq!(
        std::fs::read(case.rootfs().join("outside/victim.txt")).unwrap(),
        b"pwned"
    );
}

#[test]
fn absolute_paths_land_inside_the_rootfs() {
    let case = Case::new();
    let victim = format!("{}/victim.txt", case.outside());
    let ok = case.unpack(&[file(&victim, b"pwned", 0o777)]);
    assert!(ok);
    let inside = case.rootfs().join(victim.trim_start_matches('/'));
    assert_eq!(std::fs::read(inside).unwrap(), b"pwned");
}

#[test]
fn a_symlink_to_an_outside_dir_then_an_entry_below_it_stays_inside() {
    let case = Case::new();
    let outside = case.outside();
    assert!(case.unpack(&[
        symlink("esc", &outside),
        file("esc/victim.txt", b"pwned", 0o644),
        file("esc/new.txt", b"pwned", 0o644),
    ]));
    let inside = case.rootfs().join(outside.trim_start_matches('/'));
    assert_eq!(std::fs::read(inside.join("victim.txt")).unwrap(), b"pwned");
    assert!(case.unpack(&[
        symlink("up", "../../../../../../../.."),
        file(&format!("up{outside}/victim.txt"), b"pwned", 0o644),
    ]));
    assert!(case.unpack(&[
        symlink("root", "/"),
        file(&format!("root{outside}/victim.txt"), b"pwned", 0o644),
    ]));
}

#[test]
fn a_file_entry_over_a_symlink_replaces_the_link_not_its_target() {
    let case = Case::new();
    let victim = format!("{}/victim.txt", case.outside());
    assert!(case.unpack(&[symlink("s", &victim), file("s", b"pwned", 0o644)]));
    assert_eq!(std::fs::read(case.rootfs().join("s")).unwrap(), b"pwned");
    // A directory entry over a symlink to a directory, too.
    assert!(case.unpack(&[symlink("d", &case.outside()), Entry::Dir("d/", 0o777)]));
}

#[test]
fn hard_links_to_outside_files_are_refused() {
    let case = Case::new();
    let victim = format!("{}/victim.txt", case.outside());
    assert!(!case.unpack(&[hardlink("hl", &victim)]));
    assert!(!case.unpack(&[hardlink("hl", "../../outside/victim.txt")]));
    assert!(!case.unpack(&[
        symlink("d", &case.outside()),
        hardlink("hl", "d/victim.txt"),
    ]));
}

#[test]
fn whiteouts_and_opaque_dirs_through_a_symlink_remove_nothing_outside() {
    let case = Case::new();
    let outside = case.outside();
    case.unpack(&[symlink("d", &outside), file("d/.wh.victim.txt", b"", 0o644)]);
    case.unpack(&[symlink("d", &outside), file("d/.wh..wh..opq", b"", 0o644)]);
    case.unpack(&[file(&format!("{outside}/.wh.victim.txt"), b"", 0o644)]);
    case.unpack(&[file("../../outside/.wh..wh..opq", b"", 0o644)]);
}

#[test]
fn a_symlinked_parent_made_by_a_lower_layer_is_resolved_inside() {
    // The base layer's directory replaced by a link, then written below.
    let case = Case::new();
    let outside = case.outside();
    assert!(case.unpack(&[
        symlink("base", &outside),
        file("base/victim.txt", b"pwned", 0o644),
    ]));
    assert!(!Path::new(&format!("{outside}/base")).exists());
}
