//! Reading a file the user named as input (a bundle's config.json,
//! `exec -p FILE`, `update -r FILE`, `-` for standard input): whole, but
//! bounded, and never waiting on something that is not a file.
//!
//! A FIFO or a device named by mistake (or by another user who controls the
//! path) must be a prompt, clear error, not a hang or gigabytes of memory:
//! the file is opened with `O_NONBLOCK` (opening a FIFO with no writer then
//! returns at once), must be a regular file or a pipe, and is read up to
//! [`MAX_INPUT_BYTES`]. A pipe is what `exec -p <(…)` gives, and runc reads
//! it: it is read too, but only for [`PIPE_DEADLINE`], and a pipe with no
//! writer or nothing to say is an error naming it. Parsing is someone
//! else's job: this returns bytes.

use std::fs::File;
use std::io::{self, Read};
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// The largest input file ocictl reads (4 MiB): a runtime spec or process
/// document is a few KiB; a config.json with a huge seccomp profile stays
/// well below.
pub const MAX_INPUT_BYTES: u64 = 4 << 20;

/// How long a pipe given as an input file may take to be read to its end.
pub const PIPE_DEADLINE: std::time::Duration = std::time::Duration::from_secs(10);

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
    #[error(
        "{} is a pipe that {why}: give a file, or a pipe whose writer finishes",
        path.display()
    )]
    Pipe { path: PathBuf, why: &'static str },
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
    if ft.is_fifo() {
        return read_pipe(file, path);
    }
    let kind = if ft.is_file() {
        None
    } else if ft.is_dir() {
        Some("a directory")
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

/// A pipe to its end, at most [`MAX_INPUT_BYTES`] and [`PIPE_DEADLINE`].
fn read_pipe(mut file: File, path: &Path) -> Result<Vec<u8>, InputError> {
    use nix::poll::{poll, PollFd, PollFlags};
    use std::os::fd::AsFd;
    let pipe_err = |why| InputError::Pipe {
        path: path.to_path_buf(),
        why,
    };
    let deadline = std::time::Instant::now() + PIPE_DEADLINE;
    let mut data = Vec::new();
    let mut chunk = [0u8; 16 * 1024];
    loop {
        match file.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => {
                data.extend_from_slice(&chunk[..n]);
                if data.len() as u64 > MAX_INPUT_BYTES {
                    return Err(InputError::TooLarge {
                        path: path.to_path_buf(),
                    });
                }
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                let left = deadline.saturating_duration_since(std::time::Instant::now());
                if left.is_zero() {
                    return Err(pipe_err("did not finish within 10 seconds"));
                }
                let ms = u16::try_from(left.as_millis().min(u16::MAX as u128)).unwrap_or(u16::MAX);
                let mut fds = [PollFd::new(file.as_fd(), PollFlags::POLLIN)];
                let _ = poll(&mut fds, ms);
            }
            Err(source) => {
                return Err(InputError::Io {
                    path: path.to_path_buf(),
                    source,
                })
            }
        }
    }
    if data.is_empty() {
        return Err(pipe_err("gave nothing to read (no writer?)"));
    }
    Ok(data)
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
        // No writer: nothing to read, said at once.
        let e = read_input_file(&fifo).unwrap_err().to_string();
        assert!(e.contains("pipe") && e.contains("fifo"), "{e}");
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
