//! Unpacking an OCI image into a runnable bundle, offline: an image layout
//! (`oci:DIR[:TAG]`) or a docker-archive (`docker-archive:FILE[:NAME:TAG]`)
//! becomes BUNDLE/rootfs plus a config.json made from the image config.
//!
//! One pass per layer: the blob is read once, hashed and counted
//! ([`digest`]), decompressed (gzip, zstd or none) and applied
//! ([`apply`]) as it streams; its digest and size are checked when it
//! ends. Everything is built in a private directory beside BUNDLE and
//! renamed into place at the end ([`target`]); inside the rootfs every path
//! is resolved by the kernel as if the rootfs were `/` ([`rootfs`]).
//!
//! Like the runtime driver, this module never prints: progress goes to a
//! [`Progress`] the caller gives, the result comes back as a [`Report`].

pub mod apply;
pub mod archive;
pub mod digest;
pub mod layout;
pub mod metadata;
pub mod reference;
pub mod rootfs;
pub mod source;
pub mod spec;
pub mod target;
pub mod user;

use std::io::{self, Read};
use std::path::PathBuf;
use std::rc::Rc;
use std::sync::atomic::AtomicBool;

pub use digest::Digest;
pub use reference::ImageRef;

use apply::{Applier, ApplyError};
use digest::{check_whole, Hashing};
use rootfs::{InnerPath, Rootfs};
use source::{Compression, Layer, ResolvedImage};

#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    #[error(
        "`{0}` is not an image reference: use oci:DIR[:TAG] or docker-archive:FILE[:NAME:TAG]"
    )]
    Reference(String),
    #[error("{what}: {source}")]
    Io { what: String, source: io::Error },
    #[error("{what}: {why}")]
    Format { what: String, why: String },
    #[error("blob {digest} is corrupt: its content hashes to {actual}")]
    DigestMismatch { digest: String, actual: String },
    #[error("{digest} is corrupt: it is {actual} bytes, its descriptor says {expected}")]
    SizeMismatch {
        digest: String,
        expected: u64,
        actual: u64,
    },
    #[error("{}", no_such_image(image, wanted.as_deref(), available))]
    NoSuchImage {
        image: String,
        wanted: Option<String>,
        available: Vec<String>,
    },
    #[error("layer {digest}{}: {source}", entry.as_ref().map(|e| format!(", entry {e}")).unwrap_or_default())]
    Layer {
        digest: String,
        entry: Option<String>,
        source: io::Error,
    },
    #[error("cannot make the bundle {path}: {why}", path = path.display())]
    Target { path: PathBuf, why: String },
    #[error("the image's user `{user}`: {why}")]
    User { user: String, why: String },
    #[error("the image names no command (no Entrypoint or Cmd): give one after `--`")]
    NoCommand,
    #[error("interrupted: no bundle was made at {}", .0.display())]
    Interrupted(PathBuf),
}

fn no_such_image(image: &str, wanted: Option<&str>, available: &[String]) -> String {
    let listed = if available.is_empty() {
        "it names none".to_string()
    } else {
        format!("it has {}", available.join(", "))
    };
    match wanted {
        Some(w) => format!("{image} has no image `{w}` ({listed})"),
        None => format!("{image} holds more than one image: add which one ({listed})"),
    }
}

/// What to unpack where, and the command-line choices for config.json.
#[derive(Debug, Clone)]
pub struct Request {
    pub image: ImageRef,
    pub bundle: PathBuf,
    pub choices: spec::Choices,
}

/// Told about each layer as it streams (a progress bar, or nothing).
pub trait Progress {
    fn layer_started(&self, index: usize, count: usize, digest: &Digest, size: u64);
    fn advanced(&self, bytes: u64);
    fn layer_done(&self);
}

/// A [`Progress`] that shows nothing.
pub struct Silent;

impl Progress for Silent {
    fn layer_started(&self, _: usize, _: usize, _: &Digest, _: u64) {}
    fn advanced(&self, _: u64) {}
    fn layer_done(&self) {}
}

/// One applied layer.
#[derive(Debug, Clone, serde::Serialize, schemars::JsonSchema)]
pub struct LayerReport {
    #[schemars(with = "String")]
    pub digest: Digest,
    #[serde(rename = "mediaType")]
    pub media_type: String,
    pub compression: Compression,
    pub size: u64,
    pub entries: u64,
    pub bytes_written: u64,
}

/// What was made.
#[derive(Debug, Clone, serde::Serialize, schemars::JsonSchema)]
pub struct Report {
    pub bundle: PathBuf,
    pub image: String,
    #[schemars(with = "String")]
    pub digest: Digest,
    pub layers: Vec<LayerReport>,
    pub bytes_written: u64,
    /// The process and annotations written to config.json.
    pub config: serde_json::Value,
}

/// Unpack `req.image` into a new bundle at `req.bundle`. `cancel` (set by
/// a signal handler) stops between entries, leaving no bundle.
pub fn unpack(
    req: &Request,
    progress: Rc<dyn Progress>,
    cancel: &AtomicBool,
) -> Result<Report, ImageError> {
    let image = match &req.image {
        ImageRef::Oci { dir, tag } => layout::Layout::open(dir)?.resolve(tag.as_deref())?,
        ImageRef::DockerArchive { file, name } => {
            archive::Archive::open(file)?.resolve(name.as_deref())?
        }
    };
    let ResolvedImage {
        digest,
        config,
        layers,
    } = image;
    check_platform(&config, &digest)?;
    let image_config = spec::ImageConfig::from_json(&config);
    // Refuse a config with no command before any layer is written.
    image_config.args(&req.choices.command)?;

    let staging = target::Staging::begin(&req.bundle)?;
    let rootfs = Rootfs::new(staging.subdir("rootfs", 0o755)?);
    let mut applier = Applier::new(rootfs, cancel);
    let count = layers.len();
    let mut reports = Vec::new();
    for (index, layer) in layers.into_iter().enumerate() {
        progress.layer_started(index, count, &layer.digest, layer.blob.len);
        let report = apply_layer(&mut applier, layer, progress.clone()).map_err(|e| {
            if cancel.load(std::sync::atomic::Ordering::Relaxed) {
                ImageError::Interrupted(req.bundle.clone())
            } else {
                e
            }
        })?;
        progress.layer_done();
        reports.push(report);
    }

    let rootfs = applier.rootfs();
    let user = user::resolve(rootfs, &image_config.user)?;
    // The working directory exists, as docker makes it.
    let cwd = InnerPath::clean(image_config.cwd().as_bytes());
    rootfs.dir(&cwd).map_err(|source| ImageError::Io {
        what: format!("cannot make the working directory {}", cwd.display()),
        source,
    })?;
    let runtime_spec = spec::build(&image_config, &user, &req.choices)?;
    let json = serde_json::to_vec_pretty(&runtime_spec).map_err(|e| ImageError::Io {
        what: "cannot write config.json".into(),
        source: io::Error::other(e),
    })?;
    staging.write_file("config.json", &json)?;
    staging.commit()?;
    let value = serde_json::to_value(&runtime_spec).unwrap_or_default();
    Ok(Report {
        bundle: req.bundle.clone(),
        image: req.image.to_string(),
        digest,
        bytes_written: reports.iter().map(|r| r.bytes_written).sum(),
        layers: reports,
        config: serde_json::json!({
            "process": value.get("process"),
            "annotations": value.get("annotations"),
        }),
    })
}

/// Stream one layer: hash, decompress, apply, drain, verify.
fn apply_layer(
    applier: &mut Applier<'_>,
    layer: Layer,
    progress: Rc<dyn Progress>,
) -> Result<LayerReport, ImageError> {
    let Layer {
        digest,
        media_type,
        compression,
        blob_expect,
        diff_id,
        blob,
    } = layer;
    let name = digest.to_string();
    let stream_err = |source| ImageError::Layer {
        digest: name.clone(),
        entry: None,
        source,
    };
    let size = blob.len;
    let again = source::Blob {
        file: blob.file.try_clone().map_err(stream_err)?,
        offset: blob.offset,
        len: blob.len,
    };
    let (mut hashing, tally) = Hashing::new(
        blob.reader().map_err(stream_err)?,
        &blob_expect,
        Box::new(move |n| progress.advanced(n)),
    );
    let (compression, raw): (Compression, Box<dyn Read>) = match compression {
        Some(c) => (c, Box::new(hashing)),
        None => {
            // Sniff the first bytes, then read them again ahead of the rest.
            let mut head = [0u8; 4];
            let n = read_up_to(&mut hashing, &mut head).map_err(stream_err)?;
            let head = io::Cursor::new(head[..n].to_vec());
            (
                Compression::sniff(head.get_ref()),
                Box::new(head.chain(hashing)),
            )
        }
    };
    let decoded: Box<dyn Read> = match compression {
        Compression::None => raw,
        Compression::Gzip => Box::new(flate2::read::MultiGzDecoder::new(raw)),
        Compression::Zstd => Box::new(zstd::stream::read::Decoder::new(raw).map_err(stream_err)?),
    };
    let diff_expect = diff_id.map(|d| digest::Expect {
        digest: Some(d),
        size: None,
        name: format!("the uncompressed layer {name}"),
    });
    let (tar_stream, diff_tally): (Box<dyn Read>, _) = match &diff_expect {
        Some(expect) => {
            let (h, t) = Hashing::new(decoded, expect, Box::new(|_| {}));
            (Box::new(h), Some(t))
        }
        None => (decoded, None),
    };
    let result = applier.apply(tar_stream).and_then(|(applied, mut rest)| {
        // What follows the tar's end: padding, the compressor's trailer.
        io::copy(&mut rest, &mut io::sink())
            .map(|_| applied)
            .map_err(|source| ApplyError {
                entry: None,
                source,
            })
    });
    let applied = match result {
        Ok(applied) => applied,
        Err(e) => {
            // A corrupt blob explains most stream errors: say that instead.
            if blob_expect.digest.is_some() {
                if let Ok(reader) = again.reader() {
                    check_whole(reader, &blob_expect)?;
                }
            }
            return Err(ImageError::Layer {
                digest: name,
                entry: e.entry,
                source: e.source,
            });
        }
    };
    blob_expect.check(&tally.borrow())?;
    if let (Some(expect), Some(t)) = (&diff_expect, diff_tally) {
        expect.check(&t.borrow())?;
    }
    Ok(LayerReport {
        digest,
        media_type,
        compression,
        size,
        entries: applied.entries,
        bytes_written: applied.bytes_written,
    })
}

/// Refuse an image for another OS or architecture before unpacking it
/// (it would only fail later with "exec format error").
fn check_platform(config: &serde_json::Value, digest: &Digest) -> Result<(), ImageError> {
    let os = source::str_field(config, "os").unwrap_or_default();
    let arch = source::str_field(config, "architecture").unwrap_or_default();
    let host = source::host_architecture();
    if (!os.is_empty() && os != "linux") || (!arch.is_empty() && arch != host) {
        return Err(ImageError::Format {
            what: format!("image {digest}"),
            why: format!("it is built for {os}/{arch}, and this machine runs linux/{host}"),
        });
    }
    Ok(())
}

fn read_up_to(reader: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match reader.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}
