//! Property tests: the fuzzing of fuzz/ (cargo-fuzz, nightly, run by hand
//! with scripts/fuzz) in a bounded form that runs in CI on stable. Arbitrary
//! bytes and strings, and mutated fixtures captured from real runc, go into
//! every parser: none may panic, errors are errors (never a bogus value), and
//! what parses keeps its invariants. Every crash the fuzzers found has a
//! regression test at the end.

use crate::common;

use std::os::unix::ffi::OsStrExt;

use ocictl::duration::{format_go_duration, parse_duration};
use ocictl::runtime::log::{error_message, parse_log_line};
use ocictl::runtime::{
    parse_pid, parse_pids, parse_process, parse_ps_output, parse_resources, youki, Container,
    ContainerId, Event, EventReader, Flavor, Version,
};
use ocictl::signal::Signal;
use ocictl::size::parse_size;
use proptest::prelude::*;

/// Every fixture captured from runc 1.1.5, youki 0.7.0 and crun 1.8.1, as
/// the seeds to mutate.
fn fixtures() -> Vec<Vec<u8>> {
    let mut all: Vec<Vec<u8>> = ["runc-1.1.5", "youki-0.7.0", "crun-1.8.1"]
        .iter()
        .flat_map(|dir| std::fs::read_dir(common::fixture(dir)).unwrap())
        .map(|e| std::fs::read(e.unwrap().path()).unwrap())
        .collect();
    all.sort();
    all
}

/// A fixture with a few bytes changed, inserted or cut: close enough to
/// real output that the parsers get deep before they fail.
fn mutated_fixture() -> impl Strategy<Value = Vec<u8>> {
    let seeds = fixtures();
    (
        0..seeds.len(),
        prop::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0u8..3), 0..6),
        prop::option::of(any::<prop::sample::Index>()),
    )
        .prop_map(move |(i, edits, cut)| {
            let mut bytes = seeds[i].clone();
            for (at, byte, kind) in edits {
                if bytes.is_empty() {
                    bytes.push(byte);
                    continue;
                }
                let at = at.index(bytes.len());
                match kind {
                    0 => bytes[at] = byte,
                    1 => bytes.insert(at, byte),
                    _ => {
                        bytes.remove(at);
                    }
                }
            }
            if let Some(cut) = cut {
                if !bytes.is_empty() {
                    bytes.truncate(cut.index(bytes.len()));
                }
            }
            bytes
        })
}

/// Bytes from anywhere: random, a mutated fixture, or text built from the
/// characters the parsers care about.
fn input() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..256),
        mutated_fixture(),
        "[0-9a-zA-Z .:+\\-=\"{}\\[\\],_µ\\\\\n]{0,64}".prop_map(String::into_bytes),
    ]
}

fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        // Failures are reported with the input; no files written into tests/.
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config(2000))]

    #[test]
    fn state_json(data in input()) {
        if let Ok(c) = Container::parse_state(&data) {
            let json = serde_json::to_vec(&c).unwrap();
            let again = Container::parse_state(&json).unwrap();
            prop_assert_eq!(again, c);
        }
    }

    #[test]
    fn list_json(data in input()) {
        if let Ok(list) = Container::parse_list(&data) {
            let json = serde_json::to_vec(&list).unwrap();
            prop_assert_eq!(Container::parse_list(&json).unwrap(), list);
        }
    }

    #[test]
    fn ps_json(data in input()) {
        let _ = parse_pids(&data);
    }

    #[test]
    fn version_text(data in input()) {
        let text = String::from_utf8_lossy(&data);
        if let Ok(v) = Version::parse(&text) {
            prop_assert!(!v.version.is_empty() && !v.runtime.is_empty());
        }
    }

    #[test]
    fn log_text(data in input()) {
        let text = String::from_utf8_lossy(&data);
        let message = error_message(&text);
        let has_content = text.lines().any(|l| !l.trim().is_empty());
        let has_record = text.lines().any(|l| parse_log_line(l).is_some());
        // Empty only when there was nothing, or only records without a message.
        prop_assert!(!message.is_empty() || !has_content || has_record, "{:?}", text);
        for line in text.lines() {
            let _ = parse_log_line(line);
        }
    }

    #[test]
    fn pid_file(data in input()) {
        if let Ok(pid) = parse_pid(&String::from_utf8_lossy(&data)) {
            prop_assert!(pid > 0);
        }
    }

    #[test]
    fn pid_numbers(n in any::<i64>(), pad in "[ \t\n]{0,3}") {
        let parsed = parse_pid(&format!("{pad}{n}{pad}"));
        prop_assert_eq!(parsed.ok(), i32::try_from(n).ok().filter(|n| *n > 0));
    }

    #[test]
    fn durations(data in input()) {
        if let Ok(d) = parse_duration(&String::from_utf8_lossy(&data)) {
            prop_assert_eq!(parse_duration(&format_go_duration(d)).unwrap(), d);
        }
    }

    #[test]
    fn durations_like_go(parts in prop::collection::vec((0u64..100_000, 0u32..1000, 0usize..7), 1..4)) {
        let units = ["ns", "us", "µs", "ms", "s", "m", "h"];
        let text: String = parts
            .iter()
            .map(|(whole, frac, unit)| format!("{whole}.{frac:03}{}", units[*unit]))
            .collect();
        prop_assert!(parse_duration(&text).is_ok(), "{}", text);
    }

    #[test]
    fn sizes(data in input()) {
        if let Ok(n) = parse_size(&String::from_utf8_lossy(&data)) {
            prop_assert!(n >= -1);
        }
    }

    #[test]
    fn signals(data in input()) {
        if let Ok(sig) = String::from_utf8_lossy(&data).parse::<Signal>() {
            prop_assert!((0..=64).contains(&sig.number()));
            prop_assert_eq!(sig.name().parse::<Signal>().unwrap(), sig);
        }
    }

    #[test]
    fn signal_offsets(
        base in "(SIG)?RTM(IN|AX)",
        sign in "[+-]",
        n in prop_oneof![any::<i32>(), i32::MAX - 40..=i32::MAX, i32::MIN..i32::MIN + 40, -70..70],
    ) {
        let _ = format!("{base}{sign}{n}").parse::<Signal>();
    }

    #[test]
    fn container_ids(data in input()) {
        let os = std::ffi::OsStr::from_bytes(&data);
        if let Ok(id) = ContainerId::from_os_str(os) {
            let s = id.as_str();
            prop_assert!(!s.is_empty() && s.len() <= 255);
            prop_assert!(s != "." && s != ".." && !s.starts_with('-'));
            prop_assert!(s.bytes().all(|b| b.is_ascii_alphanumeric() || b"_+-.".contains(&b)));
        }
    }
}

// ---- regressions: one per crash the fuzzers found (see RELIABILITY.md) ----

/// `RTMIN+N` added N to 32 unchecked: `RTMIN+2147483647` panicked with an
/// integer overflow in debug builds (and wrapped in release). Found while
/// writing the signal fuzz target; `signal_offsets` above now reaches it.
#[test]
fn regression_signal_offset_overflow() {
    for input in [
        "RTMIN+2147483647",
        "SIGRTMIN+2147483616",
        "RTMAX--2147483648",
        "rtmax-2147483647",
    ] {
        let err = input.parse::<Signal>().unwrap_err();
        assert!(err.to_string().contains("unknown signal"), "{input}");
    }
    assert_eq!("RTMIN+30".parse::<Signal>().unwrap().number(), 64);
}

/// The fraction of a huge duration was added unchecked: just below the
/// u128 limit of nanoseconds, `N.9h` panicked (debug) or wrapped to a
/// tiny duration (release).
#[test]
fn regression_duration_fraction_overflow() {
    let whole = u128::MAX / 3_600_000_000_000;
    let err = parse_duration(&format!("{whole}.9h")).unwrap_err();
    assert!(err.to_string().contains("too large"), "{err}");
    let err = parse_duration(&format!("{whole}h")).unwrap_err();
    assert!(err.to_string().contains("too large"), "{err}");
}

/// A `created` time whose offset carries it past year 9999 in UTC: what
/// ocictl prints must still read back.
#[test]
fn created_at_the_edge_of_rfc3339_reads_back() {
    for created in ["9999-12-31T23:59:59-01:00", "0000-01-01T00:00:00+01:00"] {
        let json = format!(r#"{{"id":"c","status":"running","created":"{created}"}}"#);
        let Ok(c) = Container::parse_state(json.as_bytes()) else {
            continue;
        };
        let out = serde_json::to_vec(&c).unwrap();
        assert!(
            Container::parse_state(&out).is_ok(),
            "{created} printed as {}",
            String::from_utf8_lossy(&out)
        );
    }
}

/// fuzz/ `version` found `: versionc` parsed as runtime "" version "c":
/// a bogus value instead of an error. The first line now needs a name and
/// the word `version` on its own.
#[test]
fn regression_version_without_a_name() {
    for text in [
        ": versionc\n",
        ": version 1.0\n",
        "runc versionc 1.0\n",
        "runc version:\n",
    ] {
        assert!(Version::parse(text).is_err(), "{text:?}");
    }
    for (text, version) in [
        ("runc version 1.1.5\n", "1.1.5"),
        ("youki version: 0.7.0\n", "0.7.0"),
        ("youki version:0.7.0\n", "0.7.0"),
        ("crun\tversion\t1.8.1\n", "1.8.1"),
    ] {
        assert_eq!(Version::parse(text).unwrap().version, version, "{text:?}");
    }
}

// The parsers of the observe, runtimes and exec work: streams, stats of
// every runtime flavor, ps tables, resources and process files.
proptest! {
    #![proptest_config(config(1000))]

    #[test]
    fn events_stream(data in input()) {
        let lines = data.split(|b| *b == b'\n').count();
        let events: Vec<Event> = EventReader::new(std::io::Cursor::new(&data[..])).collect();
        // At most one event per line: a bad line is one error, never a flood.
        prop_assert!(events.len() <= lines, "{} events from {} lines", events.len(), lines);
    }

    #[test]
    fn stats_of_every_flavor(data in input()) {
        for flavor in [Flavor::Runc, Flavor::Youki, Flavor::Crun] {
            let _ = flavor.parse_stats(&data);
            let _ = flavor.parse_list(&data);
            let _ = flavor.parse_state(&data);
        }
    }

    #[test]
    fn youki_list_table(data in input()) {
        let _ = youki::parse_list_table(&String::from_utf8_lossy(&data));
    }

    #[test]
    fn ps_table(data in input()) {
        if let Ok(top) = parse_ps_output(&String::from_utf8_lossy(&data)) {
            prop_assert!(top.headers.iter().any(|h| h == "PID"));
        }
    }

    #[test]
    fn resources_and_process_files(data in input()) {
        let text = String::from_utf8_lossy(&data);
        let _ = parse_resources(&text, "fuzz.json");
        let _ = parse_process(&text, "fuzz.json");
    }
}
