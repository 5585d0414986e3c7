//! Images built by the tests themselves, offline: layer tarballs written
//! entry by entry (raw names, so hostile `../` and absolute paths can be
//! made too), an OCI image layout around them, and a docker-archive of the
//! same layers.
#![allow(dead_code)]

use std::io::Write;
use std::path::Path;

use serde_json::{json, Value};
use sha2::{Digest as _, Sha256};

/// One tar entry.
#[derive(Clone)]
pub enum Entry {
    Dir(&'static str, u32),
    File {
        path: String,
        data: Vec<u8>,
        mode: u32,
        owner: (u64, u64),
    },
    Symlink(String, String),
    Hardlink(String, String),
    /// A character device (major, minor), mode 0666.
    CharDevice(&'static str, u32, u32),
    /// A regular file with extended attributes (PAX `SCHILY.xattr.*`).
    WithXattr(&'static str, &'static [u8], &'static str, &'static [u8]),
}

/// A regular file owned by root.
pub fn file(path: &str, data: &[u8], mode: u32) -> Entry {
    Entry::File {
        path: path.into(),
        data: data.to_vec(),
        mode,
        owner: (0, 0),
    }
}

pub fn symlink(path: &str, target: &str) -> Entry {
    Entry::Symlink(path.into(), target.into())
}

pub fn hardlink(path: &str, target: &str) -> Entry {
    Entry::Hardlink(path.into(), target.into())
}

fn set_raw(field: &mut [u8], value: &[u8]) {
    assert!(value.len() < field.len(), "name too long for the fixture");
    field.fill(0);
    field[..value.len()].copy_from_slice(value);
}

/// An uncompressed layer tarball with `entries`, in order.
pub fn layer(entries: &[Entry]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for e in entries {
        let mut h = tar::Header::new_gnu();
        h.set_mtime(1_700_000_000);
        let (name, data): (&str, &[u8]) = match e {
            Entry::CharDevice(p, major, minor) => {
                h.set_entry_type(tar::EntryType::Char);
                h.set_mode(0o666);
                h.set_device_major(*major).unwrap();
                h.set_device_minor(*minor).unwrap();
                (p, &[])
            }
            Entry::WithXattr(p, data, key, value) => {
                let key = format!("SCHILY.xattr.{key}");
                b.append_pax_extensions([(key.as_str(), *value)]).unwrap();
                h.set_entry_type(tar::EntryType::Regular);
                h.set_mode(0o755);
                (p, data)
            }
            Entry::Dir(p, mode) => {
                h.set_entry_type(tar::EntryType::Directory);
                h.set_mode(*mode);
                (p, &[])
            }
            Entry::File {
                path,
                data,
                mode,
                owner,
            } => {
                h.set_entry_type(tar::EntryType::Regular);
                h.set_mode(*mode);
                h.set_uid(owner.0);
                h.set_gid(owner.1);
                (path, data)
            }
            Entry::Symlink(p, t) | Entry::Hardlink(p, t) => {
                h.set_entry_type(if matches!(e, Entry::Symlink(..)) {
                    tar::EntryType::Symlink
                } else {
                    tar::EntryType::Link
                });
                h.set_mode(0o777);
                set_raw(&mut h.as_old_mut().linkname, t.as_bytes());
                (p, &[])
            }
        };
        set_raw(&mut h.as_old_mut().name, name.as_bytes());
        h.set_size(data.len() as u64);
        h.set_cksum();
        b.append(&h, data).unwrap();
    }
    b.into_inner().unwrap()
}

pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

pub fn zstd(bytes: &[u8]) -> Vec<u8> {
    zstd::encode_all(bytes, 1).unwrap()
}

pub fn sha256(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

/// How a layer is stored in an OCI layout.
#[derive(Clone, Copy)]
pub enum Compress {
    None,
    Gzip,
    Zstd,
}

/// An image config with a process and the layers' diff IDs.
pub fn config(process: Value, layers: &[Vec<u8>]) -> Value {
    json!({
        "architecture": "amd64",
        "os": "linux",
        "config": process,
        "rootfs": {"type": "layers", "diff_ids": layers.iter().map(|l| sha256(l)).collect::<Vec<_>>()},
    })
}

fn put_blob(dir: &Path, bytes: &[u8]) -> String {
    let digest = sha256(bytes);
    let blobs = dir.join("blobs/sha256");
    std::fs::create_dir_all(&blobs).unwrap();
    std::fs::write(blobs.join(&digest[7..]), bytes).unwrap();
    digest
}

/// Write an OCI layout at `dir` holding one image tagged `tag`; returns
/// the manifest's digest.
pub fn oci_layout(dir: &Path, tag: &str, layers: &[(Compress, Vec<u8>)], config: &Value) -> String {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
    let config_bytes = serde_json::to_vec(config).unwrap();
    let config_digest = put_blob(dir, &config_bytes);
    let layer_descs: Vec<Value> = layers
        .iter()
        .map(|(c, tar)| {
            let (media, blob) = match c {
                Compress::None => ("application/vnd.oci.image.layer.v1.tar", tar.clone()),
                Compress::Gzip => ("application/vnd.oci.image.layer.v1.tar+gzip", gzip(tar)),
                Compress::Zstd => ("application/vnd.oci.image.layer.v1.tar+zstd", zstd(tar)),
            };
            json!({"mediaType": media, "digest": put_blob(dir, &blob), "size": blob.len()})
        })
        .collect();
    let manifest = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": config_digest, "size": config_bytes.len()},
        "layers": layer_descs,
    }))
    .unwrap();
    let manifest_digest = put_blob(dir, &manifest);
    let index = json!({
        "schemaVersion": 2,
        "manifests": [{
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": manifest_digest, "size": manifest.len(),
            "annotations": {"org.opencontainers.image.ref.name": tag},
        }],
    });
    std::fs::write(dir.join("index.json"), serde_json::to_vec(&index).unwrap()).unwrap();
    manifest_digest
}

/// Write a docker-archive at `file` (docker's classic layout: `ID.json`,
/// `N/layer.tar`); returns the config's digest (the image ID).
pub fn docker_archive(file: &Path, repo_tag: &str, layers: &[Vec<u8>], config: &Value) -> String {
    let config_bytes = serde_json::to_vec(config).unwrap();
    let config_digest = sha256(&config_bytes);
    let config_name = format!("{}.json", &config_digest[7..]);
    let mut b = tar::Builder::new(std::fs::File::create(file).unwrap());
    let mut add = |name: &str, data: &[u8]| {
        let mut h = tar::Header::new_ustar();
        h.set_mode(0o644);
        h.set_size(data.len() as u64);
        h.set_entry_type(tar::EntryType::Regular);
        b.append_data(&mut h, name, data).unwrap();
    };
    let mut names = Vec::new();
    for (i, l) in layers.iter().enumerate() {
        let name = format!("layer{i}/layer.tar");
        add(&name, l);
        names.push(name);
    }
    add(&config_name, &config_bytes);
    let manifest = json!([{"Config": config_name, "RepoTags": [repo_tag], "Layers": names}]);
    add("manifest.json", &serde_json::to_vec(&manifest).unwrap());
    b.finish().unwrap();
    config_digest
}
