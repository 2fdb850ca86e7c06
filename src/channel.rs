//! The host end of the console channel (`morgana_image::channel`): QEMU's standard input and
//! output carry it to the VM's virtio-console. Three threads move the bytes:
//!
//! - the reader takes frames from QEMU, writes the application's output to this process's
//!   standard output and error, and answers each write with the running count of bytes
//!   written (or, once a stream's reader is gone, with `closed`);
//! - the writer sends frames to QEMU: the start block first, then standard input and the
//!   counts;
//! - the stdin pump reads this process's standard input only as far as the application asks.
//!
//! A slow reader of our output therefore slows the application, and the VM stops only once
//! everything it wrote has been written here.

use std::io::{Read, Write};
use std::process::{ChildStdin, ChildStdout};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::thread::JoinHandle;

use morgana_image::channel::{FrameReader, MAX_PAYLOAD, Start, Stream, ToGuest, ToHost, encode_to_guest};

/// What the application's standard input is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StdinSource {
    /// This process's standard input.
    Inherit,
    /// Empty: the application reads the end at once.
    Null,
}

/// A frame to send to the VM.
enum Outgoing {
    Start(Start),
    Stdin(Vec<u8>),
    StdinEnd,
    Written(Stream, u64),
    Closed(Stream),
}

/// The running channel; [`Attached::finish`] once QEMU has exited.
pub struct Attached {
    reader: JoinHandle<Result<Option<u8>, String>>,
}

impl Attached {
    /// Waits for the reader to take the last frames QEMU wrote: the application's exit status
    /// if the kernel sent one. A broken protocol is an error.
    pub fn finish(self) -> Result<Option<u8>, String> {
        self.reader.join().unwrap_or_else(|_| Err("the console channel's reader panicked".into()))
    }
}

/// Starts moving bytes between QEMU (its `stdin` and `stdout`) and this process.
pub fn attach(qemu_stdin: ChildStdin, qemu_stdout: ChildStdout, start: Start, stdin: StdinSource) -> Attached {
    let (outgoing, to_send) = channel::<Outgoing>();
    let _ = outgoing.send(Outgoing::Start(start));
    std::thread::spawn(move || write_frames(qemu_stdin, to_send));
    let wants = match stdin {
        StdinSource::Inherit => {
            let (wants, wanted) = channel::<u32>();
            let outgoing = outgoing.clone();
            std::thread::spawn(move || pump_stdin(wanted, outgoing));
            Some(wants)
        }
        StdinSource::Null => None,
    };
    let reader = std::thread::spawn(move || read_frames(qemu_stdout, outgoing, wants));
    Attached { reader }
}

fn write_frames(mut qemu: ChildStdin, to_send: Receiver<Outgoing>) {
    let mut frame = Vec::new();
    for message in to_send {
        frame.clear();
        let message = match &message {
            Outgoing::Start(start) => ToGuest::Start(start.clone()),
            Outgoing::Stdin(bytes) => ToGuest::Stdin(bytes),
            Outgoing::StdinEnd => ToGuest::StdinEnd,
            Outgoing::Written(stream, total) => ToGuest::Written { stream: *stream, total: *total },
            Outgoing::Closed(stream) => ToGuest::Closed(*stream),
        };
        encode_to_guest(&mut frame, &message);
        if qemu.write_all(&frame).and_then(|()| qemu.flush()).is_err() {
            return; // QEMU is gone
        }
    }
}

/// Reads this process's standard input as the application asks for it: each request is a
/// number of bytes, answered with at most that many, or with the end.
fn pump_stdin(wanted: Receiver<u32>, outgoing: Sender<Outgoing>) {
    let mut stdin = std::io::stdin().lock();
    let mut buffer = vec![0u8; MAX_PAYLOAD];
    for want in wanted {
        let want = (want as usize).clamp(1, buffer.len());
        let message = loop {
            match stdin.read(&mut buffer[..want]) {
                Ok(0) => break Outgoing::StdinEnd,
                Ok(n) => break Outgoing::Stdin(buffer[..n].to_vec()),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                // An unreadable standard input reads as its end, as under wasmtime.
                Err(_) => break Outgoing::StdinEnd,
            }
        };
        let end = matches!(message, Outgoing::StdinEnd);
        if outgoing.send(message).is_err() || end {
            return;
        }
    }
}

/// One of this process's output streams, as the application's stream reaches it.
struct Sink {
    stream: Stream,
    written: u64,
    closed: bool,
}

impl Sink {
    fn write(&mut self, bytes: &[u8]) -> Outgoing {
        if !self.closed {
            let result = match self.stream {
                Stream::Stdout => {
                    let mut out = std::io::stdout().lock();
                    out.write_all(bytes).and_then(|()| out.flush())
                }
                Stream::Stderr => {
                    let mut err = std::io::stderr().lock();
                    err.write_all(bytes).and_then(|()| err.flush())
                }
            };
            match result {
                Ok(()) => self.written += bytes.len() as u64,
                // A broken pipe is `closed` to the application, as wasmtime reports it; so is
                // any other failure to write, after which nothing more would arrive either.
                Err(_) => self.closed = true,
            }
        }
        if self.closed { Outgoing::Closed(self.stream) } else { Outgoing::Written(self.stream, self.written) }
    }
}

fn read_frames(
    mut qemu: ChildStdout,
    outgoing: Sender<Outgoing>,
    wants: Option<Sender<u32>>,
) -> Result<Option<u8>, String> {
    let mut reader = FrameReader::new();
    let mut chunk = vec![0u8; 256 * 1024];
    let mut stdout = Sink { stream: Stream::Stdout, written: 0, closed: false };
    let mut stderr = Sink { stream: Stream::Stderr, written: 0, closed: false };
    let mut stdin_ended = false;
    let mut exit_status = None;
    loop {
        let n = match qemu.read(&mut chunk) {
            Ok(0) => return Ok(exit_status),
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(format!("reading the console channel: {e}")),
        };
        reader.push(&chunk[..n]);
        while let Some(frame) = reader.next_frame(MAX_PAYLOAD).map_err(|e| e.to_string())? {
            let reply = match frame.to_host().map_err(|e| e.to_string())? {
                ToHost::Output { stream: Stream::Stdout, bytes } => stdout.write(bytes),
                ToHost::Output { stream: Stream::Stderr, bytes } => stderr.write(bytes),
                ToHost::StdinWanted(n) => match &wants {
                    Some(wants) if !stdin_ended => match wants.send(n) {
                        Ok(()) => continue,
                        Err(_) => Outgoing::StdinEnd,
                    },
                    _ => Outgoing::StdinEnd,
                },
                ToHost::Exit(status) => {
                    exit_status = Some(status);
                    continue;
                }
            };
            stdin_ended |= matches!(reply, Outgoing::StdinEnd);
            // The writer ends only when QEMU has: nothing is left to tell it then.
            let _ = outgoing.send(reply);
        }
    }
}
