//! What both image formats resolve to — the image's digest, its verified
//! config and its layers in order, each a byte range of an input file — and
//! the careful ways an input file is opened and read (regular files only,
//! bounded, Go-like case-insensitive JSON keys).

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use serde_json::Value;

use super::digest::{Digest, Expect};
use super::ImageError;

/// The largest JSON document (index, manifest, config) read from an image.
pub const JSON_LIMIT: u64 = 8 << 20;

/// How a layer's bytes are compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Compression {
    None,
    Gzip,
    Zstd,
}

impl Compression {
    /// From a layer media type (OCI or Docker), or None if it is not a
    /// layer type ocictl can apply.
    pub fn from_media_type(media: &str) -> Option<Compression> {
        let media = media.replace(".nondistributable", "");
        match media.as_str() {
            "application/vnd.oci.image.layer.v1.tar"
            | "application/vnd.docker.image.rootfs.diff.tar" => Some(Compression::None),
            "application/vnd.oci.image.layer.v1.tar+gzip"
            | "application/vnd.docker.image.rootfs.diff.tar.gzip"
            | "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip" => {
                Some(Compression::Gzip)
            }
            "application/vnd.oci.image.layer.v1.tar+zstd" => Some(Compression::Zstd),
            _ => None,
        }
    }

    /// From a blob's first bytes (docker-archive layers carry no media type).
    pub fn sniff(head: &[u8]) -> Compression {
        if head.starts_with(&[0x1f, 0x8b]) {
            Compression::Gzip
        } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
            Compression::Zstd
        } else {
            Compression::None
        }
    }
}

/// A byte range of an input file: a blob file of a layout, or a member of
/// a docker-archive.
#[derive(Debug)]
pub struct Blob {
    pub file: File,
    pub offset: u64,
    pub len: u64,
}

impl Blob {
    /// A reader over exactly this range.
    pub fn reader(mut self) -> std::io::Result<std::io::Take<File>> {
        self.file.seek(SeekFrom::Start(self.offset))?;
        Ok(self.file.take(self.len))
    }
}

/// One layer, ready to stream.
#[derive(Debug)]
pub struct Layer {
    /// The digest reported for the layer (the blob's, or its diff ID where
    /// the format has no blob digest).
    pub digest: Digest,
    pub media_type: String,
    /// None: sniff the first bytes.
    pub compression: Option<Compression>,
    /// What the compressed blob must hash to and how long it is.
    pub blob_expect: Expect,
    /// What the uncompressed tar must hash to, where only that is known.
    pub diff_id: Option<Digest>,
    pub blob: Blob,
}

/// An image resolved from a reference, its config already verified.
#[derive(Debug)]
pub struct ResolvedImage {
    /// The manifest's digest (OCI) or the config's (docker-archive: the
    /// image ID).
    pub digest: Digest,
    pub config: Value,
    pub layers: Vec<Layer>,
}

/// Open an input file for reading: a regular file only (a FIFO or device
/// would hang or never end), not through a symlink in its last component.
pub fn open_regular(path: &Path) -> Result<File, ImageError> {
    let io_err = |source| ImageError::Io {
        what: format!("cannot open {}", path.display()),
        source,
    };
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_CLOEXEC)
        .open(path)
        .map_err(io_err)?;
    let meta = file.metadata().map_err(io_err)?;
    if !meta.is_file() {
        return Err(ImageError::Format {
            what: path.display().to_string(),
            why: "not a regular file".into(),
        });
    }
    Ok(file)
}

/// Read at most `limit` bytes of `reader`; more is an error naming `what`.
pub fn read_bounded(reader: impl Read, limit: u64, what: &str) -> Result<Vec<u8>, ImageError> {
    let mut buf = Vec::new();
    reader
        .take(limit + 1)
        .read_to_end(&mut buf)
        .map_err(|source| ImageError::Io {
            what: format!("cannot read {what}"),
            source,
        })?;
    if buf.len() as u64 > limit {
        return Err(ImageError::Format {
            what: what.to_string(),
            why: format!("larger than {limit} bytes"),
        });
    }
    Ok(buf)
}

/// Parse JSON, naming `what` on failure.
pub fn parse_json(bytes: &[u8], what: &str) -> Result<Value, ImageError> {
    serde_json::from_slice(bytes).map_err(|e| ImageError::Format {
        what: what.to_string(),
        why: format!("not valid JSON: {e}"),
    })
}

/// A field of a JSON object, its key matched case-insensitively (Go's
/// encoding/json wrote it, and reads it that way).
pub fn field<'a>(value: &'a Value, key: &str) -> Option<&'a Value> {
    let obj = value.as_object()?;
    obj.get(key).or_else(|| {
        obj.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v)
    })
}

/// A string field, or None.
pub fn str_field<'a>(value: &'a Value, key: &str) -> Option<&'a str> {
    field(value, key).and_then(Value::as_str)
}

/// An array field, empty when missing or null.
pub fn array_field<'a>(value: &'a Value, key: &str) -> &'a [Value] {
    field(value, key)
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[])
}

/// The platform images are chosen for: this machine's, in OCI's names.
pub fn host_architecture() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        "powerpc64" => "ppc64le",
        other => other,
    }
}
