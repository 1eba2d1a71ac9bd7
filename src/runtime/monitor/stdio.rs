//! The standard I/O of one process the monitor runs (the container's init
//! or an exec session), which the monitor alone reads and writes: output
//! pipes (the runtime's own messages always come through them), the
//! terminal's master when it has one, and the write end of its stdin when
//! it is interactive. Every descriptor the monitor keeps is non-blocking;
//! input waits in a bounded queue, so nothing here ever blocks the loop.
//!
//! A terminal reaches the monitor in one of two ways ([`Terminal`]): crun
//! sends the container's master to a console socket; runc, which takes a
//! console socket only when it detaches, is given a terminal of the
//! monitor's as its stdin and stdout, and relays the container's own to it
//! (resizing the container's when told so with SIGWINCH).

use super::console::{set_window_size, ConsoleSocket};
use crate::model::attach::{STREAM_STDERR, STREAM_STDOUT};
use crate::runtime::cmdline::Runtime;
use nix::fcntl::{fcntl, FcntlArg, FdFlag, OFlag};
use nix::sys::termios::{self, SetArg};
use std::collections::VecDeque;
use std::fs::File;
use std::io::{self, Read};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::path::Path;
use std::process::Stdio;

/// One read takes at most this much, so that every source is served in turn.
pub(super) const READ_CHUNK: usize = 64 * 1024;

/// Input queued for a process that does not read it yet; callers' input is
/// not taken while this much waits.
pub(super) const INPUT_LIMIT: usize = 1 << 20;

/// An output source of a process.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) enum Source {
    Stdout,
    Stderr,
    /// The terminal's master (its output counts as stdout).
    Terminal,
}

impl Source {
    /// The attach stream id of what it carries.
    pub fn stream(self) -> u8 {
        match self {
            Source::Stdout | Source::Terminal => STREAM_STDOUT,
            Source::Stderr => STREAM_STDERR,
        }
    }
}

fn nonblocking(fd: BorrowedFd<'_>) -> io::Result<()> {
    let fl = OFlag::from_bits_truncate(fcntl(fd.as_raw_fd(), FcntlArg::F_GETFL)?);
    fcntl(fd.as_raw_fd(), FcntlArg::F_SETFL(fl | OFlag::O_NONBLOCK))?;
    Ok(())
}

/// A pipe whose read end is the monitor's (non-blocking).
fn out_pipe() -> io::Result<(File, OwnedFd)> {
    let (r, w) = nix::unistd::pipe2(OFlag::O_CLOEXEC)?;
    nonblocking(r.as_fd())?;
    Ok((File::from(r), w))
}

/// How a process gets its terminal, if it has one.
pub(super) enum Terminal<'a> {
    None,
    /// The runtime sends the master to this socket (crun).
    Socket(&'a Path),
    /// The runtime's own stdio is a terminal of the monitor's, which it
    /// relays the container's to (runc in the foreground).
    Relay,
}

impl<'a> Terminal<'a> {
    /// A terminal when `wanted`, in the way `runtime` gives it; `console`
    /// is where crun would send it.
    pub fn of(wanted: bool, runtime: &Runtime, console: &'a Path) -> Terminal<'a> {
        match (wanted, runtime.runc) {
            (false, _) => Terminal::None,
            (true, false) => Terminal::Socket(console),
            (true, true) => Terminal::Relay,
        }
    }
}

/// The ends a spawned runtime gets.
pub(super) struct ChildStdio {
    pub stdin: Stdio,
    pub stdout: Stdio,
    pub stderr: Stdio,
}

struct Pipe {
    file: File,
    eof: bool,
}

/// A terminal of the monitor's for a runtime that relays the container's
/// to its own stdio: the master (non-blocking) and the slave. The slave is
/// raw, so that input typed before the runtime relays is not echoed back.
fn relay_terminal() -> io::Result<(File, OwnedFd)> {
    let pty = nix::pty::openpty(None, None)?;
    for fd in [&pty.master, &pty.slave] {
        fcntl(fd.as_raw_fd(), FcntlArg::F_SETFD(FdFlag::FD_CLOEXEC))?;
    }
    let mut t = termios::tcgetattr(&pty.slave)?;
    termios::cfmakeraw(&mut t);
    termios::tcsetattr(&pty.slave, SetArg::TCSANOW, &t)?;
    nonblocking(pty.master.as_fd())?;
    Ok((File::from(pty.master), pty.slave))
}

/// The monitor's side of one process's standard I/O.
pub(super) struct ProcessIo {
    /// None when the terminal carries the runtime's stdout (a relay).
    stdout: Option<Pipe>,
    stderr: Pipe,
    /// Waits for the runtime to send the terminal's master.
    console: Option<ConsoleSocket>,
    terminal: Option<Pipe>,
    /// The write end of the stdin pipe (interactive without a terminal).
    stdin: Option<File>,
    has_terminal: bool,
    /// The terminal is the runtime's relay: a resize needs a SIGWINCH to it.
    relay: bool,
    interactive: bool,
    input: VecDeque<u8>,
    /// The input ended: close stdin once the queue is written.
    input_done: bool,
    /// The size to give the terminal (asked before the master came).
    size: Option<(u16, u16)>,
    buf: Vec<u8>,
}

/// What a read of a source gave.
pub(super) enum Got {
    Data(usize),
    Eof,
    Nothing,
}

impl ProcessIo {
    /// Pipes (and the terminal, as `terminal` says) for one process; the
    /// ends the runtime gets come back.
    pub fn open(terminal: Terminal<'_>, interactive: bool) -> io::Result<(ProcessIo, ChildStdio)> {
        let (err_r, err_w) = out_pipe()?;
        let mut console = None;
        let (stdout, terminal, child_stdout, relay_stdin) = match terminal {
            Terminal::Relay => {
                let (master, slave) = relay_terminal()?;
                (None, Some(Pipe { file: master, eof: false }), Stdio::from(slave.try_clone()?), Some(Stdio::from(slave)))
            }
            Terminal::None | Terminal::Socket(_) => {
                if let Terminal::Socket(path) = terminal {
                    console = Some(ConsoleSocket::listen(path)?);
                }
                let (r, w) = out_pipe()?;
                (Some(Pipe { file: r, eof: false }), None, Stdio::from(w), None)
            }
        };
        let relay = terminal.is_some();
        let has_terminal = console.is_some() || relay;
        let (stdin, child_stdin) = if let Some(r) = relay_stdin {
            (None, r)
        } else if interactive && !has_terminal {
            let (r, w) = nix::unistd::pipe2(OFlag::O_CLOEXEC)?;
            nonblocking(w.as_fd())?;
            (Some(File::from(w)), Stdio::from(r))
        } else {
            (None, Stdio::null())
        };
        let io = ProcessIo {
            stdout,
            stderr: Pipe { file: err_r, eof: false },
            console,
            terminal,
            relay,
            stdin,
            has_terminal,
            interactive,
            input: VecDeque::new(),
            input_done: false,
            size: None,
            buf: vec![0; READ_CHUNK],
        };
        Ok((io, ChildStdio { stdin: child_stdin, stdout: child_stdout, stderr: Stdio::from(err_w) }))
    }

    pub fn console_path(&self) -> Option<&Path> {
        self.console.as_ref().map(ConsoleSocket::path)
    }

    pub fn console_fd(&self) -> Option<BorrowedFd<'_>> {
        self.console.as_ref().map(ConsoleSocket::fd)
    }

    /// Take the terminal's master from the runtime, once it connects.
    pub fn accept_console(&mut self) -> io::Result<()> {
        let Some(c) = &self.console else { return Ok(()) };
        let Some(master) = c.accept_master()? else { return Ok(()) };
        self.console = None;
        nonblocking(master.as_fd())?;
        if let Some((rows, cols)) = self.size {
            set_window_size(master.as_fd(), rows, cols)?;
        }
        self.terminal = Some(Pipe { file: File::from(master), eof: false });
        Ok(())
    }

    /// The open output sources, for poll.
    pub fn sources(&self) -> Vec<(Source, BorrowedFd<'_>)> {
        let mut v = Vec::with_capacity(3);
        for (s, p) in [(Source::Stdout, self.stdout.as_ref()), (Source::Stderr, Some(&self.stderr)), (Source::Terminal, self.terminal.as_ref())] {
            if let Some(p) = p.filter(|p| !p.eof) {
                v.push((s, p.file.as_fd()));
            }
        }
        v
    }

    /// Whether every output source has ended (a terminal that has not come
    /// counts as ended: the process never ran).
    pub fn drained(&self) -> bool {
        self.stdout.as_ref().is_none_or(|p| p.eof) && self.stderr.eof && self.terminal.as_ref().is_none_or(|t| t.eof)
    }

    /// Read one chunk of `src`; the data is in [`ProcessIo::data`].
    pub fn read(&mut self, src: Source) -> io::Result<Got> {
        let ProcessIo { stdout, stderr, terminal, buf, .. } = self;
        let Some(p) = (match src {
            Source::Stdout => stdout.as_mut(),
            Source::Stderr => Some(stderr),
            Source::Terminal => terminal.as_mut(),
        }) else {
            return Ok(Got::Nothing);
        };
        if p.eof {
            return Ok(Got::Eof);
        }
        match p.file.read(buf) {
            Ok(0) => {
                p.eof = true;
                Ok(Got::Eof)
            }
            Ok(n) => Ok(Got::Data(n)),
            Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted) => Ok(Got::Nothing),
            // A terminal whose slave is closed by everyone reads EIO.
            Err(e) if src == Source::Terminal && e.raw_os_error() == Some(nix::libc::EIO) => {
                p.eof = true;
                Ok(Got::Eof)
            }
            Err(e) => {
                p.eof = true;
                Err(e)
            }
        }
    }

    /// The bytes of the last [`Got::Data`].
    pub fn data(&self, n: usize) -> &[u8] {
        &self.buf[..n]
    }

    /// Where input goes: the stdin pipe, or the terminal when interactive.
    fn input_fd(&self) -> Option<BorrowedFd<'_>> {
        if !self.interactive {
            return None;
        }
        match (&self.stdin, &self.terminal) {
            (Some(f), _) => Some(f.as_fd()),
            (None, Some(t)) if !t.eof => Some(t.file.as_fd()),
            _ => None,
        }
    }

    /// Queue input for the process (dropped when it takes no input).
    pub fn push_input(&mut self, data: &[u8]) {
        if self.interactive && !self.input_done {
            self.input.extend(data);
            self.write_input();
        }
    }

    /// The input ended: its stdin pipe closes once the queue is written. A
    /// terminal stays: its end of input is the user's own ctrl-d.
    pub fn end_input(&mut self) {
        if self.stdin.is_some() {
            self.input_done = true;
            self.write_input();
        }
    }

    /// Callers' input is not taken while this is true.
    pub fn input_full(&self) -> bool {
        self.input.len() >= INPUT_LIMIT
    }

    /// The descriptor to poll for POLLOUT while input waits.
    pub fn input_waiting(&self) -> Option<BorrowedFd<'_>> {
        if self.input.is_empty() {
            return None;
        }
        self.input_fd()
    }

    /// Write queued input as far as the process takes it.
    pub fn write_input(&mut self) {
        while !self.input.is_empty() {
            let Some(fd) = self.input_fd() else {
                // Nowhere to go (no terminal yet, or it closed): it waits,
                // or is dropped with the process.
                return;
            };
            let (a, _) = self.input.as_slices();
            let n = match nix::unistd::write(fd, a) {
                Ok(n) => n,
                Err(nix::errno::Errno::EAGAIN | nix::errno::Errno::EINTR) => return,
                Err(_) => {
                    // The process closed its stdin: its input has nowhere to go.
                    self.input.clear();
                    self.stdin = None;
                    return;
                }
            };
            self.input.drain(..n);
        }
        if self.input_done {
            self.stdin = None;
        }
    }

    /// Set the terminal's window size (now, or when the master comes).
    /// True when the runtime relays the terminal and must be told with
    /// SIGWINCH.
    pub fn resize(&mut self, rows: u16, cols: u16) -> Result<bool, NotATerminal> {
        if !self.has_terminal {
            return Err(NotATerminal);
        }
        self.size = Some((rows, cols));
        if let Some(t) = &self.terminal {
            if let Err(e) = set_window_size(t.file.as_fd(), rows, cols) {
                eprintln!("berth-monitor: setting the terminal's size: {e}");
            }
        }
        Ok(self.relay)
    }
}

/// A resize of a process without a terminal.
#[derive(Debug)]
pub(super) struct NotATerminal;

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    fn read_all(io: &mut ProcessIo, src: Source) -> Vec<u8> {
        let mut out = Vec::new();
        for _ in 0..5000 {
            match io.read(src).unwrap() {
                Got::Data(n) => out.extend_from_slice(io.data(n)),
                Got::Eof => return out,
                Got::Nothing => std::thread::sleep(std::time::Duration::from_millis(1)),
            }
        }
        panic!("no end of {src:?}");
    }

    #[test]
    fn pipes_carry_output_and_input_closes() {
        let (mut io, child) = ProcessIo::open(Terminal::None, true).unwrap();
        assert!(io.resize(1, 1).is_err(), "no terminal");
        let mut c = Command::new("/bin/sh")
            .args(["-c", "cat; echo err >&2"])
            .stdin(child.stdin)
            .stdout(child.stdout)
            .stderr(child.stderr)
            .spawn()
            .unwrap();
        io.push_input(b"hello\n");
        io.end_input();
        assert_eq!(read_all(&mut io, Source::Stdout), b"hello\n");
        assert_eq!(read_all(&mut io, Source::Stderr), b"err\n");
        assert!(io.drained());
        assert!(c.wait().unwrap().success());
    }

    #[test]
    fn without_interactive_input_is_dropped() {
        let (mut io, child) = ProcessIo::open(Terminal::None, false).unwrap();
        let mut c = Command::new("/bin/cat").stdin(child.stdin).stdout(child.stdout).stderr(child.stderr).spawn().unwrap();
        io.push_input(b"ignored");
        assert!(io.input_waiting().is_none());
        assert_eq!(read_all(&mut io, Source::Stdout), b"", "cat read /dev/null");
        c.wait().unwrap();
    }

    #[test]
    fn a_relayed_terminal_is_the_runtime_s_stdio() {
        let (mut io, child) = ProcessIo::open(Terminal::Relay, true).unwrap();
        assert_eq!(io.resize(7, 9).unwrap(), true, "a relay is told with SIGWINCH");
        let mut c = Command::new("/bin/sh")
            .args(["-c", "stty size; read x; echo got-$x"])
            .stdin(child.stdin)
            .stdout(child.stdout)
            .stderr(child.stderr)
            .spawn()
            .unwrap();
        io.push_input(b"y\n");
        let out = read_all(&mut io, Source::Terminal);
        let text = String::from_utf8_lossy(&out);
        // Raw: no echo of the input, no \r added.
        assert_eq!(text, "7 9\ngot-y\n");
        assert_eq!(read_all(&mut io, Source::Stderr), b"");
        assert!(io.drained());
        c.wait().unwrap();
    }
}
