//! `runc events`: typed events from the runtime's JSON lines, and a stream
//! that follows a container until it stops.
//!
//! Unlike go-runc, a line that cannot be read gives exactly one
//! [`Event::Error`] and reading goes on with the next line (go-runc's
//! decoder stays broken and repeats the same error forever). End of input
//! ends the stream.

use std::fmt;
use std::io::{BufRead, BufReader, Read};
use std::os::fd::{AsFd, FromRawFd, OwnedFd};
use std::process::{Child, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde::de::{self, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde::ser::{SerializeMap, Serializer};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::argv::Args;
use super::error::{Argv, Error, Result, Termination};
use super::id::ContainerId;
use super::stats::Stats;
use super::types::Status;
use super::Runtime;

/// One event from the runtime.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// `{"type":"stats","id":…,"data":{…}}`
    Stats { id: String, stats: Box<Stats> },
    /// `{"type":"oom","id":…}`: the kernel's OOM killer hit the container
    /// (runc reports each OOM notification, so it may repeat).
    Oom { id: String },
    /// Any other type, kept as it came (`intel_rdt`, a newer runtime's…).
    Other {
        kind: String,
        id: String,
        data: Option<Value>,
    },
    /// A line that could not be read; `line` is its 1-based number.
    Error { line: u64, message: String },
}

impl Event {
    /// The event's type as runc names it (`stats`, `oom`, …, `error`).
    pub fn kind(&self) -> &str {
        match self {
            Event::Stats { .. } => "stats",
            Event::Oom { .. } => "oom",
            Event::Other { kind, .. } => kind,
            Event::Error { .. } => "error",
        }
    }

    /// The container the event is about (empty for an error event).
    pub fn id(&self) -> &str {
        match self {
            Event::Stats { id, .. } | Event::Oom { id } | Event::Other { id, .. } => id,
            Event::Error { .. } => "",
        }
    }

    /// The error event for output that could not be read at all.
    pub(crate) fn read_failed(line: u64, e: &std::io::Error) -> Event {
        Event::Error {
            line,
            message: format!("cannot read the runtime's output: {e}"),
        }
    }

    /// Parse one JSON event (one line of `runc events`).
    pub fn parse(json: &[u8]) -> std::result::Result<Event, String> {
        // One UTF-8 check for the line, not one per string.
        let text = std::str::from_utf8(json).map_err(|e| format!("not UTF-8: {e}"))?;
        serde_json::from_str(text).map_err(|e| e.to_string())
    }
}

impl Serialize for Event {
    /// runc's own shape; an error event is `{"type":"error","line":N,"error":"…"}`.
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(None)?;
        map.serialize_entry("type", self.kind())?;
        match self {
            Event::Stats { id, stats } => {
                map.serialize_entry("id", id)?;
                map.serialize_entry("data", stats)?;
            }
            Event::Oom { id } => map.serialize_entry("id", id)?,
            Event::Other { id, data, .. } => {
                map.serialize_entry("id", id)?;
                if let Some(d) = data {
                    map.serialize_entry("data", d)?;
                }
            }
            Event::Error { line, message } => {
                map.serialize_entry("line", line)?;
                map.serialize_entry("error", message)?;
            }
        }
        map.end()
    }
}

/// The shapes [`Event`]'s `Serialize` writes, for the published JSON Schema.
impl schemars::JsonSchema for Event {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Event".into()
    }
    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        let stats = generator.subschema_for::<Stats>();
        schemars::json_schema!({
            "oneOf": [
                {
                    "description": "Resource usage, every --interval (runc's shape).",
                    "type": "object",
                    "properties": {"type": {"const": "stats"}, "id": {"type": "string"}, "data": stats},
                    "required": ["type", "id", "data"]
                },
                {
                    "description": "The OOM killer hit the container.",
                    "type": "object",
                    "properties": {"type": {"const": "oom"}, "id": {"type": "string"}},
                    "required": ["type", "id"],
                    "additionalProperties": false
                },
                {
                    "description": "A line of the runtime's output that could not be read (its 1-based number).",
                    "type": "object",
                    "properties": {"type": {"const": "error"}, "line": {"type": "integer", "minimum": 1}, "error": {"type": "string"}},
                    "required": ["type", "line", "error"],
                    "additionalProperties": false
                },
                {
                    "description": "Any other type, kept as the runtime wrote it.",
                    "type": "object",
                    "properties": {"type": {"type": "string", "not": {"enum": ["stats", "oom", "error"]}}, "id": {"type": "string"}, "data": true},
                    "required": ["type", "id"],
                    "additionalProperties": false
                }
            ]
        })
    }
}

/// Reads `type` first when it comes first (runc's order) so `data` goes
/// straight into [`Stats`] with no intermediate tree.
impl<'de> Deserialize<'de> for Event {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Event, D::Error> {
        struct V;
        enum Data {
            Stats(Box<Stats>),
            Value(Value),
        }
        impl<'de> Visitor<'de> for V {
            type Value = Event;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an event object with \"type\" and \"id\"")
            }
            fn visit_map<A: MapAccess<'de>>(
                self,
                mut map: A,
            ) -> std::result::Result<Event, A::Error> {
                let mut kind: Option<String> = None;
                let mut id: Option<String> = None;
                let mut data: Option<Data> = None;
                while let Some(super::stats::Key(key)) = map.next_key::<super::stats::Key<'de>>()? {
                    match key.as_ref() {
                        "type" => kind = Some(map.next_value()?),
                        "id" => id = Some(map.next_value()?),
                        "data" => {
                            data = Some(if kind.as_deref() == Some("stats") {
                                Data::Stats(map.next_value()?)
                            } else {
                                Data::Value(map.next_value()?)
                            })
                        }
                        _ => {
                            map.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                let kind = kind.ok_or_else(|| de::Error::missing_field("type"))?;
                let id = id.unwrap_or_default();
                Ok(match kind.as_str() {
                    "stats" => {
                        let stats = match data {
                            Some(Data::Stats(s)) => s,
                            Some(Data::Value(v)) => {
                                Box::new(serde_json::from_value(v).map_err(de::Error::custom)?)
                            }
                            None => return Err(de::Error::missing_field("data")),
                        };
                        Event::Stats { id, stats }
                    }
                    "oom" => Event::Oom { id },
                    _ => Event::Other {
                        kind,
                        id,
                        data: match data {
                            None | Some(Data::Value(Value::Null)) => None,
                            Some(Data::Value(v)) => Some(v),
                            Some(Data::Stats(s)) => serde_json::to_value(s).ok(),
                        },
                    },
                })
            }
        }
        d.deserialize_map(V)
    }
}

/// Typed events from JSON lines: one event per line, one
/// [`Event::Error`] per line that cannot be read, blank lines skipped, and
/// the end at end of input (or after reporting a read error).
pub struct EventReader<R> {
    input: R,
    buf: Vec<u8>,
    line: u64,
    done: bool,
}

/// The longest event line read (an event with stats is about 2 KiB).
const MAX_EVENT_LINE: u64 = 1 << 20;

impl<R: BufRead> EventReader<R> {
    pub fn new(input: R) -> Self {
        EventReader {
            input,
            buf: Vec::with_capacity(8 * 1024),
            line: 0,
            done: false,
        }
    }
}

impl<R: BufRead> Iterator for EventReader<R> {
    type Item = Event;

    fn next(&mut self) -> Option<Event> {
        while !self.done {
            self.buf.clear();
            // A line is read up to MAX_EVENT_LINE: a runtime printing an
            // endless line cannot grow ocictl's memory.
            let read = (&mut self.input)
                .take(MAX_EVENT_LINE + 1)
                .read_until(b'\n', &mut self.buf);
            match read {
                Ok(0) => self.done = true,
                Ok(n) if n as u64 > MAX_EVENT_LINE => {
                    self.line += 1;
                    if let Err(e) = self.input.skip_until(b'\n') {
                        self.done = true;
                        return Some(Event::read_failed(self.line, &e));
                    }
                    return Some(Event::Error {
                        line: self.line,
                        message: format!(
                            "a line longer than {} MiB was skipped",
                            MAX_EVENT_LINE >> 20
                        ),
                    });
                }
                Ok(_) => {
                    self.line += 1;
                    let line = self.buf.trim_ascii();
                    if line.is_empty() {
                        continue;
                    }
                    return Some(Event::parse(line).unwrap_or_else(|message| Event::Error {
                        line: self.line,
                        message: format!("{message} in {}", excerpt(line)),
                    }));
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => {
                    self.done = true;
                    return Some(Event::read_failed(self.line + 1, &e));
                }
            }
        }
        None
    }
}

fn excerpt(line: &[u8]) -> String {
    let text = String::from_utf8_lossy(line);
    let mut short: String = text.chars().take(80).collect();
    if short.len() < text.len() {
        short.push('…');
    }
    format!("{short:?}")
}

/// Why an [`EventStream`] ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamEnd {
    /// The container's init process exited (it stopped or was deleted).
    ContainerStopped,
    /// The stop flag was set (Ctrl-C).
    Stopped,
    /// The runtime closed its output and exited successfully.
    RuntimeFinished,
}

/// How often the stream checks whether the container still runs.
const CHECK_EVERY: Duration = Duration::from_millis(100);

/// A running `runc events ID`, followed until the container stops, the
/// stop flag is set, or the runtime ends. The runtime process is killed and
/// reaped when the stream ends or is dropped.
pub struct EventStream {
    child: Option<Child>,
    events: Option<mpsc::Receiver<Event>>,
    threads: Vec<JoinHandle<()>>,
    stderr: Arc<std::sync::Mutex<Vec<u8>>>,
    /// The container's init: readable once it has exited.
    pidfd: Option<OwnedFd>,
    pid: i32,
    stop: Option<Arc<AtomicBool>>,
    argv: Argv,
    flavor: super::Flavor,
    last_check: Instant,
    ended: Option<StreamEnd>,
}

impl EventStream {
    /// End the stream (cleanly) once `flag` is set, e.g. by a SIGINT handler.
    pub fn stop_on(mut self, flag: Arc<AtomicBool>) -> Self {
        self.stop = Some(flag);
        self
    }

    /// Why the stream ended, once `next` returned `None`.
    pub fn ended(&self) -> Option<StreamEnd> {
        self.ended
    }

    fn stop_requested(&self) -> bool {
        self.stop.as_ref().is_some_and(|f| f.load(Ordering::SeqCst))
    }

    fn container_gone(&self) -> bool {
        match &self.pidfd {
            Some(fd) => {
                use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
                let mut fds = [PollFd::new(fd.as_fd(), PollFlags::POLLIN)];
                matches!(poll(&mut fds, PollTimeout::ZERO), Ok(n) if n > 0)
            }
            None => matches!(
                nix::sys::signal::kill(nix::unistd::Pid::from_raw(self.pid), None),
                Err(nix::errno::Errno::ESRCH)
            ),
        }
    }

    fn finish(&mut self, why: StreamEnd) -> Option<Termination> {
        self.ended = Some(why);
        let status = self.child.take().map(|mut child| {
            if why != StreamEnd::RuntimeFinished {
                let _ = child.kill();
            }
            child
                .wait()
                .map(Termination::from_status)
                .unwrap_or(Termination::Exited(255))
        });
        // Unblock a reader waiting to hand over an event, then join it.
        self.events = None;
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
        status
    }

    /// The next event; `Ok(None)` when the stream ended cleanly; `Err` when
    /// the runtime failed (with its own message).
    pub fn next_event(&mut self) -> Result<Option<Event>> {
        if self.ended.is_some() {
            return Ok(None);
        }
        loop {
            if self.stop_requested() {
                self.finish(StreamEnd::Stopped);
                return Ok(None);
            }
            if self.last_check.elapsed() >= CHECK_EVERY {
                self.last_check = Instant::now();
                if self.container_gone() {
                    self.finish(StreamEnd::ContainerStopped);
                    return Ok(None);
                }
            }
            let Some(events) = &self.events else {
                return Ok(None);
            };
            match events.recv_timeout(CHECK_EVERY) {
                Ok(event) => return Ok(Some(event)),
                Err(mpsc::RecvTimeoutError::Timeout) => continue,
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    // The runtime closed its output: it exited, or was
                    // killed (Ctrl-C reaches its process group too).
                    let status = self.finish(StreamEnd::RuntimeFinished);
                    if self.stop_requested() {
                        self.ended = Some(StreamEnd::Stopped);
                        return Ok(None);
                    }
                    if self.container_gone() {
                        self.ended = Some(StreamEnd::ContainerStopped);
                        return Ok(None);
                    }
                    return match status {
                        Some(Termination::Signaled(sig))
                            if sig == libc::SIGINT || sig == libc::SIGTERM =>
                        {
                            self.ended = Some(StreamEnd::Stopped);
                            Ok(None)
                        }
                        Some(status) if !status.success() => {
                            let stderr = String::from_utf8_lossy(
                                &self.stderr.lock().unwrap_or_else(|p| p.into_inner()),
                            )
                            .into_owned();
                            Err(self.flavor.failure(
                                self.argv.clone(),
                                status,
                                &stderr,
                                stderr.clone(),
                            ))
                        }
                        _ => Ok(None),
                    };
                }
            }
        }
    }
}

impl Iterator for EventStream {
    type Item = Result<Event>;
    fn next(&mut self) -> Option<Result<Event>> {
        self.next_event().transpose()
    }
}

impl Drop for EventStream {
    fn drop(&mut self) {
        if self.ended.is_none() || self.child.is_some() {
            self.finish(StreamEnd::Stopped);
        }
    }
}

fn pidfd_open(pid: i32) -> Option<OwnedFd> {
    // SAFETY: pidfd_open takes a pid and flags and returns a new fd or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if fd < 0 {
        return None;
    }
    // SAFETY: the kernel just gave us this fd; nothing else owns it.
    Some(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

impl Runtime {
    /// `runc events [--interval D] ID`, followed until the container's init
    /// exits. Fails at once when the container does not exist or is not
    /// running; a zero interval is refused.
    pub fn events(&self, id: &ContainerId, interval: Option<Duration>) -> Result<EventStream> {
        if interval.is_some_and(|d| d.is_zero()) {
            return Err(Error::Invalid(
                "the events interval must be greater than zero".into(),
            ));
        }
        let flavor = self.flavor();
        if !flavor.supports(super::Feature::Events) {
            return Err(flavor.unsupported(super::Feature::Events));
        }
        let interval = interval.map(|d| flavor.interval_arg(d)).transpose()?;
        let state = self.state(id)?;
        if !matches!(
            state.status,
            Status::Running | Status::Paused | Status::Created | Status::Pausing
        ) || state.pid <= 0
        {
            return Err(Error::Invalid(format!(
                "container {id} is {}: there are no events to follow",
                state.status
            )));
        }
        let pidfd = pidfd_open(state.pid);
        let mut args = Args::subcommand("events");
        args.value("interval", interval).arg(id);
        let super::process::Launched { mut child, argv } = self.launch(args, None, |cmd| {
            cmd.stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped());
        })?;
        let stdout = child.stdout.take().expect("stdout is piped");
        let mut stderr_pipe = child.stderr.take().expect("stderr is piped");
        let (tx, rx) = mpsc::sync_channel(64);
        let framing = flavor.framing();
        let id_text = id.to_string();
        let reader = std::thread::spawn(move || {
            let input = BufReader::with_capacity(64 * 1024, stdout);
            let events: Box<dyn Iterator<Item = Event>> = match framing {
                super::flavor::Framing::Lines => Box::new(EventReader::new(input)),
                super::flavor::Framing::Objects => {
                    Box::new(super::youki::ObjectEvents::new(input, &id_text))
                }
            };
            for event in events {
                if tx.send(event).is_err() {
                    break;
                }
            }
        });
        let stderr = Arc::new(std::sync::Mutex::new(Vec::new()));
        let stderr_thread = {
            let stderr = Arc::clone(&stderr);
            std::thread::spawn(move || {
                let mut chunk = [0u8; 4096];
                loop {
                    match stderr_pipe.read(&mut chunk) {
                        Ok(0) => break,
                        Ok(n) => {
                            let mut buf = stderr.lock().unwrap_or_else(|p| p.into_inner());
                            // Keep the most recent 64 KiB: runc repeats its errors.
                            if buf.len() > 64 * 1024 {
                                buf.drain(..32 * 1024);
                            }
                            buf.extend_from_slice(&chunk[..n]);
                        }
                        Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                        Err(_) => break,
                    }
                }
            })
        };
        Ok(EventStream {
            child: Some(child),
            events: Some(rx),
            threads: vec![reader, stderr_thread],
            stderr,
            pidfd,
            pid: state.pid,
            stop: None,
            argv,
            flavor,
            last_check: Instant::now(),
            ended: None,
        })
    }
}
