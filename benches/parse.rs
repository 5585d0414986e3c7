//! Parser throughput on one core: `list` JSON of 1,000 containers and a
//! `runc events` stream (real runc lines from tests/fixtures). Plain
//! std timing: median of repeated runs, no benchmark framework to build.

use std::hint::black_box;
use std::time::{Duration, Instant};

use ocictl::runtime::{Container, EventReader};

fn median_of(runs: usize, mut f: impl FnMut()) -> Duration {
    let mut samples: Vec<Duration> = (0..runs)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed()
        })
        .collect();
    samples.sort();
    samples[runs / 2]
}

fn main() {
    let fixtures = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/runc-1.1.5");
    let one: serde_json::Value =
        serde_json::from_slice(&std::fs::read(format!("{fixtures}/state-running.json")).unwrap())
            .unwrap();
    let many: Vec<serde_json::Value> = (0..1000)
        .map(|i| {
            let mut c = one.clone();
            c["id"] = format!("container-{i}").into();
            c
        })
        .collect();
    let list_json = serde_json::to_vec(&many).unwrap();
    let took = median_of(200, || {
        black_box(Container::parse_list(black_box(&list_json)).unwrap());
    });
    println!(
        "list JSON, 1,000 containers ({} KiB): {:.3} ms per parse",
        list_json.len() / 1024,
        took.as_secs_f64() * 1000.0
    );

    // A real `runc events` stream (stats lines of a busy container),
    // repeated to 20,000 events, read through the typed reader.
    let stream = std::fs::read(format!("{fixtures}/events-stream.jsonl")).unwrap();
    let lines = stream
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .count();
    let copies = 20_000 / lines.max(1);
    let input: Vec<u8> = stream.repeat(copies);
    let events = lines * copies;
    let took = median_of(9, || {
        let n = EventReader::new(std::io::Cursor::new(black_box(&input[..]))).count();
        assert_eq!(n, events);
    });
    println!(
        "events stream ({events} events, {} KiB): {:.0} events/s on one core",
        input.len() / 1024,
        events as f64 / took.as_secs_f64()
    );
}
