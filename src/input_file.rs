//! Reading a file the user named as input (a bundle's config.json,
//! `exec -p FILE`, `update -r FILE`, `-` for standard input): whole, but
//! bounded, and never waiting on something that is not a file.
//!
//! A FIFO or a device named by mistake (or by another user who controls the
//! path) must be a prompt, clear error, not a hang or gigabytes of memory:
//! the file is opened with `O_NONBLOCK` (opening a FIFO with no writer then
//! returns at once), must be a regular file, and is read up to
//! [`MAX_INPUT_BYTES`]. Parsing is someone else's job: this returns bytes.

use std::fs::File;
use std::io::{self, Read};
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// The largest input file ocictl reads (4 MiB): a runtime spec or process
/// document is a few KiB; a config.json with a huge seccomp profile stays
/// well below.
pub const MAX_INPUT_BYTES: u64 = 4 << 20;

/// Why an input file could not be read. Every message names the file.
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    #[error("cannot read {}: {source}", path.display())]
    Io { path: PathBuf, source: io::Error },
    #[error(
        "{} is {kind}, not a regular file: ocictl reads input files whole, so give it a file",
        path.display()
    )]
    NotAFile { path: PathBuf, kind: &'static str },
    #[error(
        "{} is larger than {} MiB, the limit for an input file: it cannot be a runtime document",
        path.display(),
        MAX_INPUT_BYTES >> 20
    )]
    TooLarge { path: PathBuf },
}

impl InputError {
    /// True when the file does not exist.
    pub fn is_not_found(&self) -> bool {
        matches!(self, InputError::Io { source, .. } if source.kind() == io::ErrorKind::NotFound)
    }
}

/// The whole of the regular file at `path` (links are followed: the user
/// named it), at most [`MAX_INPUT_BYTES`].
pub fn read_input_file(path: &Path) -> Result<Vec<u8>, InputError> {
    let io_err = |source| InputError::Io {
        path: path.to_path_buf(),
        source,
    };
    let file = File::options()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)
        .map_err(io_err)?;
    let meta = file.metadata().map_err(io_err)?;
    let ft = meta.file_type();
    let kind = if ft.is_file() {
        None
    } else if ft.is_dir() {
        Some("a directory")
    } else if ft.is_fifo() {
        Some("a FIFO (named pipe)")
    } else if ft.is_char_device() {
        Some("a character device")
    } else if ft.is_block_device() {
        Some("a block device")
    } else if ft.is_socket() {
        Some("a socket")
    } else {
        Some("not a file")
    };
    if let Some(kind) = kind {
        return Err(InputError::NotAFile {
            path: path.to_path_buf(),
            kind,
        });
    }
    if meta.len() > MAX_INPUT_BYTES {
        return Err(InputError::TooLarge {
            path: path.to_path_buf(),
        });
    }
    // The size may change while it is read (a file still being written).
    read_capped(file, path)
}

/// All of standard input (a pipe, a file or a terminal), at most
/// [`MAX_INPUT_BYTES`]: `/dev/zero` on stdin is an error, not a hang.
pub fn read_stdin() -> Result<Vec<u8>, InputError> {
    read_capped(io::stdin().lock(), Path::new("standard input"))
}

fn read_capped(reader: impl Read, path: &Path) -> Result<Vec<u8>, InputError> {
    let mut data = Vec::new();
    reader
        .take(MAX_INPUT_BYTES + 1)
        .read_to_end(&mut data)
        .map_err(|source| InputError::Io {
            path: path.to_path_buf(),
            source,
        })?;
    if data.len() as u64 > MAX_INPUT_BYTES {
        return Err(InputError::TooLarge {
            path: path.to_path_buf(),
        });
    }
    Ok(data)
}

/// [`read_input_file`] as UTF-8 text.
pub fn read_input_text(path: &Path) -> Result<String, InputError> {
    let bytes = read_input_file(path)?;
    String::from_utf8(bytes).map_err(|e| InputError::Io {
        path: path.to_path_buf(),
        source: io::Error::new(io::ErrorKind::InvalidData, e.utf8_error()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regular_files_are_read_whole() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("config.json");
        std::fs::write(&p, b"{}").unwrap();
        assert_eq!(read_input_file(&p).unwrap(), b"{}");
        assert!(read_input_file(&dir.path().join("missing"))
            .unwrap_err()
            .is_not_found());
    }

    #[test]
    fn devices_fifos_and_directories_are_refused_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo");
        nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
        let e = read_input_file(&fifo).unwrap_err().to_string();
        assert!(e.contains("FIFO") && e.contains("fifo"), "{e}");
        let e = read_input_file(Path::new("/dev/zero"))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("/dev/zero") && e.contains("character device"),
            "{e}"
        );
        let e = read_input_file(dir.path()).unwrap_err().to_string();
        assert!(e.contains("directory"), "{e}");
    }

    #[test]
    fn too_large_files_are_refused_naming_the_limit() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("big.json");
        let f = File::create(&p).unwrap();
        f.set_len(MAX_INPUT_BYTES + 1).unwrap();
        let e = read_input_file(&p).unwrap_err().to_string();
        assert!(e.contains("big.json") && e.contains("4 MiB"), "{e}");
        // A stream that never ends stops at the cap.
        let e = read_capped(io::repeat(0), Path::new("standard input"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("standard input") && e.contains("4 MiB"), "{e}");
    }
}
