//! The image's `User` (`name`, `uid`, `name:group`, `uid:gid`, …) as the
//! numeric ids runc needs, looked up in the image's own /etc/passwd and
//! /etc/group: read inside the rootfs (links resolve inside it), regular
//! files only, bounded.

use std::io::Read;

use nix::fcntl::OFlag;

use super::rootfs::{InnerPath, Rootfs};
use super::ImageError;

/// The most of /etc/passwd or /etc/group read.
const DB_LIMIT: u64 = 4 << 20;

/// Numeric ids for the container's process.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize)]
pub struct User {
    pub uid: u32,
    pub gid: u32,
    #[serde(rename = "additionalGids", skip_serializing_if = "Vec::is_empty")]
    pub additional_gids: Vec<u32>,
}

/// Resolve `spec` (empty: root) in the rootfs.
pub fn resolve(rootfs: &Rootfs, spec: &str) -> Result<User, ImageError> {
    if spec.is_empty() {
        return Ok(User::default());
    }
    let (user, group) = match spec.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (spec, None),
    };
    let bad = |why: String| ImageError::User {
        user: spec.to_string(),
        why,
    };
    let passwd = read_db(rootfs, "etc/passwd").map_err(&bad)?;
    // name:x:uid:gid:…
    let passwd_entry = passwd.as_deref().and_then(|db| {
        db.lines()
            .map(|l| l.split(':').collect::<Vec<_>>())
            .find(|f| {
                f.len() >= 4 && (f[0] == user || (user.parse::<u32>().is_ok() && f[2] == user))
            })
    });
    let uid = match user.parse::<u32>() {
        Ok(uid) => uid,
        Err(_) => passwd_entry
            .as_ref()
            .and_then(|f| f[2].parse().ok())
            .ok_or_else(|| bad(format!("no user `{user}` in the image's /etc/passwd")))?,
    };
    let name = passwd_entry.as_ref().map(|f| f[0].to_string());
    let groups = read_db(rootfs, "etc/group").map_err(&bad)?;
    // name:x:gid:member,member
    let group_entries: Vec<Vec<&str>> = groups
        .as_deref()
        .map(|db| {
            db.lines()
                .map(|l| l.split(':').collect::<Vec<_>>())
                .filter(|f| f.len() >= 3)
                .collect()
        })
        .unwrap_or_default();
    let gid = match group {
        Some(g) if g.parse::<u32>().is_ok() => g.parse().unwrap_or(0),
        Some(g) => group_entries
            .iter()
            .find(|f| f[0] == g)
            .and_then(|f| f[2].parse().ok())
            .ok_or_else(|| bad(format!("no group `{g}` in the image's /etc/group")))?,
        None => passwd_entry
            .as_ref()
            .and_then(|f| f[3].parse().ok())
            .unwrap_or(0),
    };
    let mut additional_gids = Vec::new();
    if let (Some(name), None) = (&name, group) {
        for f in &group_entries {
            let member = f.get(3).is_some_and(|m| m.split(',').any(|m| m == name));
            if let Ok(g) = f[2].parse::<u32>() {
                if member && g != gid && !additional_gids.contains(&g) {
                    additional_gids.push(g);
                }
            }
        }
    }
    Ok(User {
        uid,
        gid,
        additional_gids,
    })
}

/// A user database of the image, or None if it has none.
fn read_db(rootfs: &Rootfs, path: &str) -> Result<Option<String>, String> {
    let inner = InnerPath::clean(path.as_bytes());
    let fd = match rootfs.open(&inner, OFlag::O_RDONLY | OFlag::O_NONBLOCK) {
        Ok(fd) => fd,
        Err(e) if matches!(e.raw_os_error(), Some(libc::ENOENT | libc::ENOTDIR)) => {
            return Ok(None)
        }
        Err(e) => return Err(format!("cannot open the image's /{path}: {e}")),
    };
    let file = std::fs::File::from(fd);
    let meta = file
        .metadata()
        .map_err(|e| format!("cannot read the image's /{path}: {e}"))?;
    if !meta.is_file() {
        return Err(format!("the image's /{path} is not a regular file"));
    }
    let mut bytes = Vec::new();
    file.take(DB_LIMIT + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("cannot read the image's /{path}: {e}"))?;
    if bytes.len() as u64 > DB_LIMIT {
        return Err(format!(
            "the image's /{path} is larger than {DB_LIMIT} bytes"
        ));
    }
    Ok(Some(String::from_utf8_lossy(&bytes).into_owned()))
}
