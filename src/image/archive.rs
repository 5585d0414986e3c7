//! docker-archive tarballs (`docker save`, `podman save`): one scan makes
//! an index of the members, then manifest.json picks the image, its config
//! (verified against the ID in its file name) and its layers, each verified
//! against the config's `rootfs.diff_ids` while it is applied.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufReader, Read, Seek};
use std::path::Path;

use serde_json::Value;

use super::digest::{Digest, Expect};
use super::reference::normalize_name;
use super::source::{
    array_field, field, open_regular, parse_json, read_bounded, str_field, Blob, Layer,
    ResolvedImage, JSON_LIMIT,
};
use super::ImageError;

/// The most members an archive may have (a real one has a few per layer).
const MAX_MEMBERS: usize = 1 << 20;

/// A member: where its data starts and how long it is, or the member a
/// symlink names (docker links a repeated layer to its first copy).
#[derive(Debug, Clone)]
enum Member {
    Data { offset: u64, len: u64 },
    Link(String),
}

pub struct Archive {
    file: File,
    name: String,
    members: HashMap<String, Member>,
}

impl Archive {
    pub fn open(path: &Path) -> Result<Archive, ImageError> {
        let name = format!("docker-archive:{}", path.display());
        let file = open_regular(path)?;
        let io_err = |source| ImageError::Io {
            what: format!("cannot read {name}"),
            source,
        };
        let mut head = [0u8; 4];
        let n = (&file).read(&mut head).map_err(io_err)?;
        if head[..n].starts_with(&[0x1f, 0x8b]) || head[..n].starts_with(&[0x28, 0xb5, 0x2f, 0xfd])
        {
            return Err(ImageError::Format {
                what: name,
                why: "the archive is compressed: decompress it first (gunzip/unzstd)".into(),
            });
        }
        let mut members = HashMap::new();
        let mut scan = &file;
        scan.seek(std::io::SeekFrom::Start(0)).map_err(io_err)?;
        let mut tar = tar::Archive::new(BufReader::new(scan));
        for entry in tar.entries().map_err(io_err)? {
            let entry = entry.map_err(io_err)?;
            if members.len() >= MAX_MEMBERS {
                return Err(ImageError::Format {
                    what: name,
                    why: format!("more than {MAX_MEMBERS} members"),
                });
            }
            let member = clean_member(&String::from_utf8_lossy(&entry.path_bytes()));
            let kind = entry.header().entry_type();
            if kind.is_file() {
                members.insert(
                    member,
                    Member::Data {
                        offset: entry.raw_file_position(),
                        len: entry.size(),
                    },
                );
            } else if kind.is_symlink() {
                if let Some(target) = entry.link_name_bytes() {
                    let base = member.rsplit_once('/').map(|(d, _)| d).unwrap_or("");
                    let joined = format!("{base}/{}", String::from_utf8_lossy(&target));
                    members.insert(member, Member::Link(clean_member(&joined)));
                }
            }
        }
        drop(tar);
        Ok(Archive {
            file,
            name,
            members,
        })
    }

    /// The data of a member, following at most a few links.
    fn member(&self, name: &str) -> Result<Blob, ImageError> {
        let mut name = clean_member(name);
        for _ in 0..8 {
            match self.members.get(&name) {
                Some(Member::Data { offset, len }) => {
                    let file = self.file.try_clone().map_err(|source| ImageError::Io {
                        what: format!("cannot read {}", self.name),
                        source,
                    })?;
                    return Ok(Blob {
                        file,
                        offset: *offset,
                        len: *len,
                    });
                }
                Some(Member::Link(target)) => name = target.clone(),
                None => break,
            }
        }
        Err(ImageError::Format {
            what: self.name.clone(),
            why: format!("it has no member `{name}`"),
        })
    }

    fn json_member(&self, name: &str) -> Result<(Vec<u8>, Value), ImageError> {
        let what = format!("{} member {name}", self.name);
        let blob = self.member(name)?;
        let reader = blob.reader().map_err(|source| ImageError::Io {
            what: format!("cannot read {what}"),
            source,
        })?;
        let bytes = read_bounded(reader, JSON_LIMIT, &what)?;
        let value = parse_json(&bytes, &what)?;
        Ok((bytes, value))
    }

    /// Resolve `name` (or the only image) to its config and layers.
    pub fn resolve(&self, wanted: Option<&str>) -> Result<ResolvedImage, ImageError> {
        let (_, manifest) = self.json_member("manifest.json")?;
        let images = manifest.as_array().map(Vec::as_slice).unwrap_or(&[]);
        let tags_of = |m: &Value| -> Vec<String> {
            array_field(m, "RepoTags")
                .iter()
                .filter_map(|t| t.as_str().map(str::to_string))
                .collect()
        };
        let chosen = match wanted {
            Some(wanted) => {
                let wanted = normalize_name(wanted);
                images
                    .iter()
                    .find(|m| tags_of(m).iter().any(|t| normalize_name(t) == wanted))
            }
            None if images.len() == 1 => images.first(),
            None => None,
        };
        let chosen = chosen.ok_or_else(|| ImageError::NoSuchImage {
            image: self.name.clone(),
            wanted: wanted.map(str::to_string),
            available: images.iter().flat_map(tags_of).collect(),
        })?;
        let config_name = str_field(chosen, "Config").ok_or_else(|| ImageError::Format {
            what: format!("{} manifest.json", self.name),
            why: "the image has no Config".into(),
        })?;
        let (bytes, config) = self.json_member(config_name)?;
        // docker and podman name the config by its digest (the image ID).
        let digest = match digest_in_name(config_name) {
            Some(digest) => {
                digest.verify(&bytes)?;
                digest
            }
            None => Digest::of(&bytes),
        };
        let diff_ids = field(&config, "rootfs")
            .map(|r| array_field(r, "diff_ids"))
            .unwrap_or(&[]);
        let layer_names = array_field(chosen, "Layers");
        if diff_ids.len() != layer_names.len() {
            return Err(ImageError::Format {
                what: format!("image config {digest}"),
                why: format!(
                    "it lists {} diff_ids for {} layers",
                    diff_ids.len(),
                    layer_names.len()
                ),
            });
        }
        let mut layers = Vec::new();
        for (name, diff_id) in layer_names.iter().zip(diff_ids) {
            let name = name.as_str().unwrap_or_default();
            let diff_id = Digest::parse(diff_id.as_str().unwrap_or_default())?;
            let blob = self.member(name)?;
            layers.push(Layer {
                blob_expect: Expect {
                    digest: digest_in_name(name).filter(|_| name.starts_with("blobs/")),
                    size: Some(blob.len),
                    name: format!("layer {diff_id}"),
                },
                digest: diff_id.clone(),
                media_type: "application/vnd.docker.image.rootfs.diff.tar".into(),
                compression: None,
                diff_id: Some(diff_id),
                blob,
            });
        }
        Ok(ResolvedImage {
            digest,
            config,
            layers,
        })
    }
}

/// A member name without `./`, leading `/`, or `..` above the top.
fn clean_member(name: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for part in name.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            p => parts.push(p),
        }
    }
    parts.join("/")
}

/// `HEX.json`, `HEX/layer.tar`, `HEX.tar` or `blobs/sha256/HEX` → the digest.
fn digest_in_name(name: &str) -> Option<Digest> {
    let name = clean_member(name);
    let last = name.rsplit('/').next()?;
    let hex = last
        .strip_suffix(".json")
        .or_else(|| last.strip_suffix(".tar"))
        .unwrap_or(last);
    Digest::parse(&format!("sha256:{hex}")).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn member_names_clean_and_name_digests() {
        assert_eq!(clean_member("./a/../../b//c"), "b/c");
        let hex = "a".repeat(64);
        assert!(digest_in_name(&format!("{hex}.json")).is_some());
        assert!(digest_in_name(&format!("blobs/sha256/{hex}")).is_some());
        assert!(digest_in_name("manifest.json").is_none());
    }
}
