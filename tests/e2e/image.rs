//! `ocictl bundle --image`: an OCI layout and a docker-archive built here,
//! offline (two layers: a whiteout, an opaque directory, a hard link, a
//! symlink, a 0600 file owned 1000:1000), unpacked and then run on real
//! runc; a corrupt blob; bundle directories that must be refused.

use crate::common;
use crate::image_fixture;

use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use common::{json_of, ocictl, unique_id, Env};
use image_fixture::*;
use serde_json::{json, Value};

const SCRIPT: &str = "echo \"$GREETING\"; pwd; id -u; id -g; cat /data/link";

/// The two layers of the demo image.
fn demo_layers() -> Vec<Vec<u8>> {
    let busybox = std::fs::read("/bin/busybox").expect("busybox-static: run scripts/setup --tests");
    let mut lower = vec![
        Entry::Dir("bin/", 0o755),
        file("bin/busybox", &busybox, 0o755),
    ];
    for applet in ["sh", "echo", "cat", "id", "pwd", "ls"] {
        lower.push(symlink(&format!("bin/{applet}"), "busybox"));
    }
    lower.extend([
        Entry::Dir("etc/", 0o755),
        file(
            "etc/passwd",
            b"root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/srv:/bin/sh\n",
            0o644,
        ),
        file(
            "etc/group",
            b"root:x:0:\napp:x:1000:\nextra:x:2000:app\n",
            0o644,
        ),
        Entry::Dir("old/", 0o755),
        file("old/gone.txt", b"lower", 0o644),
        file("old/kept.txt", b"lower", 0o644),
        Entry::Dir("opq/", 0o755),
        file("opq/lower.txt", b"lower", 0o644),
        Entry::Dir("opq/sub/", 0o755),
        file("opq/sub/deep.txt", b"lower", 0o644),
    ]);
    let upper = vec![
        file("old/.wh.gone.txt", b"", 0o644),
        Entry::Dir("opq/", 0o750),
        file("opq/.wh..wh..opq", b"", 0o644),
        file("opq/upper.txt", b"upper", 0o644),
        Entry::Dir("data/", 0o755),
        Entry::File {
            path: "data/secret".into(),
            data: b"s3cret\n".to_vec(),
            mode: 0o600,
            owner: (1000, 1000),
        },
        hardlink("data/hard", "data/secret"),
        symlink("data/link", "secret"),
        Entry::Dir("srv/", 0o755),
        Entry::Dir("dev/", 0o755),
        Entry::CharDevice("dev/null", 1, 3),
        Entry::WithXattr("bin/tagged", b"#!/bin/sh\n", "user.origin", b"image"),
    ];
    vec![layer(&lower), layer(&upper)]
}

fn demo_config(layers: &[Vec<u8>]) -> Value {
    config(
        json!({
            "User": "app",
            "Env": ["PATH=/bin", "GREETING=hello from the image"],
            "Entrypoint": ["/bin/sh", "-c"],
            "Cmd": [SCRIPT],
            "WorkingDir": "/srv",
            "Labels": {"org.example.flavour": "test"},
        }),
        layers,
    )
}

/// An OCI layout of the demo image (gzip, then zstd); its manifest digest.
fn demo_oci(dir: &Path) -> String {
    let layers = demo_layers();
    let stored = [
        (Compress::Gzip, layers[0].clone()),
        (Compress::Zstd, layers[1].clone()),
    ];
    oci_layout(dir, "1.0", &stored, &demo_config(&layers))
}

fn tmp() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("ocictl-image-")
        .tempdir()
        .unwrap()
}

/// Everything the demo image says, checked in the unpacked bundle.
fn assert_demo_bundle(bundle: &Path) {
    let rootfs = bundle.join("rootfs");
    assert!(!rootfs.join("old/gone.txt").exists(), "whiteout removed it");
    assert!(rootfs.join("old/kept.txt").exists());
    assert!(!rootfs.join("opq/lower.txt").exists(), "opaque dir hid it");
    assert!(!rootfs.join("opq/sub").exists(), "opaque dir hid it");
    assert_eq!(
        std::fs::read(rootfs.join("opq/upper.txt")).unwrap(),
        b"upper"
    );
    let opq = std::fs::metadata(rootfs.join("opq")).unwrap();
    assert_eq!(opq.permissions().mode() & 0o7777, 0o750);
    let secret = std::fs::metadata(rootfs.join("data/secret")).unwrap();
    assert_eq!(secret.permissions().mode() & 0o7777, 0o600);
    assert_eq!((secret.uid(), secret.gid()), (1000, 1000));
    assert_eq!(secret.mtime(), 1_700_000_000);
    let data_dir = std::fs::metadata(rootfs.join("data")).unwrap();
    assert_eq!(data_dir.mtime(), 1_700_000_000, "directory times set last");
    let null = std::fs::metadata(rootfs.join("dev/null")).unwrap();
    assert!(null.file_type().is_char_device());
    assert_eq!(null.rdev(), libc::makedev(1, 3));
    assert_eq!(null.permissions().mode() & 0o7777, 0o666);
    assert_eq!(
        xattr(&rootfs.join("bin/tagged"), "user.origin").as_deref(),
        Some(&b"image"[..])
    );
    let hard = std::fs::metadata(rootfs.join("data/hard")).unwrap();
    assert_eq!(hard.ino(), secret.ino(), "a hard link, not a copy");
    assert_eq!(
        std::fs::read_link(rootfs.join("data/link")).unwrap(),
        PathBuf::from("secret")
    );
    assert_eq!(
        std::fs::read_link(rootfs.join("bin/sh")).unwrap(),
        PathBuf::from("busybox")
    );
    let dir_mode = std::fs::metadata(bundle).unwrap().permissions().mode() & 0o777;
    assert_eq!(dir_mode, 0o700, "the bundle is private");
    let config: Value =
        serde_json::from_slice(&std::fs::read(bundle.join("config.json")).unwrap()).unwrap();
    let process = &config["process"];
    assert_eq!(process["args"], json!(["/bin/sh", "-c", SCRIPT]));
    assert_eq!(process["cwd"], "/srv");
    assert_eq!(
        process["env"],
        json!(["PATH=/bin", "GREETING=hello from the image"])
    );
    assert_eq!(process["user"]["uid"], 1000);
    assert_eq!(process["user"]["gid"], 1000);
    assert_eq!(process["user"]["additionalGids"], json!([2000]));
    assert_eq!(config["annotations"]["org.example.flavour"], "test");
    assert_eq!(config["root"]["path"], "rootfs");
}

/// An extended attribute of `path` (not following a link).
fn xattr(path: &Path, name: &str) -> Option<Vec<u8>> {
    use std::os::unix::ffi::OsStrExt;
    let path = std::ffi::CString::new(path.as_os_str().as_bytes()).unwrap();
    let name = std::ffi::CString::new(name).unwrap();
    let mut buf = vec![0u8; 256];
    // SAFETY: NUL-terminated strings and a buffer with its length.
    let n = unsafe {
        libc::lgetxattr(
            path.as_ptr(),
            name.as_ptr(),
            buf.as_mut_ptr().cast(),
            buf.len(),
        )
    };
    (n >= 0).then(|| buf[..n as usize].to_vec())
}

/// Nothing but `expected` beside the bundle: no private build directory left.
fn assert_only(dir: &Path, expected: &[&str]) {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    let mut expected: Vec<String> = expected.iter().map(|s| s.to_string()).collect();
    expected.sort();
    assert_eq!(names, expected);
}

#[test]
fn oci_layout_unpacks_with_whiteouts_links_owners_and_config() {
    let t = tmp();
    let digest = demo_oci(&t.path().join("img"));
    let bundle = t.path().join("bundle");
    let image = format!("oci:{}:1.0", t.path().join("img").display());
    let mut cmd = ocictl();
    cmd.args(["bundle", "--image", &image]).arg(&bundle);
    let report = json_of(cmd, &[]);
    assert_demo_bundle(&bundle);
    assert_eq!(report["digest"], digest.as_str());
    // On a pipe: no progress bar, nothing on stderr.
    let quiet = ocictl()
        .args(["bundle", "--image", &image])
        .arg(t.path().join("quiet"))
        .output()
        .unwrap();
    assert!(quiet.status.success());
    assert_eq!(String::from_utf8_lossy(&quiet.stderr), "");
    assert_eq!(String::from_utf8_lossy(&quiet.stdout), "");
    std::fs::remove_dir_all(t.path().join("quiet")).unwrap();
    let layers = report["layers"].as_array().unwrap();
    assert_eq!(layers.len(), 2);
    assert_eq!(layers[0]["compression"], "gzip");
    assert_eq!(layers[1]["compression"], "zstd");
    let busybox = std::fs::metadata("/bin/busybox").unwrap().len();
    assert!(report["bytes_written"].as_u64().unwrap() >= busybox);
    assert_eq!(report["config"]["process"]["user"]["uid"], 1000);
    assert_only(t.path(), &["img", "bundle"]);
}

#[test]
fn the_only_image_needs_no_tag_and_a_wrong_tag_names_the_tags() {
    let t = tmp();
    demo_oci(&t.path().join("img"));
    let img = t.path().join("img");
    ocictl()
        .args(["bundle", "--image"])
        .arg(format!("oci:{}", img.display()))
        .arg(t.path().join("b"))
        .assert()
        .success();
    let out = ocictl()
        .args(["bundle", "--image"])
        .arg(format!("oci:{}:nope", img.display()))
        .arg(t.path().join("c"))
        .assert()
        .failure();
    let stderr = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
    assert!(
        stderr.contains("no image `nope`") && stderr.contains("1.0"),
        "{stderr}"
    );
}

#[test]
fn docker_archive_of_the_same_image_unpacks_the_same() {
    let t = tmp();
    let layers = demo_layers();
    let archive = t.path().join("app.tar");
    let id = docker_archive(&archive, "example/app:1.0", &layers, &demo_config(&layers));
    let bundle = t.path().join("bundle");
    let image = format!(
        "docker-archive:{}:docker.io/example/app:1.0",
        archive.display()
    );
    let mut cmd = ocictl();
    cmd.args(["bundle", "--image", &image]).arg(&bundle);
    let report = json_of(cmd, &[]);
    assert_demo_bundle(&bundle);
    assert_eq!(report["digest"], id.as_str());
    assert_eq!(report["layers"][0]["compression"], "none");
}

#[test]
fn a_corrupt_layer_blob_is_named_and_leaves_no_bundle() {
    let t = tmp();
    let img = t.path().join("img");
    demo_oci(&img);
    let index: Value =
        serde_json::from_slice(&std::fs::read(img.join("index.json")).unwrap()).unwrap();
    let manifest_hex = &index["manifests"][0]["digest"].as_str().unwrap()[7..];
    let manifest: Value = serde_json::from_slice(
        &std::fs::read(img.join("blobs/sha256").join(manifest_hex)).unwrap(),
    )
    .unwrap();
    let layer = manifest["layers"][1]["digest"].as_str().unwrap();
    let path = img.join("blobs/sha256").join(&layer[7..]);
    let mut bytes = std::fs::read(&path).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x55;
    std::fs::write(&path, bytes).unwrap();

    let bundle = t.path().join("bundle");
    let out = ocictl()
        .args(["bundle", "--image"])
        .arg(format!("oci:{}:1.0", img.display()))
        .arg(&bundle)
        .assert()
        .failure();
    let stderr = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
    assert!(
        stderr.contains(layer) && stderr.contains("corrupt"),
        "{stderr}"
    );
    assert_only(t.path(), &["img"]);
}

#[test]
fn a_multi_platform_index_gives_this_machines_manifest() {
    let t = tmp();
    let img = t.path().join("img");
    let manifest = demo_oci(&img);
    let index_path = img.join("index.json");
    let index: Value = serde_json::from_slice(&std::fs::read(&index_path).unwrap()).unwrap();
    let mut entry = index["manifests"][0].clone();
    entry["annotations"] = json!(null);
    let mut other = entry.clone();
    other["platform"] = json!({"os": "linux", "architecture": "arm64"});
    other["digest"] = json!(format!("sha256:{}", "0".repeat(64)));
    entry["platform"] = json!({"os": "linux", "architecture": "amd64"});
    let nested = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [other, entry],
    }))
    .unwrap();
    let nested_digest = sha256(&nested);
    std::fs::write(img.join("blobs/sha256").join(&nested_digest[7..]), &nested).unwrap();
    let top = json!({"schemaVersion": 2, "manifests": [{
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "digest": nested_digest, "size": nested.len(),
        "annotations": {"org.opencontainers.image.ref.name": "multi"},
    }]});
    std::fs::write(&index_path, serde_json::to_vec(&top).unwrap()).unwrap();
    let bundle = t.path().join("bundle");
    let mut cmd = ocictl();
    cmd.args(["bundle", "--image"])
        .arg(format!("oci:{}:multi", img.display()))
        .arg(&bundle);
    let report = json_of(cmd, &[]);
    assert_eq!(report["digest"], manifest.as_str());
    assert_demo_bundle(&bundle);
}

#[test]
fn an_image_for_another_architecture_is_refused_before_unpacking() {
    let t = tmp();
    let layers = demo_layers();
    let mut cfg = demo_config(&layers);
    cfg["architecture"] = json!("s390x");
    oci_layout(
        &t.path().join("img"),
        "1.0",
        &[(Compress::Gzip, layers[0].clone())],
        &cfg,
    );
    let out = ocictl()
        .args(["bundle", "--image"])
        .arg(format!("oci:{}:1.0", t.path().join("img").display()))
        .arg(t.path().join("bundle"))
        .assert()
        .failure();
    let stderr = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
    assert!(stderr.contains("built for linux/s390x"), "{stderr}");
    assert_only(t.path(), &["img"]);
}

#[test]
fn existing_bundle_paths_are_refused_unless_new_or_an_empty_dir_of_ours() {
    let t = tmp();
    let img = t.path().join("img");
    demo_oci(&img);
    let image = format!("oci:{}:1.0", img.display());
    let bundle_at = |target: &Path| {
        ocictl()
            .args(["bundle", "--image", &image])
            .arg(target)
            .assert()
    };

    let full = t.path().join("full");
    std::fs::create_dir(&full).unwrap();
    std::fs::write(full.join("mine"), b"keep").unwrap();
    let out = bundle_at(&full).failure();
    assert!(String::from_utf8_lossy(&out.get_output().stderr).contains("not empty"));
    assert_eq!(std::fs::read(full.join("mine")).unwrap(), b"keep");

    let link = t.path().join("link");
    std::os::unix::fs::symlink(t.path().join("elsewhere"), &link).unwrap();
    let out = bundle_at(&link).failure();
    assert!(String::from_utf8_lossy(&out.get_output().stderr).contains("symbolic link"));
    assert!(!t.path().join("elsewhere").exists());

    let theirs = t.path().join("theirs");
    std::fs::create_dir(&theirs).unwrap();
    std::os::unix::fs::chown(&theirs, Some(1000), Some(1000)).unwrap();
    let out = bundle_at(&theirs).failure();
    assert!(String::from_utf8_lossy(&out.get_output().stderr).contains("owned by uid 1000"));

    let empty = t.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    std::fs::set_permissions(&empty, std::fs::Permissions::from_mode(0o700)).unwrap();
    bundle_at(&empty).success();
    assert_demo_bundle(&empty);
    assert_only(t.path(), &["img", "full", "link", "theirs", "empty"]);
}

#[test]
fn the_unpacked_bundle_runs_on_runc_as_the_image_says() {
    let env = Env::new();
    let img = env.dir.path().join("img");
    demo_oci(&img);
    let bundle = env.dir.path().join("bundle");
    ocictl()
        .args(["bundle", "--image"])
        .arg(format!("oci:{}:1.0", img.display()))
        .arg(&bundle)
        .assert()
        .success();
    let out = env
        .cmd()
        .args(["run", "-b"])
        .arg(&bundle)
        .arg(unique_id("image"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "hello from the image\n/srv\n1000\n1000\ns3cret\n"
    );

    // A command after `--` replaces Cmd; the Entrypoint stays.
    let other = env.dir.path().join("other");
    ocictl()
        .args(["bundle", "--image"])
        .arg(format!("oci:{}:1.0", img.display()))
        .arg(&other)
        .args(["--", "echo replaced; ls /old"])
        .assert()
        .success();
    let out = env
        .cmd()
        .args(["run", "-b"])
        .arg(&other)
        .arg(unique_id("image"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "replaced\nkept.txt\n");
    assert!(env.runc_ids().is_empty());
}

#[test]
fn an_interrupted_unpack_exits_128_plus_the_signal_and_leaves_nothing() {
    let t = tmp();
    let img = t.path().join("img");
    // Enough files that the unpack is still going when the signal comes.
    let entries: Vec<Entry> = (0..30_000)
        .map(|i| file(&format!("many/f{i}"), b"x", 0o644))
        .collect();
    let layer = layer(&entries);
    let config = config(json!({"Cmd": ["/bin/true"]}), std::slice::from_ref(&layer));
    oci_layout(&img, "1.0", &[(Compress::None, layer)], &config);
    let bundle = t.path().join("bundle");
    for (signal, code) in [(libc::SIGINT, 130), (libc::SIGTERM, 143)] {
        let child = std::process::Command::new(common::ocictl_path())
            .args(["bundle", "--image"])
            .arg(format!("oci:{}:1.0", img.display()))
            .arg(&bundle)
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        // The private build directory beside the bundle means the handlers
        // are in place and the unpack has begun.
        let staging = || {
            std::fs::read_dir(t.path()).unwrap().flatten().any(|e| {
                e.file_name()
                    .to_string_lossy()
                    .starts_with(".bundle.ocictl-")
            })
        };
        common::wait_until(
            "the unpack to begin",
            std::time::Duration::from_secs(30),
            staging,
        );
        // SAFETY: signalling our own child.
        unsafe { libc::kill(child.id() as i32, signal) };
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(code), "{stderr}");
        assert!(stderr.contains("interrupted"), "{stderr}");
        assert_only(t.path(), &["img"]);
    }
}
