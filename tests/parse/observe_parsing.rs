//! Parsing layer: stats, events and ps tables captured from real runc 1.1.5
//! (tests/fixtures/runc-1.1.5), plus malformed and cgroup v2-shaped input.

use crate::common;

use std::io::Cursor;

use common::fixture;
use ocictl::runtime::{parse_ps_output, stats, Event, EventReader, Stats};

fn read(name: &str) -> String {
    std::fs::read_to_string(fixture(&format!("runc-1.1.5/{name}"))).unwrap()
}

fn stats_of(event: Event) -> Stats {
    match event {
        Event::Stats { stats, .. } => *stats,
        other => panic!("expected stats, got {other:?}"),
    }
}

#[test]
fn stats_fixture_is_fully_typed() {
    let event = Event::parse(read("events-stats.json").as_bytes()).unwrap();
    assert_eq!(event.id(), "fx-busy");
    let s = stats_of(event);
    assert_eq!(s.cpu.usage.total, 2049142846);
    assert_eq!(s.cpu.usage.percpu, vec![7280822, 2041862024]);
    assert_eq!(s.cpu.usage.percpu_kernel.len(), 2);
    assert_eq!(s.cpu.usage.kernel, 1590000000);
    assert_eq!(s.cpu.usage.user, 450000000);
    assert_eq!(s.cpu.throttling.periods, 0);
    assert_eq!(s.memory.usage.usage, 487424);
    assert_eq!(s.memory.usage.max, 2768896);
    assert_eq!(s.memory.usage.failcnt, 0);
    assert_eq!(s.memory.usage.limit, 9223372036854771712);
    assert_eq!(s.memory_limit(), None, "the huge v1 limit means none");
    assert_eq!(s.memory.swap.usage, 487424);
    assert_eq!(s.memory.kernel.usage, 253952);
    assert_eq!(s.memory.kernel_tcp.failcnt, 0);
    assert_eq!(s.memory.cache, 4096);
    assert_eq!(s.memory.raw["total_inactive_file"], 0);
    assert_eq!(s.memory.raw.len(), 42);
    assert_eq!(s.memory_used(), 487424);
    assert_eq!(s.pids.current, 1);
    assert_eq!(s.pids.limit, None);
    assert!(s.hugetlb.is_empty());
    assert_eq!(s.network_interfaces, None);
    assert_eq!(s.block_io(), (0, 0));
    assert_eq!(s.network_io(), (0, 0));
    let cpuset = s.cpuset.as_ref().unwrap();
    assert_eq!(cpuset.cpus, vec![0, 1]);
    assert_eq!(cpuset.sched_relax_domain_level, -1);
    assert_eq!(cpuset.sched_load_balance, 1);
}

#[test]
fn stats_write_back_what_runc_wrote() {
    let text = read("events-stats.json");
    let original: serde_json::Value = serde_json::from_str(&text).unwrap();
    let event = Event::parse(text.as_bytes()).unwrap();
    let back = serde_json::to_value(&event).unwrap();
    assert_eq!(back, original);
}

#[test]
fn unknown_and_v2_fields_are_kept() {
    let json = r#"{"type":"stats","id":"v2","data":{
        "cpu":{"usage":{"total":5,"kernel":1,"user":4,"usage_usec_extra":9},
               "throttling":{"periods":3,"throttledPeriods":1,"throttledTime":77},
               "psi":{"some":{"avg10":1.5,"avg60":0,"avg300":0,"total":42},"full":{"avg10":0,"avg60":0,"avg300":0,"total":0}}},
        "memory":{"usage":{"limit":18446744073709551615,"usage":100,"failcnt":0},
                  "swap":{"limit":0,"failcnt":0},
                  "raw":{"anon":10,"file":20,"inactive_file":30},
                  "psi":{"some":{"avg10":0,"avg60":0,"avg300":0,"total":1}},
                  "swapOnly":{"usage":3}},
        "pids":{"current":2,"limit":20},
        "blkio":{"ioServiceBytesRecursive":[{"major":8,"minor":0,"op":"read","value":4096},
                                            {"major":8,"minor":0,"op":"write","value":512},
                                            {"major":8,"minor":16,"op":"Read","value":1}],
                 "ioServicedRecursive":[{"major":8,"op":"Total","value":3}],
                 "ioTimeRecursive":[{"value":9}]},
        "hugetlb":{"2MB":{"usage":2097152,"max":4194304,"failcnt":1}},
        "network_interfaces":[{"Name":"eth0","RxBytes":1000,"TxBytes":20},{"Name":"lo","RxBytes":5,"TxBytes":5}],
        "rdma":{"mlx":{"hca_handles":1}},
        "misc":{"sgx":3}}}"#;
    let s = stats_of(Event::parse(json.as_bytes()).unwrap());
    assert_eq!(s.cpu.throttling.throttled_time, 77);
    assert_eq!(s.cpu.psi.as_ref().unwrap().some.total, 42);
    assert_eq!(s.cpu.usage.extra["usage_usec_extra"], 9);
    assert_eq!(s.memory.extra["swapOnly"]["usage"], 3);
    assert_eq!(s.memory_limit(), None, "u64::MAX is v2's no limit");
    assert_eq!(s.memory_used(), 70);
    assert_eq!(s.pids.limit, Some(20));
    assert_eq!(s.block_io(), (4097, 512));
    assert_eq!(s.blkio.io_serviced_recursive[0].op, "Total");
    assert_eq!(s.blkio.io_time_recursive[0].value, 9);
    assert_eq!(s.hugetlb["2MB"].failcnt, 1);
    assert_eq!(s.network_io(), (1005, 25));
    assert_eq!(s.extra["rdma"]["mlx"]["hca_handles"], 1);
    assert_eq!(s.extra["misc"]["sgx"], 3);
    let back = serde_json::to_value(&s).unwrap();
    assert_eq!(back["misc"]["sgx"], 3);
    assert_eq!(back["memory"]["swapOnly"]["usage"], 3);
    assert_eq!(back["network_interfaces"][0]["RxBytes"], 1000);
}

#[test]
fn limits_and_cpu_percent() {
    assert!(stats::is_unlimited(9223372036854771712));
    assert!(stats::is_unlimited(u64::MAX));
    assert!(!stats::is_unlimited(64 << 20));
    let lines: Vec<Stats> = EventReader::new(Cursor::new(read("events-stream.jsonl")))
        .map(stats_of)
        .collect();
    // 500ms apart, one CPU busy: about 100%.
    let pct =
        ocictl::runtime::cpu_percent(&lines[0], &lines[1], std::time::Duration::from_millis(500));
    assert!((90.0..110.0).contains(&pct), "{pct}");
}

#[test]
fn the_stream_fixture_reads_to_its_end() {
    let events: Vec<Event> = EventReader::new(Cursor::new(read("events-stream.jsonl"))).collect();
    assert_eq!(events.len(), 5);
    assert!(events
        .iter()
        .all(|e| e.kind() == "stats" && e.id() == "fx-busy"));
    let totals: Vec<u64> = events
        .into_iter()
        .map(|e| stats_of(e).cpu.usage.total)
        .collect();
    assert!(totals.windows(2).all(|w| w[0] < w[1]), "{totals:?}");
}

#[test]
fn oom_events_have_no_data_and_may_repeat() {
    let events: Vec<Event> = EventReader::new(Cursor::new(read("events-oom.jsonl"))).collect();
    let kinds: Vec<&str> = events.iter().map(Event::kind).collect();
    assert_eq!(kinds, ["stats", "oom", "stats", "stats"]);
    assert_eq!(
        events[1],
        Event::Oom {
            id: "fx-oom".into()
        }
    );
    assert_eq!(
        serde_json::to_string(&events[1]).unwrap(),
        r#"{"type":"oom","id":"fx-oom"}"#
    );
    let limited = stats_of(events[2].clone());
    assert_eq!(limited.memory_limit(), Some(16 << 20));
    assert_eq!(limited.memory.usage.max, 16 << 20);
    let repeated = "{\"type\":\"oom\",\"id\":\"x\"}\n{\"type\":\"oom\",\"id\":\"x\"}\n";
    assert_eq!(EventReader::new(Cursor::new(repeated)).count(), 2);
}

#[test]
fn a_malformed_line_is_one_error_event_then_reading_goes_on() {
    let good = read("events-stats.json");
    let good = good.trim();
    let input = format!(
        "{good}\n{{\"type\":\"stats\",\"id\":\"x\",\"data\":{{\"cpu\":\n\n\u{1}garbage\n{{\"id\":\"no-type\"}}\n{{\"type\":\"stats\",\"id\":\"x\",\"data\":{{\"pids\":{{\"current\":\"two\"}}}}}}\n{{\"type\":\"intel_rdt\",\"id\":\"x\",\"data\":{{\"l3\":1}}}}\n{good}"
    );
    let events: Vec<Event> = EventReader::new(Cursor::new(input)).collect();
    let kinds: Vec<&str> = events.iter().map(Event::kind).collect();
    assert_eq!(
        kinds,
        [
            "stats",
            "error",
            "error",
            "error",
            "error",
            "intel_rdt",
            "stats"
        ],
        "{events:?}"
    );
    let lines: Vec<u64> = events
        .iter()
        .filter_map(|e| match e {
            Event::Error { line, .. } => Some(*line),
            _ => None,
        })
        .collect();
    assert_eq!(lines, [2, 4, 5, 6], "blank line 3 is skipped, not an error");
    match &events[4] {
        Event::Error { message, .. } => assert!(message.contains("invalid type"), "{message}"),
        other => panic!("{other:?}"),
    }
    let json = serde_json::to_value(&events[1]).unwrap();
    assert_eq!(json["type"], "error");
    assert_eq!(json["line"], 2);
    assert!(json["error"].as_str().unwrap().contains("EOF"), "{json}");
    // An input that is nothing but garbage ends: one error per line, no more.
    let garbage = "x\ny\nz";
    assert_eq!(EventReader::new(Cursor::new(garbage)).count(), 3);
    assert_eq!(EventReader::new(Cursor::new("")).count(), 0);
}

#[test]
fn a_read_error_ends_the_stream_after_one_error_event() {
    struct Broken;
    impl std::io::Read for Broken {
        fn read(&mut self, _: &mut [u8]) -> std::io::Result<usize> {
            Err(std::io::Error::other("boom"))
        }
    }
    let events: Vec<Event> = EventReader::new(std::io::BufReader::new(Broken)).collect();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].kind(), "error");
}

#[test]
fn ps_tables_from_runc() {
    let t = parse_ps_output(&read("ps-table.txt")).unwrap();
    assert_eq!(
        t.headers,
        ["UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"]
    );
    assert_eq!(t.processes.len(), 1);
    assert_eq!(t.processes[0][7], "sleep 1000", "the command is kept whole");

    let t = parse_ps_output(&read("ps-table-opts.txt")).unwrap();
    assert_eq!(t.headers, ["PID", "COMMAND", "COMMAND"]);
    assert_eq!(t.processes, [["5658", "sleep", "sleep 1000"]]);

    // -eLf on a multi-threaded process: one row per thread, one process.
    let t = parse_ps_output(&read("ps-table-threads.txt")).unwrap();
    assert_eq!(t.processes.len(), 1);
    assert_eq!(t.processes[0][1], "5762");
    assert_eq!(t.processes[0][3], "5762");
    assert_eq!(t.processes[0][9], "runc init");

    let err = parse_ps_output("COMMAND\nsleep 1000\n").unwrap_err();
    assert!(err.contains("no PID column"), "{err}");
}
