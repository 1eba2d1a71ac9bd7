//! The journal module against a real journald: lines written through the
//! native protocol come back whole, in order, with their streams; tail,
//! windows, cursors, follow with until, stop and cancel; slow and vanished
//! output readers. Run inside the sandbox:
//! `systemd/sandbox with cargo test --test journal`.

mod common;

use berth::journal::{
    Cancel, Delivery, EndReason, EventEntry, EventQuery, EventReader, FdSink, Follow, Format, JournalWriter, LineSplitter, LogLine, LogReader,
    OwnedLogLine, ReadEnd, ReadOptions, Stop, Stream, Streams,
};
use berth::model::{new_id, now_usec, Event, EventKind};
use std::io::Read;
use std::ops::ControlFlow;
use std::os::fd::OwnedFd;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A container's identity for one test.
struct Ctr {
    id: String,
    name: String,
}

impl Ctr {
    fn new(prefix: &str) -> Self {
        common::require_systemd();
        Ctr { id: new_id(), name: common::unique(prefix) }
    }

    fn matcher(&self) -> String {
        format!("CONTAINER_ID_FULL={}", self.id)
    }

    fn writer(&self) -> JournalWriter {
        let fields = [("CONTAINER_NAME", self.name.clone()), ("CONTAINER_ID", self.id[..12].to_string()), ("CONTAINER_ID_FULL", self.id.clone())];
        JournalWriter::connect(&self.name, fields).expect("journald's socket")
    }

    /// Read with `o`, collecting the lines.
    fn read(&self, o: &ReadOptions) -> (Vec<OwnedLogLine>, ReadEnd) {
        let mut lines = Vec::new();
        let mut sink = |l: &LogLine<'_>| {
            lines.push(l.to_owned());
            ControlFlow::Continue(())
        };
        let end = LogReader::open().unwrap().read(&self.matcher(), o, &mut sink, &Cancel::new().unwrap()).unwrap();
        (lines, end)
    }

    fn all(&self) -> Vec<OwnedLogLine> {
        self.read(&ReadOptions::default()).0
    }
}

fn stream_of(i: u64) -> Stream {
    if i % 2 == 1 {
        Stream::Stdout
    } else {
        Stream::Stderr
    }
}

/// Write lines `from..=to` (odd ones to stdout, even ones to stderr) and
/// wait until journald has written them.
fn write_numbered(w: &mut JournalWriter, from: u64, to: u64) {
    for i in from..=to {
        w.push(stream_of(i), format!("line {i}").as_bytes(), false).unwrap();
    }
    sync(w);
}

/// Journald has read everything sent, and written it.
fn sync(w: &mut JournalWriter) {
    w.drain(Duration::from_secs(30)).unwrap();
    common::ok("journalctl", &["--sync"]);
}

fn assert_numbered(lines: &[OwnedLogLine], from: u64, to: u64) {
    assert_eq!(lines.len() as u64, to + 1 - from, "lines lost or added");
    for (l, i) in lines.iter().zip(from..=to) {
        assert_eq!(l.seq, Some(i), "out of order at {i}");
        assert_eq!(l.message, format!("line {i}").as_bytes());
        assert_eq!(l.stream, stream_of(i), "stream of line {i}");
        assert!(!l.partial);
    }
}

/// Held by the test that floods journald and by the tests that need it
/// prompt: a line's time is when journald wrote it, and the flood keeps
/// journald seconds behind.
static FLOOD: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn flood_lock() -> std::sync::MutexGuard<'static, ()> {
    FLOOD.lock().unwrap_or_else(|e| e.into_inner())
}

#[test]
fn hundred_thousand_lines_in_written_order() {
    let _flood = flood_lock();
    let c = Ctr::new("order");
    let mut w = c.writer();
    let t0 = Instant::now();
    write_numbered(&mut w, 1, 100_000);
    let wrote = t0.elapsed();
    let t0 = Instant::now();
    let lines = c.all();
    println!("100000 lines: written in {wrote:?}, read in {:?}", t0.elapsed());
    assert_numbered(&lines, 1, 100_000);
    assert!(lines.windows(2).all(|p| p[0].usec <= p[1].usec));
    // One line at a time (one datagram each) keeps the order as well.
    let c = Ctr::new("order1");
    let mut w = c.writer().with_batch_limit(0);
    for i in 1..=2000 {
        w.write_line(stream_of(i), format!("line {i}").as_bytes()).unwrap();
    }
    sync(&mut w);
    assert_numbered(&c.all(), 1, 2000);
}

#[test]
fn streams_select_lines() {
    let c = Ctr::new("streams");
    let mut w = c.writer();
    write_numbered(&mut w, 1, 100);
    let only = |s| c.read(&ReadOptions { streams: s, ..Default::default() }).0;
    let out = only(Streams::from_bits(1).unwrap());
    assert_eq!(out.len(), 50);
    assert!(out.iter().all(|l| l.stream == Stream::Stdout && l.seq.unwrap() % 2 == 1));
    let err = only(Streams::from_bits(2).unwrap());
    assert_eq!(err.len(), 50);
    assert!(err.iter().all(|l| l.stream == Stream::Stderr && l.seq.unwrap() % 2 == 0));
    assert_eq!(only(Streams::from_bits(0).unwrap()).len(), 100);
}

#[test]
fn tail_gives_exactly_the_last_lines() {
    let c = Ctr::new("tail");
    let mut w = c.writer();
    write_numbered(&mut w, 1, 1000);
    let tail = |n| c.read(&ReadOptions { tail: Some(n), ..Default::default() }).0;
    assert_numbered(&tail(100), 901, 1000);
    assert_numbered(&tail(1), 1000, 1000);
    assert_numbered(&tail(5000), 1, 1000);
    assert!(tail(0).is_empty());
    // The last lines of one stream.
    let (err, _) = c.read(&ReadOptions { tail: Some(3), streams: Streams::from_bits(2).unwrap(), ..Default::default() });
    assert_eq!(err.iter().map(|l| l.seq.unwrap()).collect::<Vec<_>>(), vec![996, 998, 1000]);
    // Nothing for a container without lines.
    let none = Ctr::new("tail-none");
    assert!(none.read(&ReadOptions { tail: Some(10), ..Default::default() }).0.is_empty());
}

#[test]
fn since_and_until_windows() {
    let c = Ctr::new("window");
    let mut w = c.writer();
    write_numbered(&mut w, 1, 10);
    std::thread::sleep(Duration::from_millis(20));
    let t1 = now_usec();
    std::thread::sleep(Duration::from_millis(20));
    write_numbered(&mut w, 11, 20);
    std::thread::sleep(Duration::from_millis(20));
    let t2 = now_usec();
    std::thread::sleep(Duration::from_millis(20));
    write_numbered(&mut w, 21, 30);
    let read = |since, until| c.read(&ReadOptions { since, until, ..Default::default() }).0;
    assert_numbered(&read(Some(t1), None), 11, 30);
    assert_numbered(&read(None, Some(t2)), 1, 20);
    assert_numbered(&read(Some(t1), Some(t2)), 11, 20);
    assert!(read(Some(t1), Some(t1)).is_empty());
    // The last lines before until, and a tail inside a window.
    assert_numbered(&c.read(&ReadOptions { until: Some(t2), tail: Some(4), ..Default::default() }).0, 17, 20);
    assert_numbered(&c.read(&ReadOptions { since: Some(t1), until: Some(t2), tail: Some(100), ..Default::default() }).0, 11, 20);
    // A window after everything, and a bad one.
    assert!(read(Some(now_usec() + 1_000_000), None).is_empty());
    let bad = LogReader::open().unwrap().read(&c.matcher(), &ReadOptions { since: Some(t2), until: Some(t1), ..Default::default() }, &mut |_: &LogLine<'_>| ControlFlow::Continue(()), &Cancel::new().unwrap());
    assert!(matches!(bad, Err(berth::journal::Error::SinceAfterUntil { .. })), "{bad:?}");
}

#[test]
fn a_cursor_resumes_after_the_last_line() {
    let c = Ctr::new("cursor");
    let mut w = c.writer();
    write_numbered(&mut w, 1, 10);
    let (lines, end) = c.read(&ReadOptions::default());
    assert_numbered(&lines, 1, 10);
    assert_eq!(end.reason, EndReason::End);
    assert_eq!(end.entries, 10);
    let cursor = end.cursor.expect("a cursor for the last line");
    // One datagram each, so that they get times of their own.
    for i in 11..=15 {
        w.write_line(stream_of(i), format!("line {i}").as_bytes()).unwrap();
    }
    sync(&mut w);
    let (more, end2) = c.read(&ReadOptions { after_cursor: Some(cursor.clone()), ..Default::default() });
    assert_numbered(&more, 11, 15);
    // Nothing new: the same cursor comes back.
    let (none, end3) = c.read(&ReadOptions { after_cursor: end2.cursor.clone(), ..Default::default() });
    assert!(none.is_empty());
    assert_eq!(end3.cursor, end2.cursor);
    // A sink that stops early gets the cursor of the line it stopped on.
    let mut n = 0;
    let end4 = LogReader::open()
        .unwrap()
        .read(&c.matcher(), &ReadOptions::default(), &mut |_: &LogLine<'_>| {
            n += 1;
            if n == 10 {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        }, &Cancel::new().unwrap())
        .unwrap();
    assert_eq!((end4.reason, end4.entries), (EndReason::SinkStopped, 10));
    assert_eq!(end4.cursor.as_deref(), Some(cursor.as_str()));
    // An until that ends the read also gives the last line handed over.
    let until = more[2].usec + 1;
    let (_, end5) = c.read(&ReadOptions { until: Some(until), ..Default::default() });
    let (after, _) = c.read(&ReadOptions { after_cursor: end5.cursor, ..Default::default() });
    let later: Vec<OwnedLogLine> = more.iter().filter(|l| l.usec >= until).cloned().collect();
    assert!(!later.is_empty() && after == later);
    let bad = LogReader::open().unwrap().read(&c.matcher(), &ReadOptions { after_cursor: Some("garbage".into()), ..Default::default() }, &mut |_: &LogLine<'_>| ControlFlow::Continue(()), &Cancel::new().unwrap());
    assert!(matches!(bad, Err(berth::journal::Error::BadCursor { .. })), "{bad:?}");
}

/// Follow in a thread; the lines it got and how it ended, when it ends.
fn follow(c: &Ctr, o: ReadOptions, cancel: Cancel) -> std::thread::JoinHandle<(Vec<OwnedLogLine>, ReadEnd, Instant)> {
    let m = c.matcher();
    std::thread::spawn(move || {
        let mut lines = Vec::new();
        let end = LogReader::open()
            .unwrap()
            .read(&m, &o, &mut |l: &LogLine<'_>| {
                lines.push(l.to_owned());
                ControlFlow::Continue(())
            }, &cancel)
            .unwrap();
        (lines, end, Instant::now())
    })
}

#[test]
fn a_follow_with_until_returns_at_until() {
    let _flood = flood_lock();
    let c = Ctr::new("until");
    let mut w = c.writer();
    write_numbered(&mut w, 1, 3);
    let until = now_usec() + 400_000;
    let t = follow(&c, ReadOptions { until: Some(until), follow: Some(Follow::default()), ..Default::default() }, Cancel::new().unwrap());
    std::thread::sleep(Duration::from_millis(100));
    write_numbered(&mut w, 4, 6);
    let (lines, end, at) = t.join().unwrap();
    let done = now_usec();
    assert_eq!(end.reason, EndReason::Until);
    assert_numbered(&lines, 1, 6);
    let late = done.saturating_sub(until);
    // Typically a few ms; the bound allows for a CI machine busy with the
    // other tests' 100,000-line floods (journald then lags).
    assert!(done >= until && late < 10_000_000, "returned {late} us after until");
    let _ = at;
}

#[test]
fn a_follow_cancelled_from_another_thread_returns_at_once() {
    let c = Ctr::new("cancel");
    let cancel = Cancel::new().unwrap();
    let t = follow(&c, ReadOptions { follow: Some(Follow::default()), ..Default::default() }, cancel.clone());
    std::thread::sleep(Duration::from_millis(200));
    let mut w = c.writer();
    write_numbered(&mut w, 1, 2);
    std::thread::sleep(Duration::from_millis(100));
    let asked = Instant::now();
    cancel.cancel();
    let (lines, end, at) = t.join().unwrap();
    assert_eq!(end.reason, EndReason::Cancelled);
    assert_numbered(&lines, 1, 2);
    // Promptly, not at some later wake-up (the exact latency is a
    // benchmark's: examples/journal_bench.rs); the bound allows a busy CI.
    assert!(at.duration_since(asked) < Duration::from_secs(2), "took {:?}", at.duration_since(asked));
}

#[test]
fn a_follow_with_a_stop_drains_the_last_lines() {
    for round in 0..5 {
        let c = Ctr::new("stop");
        let stop = Stop::new().unwrap();
        let t = follow(&c, ReadOptions { follow: Some(Follow::until_stopped(stop.clone())), ..Default::default() }, Cancel::new().unwrap());
        let mut w = c.writer();
        for i in 1..=2000 {
            w.push(stream_of(i), format!("line {i}").as_bytes(), false).unwrap();
            if i % 100 == 0 {
                w.flush().unwrap();
            }
        }
        // As berth-monitor does before it exits; then berthd raises the stop.
        w.drain(Duration::from_secs(10)).unwrap();
        stop.stop();
        let (lines, end, _) = t.join().unwrap();
        assert_eq!(end.reason, EndReason::Stopped, "round {round}");
        assert_numbered(&lines, 1, 2000);
    }
}

#[test]
fn follow_tail_zero_gives_only_new_lines() {
    let c = Ctr::new("new");
    let mut w = c.writer();
    write_numbered(&mut w, 1, 5);
    let stop = Stop::new().unwrap();
    let t = follow(&c, ReadOptions { tail: Some(0), follow: Some(Follow::until_stopped(stop.clone())), ..Default::default() }, Cancel::new().unwrap());
    std::thread::sleep(Duration::from_millis(200));
    write_numbered(&mut w, 6, 8);
    stop.stop();
    let (lines, _, _) = t.join().unwrap();
    assert_numbered(&lines, 6, 8);
    // And from a container with no lines yet.
    let c = Ctr::new("new-empty");
    let stop = Stop::new().unwrap();
    let t = follow(&c, ReadOptions { tail: Some(0), follow: Some(Follow::until_stopped(stop.clone())), ..Default::default() }, Cancel::new().unwrap());
    std::thread::sleep(Duration::from_millis(200));
    let mut w = c.writer();
    write_numbered(&mut w, 1, 3);
    stop.stop();
    assert_numbered(&t.join().unwrap().0, 1, 3);
}

#[test]
fn binary_and_long_lines_arrive_whole() {
    let c = Ctr::new("binary");
    let mut w = c.writer();
    let big: Vec<u8> = (0..200 * 1024).map(|i| b"abcdefghij"[i % 10]).collect();
    let messages: Vec<Vec<u8>> = vec![
        b"plain".to_vec(),
        b"\0nul\0".to_vec(),
        b"\xff\xfe not utf-8".to_vec(),
        b"carriage\rreturn\x1b[31m".to_vec(),
        b"embedded\nnewline".to_vec(),
        Vec::new(),
        big.clone(),
        (0..=255u8).collect(),
    ];
    for m in &messages {
        w.write_line(Stream::Stdout, m).unwrap();
    }
    // The same 200 KiB line through a sealed memory file.
    let mut w2 = c.writer().with_memfd_above(16 * 1024);
    w2.write_line(Stream::Stderr, &big).unwrap();
    sync(&mut w);
    sync(&mut w2);
    let lines = c.all();
    let (first, second): (Vec<_>, Vec<_>) = lines.iter().partition(|l| l.stream == Stream::Stdout);
    assert_eq!(first.iter().map(|l| l.message.clone()).collect::<Vec<_>>(), messages);
    assert_eq!(second.len(), 1);
    assert_eq!(second[0].message, big);
}

#[test]
fn a_line_cut_by_the_splitter_is_printed_whole() {
    let c = Ctr::new("cut");
    let mut w = c.writer();
    let long: Vec<u8> = (0..3 * 1024 * 1024 + 5).map(|i| b'a' + (i % 26) as u8).collect();
    let mut data = b"before\n".to_vec();
    data.extend_from_slice(&long);
    data.extend_from_slice(b"\nafter\nno newline at the end");
    let mut split = LineSplitter::default();
    let mut pieces = 0;
    for chunk in data.chunks(65536) {
        split.push(chunk, |l, partial| {
            pieces += 1;
            w.push(Stream::Stdout, l, partial).unwrap();
        });
    }
    split.finish(|l, partial| {
        pieces += 1;
        w.push(Stream::Stdout, l, partial).unwrap();
    });
    sync(&mut w);
    assert_eq!(pieces, 1 + 4 + 2);
    let lines = c.all();
    assert_eq!(lines.iter().filter(|l| l.partial).count(), 3);
    // FdSink joins the pieces again.
    let (r, wr) = nix::unistd::pipe().unwrap();
    let reader = std::thread::spawn(move || {
        let mut out = Vec::new();
        std::fs::File::from(r).read_to_end(&mut out).unwrap();
        out
    });
    let mut sink = FdSink::new(wr, Format::default(), None).unwrap();
    LogReader::open().unwrap().read(&c.matcher(), &ReadOptions::default(), &mut sink, &Cancel::new().unwrap()).unwrap();
    assert_eq!(sink.finish().unwrap(), Delivery::Complete);
    let mut want = data.clone();
    want.push(b'\n');
    let got = reader.join().unwrap();
    assert_eq!(got.len(), want.len());
    assert!(got == want);
}

/// Copy a container's lines into `w` with an FdSink.
fn read_into(m: String, o: ReadOptions, w: OwnedFd, cancel: Cancel) -> std::thread::JoinHandle<(ReadEnd, Delivery)> {
    std::thread::spawn(move || {
        let mut sink = FdSink::new(w, Format { timestamps: true, ..Format::default() }, Some(cancel.clone())).unwrap();
        let end = LogReader::open().unwrap().read(&m, &o, &mut sink, &cancel).unwrap();
        (end, sink.finish().unwrap())
    })
}

#[test]
fn a_reader_that_does_not_read_holds_up_only_its_own_read() {
    let c = Ctr::new("slow");
    let mut w = c.writer();
    write_numbered(&mut w, 1, 20_000);
    // The first output is never read.
    let (_stuck_r, stuck_w) = nix::unistd::pipe().unwrap();
    let cancel = Cancel::new().unwrap();
    let stuck = read_into(c.matcher(), ReadOptions::default(), stuck_w, cancel.clone());
    std::thread::sleep(Duration::from_millis(100));
    // The second completes meanwhile.
    let (r, wr) = nix::unistd::pipe().unwrap();
    let drain = std::thread::spawn(move || {
        let mut out = String::new();
        std::fs::File::from(r).read_to_string(&mut out).unwrap();
        out
    });
    let (end, delivery) = read_into(c.matcher(), ReadOptions::default(), wr, Cancel::new().unwrap()).join().unwrap();
    assert_eq!((end.reason, end.entries, delivery), (EndReason::End, 20_000, Delivery::Complete));
    let text = drain.join().unwrap();
    assert_eq!(text.lines().count(), 20_000);
    assert!(text.lines().last().unwrap().ends_with("Z line 20000"));
    assert!(!stuck.is_finished(), "the unread output should still hold its read");
    let asked = Instant::now();
    cancel.cancel();
    let (end, delivery) = stuck.join().unwrap();
    assert!(asked.elapsed() < Duration::from_secs(2), "took {:?}", asked.elapsed());
    assert_eq!((end.reason, delivery), (EndReason::SinkStopped, Delivery::Cancelled));
}

#[test]
fn a_reader_that_goes_away_ends_the_read_quietly() {
    let c = Ctr::new("gone");
    let mut w = c.writer();
    write_numbered(&mut w, 1, 20_000);
    // Reads a little, then closes its end.
    let (r, wr) = nix::unistd::pipe().unwrap();
    let t = read_into(c.matcher(), ReadOptions::default(), wr, Cancel::new().unwrap());
    let mut f = std::fs::File::from(r);
    let mut some = [0u8; 1000];
    f.read_exact(&mut some).unwrap();
    drop(f);
    let (end, delivery) = t.join().unwrap();
    assert_eq!((end.reason, delivery), (EndReason::SinkStopped, Delivery::ReaderGone));
    assert!(end.entries < 20_000);
    // A follow whose reader leaves while it waits ends too.
    let (r, wr) = nix::unistd::pipe().unwrap();
    let t = read_into(c.matcher(), ReadOptions { tail: Some(1), follow: Some(Follow::default()), ..Default::default() }, wr, Cancel::new().unwrap());
    let mut f = std::fs::File::from(r);
    let mut line = [0u8; 39];
    f.read_exact(&mut line).unwrap();
    assert!(line.ends_with(b"Z line 20000\n"), "{}", String::from_utf8_lossy(&line));
    std::thread::sleep(Duration::from_millis(50));
    let left = Instant::now();
    drop(f);
    let (end, delivery) = t.join().unwrap();
    assert!(left.elapsed() < Duration::from_secs(2), "took {:?}", left.elapsed());
    assert_eq!((end.reason, delivery), (EndReason::SinkStopped, Delivery::ReaderGone));
}

#[test]
fn bad_requests_are_refused_before_reading() {
    let mut r = LogReader::open().unwrap();
    let mut sink = |_: &LogLine<'_>| ControlFlow::Continue(());
    let cancel = Cancel::new().unwrap();
    let e = r.read("container_id_full=x", &ReadOptions::default(), &mut sink, &cancel);
    assert!(matches!(e, Err(berth::journal::Error::BadMatch { .. })), "{e:?}");
    let e = r.read("CONTAINER_ID_FULL=x", &ReadOptions { tail: Some(1), after_cursor: Some("s=1".into()), ..Default::default() }, &mut sink, &cancel);
    assert!(matches!(e, Err(berth::journal::Error::TailWithCursor)), "{e:?}");
    assert!(matches!(Streams::from_bits(8), Err(berth::journal::Error::UnknownStream { bits: 8 })));
}

#[test]
fn events_come_back_typed() {
    common::require_systemd();
    let name = common::unique("events");
    let id = new_id();
    let since = now_usec();
    let evs = [
        Event { name: name.clone(), id: id.clone(), kind: EventKind::Start, usec: now_usec(), exit_code: None, health_status: None },
        Event { name: name.clone(), id: id.clone(), kind: EventKind::Died, usec: now_usec() + 1, exit_code: Some(3), health_status: None },
    ];
    for e in &evs {
        berth::engine::journal::record(e);
    }
    common::ok("journalctl", &["--sync"]);
    let got: Vec<Event> = EventReader::open().unwrap().history(Some(since), None, Some(&name)).unwrap().iter().filter_map(|e| e.to_event()).collect();
    assert_eq!(got, evs);
    let entries = EventReader::open().unwrap().history(Some(since), None, Some(&name)).unwrap();
    assert_eq!(entries[1].field("EXIT_CODE"), Some("3"));
    assert!(entries.iter().all(|e| !e.fields.contains_key("_PID")));
    assert!(EventReader::open().unwrap().history(Some(now_usec() + 1_000_000), None, Some(&name)).unwrap().is_empty());
    assert!(EventReader::open().unwrap().history(Some(since), None, Some("no-such-container-here")).unwrap().is_empty());
    let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
    let n = rt.block_on(berth::journal::event_history(Some(since), None, Some(name.clone()))).unwrap().len();
    assert_eq!(n, 2);
    // Following: the recorded ones, then a new one, until stopped.
    let stop = Stop::new().unwrap();
    let q = EventQuery { since: Some(since), container: Some(name.clone()), follow: Some(Follow::until_stopped(stop.clone())), ..Default::default() };
    let t = std::thread::spawn(move || {
        let mut seen = Vec::new();
        let end = EventReader::open()
            .unwrap()
            .read(&q, &mut |e: &EventEntry| {
                seen.push(e.to_event());
                ControlFlow::Continue(())
            }, &Cancel::new().unwrap())
            .unwrap();
        (seen, end)
    });
    std::thread::sleep(Duration::from_millis(100));
    let third = Event { name: name.clone(), id: id.clone(), kind: EventKind::Remove, usec: now_usec(), exit_code: None, health_status: None };
    berth::engine::journal::record(&third);
    common::ok("journalctl", &["--sync"]);
    stop.stop();
    let (seen, end) = t.join().unwrap();
    assert_eq!(end.reason, EndReason::Stopped);
    assert_eq!(seen, vec![Some(evs[0].clone()), Some(evs[1].clone()), Some(third)]);
}

#[test]
fn logs_to_fd_from_async_code() {
    let c = Ctr::new("async");
    let mut w = c.writer();
    write_numbered(&mut w, 1, 100);
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    let (r, wr) = nix::unistd::pipe().unwrap();
    let out = Arc::new(Mutex::new(String::new()));
    let o2 = out.clone();
    let drain = std::thread::spawn(move || std::fs::File::from(r).read_to_string(&mut o2.lock().unwrap()).unwrap());
    let o = ReadOptions { tail: Some(10), streams: Streams::from_bits(1).unwrap(), ..Default::default() };
    let (end, delivery) = rt.block_on(berth::journal::logs_to_fd(c.matcher(), o, wr, Format { stream_tag: true, ..Format::default() }, Cancel::new().unwrap())).unwrap();
    drain.join().unwrap();
    assert_eq!((end.entries, delivery), (10, Delivery::Complete));
    let want: String = (81..=99).step_by(2).map(|i| format!("stdout line {i}\n")).collect();
    assert_eq!(*out.lock().unwrap(), want);
    // Dropping the future of a follow cancels it.
    let (_r, wr) = nix::unistd::pipe().unwrap();
    let cancel = Cancel::new().unwrap();
    let f = berth::journal::logs_to_fd(c.matcher(), ReadOptions { follow: Some(Follow::default()), ..Default::default() }, wr, Format::default(), cancel.clone());
    rt.block_on(async {
        let _ = tokio::time::timeout(Duration::from_millis(50), f).await;
    });
    assert!(cancel.is_cancelled());
}
