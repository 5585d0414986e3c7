//! Parsing layer for the runtimes other than runc: youki 0.7.0 and crun
//! 1.8.1 output captured from the real binaries (tests/fixtures/*/README.md)
//! through the flavor table, into the same typed model runc's output gives.

use crate::common;

use std::io::BufReader;

use common::fixture;
use ocictl::runtime::youki::ObjectEvents;
use ocictl::runtime::{Event, Flavor, Status, Version};

fn read(name: &str) -> Vec<u8> {
    std::fs::read(fixture(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn text(name: &str) -> String {
    String::from_utf8(read(name)).unwrap()
}

#[test]
fn youki_list_table_becomes_runcs_entries() {
    let y = Flavor::Youki;
    // youki ignores --format json and -q: all three are the same table.
    for name in ["list-many.json", "list-table-many.txt", "list-quiet.txt"] {
        let list = y.parse_list(&read(&format!("youki-0.7.0/{name}"))).unwrap();
        let ids: Vec<&str> = list.iter().map(|c| c.id.as_str()).collect();
        assert_eq!(
            ids,
            ["fx-busy", "fx-done", "fx-main", "fx-new"],
            "{name}: sorted"
        );
        let status: Vec<&Status> = list.iter().map(|c| &c.status).collect();
        assert_eq!(
            status,
            [
                &Status::Running,
                &Status::Stopped,
                &Status::Paused,
                &Status::Created
            ]
        );
        assert_eq!(list[1].pid, 0, "a stopped container has pid 0, as in runc");
        assert_eq!(list[2].pid, 5804);
        assert_eq!(list[0].owner, "root");
        assert_eq!(list[0].bundle, "/tmp/ocictl-fixtures-youki.zveOCc/busy");
        assert_eq!(
            list[2].created.to_rfc3339(),
            "2026-11-28T19:34:10+00:00",
            "CREATED to the second, +00:00"
        );
    }
    for name in ["list-empty.txt", "list-empty-format-json.txt"] {
        assert!(y
            .parse_list(&read(&format!("youki-0.7.0/{name}")))
            .unwrap()
            .is_empty());
    }
    assert_eq!(
        y.parse_list(&read("youki-0.7.0/list-one.txt")).unwrap()[0].status,
        Status::Created
    );
}

#[test]
fn crun_list_json_and_table() {
    let c = Flavor::Crun;
    assert!(c
        .parse_list(&read("crun-1.8.1/list-empty.json"))
        .unwrap()
        .is_empty());
    assert!(c
        .parse_list(&read("crun-1.8.1/list-empty.txt"))
        .unwrap()
        .is_empty());
    assert!(c
        .parse_list(&read("crun-1.8.1/list-after-create.txt"))
        .unwrap()
        .is_empty());
    // ocictl never asks for -q (it prints IDs itself): empty output is a
    // runtime that printed nothing where JSON was owed.
    assert!(c
        .parse_list(&read("crun-1.8.1/list-empty-quiet.txt"))
        .is_err());
}

#[test]
fn youki_state_becomes_runcs_shape() {
    let y = Flavor::Youki;
    for (name, status) in [
        ("created", Status::Created),
        ("running", Status::Running),
        ("paused", Status::Paused),
        ("stopped", Status::Stopped),
    ] {
        let c = y
            .parse_state(&read(&format!("youki-0.7.0/state-{name}.json")))
            .unwrap();
        assert_eq!(c.status, status);
        assert_eq!(c.owner, "root", "uid 0 becomes a user name");
        assert_eq!(c.oci_version, "1.1.0");
        assert!(c.annotations.is_empty());
        let json = serde_json::to_value(&c).unwrap();
        assert!(json["owner"].is_string());
        assert!(
            json.get("annotations").is_none(),
            "empty annotations are left out, as runc does"
        );
        if status == Status::Stopped {
            assert_eq!(
                c.pid, 0,
                "youki keeps a stopped container's pid; runc says 0"
            );
        } else {
            assert_eq!(c.pid, 5804);
            assert_eq!(
                ocictl::runtime::types::rfc3339_nano(&c.created),
                "2026-11-28T19:34:10.910656827Z"
            );
        }
    }
    // The same object through runc's reader keeps runc's own values.
    let runc = Flavor::Runc
        .parse_state(&read("runc-1.1.5/state-stopped.json"))
        .unwrap();
    assert_eq!((runc.pid, runc.owner.as_str()), (0, ""));
}

#[test]
fn youki_stats_map_into_the_typed_model() {
    let stats = Flavor::Youki
        .parse_stats(&read("youki-0.7.0/events-stats.json"))
        .unwrap();
    let tick = ocictl::runtime::youki::nanos_per_tick();
    assert_eq!(stats.cpu.usage.total, 727917885);
    assert_eq!(stats.cpu.usage.user, 12 * tick, "clock ticks become ns");
    assert_eq!(stats.cpu.usage.kernel, 59 * tick);
    assert_eq!(stats.cpu.usage.percpu, [727917885, 0]);
    assert_eq!(stats.cpu.usage.percpu_user, [132000000, 0]);
    assert_eq!(stats.cpu.usage.percpu_kernel, [615983355, 0]);
    assert_eq!(stats.memory.usage.usage, 393216);
    assert_eq!(stats.memory.usage.max, 659456);
    assert_eq!(stats.memory.usage.limit, 9223372036854771712);
    assert_eq!(stats.memory_limit(), None, "v1's huge limit is no limit");
    assert_eq!(stats.memory.swap.usage, 393216);
    assert_eq!(stats.memory.kernel.usage, 249856);
    assert_eq!(stats.memory.kernel_tcp.usage, 0);
    assert_eq!(stats.memory.cache, 4096);
    assert_eq!(stats.memory.raw["total_inactive_file"], 0);
    assert_eq!(stats.memory.raw["rss"], 57344);
    assert_eq!(stats.pids.current, 1);
    assert_eq!(stats.pids.limit, None, "youki's 0 is runc's absent limit");
    assert!(stats.cpu.psi.is_none(), "v1 has no pressure: zeros dropped");

    // Written out in runc's names, the same keys runc's own stats have.
    let ours = serde_json::to_value(&stats).unwrap();
    let runc = serde_json::to_value(
        Flavor::Runc
            .parse_stats(&read("runc-1.1.5/events-stats.json"))
            .unwrap(),
    )
    .unwrap();
    for path in [
        "/cpu/usage/total",
        "/cpu/usage/percpu",
        "/cpu/usage/user",
        "/cpu/usage/kernel",
        "/memory/usage/usage",
        "/memory/usage/limit",
        "/memory/swap/limit",
        "/memory/kernelTCP/limit",
        "/memory/raw/rss",
        "/memory/cache",
        "/pids/current",
    ] {
        let (a, b) = (ours.pointer(path), runc.pointer(path));
        assert!(a.is_some() && b.is_some(), "{path}: {a:?} vs {b:?}");
        assert_eq!(
            std::mem::discriminant(a.unwrap()),
            std::mem::discriminant(b.unwrap()),
            "{path}"
        );
    }
    for snake in [
        "usage_total",
        "per_core_usage_total",
        "max_usage",
        "fail_count",
        "memswap",
    ] {
        assert!(!ours.to_string().contains(snake), "{snake} is renamed");
    }
}

#[test]
fn youki_event_stream_of_pretty_objects() {
    let input = read("youki-0.7.0/events-stream.jsonl");
    let events: Vec<Event> = ObjectEvents::new(BufReader::new(&input[..]), "fx-busy").collect();
    assert_eq!(events.len(), 3, "{events:?}");
    for e in &events {
        match e {
            Event::Stats { id, stats } => {
                assert_eq!(id, "fx-busy");
                assert!(stats.cpu.usage.total > 0);
            }
            other => panic!("{other:?}"),
        }
    }
    // A broken object gives one error and the next object is still read.
    let broken = format!(
        "{{\n  \"cpu\": nope\n}}\n{}",
        text("youki-0.7.0/events-stats.json")
    );
    let events: Vec<Event> = ObjectEvents::new(BufReader::new(broken.as_bytes()), "x").collect();
    let kinds: Vec<&str> = events.iter().map(Event::kind).collect();
    assert_eq!(kinds, ["error", "stats"]);
    // Cut off mid-object (the runtime was killed): one error, then the end.
    let cut = &input[..input.len() / 2];
    let events: Vec<Event> = ObjectEvents::new(BufReader::new(cut), "x").collect();
    assert_eq!(events.last().map(Event::kind), Some("error"));
}

#[test]
fn versions_of_youki_and_crun() {
    let v = Version::parse(&text("youki-0.7.0/version.txt")).unwrap();
    assert_eq!(
        (
            v.runtime.as_str(),
            v.version.as_str(),
            v.commit.as_deref(),
            v.spec.as_deref()
        ),
        (
            "youki",
            "0.7.0",
            Some("0.7.0-VERGEN_IDEMPOTENT_OUTPUT"),
            Some("1.1.0")
        )
    );
    assert_eq!(Flavor::from_version(&v), Flavor::Youki);
    let v = Version::parse(&text("crun-1.8.1/version.txt")).unwrap();
    assert_eq!(
        (
            v.runtime.as_str(),
            v.version.as_str(),
            v.commit.as_deref(),
            v.spec.as_deref()
        ),
        (
            "crun",
            "1.8.1",
            Some("f8a096be060b22ccd3d5f3ebe44108517fbf6c30"),
            Some("1.0.0")
        )
    );
    assert_eq!(Flavor::from_version(&v), Flavor::Crun);
    let v = Version::parse(&text("runc-1.1.5/version.txt")).unwrap();
    assert_eq!(Flavor::from_version(&v), Flavor::Runc);
}

#[test]
fn youki_error_texts() {
    let y = Flavor::Youki;
    for (name, want) in [
        ("state-unknown", "container nosuch does not exist."),
        ("state-unknown-backtrace", "container nosuch does not exist."),
        ("state-unknown-jsonstderr", "container nosuch does not exist."),
        (
            "create-bad-json",
            "oci spec error: serde failed: key must be a string at line 1 column 3",
        ),
        (
            "create-bad-json-backtrace",
            "oci spec error: serde failed: key must be a string at line 1 column 3",
        ),
        (
            "create-missing-rootfs",
            "oci spec error: io operation failed: No such file or directory (os error 2)",
        ),
        (
            "events-stopped",
            "failed to get events from container fx-done: failed operation due to incompatible container status: `Stopped`",
        ),
        (
            "create-invalid-id",
            "container id contains invalid characters: /",
        ),
    ] {
        let got = y.error_message(&text(&format!("youki-0.7.0/{name}.stderr")));
        assert_eq!(got, want, "{name}");
        assert!(!got.contains("backtrace") && !got.contains("<unknown>"));
    }
    // youki's own log files, JSON and coloured text.
    assert_eq!(
        y.error_message(&text("youki-0.7.0/error-log.json")),
        "container nosuch does not exist."
    );
    assert_eq!(
        y.error_message(&text("youki-0.7.0/error-log.txt")),
        "container nosuch does not exist."
    );
}

#[test]
fn crun_error_texts() {
    let c = Flavor::Crun;
    assert_eq!(
        c.error_message(&text("crun-1.8.1/create.stderr")),
        "cgroups in hybrid mode not supported, drop all controllers from cgroupv2"
    );
    assert!(c
        .error_message(&text("crun-1.8.1/state-unknown.stderr"))
        .starts_with("error opening file `"));
    assert!(c
        .error_message(&text("crun-1.8.1/error-log.json"))
        .ends_with("/status`: No such file or directory"));
    assert!(c
        .error_message(&text("crun-1.8.1/create-missing-bundle.stderr"))
        .contains("No such file or directory"));
}

/// Every runtime's real error output (captured in tests/fixtures) is
/// classified into the kind callers act on, whatever its wording.
#[test]
fn error_kinds_from_every_runtimes_fixtures() {
    use ocictl::runtime::ErrorKind;
    let cases: &[(Flavor, &str, ErrorKind)] = &[
        (
            Flavor::Runc,
            "runc-1.1.5/state-unknown",
            ErrorKind::NotFound,
        ),
        (
            Flavor::Runc,
            "runc-1.1.5/state-unknown-logtext",
            ErrorKind::NotFound,
        ),
        (
            Flavor::Runc,
            "runc-1.1.5/delete-running",
            ErrorKind::NotStopped,
        ),
        (
            Flavor::Runc,
            "runc-1.1.5/pause-stopped",
            ErrorKind::NotRunning,
        ),
        (
            Flavor::Runc,
            "runc-1.1.5/resume-running",
            ErrorKind::NotPaused,
        ),
        (
            Flavor::Runc,
            "runc-1.1.5/start-running",
            ErrorKind::AlreadyRunning,
        ),
        (Flavor::Runc, "runc-1.1.5/create-bad-json", ErrorKind::Other),
        (
            Flavor::Runc,
            "runc-1.1.5/kill-bogus-signal",
            ErrorKind::Other,
        ),
        (
            Flavor::Crun,
            "crun-1.8.1/state-unknown",
            ErrorKind::NotFound,
        ),
        (Flavor::Crun, "crun-1.8.1/create", ErrorKind::Other),
        (
            Flavor::Youki,
            "youki-0.7.0/state-unknown",
            ErrorKind::NotFound,
        ),
        (
            Flavor::Youki,
            "youki-0.7.0/state-unknown-backtrace",
            ErrorKind::NotFound,
        ),
        (
            Flavor::Youki,
            "youki-0.7.0/create-existing",
            ErrorKind::AlreadyExists,
        ),
        (
            Flavor::Youki,
            "youki-0.7.0/delete-running",
            ErrorKind::NotStopped,
        ),
        (
            Flavor::Youki,
            "youki-0.7.0/pause-stopped",
            ErrorKind::NotRunning,
        ),
        (
            Flavor::Youki,
            "youki-0.7.0/resume-running",
            ErrorKind::NotPaused,
        ),
        (
            Flavor::Youki,
            "youki-0.7.0/start-running",
            ErrorKind::AlreadyRunning,
        ),
        (
            Flavor::Youki,
            "youki-0.7.0/events-stopped",
            ErrorKind::NotRunning,
        ),
        (
            Flavor::Youki,
            "youki-0.7.0/create-bad-json",
            ErrorKind::Other,
        ),
    ];
    for (flavor, name, want) in cases {
        let path = common::fixture(&format!("{name}.stderr"));
        let text = std::fs::read_to_string(&path).unwrap();
        let message = flavor.error_message(&text);
        assert_eq!(
            flavor.classify(&message, &text),
            *want,
            "{name}: message {message:?}"
        );
    }
    // The listing race of runc 1.1 (a container deleted while listed).
    let race = "stat /run/runc/x: no such file or directory";
    assert_eq!(Flavor::Runc.classify(race, race), ErrorKind::Vanished);
}
