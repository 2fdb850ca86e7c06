//! Bodies: those the guest reads (`incoming-body`: a served request's or a forwarded request's
//! response, read through a `wasi:io` input stream straight from the connection, then
//! `future-trailers`) and those it writes (`outgoing-body`: a served response's or a forwarded
//! request's, written through a `wasi:io` output stream into the connection). Both stream: at
//! most a read's worth and [`BODY_BUFFER`](super::exchange::BODY_BUFFER) are held, however
//! large the bodies are.

use alloc::sync::Arc;
use alloc::vec::Vec;
use core::future::poll_fn;
use core::task::Poll;

use alloc::boxed::Box; // async_trait's expansion names `Box`
use morgana_http::BodyRead;
use wasmtime_wasi_io::bytes::Bytes;
use wasmtime_wasi_io::poll::Pollable;
use wasmtime_wasi_io::streams::{InputStream, OutputStream, StreamError, StreamResult};

use super::bindings::wasi::http::types::ErrorCode;
use super::exchange::{BodySource, BodyState, SharedBody, WrittenBody};
use super::fields::Fields;

/// The most bytes one read of a body returns (wasmtime-wasi's stream transfer size).
const MAX_READ: usize = 64 * 1024;

/// What is left of a request body that has been read: how it ended.
#[derive(Clone, Debug)]
enum BodyEnd {
    Complete,
    Failed,
}

/// `incoming-body`: the body of the request being handled, or of a response to a forwarded
/// request.
pub struct IncomingBody {
    source: Arc<dyn BodySource>,
    stream_taken: bool,
}

impl IncomingBody {
    pub(crate) fn new(source: Arc<dyn BodySource>) -> Self {
        IncomingBody { source, stream_taken: false }
    }

    /// The body's input stream, the first time it is asked for.
    pub(crate) fn take_stream(&mut self) -> Option<BodyReader> {
        if core::mem::replace(&mut self.stream_taken, true) {
            return None;
        }
        Some(BodyReader { source: self.source.clone(), stash: None })
    }

    pub(crate) fn into_trailers(self) -> FutureTrailers {
        FutureTrailers { source: self.source, outcome: None, consumed: false }
    }
}

/// The input stream of an incoming body.
pub(crate) struct BodyReader {
    source: Arc<dyn BodySource>,
    /// What a poll found and no read has returned yet.
    stash: Option<Result<Vec<u8>, BodyEnd>>,
}

impl BodyReader {
    /// The next piece of the body, the end, or nothing yet.
    fn next(&mut self, max: usize) -> Option<Result<Vec<u8>, BodyEnd>> {
        if let Some(found) = self.stash.take() {
            return Some(found);
        }
        match self.source.read(max) {
            BodyRead::Data(bytes) => Some(Ok(bytes)),
            BodyRead::Pending => None,
            BodyRead::End => Some(Err(BodyEnd::Complete)),
            BodyRead::Failed => Some(Err(BodyEnd::Failed)),
        }
    }
}

#[wasmtime_wasi_io::async_trait]
impl InputStream for BodyReader {
    fn read(&mut self, size: usize) -> StreamResult<Bytes> {
        if size == 0 {
            return Ok(Bytes::new());
        }
        match self.next(size.min(MAX_READ)) {
            None => Ok(Bytes::new()),
            Some(Ok(mut bytes)) => {
                if bytes.len() > size {
                    let rest = bytes.split_off(size);
                    self.stash = Some(Ok(rest));
                }
                Ok(Bytes::from(bytes))
            }
            Some(Err(end)) => {
                self.stash = Some(Err(end.clone()));
                Err(match end {
                    BodyEnd::Complete => StreamError::Closed,
                    BodyEnd::Failed => StreamError::LastOperationFailed(wasmtime::Error::new(body_failure())),
                })
            }
        }
    }
}

#[wasmtime_wasi_io::async_trait]
impl Pollable for BodyReader {
    async fn ready(&mut self) {
        if self.stash.is_some() {
            return;
        }
        let source = self.source.clone();
        poll_fn(|_| {
            if let Some(found) = self.next(MAX_READ) {
                self.stash = Some(found);
                return Poll::Ready(());
            }
            source.poll_progress()
        })
        .await
    }
}

/// What a request body that cannot be completed looks like to the guest (the client stopped
/// sending, sent a malformed chunk, or took too long), as hyper's errors look through
/// wasmtime-wasi-http.
fn body_failure() -> ErrorCode {
    ErrorCode::HttpProtocolError
}

/// `future-trailers`: ready once the body has been received to its end (the rest of it, unread,
/// is discarded); then its trailer fields, if it had any (a chunked body's).
pub struct FutureTrailers {
    source: Arc<dyn BodySource>,
    outcome: Option<BodyEnd>,
    consumed: bool,
}

impl FutureTrailers {
    /// Reads and discards what has arrived of the body; whether its end is known.
    fn drain(&mut self) -> bool {
        if self.outcome.is_some() {
            return true;
        }
        let mut reader = BodyReader { source: self.source.clone(), stash: None };
        loop {
            match reader.next(MAX_READ) {
                None => return false,
                Some(Ok(_)) => continue,
                Some(Err(end)) => {
                    self.outcome = Some(end);
                    return true;
                }
            }
        }
    }

    /// `get`: `None` while the body is still arriving; then, once, its trailer fields (if it
    /// had any) or why it failed; then `Some(Err(()))`.
    pub(crate) fn get(&mut self) -> Option<Result<Result<Option<Fields>, ErrorCode>, ()>> {
        if self.consumed {
            return Some(Err(()));
        }
        if !self.drain() {
            return None;
        }
        self.consumed = true;
        Some(Ok(match self.outcome {
            Some(BodyEnd::Complete) | None => {
                let trailers = self.source.trailers();
                Ok((!trailers.is_empty()).then(|| Fields::received(trailers)))
            }
            Some(BodyEnd::Failed) => Err(body_failure()),
        }))
    }
}

#[wasmtime_wasi_io::async_trait]
impl Pollable for FutureTrailers {
    async fn ready(&mut self) {
        let source = self.source.clone();
        poll_fn(|_| {
            if self.consumed || self.drain() {
                return Poll::Ready(());
            }
            source.poll_progress()
        })
        .await
    }
}

/// `outgoing-body`: the body of a response the handler builds, or of a request it forwards.
/// Dropped without `finish`, the message is cut short, as under wasmtime-wasi-http.
pub struct OutgoingBody {
    body: SharedBody,
    stream_taken: bool,
    finished: bool,
}

impl OutgoingBody {
    pub(crate) fn new(body: SharedBody) -> Self {
        OutgoingBody { body, stream_taken: false, finished: false }
    }

    /// The body's output stream, the first time it is asked for.
    pub(crate) fn take_stream(&mut self) -> Option<BodyWriter> {
        if core::mem::replace(&mut self.stream_taken, true) {
            return None;
        }
        Some(BodyWriter { body: self.body.clone(), permit: 0 })
    }

    /// `finish`: the body is complete, unless its length differs from the declared
    /// `Content-Length` (`HTTP-response-body-size` or `HTTP-request-body-size`, and the message
    /// is cut).
    pub(crate) fn finish(mut self, trailers: Option<Fields>) -> Result<(), ErrorCode> {
        self.finished = true;
        let mut body = self.body.lock();
        if let Some(trailers) = trailers {
            body.trailers = trailers.entries().map(|(n, v)| (n.into(), v.to_vec())).collect();
        }
        let result = match body.declared {
            Some(declared) if declared != body.written && body.of_request => {
                Err(ErrorCode::HttpRequestBodySize(Some(body.written)))
            }
            Some(declared) if declared != body.written => Err(ErrorCode::HttpResponseBodySize(Some(body.written))),
            _ => Ok(()),
        };
        body.state = if result.is_ok() { BodyState::Finished } else { BodyState::Aborted };
        body.flush();
        result
    }
}

impl Drop for OutgoingBody {
    fn drop(&mut self) {
        if !self.finished {
            let mut body = self.body.lock();
            if body.state == BodyState::Open {
                body.state = BodyState::Aborted;
                body.flush();
            }
        }
    }
}

/// The output stream of a response body.
pub(crate) struct BodyWriter {
    body: SharedBody,
    /// What the last `check-write` allowed and no `write` has used yet.
    permit: usize,
}

impl BodyWriter {
    fn check_open(body: &WrittenBody) -> StreamResult<()> {
        match body.state {
            BodyState::Open => Ok(()),
            BodyState::Finished | BodyState::Aborted | BodyState::Done => Err(StreamError::Closed),
        }
    }
}

#[wasmtime_wasi_io::async_trait]
impl OutputStream for BodyWriter {
    fn write(&mut self, bytes: Bytes) -> StreamResult<()> {
        let mut body = self.body.lock();
        Self::check_open(&body)?;
        if bytes.len() > self.permit {
            return Err(StreamError::Trap(wasmtime::format_err!("not permitted to write {} bytes", bytes.len())));
        }
        let total = body.written + bytes.len() as u64;
        if let Some(declared) = body.declared
            && total > declared
        {
            return Err(StreamError::LastOperationFailed(wasmtime::format_err!(
                "body size exceeded: declared {declared} bytes, {total} written"
            )));
        }
        self.permit -= bytes.len();
        body.written = total;
        body.pending.extend_from_slice(&bytes);
        body.flush();
        Ok(())
    }

    fn flush(&mut self) -> StreamResult<()> {
        let mut body = self.body.lock();
        Self::check_open(&body)?;
        body.flush();
        Ok(())
    }

    fn check_write(&mut self) -> StreamResult<usize> {
        let mut body = self.body.lock();
        Self::check_open(&body)?;
        body.flush();
        if body.sink.as_ref().is_some_and(|sink| sink.is_broken()) {
            return Err(StreamError::Closed);
        }
        self.permit = body.room().min(MAX_READ);
        Ok(self.permit)
    }
}

#[wasmtime_wasi_io::async_trait]
impl Pollable for BodyWriter {
    async fn ready(&mut self) {
        let shared = Arc::clone(&self.body);
        poll_fn(|_| {
            let mut body = shared.lock();
            body.flush();
            let closed = body.state != BodyState::Open;
            if closed || body.room() > 0 {
                return Poll::Ready(());
            }
            match body.sink.clone() {
                Some(sink) => {
                    drop(body);
                    sink.poll_progress()
                }
                // No head sent yet: only the guest's `response-outparam.set` or
                // `outgoing-handler.handle` makes room, so waiting here waits forever (as it
                // does under wasmtime-wasi-http).
                None => Poll::Pending,
            }
        })
        .await
    }
}
