//! Logs and events through journald, with the installed berthd.

mod common;

use berth::client::Client;
use berth::model::{OptionValue, State};
use std::collections::BTreeMap;
use std::process::Command;
use std::time::Duration;

fn options(rootfs: &str, script: &str) -> BTreeMap<String, OptionValue> {
    [
        ("Rootfs".to_string(), OptionValue::Str(rootfs.into())),
        ("Command".to_string(), OptionValue::StrList(vec!["/bin/sh".into(), "-c".into(), script.into()])),
    ]
    .into()
}

fn berthctl(args: &[&str]) -> std::process::Output {
    Command::new("/usr/local/bin/berthctl").args(args).output().unwrap()
}

async fn run_to_exit(c: &Client, name: &str, rootfs: &str, script: &str) {
    c.create(name, &options(rootfs, script)).await.unwrap();
    c.start(name, false).await.unwrap();
    c.wait(name, &[], Some(Duration::from_secs(120))).await.unwrap();
}

#[tokio::test]
async fn hundred_thousand_lines_none_lost() {
    let f = common::installed();
    let _g = common::daemon_lock().read().await;
    let c = Client::system().await.unwrap();
    let name = common::unique("flood");
    run_to_exit(&c, &name, &f.rootfs, "seq 1 100000").await;
    let o = berthctl(&["logs", &name]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = String::from_utf8_lossy(&o.stdout);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 100_000, "lines lost or split");
    for (i, l) in lines.iter().enumerate() {
        assert_eq!(*l, (i + 1).to_string(), "line {i} out of order or torn");
    }
    c.remove(&name, false, None).await.unwrap();
}

#[tokio::test]
async fn long_lines_arrive_whole() {
    let f = common::installed();
    let _g = common::daemon_lock().read().await;
    let c = Client::system().await.unwrap();
    let name = common::unique("long");
    run_to_exit(&c, &name, &f.rootfs, "head -c 20000 /dev/zero | tr '\\0' x; echo; echo after").await;
    let o = berthctl(&["logs", &name]);
    let text = String::from_utf8_lossy(&o.stdout);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "a 20000-byte line must not be split: {:?}", lines.iter().map(|l| l.len()).collect::<Vec<_>>());
    assert_eq!(lines[0].len(), 20_000);
    c.remove(&name, false, None).await.unwrap();
}

#[tokio::test]
async fn tail_follow_and_streams() {
    let f = common::installed();
    let _g = common::daemon_lock().read().await;
    let c = Client::system().await.unwrap();
    let name = common::unique("follow");
    c.create(&name, &options(&f.rootfs, "for i in $(seq 1 30); do echo out-$i; echo err-$i >&2; sleep 0.05; done")).await.unwrap();
    c.start(&name, false).await.unwrap();
    // Follow from the start: returns by itself when the container exits.
    let o = tokio::time::timeout(Duration::from_secs(30), tokio::task::spawn_blocking({
        let name = name.clone();
        move || berthctl(&["logs", "-f", &name])
    }))
    .await
    .expect("logs -f must return when the container exits")
    .unwrap();
    let text = String::from_utf8_lossy(&o.stdout);
    for i in 1..=30 {
        assert!(text.contains(&format!("out-{i}\n")) && text.contains(&format!("err-{i}\n")), "missing line {i}:\n{text}");
    }
    assert_eq!(c.state(&name).await.unwrap(), State::Exited);
    let tail = berthctl(&["logs", "--tail", "4", &name]);
    assert_eq!(String::from_utf8_lossy(&tail.stdout).lines().count(), 4);
    let out = String::from_utf8_lossy(&berthctl(&["logs", "--stdout", &name]).stdout).into_owned();
    assert!(out.lines().all(|l| l.starts_with("out-")) && out.lines().count() == 30, "{out}");
    let err = String::from_utf8_lossy(&berthctl(&["logs", "--stderr", &name]).stdout).into_owned();
    assert!(err.lines().all(|l| l.starts_with("err-")) && err.lines().count() == 30, "{err}");
    let ts = String::from_utf8_lossy(&berthctl(&["logs", "-t", "--tail", "1", &name]).stdout).into_owned();
    assert!(ts.contains('T') && ts.contains("Z "), "{ts}");
    // Plain journalctl, as podman users do.
    let j = Command::new("journalctl").args(["--no-pager", "-o", "cat", &format!("CONTAINER_NAME={name}"), "PRIORITY=3"]).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&j.stdout).lines().filter(|l| l.starts_with("err-")).count(), 30);
    c.remove(&name, false, None).await.unwrap();
}

#[tokio::test]
async fn events_once_each_in_order_across_a_restart() {
    let f = common::installed();
    let _g = common::daemon_lock().write().await;
    let c = Client::system().await.unwrap();
    let name = common::unique("events");
    c.create(&name, &options(&f.rootfs, "trap 'exit 0' TERM; while true; do sleep 0.1; done")).await.unwrap();
    c.start(&name, false).await.unwrap();
    let o = Command::new("systemctl").args(["restart", "berthd.service"]).output().unwrap();
    assert!(o.status.success());
    let c = Client::system().await.unwrap();
    c.stop(&name, None).await.unwrap();
    c.remove(&name, false, None).await.unwrap();
    let o = berthctl(&["events", "--filter", &format!("container={name}")]);
    let text = String::from_utf8_lossy(&o.stdout);
    let kinds: Vec<&str> = text.lines().filter_map(|l| l.split_whitespace().nth(2)).collect();
    assert_eq!(kinds, ["create", "init", "start", "died", "stop", "remove"], "{text}");
    assert!(text.contains("exit_code=0"), "{text}");
}

/// Each line's stream: `berthctl logs --tag` prefixes it, and the framed
/// format of the Logs method carries it (and the time) with the bytes
/// exactly, NUL and all.
#[tokio::test]
async fn lines_carry_their_stream() {
    use berth::model::log_frame::{Flow, FrameDecoder};
    use berth::model::{LogFormat, LogOptions, LogStream};
    use std::os::fd::AsFd;
    let f = common::installed();
    let _g = common::daemon_lock().read().await;
    let c = Client::system().await.unwrap();
    let name = common::unique("streams");
    let t0 = berth::model::now_usec();
    run_to_exit(&c, &name, &f.rootfs, "echo out-1; sleep 0.1; echo err-1 >&2; sleep 0.1; printf 'a\\0b\\n'").await;

    let text = String::from_utf8_lossy(&berthctl(&["logs", "--tag", &name]).stdout).into_owned();
    assert_eq!(text, "stdout out-1\nstderr err-1\nstdout a\0b\n");
    let text = String::from_utf8_lossy(&berthctl(&["logs", "-t", "--tag", "--stderr", &name]).stdout).into_owned();
    assert!(text.len() == 27 + 1 + 13 && text[27..].starts_with(" stderr err-1\n") && text[..27].ends_with('Z'), "{text:?}");

    let (r, w) = nix::unistd::pipe().unwrap();
    let reader = tokio::task::spawn_blocking(move || {
        let mut all = Vec::new();
        std::io::Read::read_to_end(&mut std::fs::File::from(r), &mut all).unwrap();
        all
    });
    let o = LogOptions { format: LogFormat::Framed, ..Default::default() };
    c.logs(&name, w.as_fd(), &o).await.unwrap();
    drop(w);
    let bytes = reader.await.unwrap();
    let mut lines = Vec::new();
    let mut d = FrameDecoder::new();
    let mut take = |l: berth::model::log_frame::FramedLine<'_>| {
        lines.push((l.stream, l.usec, l.message.to_vec()));
        Flow::Continue(())
    };
    assert!(d.push(&bytes, &mut take).unwrap().is_continue());
    assert!(d.finish(&mut take).unwrap().is_continue());
    let got: Vec<(LogStream, &[u8])> = lines.iter().map(|(s, _, m)| (*s, m.as_slice())).collect();
    assert_eq!(got, [(LogStream::Stdout, &b"out-1"[..]), (LogStream::Stderr, b"err-1"), (LogStream::Stdout, b"a\0b")]);
    let now = berth::model::now_usec();
    assert!(lines.iter().all(|(_, usec, _)| *usec >= t0 && *usec <= now));
    assert!(lines.windows(2).all(|w| w[0].1 <= w[1].1));
    // A format berthd does not know is refused by name.
    let (_r, w) = nix::unistd::pipe().unwrap();
    let mut bad = BTreeMap::new();
    bad.insert("Format".to_string(), zbus::OwnedVariant::try_from(zbus::Variant::from("json")).unwrap());
    let e = c.manager().logs_container(&name, zbus::Fd::from(w.as_fd()), bad.into_iter().collect()).await.unwrap_err();
    assert!(e.to_string().contains("Format"), "{e}");
    c.remove(&name, false, None).await.unwrap();
}

/// A follow with --until ends then, while the container goes on writing.
#[tokio::test]
async fn follow_ends_at_until() {
    let f = common::installed();
    // Alone: a line's time is when journald wrote it, and the 100,000 lines
    // of another test keep journald seconds behind, past the until time.
    let _g = common::daemon_lock().write().await;
    let c = Client::system().await.unwrap();
    let name = common::unique("until");
    c.create(&name, &options(&f.rootfs, "i=0; while true; do i=$((i+1)); echo line-$i; sleep 0.1; done")).await.unwrap();
    c.start(&name, false).await.unwrap();
    let until = berth::model::now_usec() + 2_000_000;
    let arg = format!("{:.6}", until as f64 / 1e6);
    let t0 = std::time::Instant::now();
    let o = tokio::task::spawn_blocking({
        let name = name.clone();
        move || berthctl(&["logs", "-f", "--until", &arg, &name])
    })
    .await
    .unwrap();
    let took = t0.elapsed();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    // Generous: a busy machine.
    assert!(took > Duration::from_millis(1500) && took < Duration::from_secs(6), "{took:?}");
    assert!(String::from_utf8_lossy(&o.stdout).lines().count() >= 5);
    assert_eq!(c.state(&name).await.unwrap(), State::Running);
    c.remove(&name, true, Some(0)).await.unwrap();
}
