//! Image references as skopeo and podman spell them for local images:
//! `oci:DIR[:TAG]` (an OCI image layout directory) and
//! `docker-archive:FILE[:NAME:TAG]` (a `docker save` / `podman save` tarball).

use std::fmt;
use std::path::PathBuf;

use super::ImageError;

/// Where an image is and which one of the images there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImageRef {
    /// An OCI layout; the tag is matched against the index's
    /// `org.opencontainers.image.ref.name`.
    Oci { dir: PathBuf, tag: Option<String> },
    /// A docker-archive; the name is matched against its `RepoTags`.
    DockerArchive { file: PathBuf, name: Option<String> },
}

impl ImageRef {
    /// Parse a reference. As in containers/image, the path ends at the
    /// first `:` after the transport, so a path cannot contain one.
    pub fn parse(text: &str) -> Result<ImageRef, ImageError> {
        let bad = || ImageError::Reference(text.to_string());
        let (transport, rest) = text.split_once(':').ok_or_else(bad)?;
        let (path, selector) = match rest.split_once(':') {
            Some((path, sel)) => (path, Some(sel)),
            None => (rest, None),
        };
        if path.is_empty() || selector == Some("") {
            return Err(bad());
        }
        let path = PathBuf::from(path);
        let selector = selector.map(str::to_string);
        match transport {
            // podman names a saved image by its full name: `oci:DIR:host/name:tag`.
            "oci" => Ok(ImageRef::Oci {
                dir: path,
                tag: selector,
            }),
            "docker-archive" => Ok(ImageRef::DockerArchive {
                file: path,
                name: selector,
            }),
            _ => Err(bad()),
        }
    }
}

impl fmt::Display for ImageRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ImageRef::Oci { dir, tag } => {
                write!(f, "oci:{}", dir.display())?;
                if let Some(tag) = tag {
                    write!(f, ":{tag}")?;
                }
            }
            ImageRef::DockerArchive { file, name } => {
                write!(f, "docker-archive:{}", file.display())?;
                if let Some(name) = name {
                    write!(f, ":{name}")?;
                }
            }
        }
        Ok(())
    }
}

/// A docker name in its short form, so `docker.io/library/alpine:latest`,
/// `library/alpine:latest` and `alpine:latest` compare equal, and a name
/// without a tag means `:latest`.
pub fn normalize_name(name: &str) -> String {
    let mut n = name;
    for prefix in ["docker.io/", "index.docker.io/", "localhost/"] {
        if let Some(rest) = n.strip_prefix(prefix) {
            n = rest;
        }
    }
    let n = n.strip_prefix("library/").unwrap_or(n);
    let last = n.rsplit('/').next().unwrap_or(n);
    if last.contains(':') || last.contains('@') {
        n.to_string()
    } else {
        format!("{n}:latest")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_both_transports() {
        assert_eq!(
            ImageRef::parse("oci:/srv/alpine:3.19").unwrap(),
            ImageRef::Oci {
                dir: "/srv/alpine".into(),
                tag: Some("3.19".into())
            }
        );
        assert_eq!(
            ImageRef::parse("oci:img").unwrap(),
            ImageRef::Oci {
                dir: "img".into(),
                tag: None
            }
        );
        assert_eq!(
            ImageRef::parse("oci:d:localhost/x:1").unwrap(),
            ImageRef::Oci {
                dir: "d".into(),
                tag: Some("localhost/x:1".into())
            }
        );
        assert_eq!(
            ImageRef::parse("docker-archive:a.tar:localhost:5000/x:1").unwrap(),
            ImageRef::DockerArchive {
                file: "a.tar".into(),
                name: Some("localhost:5000/x:1".into())
            }
        );
        for bad in ["alpine", "docker://alpine", "oci:", "oci:d:", "dir:x"] {
            assert!(ImageRef::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn names_normalize() {
        assert_eq!(normalize_name("docker.io/library/alpine"), "alpine:latest");
        assert_eq!(normalize_name("alpine:3"), "alpine:3");
        assert_eq!(normalize_name("localhost/demo:v1"), "demo:v1");
        assert_eq!(normalize_name("reg:5000/x"), "reg:5000/x:latest");
    }
}
