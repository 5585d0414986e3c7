//! `exec -e KEY=VALUE` without the value on the runtime's argv, where every
//! user on the host can read it (`ps`, /proc/PID/cmdline).
//!
//! runc's `exec ID CMD` starts from the process in the container's bundle
//! config.json and applies its flags (runc 1.1 `getProcess`): args, `--cwd`,
//! `--apparmor`, `--process-label`, `--cap` (appended to the bounding,
//! effective, permitted and ambient sets), `--env` (appended), `--tty`
//! (terminal is false unless given), `--no-new-privs`, `--user`,
//! `--additional-gids` (appended). When `-e` is given, ocictl does the same
//! to the same document and hands runc the result with `--process`, so the
//! process is the one runc would have built. The document is edited as
//! plain JSON (fields ocictl does not know survive), with Go's
//! case-insensitive key matching, since runc decodes it with Go's
//! encoding/json.

use serde_json::{Map, Value};

use super::error::{Error, Result};
use super::exec::ExecOpts;

/// The process document runc would build for `exec` with `opts` and
/// `command`, from the bytes of the container's config.json (`source`
/// names it in errors).
pub(crate) fn process_document(
    config: &[u8],
    source: &str,
    opts: &ExecOpts,
    command: &[String],
) -> Result<Vec<u8>> {
    let invalid = |what: String| Error::Invalid(format!("{source}: {what}"));
    let config: Value =
        serde_json::from_slice(config).map_err(|e| invalid(format!("not valid JSON ({e})")))?;
    let Value::Object(mut config) = config else {
        return Err(invalid("not a JSON object".into()));
    };
    let Some(Value::Object(mut process)) = take_field(&mut config, "process") else {
        return Err(invalid(
            "no `process` object: exec starts from the container's process".into(),
        ));
    };
    set(&mut process, "args", Value::from(command.to_vec()));
    if let Some(cwd) = opts.cwd.as_deref().filter(|c| !c.is_empty()) {
        set(&mut process, "cwd", cwd.into());
    }
    if let Some(profile) = opts.apparmor.as_deref().filter(|c| !c.is_empty()) {
        set(&mut process, "apparmorProfile", profile.into());
    }
    if let Some(label) = opts.process_label.as_deref().filter(|c| !c.is_empty()) {
        set(&mut process, "selinuxLabel", label.into());
    }
    if !opts.caps.is_empty() {
        let mut caps = take_object(&mut process, "capabilities", source)?;
        for set_name in ["bounding", "effective", "permitted", "ambient"] {
            append(&mut caps, set_name, &opts.caps, source)?;
        }
        set(&mut process, "capabilities", Value::Object(caps));
    }
    append(&mut process, "env", &opts.env, source)?;
    set(&mut process, "terminal", opts.tty.into());
    if opts.no_new_privs {
        set(&mut process, "noNewPrivileges", true.into());
    }
    if opts.user.is_some() || !opts.additional_gids.is_empty() {
        let mut user = take_object(&mut process, "user", source)?;
        if let Some(spec) = &opts.user {
            let (uid, gid) = parse_user(spec)?;
            if let Some(gid) = gid {
                set(&mut user, "gid", gid.into());
            }
            set(&mut user, "uid", uid.into());
        }
        append(&mut user, "additionalGids", &opts.additional_gids, source)?;
        set(&mut process, "user", Value::Object(user));
    }
    serde_json::to_vec(&Value::Object(process))
        .map_err(|e| Error::Invalid(format!("cannot encode the process document: {e}")))
}

/// `uid[:gid]`, numeric, as runc parses `--user`.
fn parse_user(spec: &str) -> Result<(u32, Option<u32>)> {
    let bad = || Error::Invalid(format!("{spec:?} is not UID[:GID] (numeric ids)"));
    let (uid, gid) = match spec.split_once(':') {
        Some((u, g)) => (u, Some(g.parse().map_err(|_| bad())?)),
        None => (spec, None),
    };
    Ok((uid.parse().map_err(|_| bad())?, gid))
}

/// Remove every key Go would decode as `name` (ASCII case-insensitive) and
/// return the value Go would use: the last one.
fn take_field(map: &mut Map<String, Value>, name: &str) -> Option<Value> {
    let keys: Vec<String> = map
        .keys()
        .filter(|k| k.eq_ignore_ascii_case(name))
        .cloned()
        .collect();
    keys.into_iter().filter_map(|k| map.remove(&k)).last()
}

fn set(map: &mut Map<String, Value>, name: &str, value: Value) {
    take_field(map, name);
    map.insert(name.to_string(), value);
}

/// An object field (missing or null: empty, as Go's zero value).
fn take_object(
    map: &mut Map<String, Value>,
    name: &str,
    source: &str,
) -> Result<Map<String, Value>> {
    match take_field(map, name) {
        None | Some(Value::Null) => Ok(Map::new()),
        Some(Value::Object(o)) => Ok(o),
        Some(other) => Err(Error::Invalid(format!(
            "{source}: field `{name}` of the process must be an object, not {other}"
        ))),
    }
}

/// Append `extra` to the list field `name` (missing or null: empty).
fn append<T: Clone + Into<Value>>(
    map: &mut Map<String, Value>,
    name: &str,
    extra: &[T],
    source: &str,
) -> Result<()> {
    let mut list = match take_field(map, name) {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(a)) => a,
        Some(other) => {
            return Err(Error::Invalid(format!(
                "{source}: field `{name}` of the process must be a list, not {other}"
            )))
        }
    };
    list.extend(extra.iter().cloned().map(Into::into));
    map.insert(name.to_string(), Value::Array(list));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn build(config: Value, opts: &ExecOpts, command: &[&str]) -> Value {
        let command: Vec<String> = command.iter().map(|s| s.to_string()).collect();
        let bytes = process_document(
            &serde_json::to_vec(&config).unwrap(),
            "config.json",
            opts,
            &command,
        )
        .unwrap();
        serde_json::from_slice(&bytes).unwrap()
    }

    #[test]
    fn flags_are_applied_as_runc_applies_them() {
        let config = json!({
            "ociVersion": "1.0.2",
            "process": {
                "terminal": true,
                "user": {"uid": 0, "gid": 0, "additionalGids": [5]},
                "args": ["sh"],
                "Env": ["PATH=/bin", "HOME=/root"],
                "cwd": "/",
                "capabilities": {"bounding": ["CAP_KILL"], "inheritable": ["CAP_KILL"]},
                "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
                "x-unknown": 1
            }
        });
        let opts = ExecOpts {
            env: vec!["SECRET=s3cret".into()],
            cwd: Some("/tmp".into()),
            user: Some("1000:1001".into()),
            additional_gids: vec![7],
            caps: vec!["CAP_NET_ADMIN".into()],
            no_new_privs: true,
            apparmor: Some("prof".into()),
            ..ExecOpts::default()
        };
        let p = build(config, &opts, &["id", "-u"]);
        assert_eq!(p["args"], json!(["id", "-u"]));
        assert_eq!(
            p["env"],
            json!(["PATH=/bin", "HOME=/root", "SECRET=s3cret"])
        );
        assert!(p.get("Env").is_none());
        assert_eq!(p["cwd"], "/tmp");
        assert_eq!(p["terminal"], false);
        assert_eq!(p["noNewPrivileges"], true);
        assert_eq!(p["apparmorProfile"], "prof");
        assert_eq!(
            p["user"],
            json!({"uid": 1000, "gid": 1001, "additionalGids": [5, 7]})
        );
        assert_eq!(
            p["capabilities"]["bounding"],
            json!(["CAP_KILL", "CAP_NET_ADMIN"])
        );
        assert_eq!(p["capabilities"]["ambient"], json!(["CAP_NET_ADMIN"]));
        // runc 1.1 leaves the inheritable set alone.
        assert_eq!(p["capabilities"]["inheritable"], json!(["CAP_KILL"]));
        assert_eq!(p["rlimits"][0]["hard"], 1024);
        assert_eq!(p["x-unknown"], 1);
    }

    #[test]
    fn without_flags_the_containers_process_is_kept() {
        let config = json!({"process": {"args": ["sh"], "cwd": "/", "env": null,
                                        "user": {"uid": 5, "gid": 6}}});
        let opts = ExecOpts {
            env: vec!["A=1".into()],
            tty: true,
            ..ExecOpts::default()
        };
        let p = build(config, &opts, &["true"]);
        assert_eq!(p["env"], json!(["A=1"]));
        assert_eq!(p["terminal"], true);
        assert_eq!(p["user"], json!({"uid": 5, "gid": 6}));
        assert_eq!(p["cwd"], "/");
        assert!(p.get("noNewPrivileges").is_none());
    }

    #[test]
    fn broken_configs_are_errors_naming_the_file() {
        let opts = ExecOpts::default();
        for bad in [
            &b"not json"[..],
            b"[]",
            br#"{"root":{}}"#,
            br#"{"process":{"env":"A=1"}}"#,
        ] {
            let e = process_document(bad, "/b/config.json", &opts, &["sh".into()])
                .unwrap_err()
                .to_string();
            assert!(e.contains("/b/config.json"), "{e}");
        }
    }
}
