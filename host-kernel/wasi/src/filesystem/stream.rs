//! The streams of `read-via-stream`, `write-via-stream` and `append-via-stream`: each holds its
//! file (so it outlives its descriptor, as wasmtime-wasi's do) and its own position. Reads and
//! writes happen at once (the file is in memory), so the streams are always ready.

use alloc::boxed::Box; // async_trait's expansion names `Box`
use alloc::sync::Arc;
use wasmtime_wasi_io::bytes::Bytes;
use wasmtime_wasi_io::poll::Pollable;
use wasmtime_wasi_io::streams::{InputStream, OutputStream, StreamError, StreamResult};

use super::tree::NodeRef;
use super::{Descriptor, FileStreamError};
use crate::bindings::wasi::filesystem::types::ErrorCode;
use crate::platform::Platform;

/// The most bytes one read returns and one write takes (wasmtime-wasi's figure).
const CHUNK: usize = 64 * 1024;

fn failed(code: ErrorCode) -> StreamError {
    StreamError::LastOperationFailed(wasmtime::Error::new(FileStreamError(code)))
}

pub struct FileInputStream {
    node: NodeRef,
    position: u64,
    /// The descriptor was opened for reading (else every read is `bad-descriptor`).
    readable: bool,
}

impl FileInputStream {
    pub(crate) fn new(descriptor: &Descriptor, position: u64) -> Self {
        FileInputStream { node: descriptor.node.clone(), position, readable: descriptor.read }
    }
}

#[wasmtime_wasi_io::async_trait]
impl InputStream for FileInputStream {
    fn read(&mut self, size: usize) -> StreamResult<Bytes> {
        if !self.readable {
            return Err(failed(ErrorCode::BadDescriptor));
        }
        if size == 0 {
            return Ok(Bytes::new());
        }
        let tree = self.node.tree.lock();
        let bytes = tree.read(self.node.node, self.position, size.min(CHUNK));
        if bytes.is_empty() {
            return Err(StreamError::Closed);
        }
        self.position += bytes.len() as u64;
        Ok(Bytes::copy_from_slice(bytes))
    }
}

#[wasmtime_wasi_io::async_trait]
impl Pollable for FileInputStream {
    async fn ready(&mut self) {}
}

pub struct FileOutputStream {
    node: NodeRef,
    /// Where the next write goes; `None`: at the end (append).
    position: Option<u64>,
    /// The descriptor was opened for writing (else every write is `bad-descriptor`).
    writable: bool,
    platform: Arc<dyn Platform>,
}

impl FileOutputStream {
    pub(crate) fn new(descriptor: &Descriptor, position: Option<u64>, platform: Arc<dyn Platform>) -> Self {
        FileOutputStream { node: descriptor.node.clone(), position, writable: descriptor.write, platform }
    }
}

#[wasmtime_wasi_io::async_trait]
impl OutputStream for FileOutputStream {
    fn write(&mut self, bytes: Bytes) -> StreamResult<()> {
        if !self.writable {
            return Err(failed(ErrorCode::BadDescriptor));
        }
        let now = self.platform.wall_now();
        let end = self.node.tree.lock().write(self.node.node, self.position, &bytes, now).map_err(failed)?;
        if let Some(position) = &mut self.position {
            *position = end;
        }
        Ok(())
    }

    fn flush(&mut self) -> StreamResult<()> {
        Ok(())
    }

    fn check_write(&mut self) -> StreamResult<usize> {
        Ok(CHUNK)
    }
}

#[wasmtime_wasi_io::async_trait]
impl Pollable for FileOutputStream {
    async fn ready(&mut self) {}
}
