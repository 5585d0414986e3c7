//! Content digests (`sha256:HEX`) and the reader that verifies one while a
//! blob streams through it, so a blob is read once: hashed, counted and
//! handed on to the decompressor in the same pass.

use std::cell::RefCell;
use std::fmt;
use std::io::{self, Read};
use std::rc::Rc;

use sha2::{Digest as _, Sha256};

use super::ImageError;

/// A sha256 content digest, the only algorithm images use in practice.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Digest {
    hex: String,
}

impl Digest {
    /// Parse `sha256:` followed by 64 lowercase hex digits. Anything else
    /// is refused, which is also what keeps a digest safe to use as a file
    /// name under `blobs/sha256/`.
    pub fn parse(text: &str) -> Result<Digest, ImageError> {
        let bad = |why: &str| ImageError::Format {
            what: format!("digest `{text}`"),
            why: why.to_string(),
        };
        let hex = text
            .strip_prefix("sha256:")
            .ok_or_else(|| bad("only sha256 digests are supported"))?;
        if hex.len() != 64
            || !hex
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            return Err(bad("expected 64 lowercase hex digits after `sha256:`"));
        }
        Ok(Digest {
            hex: hex.to_string(),
        })
    }

    /// The digest of `bytes`.
    pub fn of(bytes: &[u8]) -> Digest {
        Digest {
            hex: hex::encode(Sha256::digest(bytes)),
        }
    }

    /// The hex part, which names the blob file in an OCI layout.
    pub fn hex(&self) -> &str {
        &self.hex
    }

    /// Fail unless `bytes` has this digest.
    pub fn verify(&self, bytes: &[u8]) -> Result<(), ImageError> {
        let actual = Digest::of(bytes);
        if actual != *self {
            return Err(ImageError::DigestMismatch {
                digest: self.to_string(),
                actual: actual.to_string(),
            });
        }
        Ok(())
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "sha256:{}", self.hex)
    }
}

impl serde::Serialize for Digest {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// What a blob must be; checked by [`Expect::check`] once it has streamed.
#[derive(Debug, Clone)]
pub struct Expect {
    /// The digest the bytes must have, if known.
    pub digest: Option<Digest>,
    /// The exact size, if known; more bytes than this fail at once.
    pub size: Option<u64>,
    /// What to call the blob in an error.
    pub name: String,
}

impl Expect {
    /// Check what streamed through a [`Hashing`] reader.
    pub fn check(&self, tally: &Tally) -> Result<Digest, ImageError> {
        if let Some(size) = self.size {
            if size != tally.count {
                return Err(ImageError::SizeMismatch {
                    digest: self.name.clone(),
                    expected: size,
                    actual: tally.count,
                });
            }
        }
        let actual = Digest {
            hex: hex::encode(tally.hasher.clone().finalize()),
        };
        match &self.digest {
            Some(digest) if *digest != actual => Err(ImageError::DigestMismatch {
                digest: digest.to_string(),
                actual: actual.to_string(),
            }),
            _ => Ok(actual),
        }
    }
}

/// The running hash and count of a [`Hashing`] reader, shared so it can
/// be checked after the decompressor and tar reader that own the reader
/// are done with it.
#[derive(Clone, Default)]
pub struct Tally {
    hasher: Sha256,
    pub count: u64,
}

/// Hashes and counts what is read through it, and fails as soon as more
/// than the expected size arrives.
pub struct Hashing<R> {
    inner: R,
    tally: Rc<RefCell<Tally>>,
    limit: Option<u64>,
    name: String,
    on_read: Box<dyn FnMut(u64)>,
}

impl<R: Read> Hashing<R> {
    pub fn new(
        inner: R,
        expect: &Expect,
        on_read: Box<dyn FnMut(u64)>,
    ) -> (Hashing<R>, Rc<RefCell<Tally>>) {
        let tally = Rc::new(RefCell::new(Tally::default()));
        let reader = Hashing {
            inner,
            tally: tally.clone(),
            limit: expect.size,
            name: expect.name.clone(),
            on_read,
        };
        (reader, tally)
    }
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        let mut tally = self.tally.borrow_mut();
        tally.hasher.update(&buf[..n]);
        tally.count += n as u64;
        if let Some(limit) = self.limit {
            if tally.count > limit {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!(
                        "{} is longer than the {limit} bytes its manifest gives",
                        self.name
                    ),
                ));
            }
        }
        (self.on_read)(n as u64);
        Ok(n)
    }
}

/// Hash `reader` to its end and check it (the slow path, taken only to
/// tell a corrupt blob from a bad layer after an error).
pub fn check_whole(reader: impl Read, expect: &Expect) -> Result<Digest, ImageError> {
    let (mut hashing, tally) = Hashing::new(
        reader,
        &Expect {
            size: None,
            ..expect.clone()
        },
        Box::new(|_| {}),
    );
    io::copy(&mut hashing, &mut io::sink()).map_err(|source| ImageError::Io {
        what: format!("cannot read {}", expect.name),
        source,
    })?;
    let tally = tally.borrow();
    expect.check(&tally)
}

#[cfg(test)]
mod tests {
    use super::*;

    const EMPTY: &str = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    #[test]
    fn parses_and_refuses() {
        assert_eq!(Digest::parse(EMPTY).unwrap(), Digest::of(b""));
        assert!(Digest::parse("sha512:00").is_err());
        assert!(Digest::parse("sha256:../../etc/passwd").is_err());
        assert!(Digest::parse(&EMPTY.to_uppercase().replace("SHA256", "sha256")).is_err());
    }

    #[test]
    fn hashing_reader_checks_digest_and_size() {
        let expect = |size| Expect {
            digest: Some(Digest::parse(EMPTY).unwrap()),
            size: Some(size),
            name: "blob".into(),
        };
        assert!(check_whole(&b""[..], &expect(0)).is_ok());
        assert!(matches!(
            check_whole(&b"x"[..], &expect(1)),
            Err(ImageError::DigestMismatch { .. })
        ));
        let (mut long, _) = Hashing::new(&b"xy"[..], &expect(1), Box::new(|_| {}));
        assert!(io::copy(&mut long, &mut io::sink()).is_err());
        let (mut short, tally) = Hashing::new(&b""[..], &expect(1), Box::new(|_| {}));
        io::copy(&mut short, &mut io::sink()).unwrap();
        assert!(matches!(
            expect(1).check(&tally.borrow()),
            Err(ImageError::SizeMismatch { .. })
        ));
    }
}
