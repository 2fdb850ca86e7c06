//! The console channel (`morgana_image::channel`) over the virtio-console port: the
//! application's standard input, output and error, and its arguments and environment of any
//! size, exchanged with `morgana run` on the host.
//!
//! Output is queued and sent in buffers of up to 64 KiB; each stream may have at most
//! [`OUTPUT_WINDOW`] bytes sent and not yet reported written by the host, so a slow reader
//! slows the application down and nothing is dropped; [`Channel::flush`] waits until the host
//! has written everything before the VM stops. Standard input is asked for only when the
//! application reads it, a chunk at a time.

use alloc::collections::VecDeque;
use alloc::vec::Vec;

use morgana_image::channel::{
    self, ChannelError, FrameReader, HEADER_LEN, MAX_PAYLOAD, MAX_START, OUTPUT_WINDOW, Start, Stream, ToGuest, ToHost,
};
use morgana_wasi::{ConsoleClosed, ConsoleStream, StdinRead};

use crate::drivers::virtio_console::{ConsolePort, TRANSMIT_BUFFER_LEN};
use crate::{kprintln, time};

/// How much standard input one request asks for.
const STDIN_CHUNK: u32 = 64 * 1024;
/// How long the VM waits at its end for a host that writes out nothing more.
const STALLED_NS: u64 = 60_000_000_000;

#[derive(Default)]
struct Output {
    /// Bytes the application wrote that are not yet sent.
    pending: VecDeque<u8>,
    /// Bytes the application wrote since boot.
    accepted: u64,
    /// Bytes the host reported written since boot.
    written: u64,
    /// The host can write no more of this stream.
    closed: bool,
}

impl Output {
    fn unwritten(&self) -> u64 {
        self.accepted.saturating_sub(self.written)
    }

    fn is_done(&self) -> bool {
        self.closed || self.unwritten() == 0
    }
}

pub struct Channel {
    port: ConsolePort,
    reader: FrameReader,
    start: Option<Start>,
    got_start: bool,
    /// Frames to the host other than output, sent first.
    control: Vec<u8>,
    stdin: VecDeque<u8>,
    stdin_end: bool,
    stdin_requested: bool,
    stdout: Output,
    stderr: Output,
    /// The host broke the protocol: nothing more is read from it.
    broken: bool,
}

impl Channel {
    pub fn new(port: ConsolePort) -> Self {
        Channel {
            port,
            reader: FrameReader::new(),
            start: None,
            got_start: false,
            control: Vec::new(),
            stdin: VecDeque::new(),
            stdin_end: false,
            stdin_requested: false,
            stdout: Output::default(),
            stderr: Output::default(),
            broken: false,
        }
    }

    /// Waits (halting between interrupts) for the host's start block, at most `timeout_ns`.
    pub fn wait_start(&mut self, timeout_ns: u64) -> Option<Start> {
        let deadline = time::now_ns() + timeout_ns;
        loop {
            self.pump();
            if let Some(start) = self.start.take() {
                return Some(start);
            }
            if self.broken || time::now_ns() >= deadline {
                return None;
            }
            time::wake_at(deadline);
            time::idle();
        }
    }

    /// Moves whatever can move: takes in what the host sent, frees finished transmit buffers,
    /// sends what is queued.
    pub fn pump(&mut self) {
        self.port.acknowledge_interrupt();
        self.port.reclaim();
        if !self.broken {
            let reader = &mut self.reader;
            self.port.receive(|chunk| reader.push(chunk));
            self.take_frames();
        }
        self.send_queued();
    }

    /// Whether [`pump`](Self::pump) has something to do at once (so the CPU must not halt).
    pub fn is_busy(&self) -> bool {
        self.port.has_received()
    }

    fn take_frames(&mut self) {
        loop {
            // The start block (the first frame) may be large; every later one is bounded.
            let limit = if self.got_start { MAX_PAYLOAD } else { MAX_START };
            let frame = match self.reader.next_frame(limit) {
                Ok(Some(frame)) => frame.to_guest(),
                Ok(None) => return,
                Err(error) => Err(error),
            };
            match frame {
                Ok(ToGuest::Start(start)) if !self.got_start => {
                    self.got_start = true;
                    self.start = Some(start);
                }
                Ok(ToGuest::Start(_)) => return self.break_down(ChannelError::OutOfOrder(channel::START_KIND)),
                Ok(ToGuest::Stdin(bytes)) => {
                    self.stdin.extend(bytes);
                    self.stdin_requested = false;
                }
                Ok(ToGuest::StdinEnd) => {
                    self.stdin_end = true;
                    self.stdin_requested = false;
                }
                Ok(ToGuest::Written { stream, total }) => {
                    let output = self.output(stream);
                    output.written = output.written.max(total.min(output.accepted));
                }
                Ok(ToGuest::Closed(stream)) => {
                    let output = self.output(stream);
                    output.closed = true;
                    output.pending.clear();
                }
                Err(error) => return self.break_down(error),
            }
        }
    }

    fn break_down(&mut self, error: ChannelError) {
        kprintln!("morgana kernel: {error}; standard input ends and output is dropped");
        self.broken = true;
        self.stdin_end = true;
        for output in [&mut self.stdout, &mut self.stderr] {
            output.closed = true;
            output.pending.clear();
        }
    }

    fn output(&mut self, stream: Stream) -> &mut Output {
        match stream {
            Stream::Stdout => &mut self.stdout,
            Stream::Stderr => &mut self.stderr,
        }
    }

    fn send_queued(&mut self) {
        if !self.control.is_empty() && self.port.can_send() {
            let control = core::mem::take(&mut self.control);
            if !self.port.send(&[&control]) {
                self.control = control;
            }
        }
        for stream in [Stream::Stdout, Stream::Stderr] {
            let output = match stream {
                Stream::Stdout => &mut self.stdout,
                Stream::Stderr => &mut self.stderr,
            };
            while self.port.can_send() {
                let len = output.pending.len().min(TRANSMIT_BUFFER_LEN - HEADER_LEN);
                if len == 0 {
                    break;
                }
                let header = channel::output_header(stream, len);
                let (front, back) = output.pending.as_slices();
                let (front, back) =
                    if front.len() >= len { (&front[..len], &[][..]) } else { (front, &back[..len - front.len()]) };
                if !self.port.send(&[&header, front, back]) {
                    break;
                }
                output.pending.drain(..len);
            }
        }
    }

    /// How many bytes the stream takes now: 0 while the host is behind by a window.
    pub fn capacity(&mut self, stream: ConsoleStream) -> Result<usize, ConsoleClosed> {
        self.pump();
        let output = self.output(stream_of(stream));
        if output.closed {
            return Err(ConsoleClosed);
        }
        Ok(OUTPUT_WINDOW.saturating_sub(output.unwritten()) as usize)
    }

    /// Queues `bytes` for the stream and starts sending.
    pub fn write(&mut self, stream: ConsoleStream, bytes: &[u8]) -> Result<(), ConsoleClosed> {
        let output = self.output(stream_of(stream));
        if output.closed {
            return Err(ConsoleClosed);
        }
        output.pending.extend(bytes);
        output.accepted += bytes.len() as u64;
        self.pump();
        Ok(())
    }

    /// Takes up to `max` bytes of standard input, asking the host for more when none wait.
    pub fn read_stdin(&mut self, max: usize) -> StdinRead {
        self.pump();
        if !self.stdin.is_empty() {
            let n = max.min(self.stdin.len());
            return StdinRead::Bytes(self.stdin.drain(..n).collect());
        }
        if self.stdin_end {
            return StdinRead::End;
        }
        if !self.stdin_requested {
            channel::encode_to_host(&mut self.control, &ToHost::StdinWanted(STDIN_CHUNK));
            self.stdin_requested = true;
            self.send_queued();
        }
        StdinRead::Wait
    }

    /// Whether [`read_stdin`](Self::read_stdin) would return bytes or the end.
    pub fn stdin_ready(&mut self) -> bool {
        !matches!(self.read_stdin(0), StdinRead::Wait)
    }

    /// Tells the host the application's exit status (sent before anything still queued).
    pub fn send_exit(&mut self, status: u8) {
        channel::encode_to_host(&mut self.control, &ToHost::Exit(status));
        self.send_queued();
    }

    /// Waits until the host has written out everything the application wrote (or closed the
    /// stream) and the device has passed on every frame, as long as the host makes progress.
    pub fn flush(&mut self) {
        let mut last_progress = (time::now_ns(), self.stdout.written + self.stderr.written);
        loop {
            self.pump();
            if self.stdout.is_done() && self.stderr.is_done() && self.control.is_empty() && !self.port.is_sending() {
                return;
            }
            let now = time::now_ns();
            let written = self.stdout.written + self.stderr.written;
            if written != last_progress.1 {
                last_progress = (now, written);
            } else if now - last_progress.0 > STALLED_NS {
                kprintln!(
                    "morgana kernel: warning: the host wrote out nothing for {} s; {} bytes of output are lost",
                    STALLED_NS / 1_000_000_000,
                    self.stdout.unwritten() + self.stderr.unwritten()
                );
                return;
            }
            time::wake_at(now + 100_000_000);
            time::idle();
        }
    }
}

fn stream_of(stream: ConsoleStream) -> Stream {
    match stream {
        ConsoleStream::Stdout => Stream::Stdout,
        ConsoleStream::Stderr => Stream::Stderr,
    }
}
