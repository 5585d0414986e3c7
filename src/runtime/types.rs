//! Typed results of the runtime's answers: containers, their status, process
//! lists and the runtime's version. Parsers live beside their types and are
//! checked against output captured from real runc (tests/fixtures).

use std::collections::BTreeMap;
use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A container's status. Unknown values from a newer or different runtime
/// are kept, not rejected.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Status {
    Creating,
    Created,
    Running,
    Pausing,
    Paused,
    Stopped,
    Unknown(String),
}

impl Status {
    pub fn as_str(&self) -> &str {
        match self {
            Status::Creating => "creating",
            Status::Created => "created",
            Status::Running => "running",
            Status::Pausing => "pausing",
            Status::Paused => "paused",
            Status::Stopped => "stopped",
            Status::Unknown(s) => s,
        }
    }

    /// Any runtime's spelling (youki capitalises) to one status.
    pub fn parse(s: &str) -> Status {
        match s.to_ascii_lowercase().as_str() {
            "creating" => Status::Creating,
            "created" => Status::Created,
            "running" => Status::Running,
            "pausing" => Status::Pausing,
            "paused" => Status::Paused,
            "stopped" => Status::Stopped,
            _ => Status::Unknown(s.to_string()),
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Status {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// A status is a string: runc's lower-case names, or a newer runtime's word.
impl schemars::JsonSchema for Status {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Status".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "description": "creating, created, running, pausing, paused, stopped (or a newer runtime's word)"
        })
    }
}

impl<'de> Deserialize<'de> for Status {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Ok(Status::parse(&s))
    }
}

/// One container as `runc state` and `runc list --format json` describe it.
/// Serialises with runc's field names, so `ocictl state` prints what
/// `runc state` prints.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Container {
    #[serde(rename = "ociVersion", default)]
    pub oci_version: String,
    pub id: String,
    #[serde(default)]
    pub pid: i32,
    pub status: Status,
    #[serde(default)]
    pub bundle: String,
    #[serde(default)]
    pub rootfs: String,
    /// When the container was created (runc writes RFC 3339 with nanoseconds).
    #[serde(serialize_with = "serialize_rfc3339_nano")]
    #[schemars(with = "String")]
    pub created: DateTime<Utc>,
    #[serde(
        default,
        skip_serializing_if = "BTreeMap::is_empty",
        deserialize_with = "null_as_default"
    )]
    pub annotations: BTreeMap<String, String>,
    /// The owner's user name. youki writes a uid number: it becomes the
    /// name /etc/passwd gives it (or the number as text when it has none).
    #[serde(default, deserialize_with = "owner_name")]
    pub owner: String,
}

fn owner_name<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Owner {
        Name(String),
        Uid(u32),
        None(()),
    }
    Ok(match Owner::deserialize(d)? {
        Owner::Name(s) => s,
        Owner::Uid(uid) => host_user_name(uid).unwrap_or_else(|| uid.to_string()),
        Owner::None(()) => String::new(),
    })
}

/// The name /etc/passwd gives `uid`, read directly (bounded), not through
/// NSS: glibc is linked statically (.cargo/config.toml), and NSS would
/// dlopen modules built for the host's shared glibc. As runc's static
/// builds (Go's osusergo), a user only a directory service knows shows as
/// the number.
/// The file is read once per process: `list` asks for every container.
fn host_user_name(uid: u32) -> Option<String> {
    static PASSWD: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();
    let db = PASSWD.get_or_init(|| {
        use std::io::Read as _;
        const LIMIT: u64 = 4 << 20;
        let file = std::fs::File::open("/etc/passwd").ok()?;
        if !file.metadata().ok()?.is_file() {
            return None;
        }
        let mut db = String::new();
        file.take(LIMIT).read_to_string(&mut db).ok()?;
        Some(db)
    });
    passwd_name_of(db.as_deref()?, uid).map(str::to_string)
}

/// `name:password:uid:…` lines: the first name with `uid`.
fn passwd_name_of(db: &str, uid: u32) -> Option<&str> {
    let uid = uid.to_string();
    db.lines().find_map(|line| {
        let mut fields = line.split(':');
        let name = fields.next()?;
        (fields.nth(1)? == uid && !name.is_empty()).then_some(name)
    })
}

/// A timestamp as Go's `time.RFC3339Nano` writes it: nanoseconds with the
/// trailing zeros dropped, `Z` for UTC. ocictl prints what runc prints.
pub fn rfc3339_nano(t: &DateTime<Utc>) -> String {
    let base = t.format("%Y-%m-%dT%H:%M:%S").to_string();
    let nanos = t.timestamp_subsec_nanos();
    if nanos == 0 {
        return format!("{base}Z");
    }
    let frac = format!("{nanos:09}");
    format!("{base}.{}Z", frac.trim_end_matches('0'))
}

fn serialize_rfc3339_nano<S: Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&rfc3339_nano(t))
}

fn null_as_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

impl Container {
    /// Parse `runc state` output.
    pub fn parse_state(json: &[u8]) -> serde_json::Result<Container> {
        serde_json::from_slice(json)
    }

    /// Parse `runc list --format json` output; runc prints `null` for none.
    pub fn parse_list(json: &[u8]) -> serde_json::Result<Vec<Container>> {
        Ok(serde_json::from_slice::<Option<Vec<Container>>>(json)?.unwrap_or_default())
    }
}

/// Parse `runc ps --format json` output: the container's host pids.
pub fn parse_pids(json: &[u8]) -> serde_json::Result<Vec<i32>> {
    Ok(serde_json::from_slice::<Option<Vec<i32>>>(json)?.unwrap_or_default())
}

/// The runtime's version, from `--version`. runc, crun and youki all print a
/// first line naming themselves and `key: value` lines after it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Version {
    /// The runtime's name as it calls itself (`runc`, `crun`, `youki`).
    pub runtime: String,
    pub version: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub commit: Option<String>,
    /// The OCI runtime spec version it implements.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub spec: Option<String>,
    /// Every other `key: value` line (go, libseccomp, rundir…), and feature
    /// flags such as crun's `+SYSTEMD` under `features`.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub extra: BTreeMap<String, String>,
}

impl Version {
    /// Parse the text of `RUNTIME --version`. Fails only when no line names
    /// a version at all.
    pub fn parse(text: &str) -> Result<Version, String> {
        let mut lines = text.lines().map(str::trim).filter(|l| !l.is_empty());
        let first = lines.next().ok_or("it printed nothing")?;
        let (runtime, version) = parse_first_line(first)
            .ok_or_else(|| format!("the first line {first:?} does not read `NAME version X`"))?;
        let mut v = Version {
            runtime,
            version,
            ..Version::default()
        };
        let mut features = Vec::new();
        for line in lines {
            if let Some((key, value)) = line.split_once(':') {
                let (key, value) = (key.trim().to_ascii_lowercase(), value.trim().to_string());
                match key.as_str() {
                    "commit" => v.commit = Some(value),
                    "spec" => v.spec = Some(value),
                    _ => {
                        v.extra.insert(key, value);
                    }
                }
            } else if line.starts_with('+') || line.starts_with('-') {
                features.push(line);
            }
        }
        if !features.is_empty() {
            v.extra.insert("features".into(), features.join(" "));
        }
        Ok(v)
    }
}

/// `runc version 1.1.5`, `crun version 1.8.1`, `youki version: 0.7.0`,
/// `youki version 0.3.0`.
fn parse_first_line(line: &str) -> Option<(String, String)> {
    let (name, rest) = line.split_once(char::is_whitespace)?;
    // A name, and the word `version` on its own (`: versionc` is neither;
    // found by fuzz/fuzz_targets/version.rs).
    let name = name.trim_end_matches(':');
    if name.is_empty() {
        return None;
    }
    let rest = rest.trim_start().strip_prefix("version")?;
    if !rest.starts_with(|c: char| c == ':' || c.is_whitespace()) {
        return None;
    }
    let version = rest.trim_start_matches(':').trim();
    let version = version.split_whitespace().next()?;
    Some((name.to_string(), version.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owner_names_come_from_passwd_lines() {
        let db = "root:x:0:0:root:/root:/bin/bash\n:x:7:7::/:\nbroken\nops:x:1000:1000::/home/ops:/bin/sh\nalias:x:1000:1000::/:\n";
        assert_eq!(passwd_name_of(db, 0), Some("root"));
        assert_eq!(passwd_name_of(db, 1000), Some("ops"));
        assert_eq!(passwd_name_of(db, 7), None);
        assert_eq!(passwd_name_of(db, 42), None);
        // The machine's own root, read from /etc/passwd.
        assert_eq!(host_user_name(0).as_deref(), Some("root"));
    }

    #[test]
    fn versions_of_three_runtimes() {
        let runc = "runc version 1.1.5\ncommit: v1.1.5-0-gf19387a\nspec: 1.0.2-dev\ngo: go1.19.8\nlibseccomp: 2.5.4\n";
        let v = Version::parse(runc).unwrap();
        assert_eq!((v.runtime.as_str(), v.version.as_str()), ("runc", "1.1.5"));
        assert_eq!(v.spec.as_deref(), Some("1.0.2-dev"));
        assert_eq!(v.extra["go"], "go1.19.8");

        let crun = "crun version 1.8.1\ncommit: f8a096be060b22ccd3d5f3ebe44108517fbf6c30\nrundir: /run/user/0/crun\nspec: 1.0.0\n+SYSTEMD +SELINUX +APPARMOR +CAP +SECCOMP +EBPF +YAJL\n";
        let v = Version::parse(crun).unwrap();
        assert_eq!((v.runtime.as_str(), v.version.as_str()), ("crun", "1.8.1"));
        assert_eq!(v.spec.as_deref(), Some("1.0.0"));
        assert!(v.extra["features"].contains("+SYSTEMD"));

        let youki = "youki version: 0.7.0\ncommit: 0.7.0-0-abc\n";
        let v = Version::parse(youki).unwrap();
        assert_eq!((v.runtime.as_str(), v.version.as_str()), ("youki", "0.7.0"));
    }

    #[test]
    fn garbage_versions_fail_clearly() {
        assert!(Version::parse("").unwrap_err().contains("nothing"));
        assert!(Version::parse("hello world\n").is_err());
        assert!(Version::parse("runc version\n").is_err());
    }

    #[test]
    fn unknown_status_is_kept() {
        assert_eq!(Status::parse("Paused"), Status::Paused);
        assert_eq!(Status::parse("zombie"), Status::Unknown("zombie".into()));
        assert_eq!(Status::parse("zombie").as_str(), "zombie");
    }

    #[test]
    fn empty_list_is_null() {
        assert!(Container::parse_list(b"null\n").unwrap().is_empty());
        assert!(Container::parse_list(b"[]").unwrap().is_empty());
        assert!(Container::parse_list(b"[{\"id\":").is_err());
        assert!(parse_pids(b"null").unwrap().is_empty());
        assert_eq!(parse_pids(b"[1,2]\n").unwrap(), vec![1, 2]);
    }
}
