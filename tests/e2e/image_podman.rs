//! `ocictl bundle --image` on what real podman writes: an image imported
//! offline (`podman import`, private storage), saved with `podman save` as
//! an OCI layout and as a docker-archive, unpacked and run on real runc.

use crate::common;

use std::path::Path;
use std::process::Command;

use common::{ocictl, unique_id, Env};

/// podman with storage of its own under `dir`, nothing of the host's.
fn podman(dir: &Path) -> Command {
    let mut cmd = Command::new("podman");
    cmd.arg("--root")
        .arg(dir.join("storage"))
        .arg("--runroot")
        .arg(dir.join("run"))
        .arg("--tmpdir")
        .arg(dir.join("tmp"))
        .args([
            "--storage-driver",
            "vfs",
            "--cgroup-manager",
            "cgroupfs",
            "--events-backend",
            "file",
        ]);
    cmd
}

fn run_ok(cmd: &mut Command) {
    let out = cmd
        .output()
        .expect("podman is installed: run scripts/setup --tests");
    assert!(out.status.success(), "{cmd:?}: {out:?}");
}

#[test]
fn podman_saved_images_unpack_and_run_in_both_formats() {
    let env = Env::new();
    let dir = env.dir.path();
    let rootfs = dir.join("rootfs");
    std::fs::create_dir_all(rootfs.join("bin")).unwrap();
    std::fs::copy("/bin/busybox", rootfs.join("bin/busybox")).unwrap();
    for applet in ["sh", "echo"] {
        std::os::unix::fs::symlink("busybox", rootfs.join("bin").join(applet)).unwrap();
    }
    let tar = dir.join("rootfs.tar");
    run_ok(
        Command::new("tar")
            .arg("-C")
            .arg(&rootfs)
            .arg("-cf")
            .arg(&tar)
            .arg("."),
    );
    let name = "localhost/ocictl-test:1";
    run_ok(
        podman(dir)
            .args(["import", "--change", "ENV GREETING=saved-by-podman"])
            .args(["--change", r#"CMD ["/bin/sh", "-c", "echo $GREETING"]"#])
            .arg(&tar)
            .arg(name),
    );
    let oci = dir.join("oci");
    let archive = dir.join("archive.tar");
    run_ok(
        podman(dir)
            .args(["save", "--format", "oci-dir", "-o"])
            .arg(&oci)
            .arg(name),
    );
    run_ok(
        podman(dir)
            .args(["save", "--format", "docker-archive", "-o"])
            .arg(&archive)
            .arg(name),
    );

    let references = [
        format!("oci:{}:{name}", oci.display()),
        format!("docker-archive:{}:{name}", archive.display()),
        format!("docker-archive:{}", archive.display()),
    ];
    for (i, reference) in references.iter().enumerate() {
        let bundle = dir.join(format!("bundle-{i}"));
        ocictl()
            .args(["bundle", "--image", reference])
            .arg(&bundle)
            .assert()
            .success();
        let out = env
            .cmd()
            .args(["run", "-b"])
            .arg(&bundle)
            .arg(unique_id("podman"))
            .output()
            .unwrap();
        assert!(out.status.success(), "{reference}: {out:?}");
        assert_eq!(String::from_utf8_lossy(&out.stdout), "saved-by-podman\n");
    }
    assert!(env.runc_ids().is_empty());
}
