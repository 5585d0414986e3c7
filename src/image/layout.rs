//! OCI image layouts (`skopeo copy … oci:DIR:TAG`, `podman save --format
//! oci-dir`): index.json → (nested index →) manifest → config and layers,
//! every JSON blob verified against its descriptor before it is parsed.

use std::path::{Path, PathBuf};

use serde_json::Value;

use super::digest::{Digest, Expect};
use super::source::{
    array_field, field, host_architecture, open_regular, parse_json, read_bounded, str_field, Blob,
    Compression, Layer, ResolvedImage, JSON_LIMIT,
};
use super::ImageError;

const REF_NAME: &str = "org.opencontainers.image.ref.name";
const CONTAINERD_NAME: &str = "io.containerd.image.name";

/// A content descriptor: what a blob is, its digest and size.
#[derive(Debug, Clone)]
struct Descriptor {
    media_type: String,
    digest: Digest,
    size: u64,
}

impl Descriptor {
    fn parse(value: &Value, what: &str) -> Result<Descriptor, ImageError> {
        let bad = |why: &str| ImageError::Format {
            what: what.to_string(),
            why: why.to_string(),
        };
        let digest = str_field(value, "digest").ok_or_else(|| bad("a descriptor has no digest"))?;
        let size = field(value, "size")
            .and_then(Value::as_u64)
            .ok_or_else(|| bad("a descriptor has no size"))?;
        Ok(Descriptor {
            media_type: str_field(value, "mediaType")
                .unwrap_or_default()
                .to_string(),
            digest: Digest::parse(digest)?,
            size,
        })
    }

    fn is_index(&self) -> bool {
        self.media_type == "application/vnd.oci.image.index.v1+json"
            || self.media_type == "application/vnd.docker.distribution.manifest.list.v2+json"
    }
}

/// An OCI layout directory.
pub struct Layout {
    dir: PathBuf,
}

impl Layout {
    pub fn open(dir: &Path) -> Result<Layout, ImageError> {
        let marker = dir.join("oci-layout");
        if !marker.exists() {
            return Err(ImageError::Format {
                what: dir.display().to_string(),
                why: "not an OCI image layout (it has no oci-layout file)".into(),
            });
        }
        Ok(Layout {
            dir: dir.to_path_buf(),
        })
    }

    fn blob_path(&self, digest: &Digest) -> PathBuf {
        self.dir.join("blobs/sha256").join(digest.hex())
    }

    /// A JSON blob, verified against its descriptor, then parsed.
    fn json_blob(&self, desc: &Descriptor, what: &str) -> Result<Value, ImageError> {
        if desc.size > JSON_LIMIT {
            return Err(ImageError::Format {
                what: format!("{what} {}", desc.digest),
                why: format!("{} bytes is more than a JSON blob may be", desc.size),
            });
        }
        let file = open_regular(&self.blob_path(&desc.digest))?;
        let bytes = read_bounded(file, JSON_LIMIT, &format!("{what} {}", desc.digest))?;
        if bytes.len() as u64 != desc.size {
            return Err(ImageError::SizeMismatch {
                digest: desc.digest.to_string(),
                expected: desc.size,
                actual: bytes.len() as u64,
            });
        }
        desc.digest.verify(&bytes)?;
        parse_json(&bytes, &format!("{what} {}", desc.digest))
    }

    /// Resolve `tag` (or the only image) to its manifest, config and layers.
    pub fn resolve(&self, tag: Option<&str>) -> Result<ResolvedImage, ImageError> {
        let index_path = self.dir.join("index.json");
        let what = index_path.display().to_string();
        let index = parse_json(
            &read_bounded(open_regular(&index_path)?, JSON_LIMIT, &what)?,
            &what,
        )?;
        let entries = array_field(&index, "manifests");
        let name_of = |m: &Value| {
            let ann = field(m, "annotations");
            ann.and_then(|a| str_field(a, REF_NAME))
                .or_else(|| ann.and_then(|a| str_field(a, CONTAINERD_NAME)))
                .map(str::to_string)
        };
        let names: Vec<String> = entries.iter().filter_map(name_of).collect();
        let chosen = match tag {
            Some(tag) => entries.iter().find(|m| {
                let ann = field(m, "annotations");
                ann.and_then(|a| str_field(a, REF_NAME)) == Some(tag)
                    || ann.and_then(|a| str_field(a, CONTAINERD_NAME)) == Some(tag)
            }),
            None if entries.len() == 1 => entries.first(),
            None => None,
        };
        let chosen = chosen.ok_or_else(|| ImageError::NoSuchImage {
            image: format!("oci:{}", self.dir.display()),
            wanted: tag.map(str::to_string),
            available: names,
        })?;
        let mut desc = Descriptor::parse(chosen, &what)?;
        // A multi-platform image: pick this machine's manifest.
        for _ in 0..4 {
            if !desc.is_index() {
                break;
            }
            let nested = self.json_blob(&desc, "image index")?;
            desc = pick_platform(&nested, &desc)?;
        }
        let manifest = self.json_blob(&desc, "manifest")?;
        let config_desc = Descriptor::parse(
            field(&manifest, "config").unwrap_or(&Value::Null),
            &format!("manifest {}", desc.digest),
        )?;
        let config = self.json_blob(&config_desc, "image config")?;
        let mut layers = Vec::new();
        for value in array_field(&manifest, "layers") {
            let layer = Descriptor::parse(value, &format!("manifest {}", desc.digest))?;
            let compression = Compression::from_media_type(&layer.media_type).ok_or_else(|| {
                ImageError::Format {
                    what: format!("layer {}", layer.digest),
                    why: format!("unsupported media type `{}`", layer.media_type),
                }
            })?;
            let file = open_regular(&self.blob_path(&layer.digest))?;
            let len = file
                .metadata()
                .map_err(|source| ImageError::Io {
                    what: format!("cannot read layer {}", layer.digest),
                    source,
                })?
                .len();
            layers.push(Layer {
                blob_expect: Expect {
                    digest: Some(layer.digest.clone()),
                    size: Some(layer.size),
                    name: format!("layer {}", layer.digest),
                },
                digest: layer.digest,
                media_type: layer.media_type,
                compression: Some(compression),
                diff_id: None,
                blob: Blob {
                    file,
                    offset: 0,
                    len,
                },
            });
        }
        Ok(ResolvedImage {
            digest: desc.digest,
            config,
            layers,
        })
    }
}

/// The manifest of an index that runs here (linux and this architecture).
fn pick_platform(index: &Value, desc: &Descriptor) -> Result<Descriptor, ImageError> {
    let arch = host_architecture();
    let what = format!("image index {}", desc.digest);
    for m in array_field(index, "manifests") {
        let platform = field(m, "platform");
        let os = platform.and_then(|p| str_field(p, "os"));
        let march = platform.and_then(|p| str_field(p, "architecture"));
        if os == Some("linux") && march == Some(arch) {
            return Descriptor::parse(m, &what);
        }
    }
    Err(ImageError::Format {
        what,
        why: format!("no manifest for linux/{arch}"),
    })
}
