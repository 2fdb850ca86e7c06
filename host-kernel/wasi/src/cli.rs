//! `wasi:cli`: the environment, exit, and the standard streams, as wasmtime-wasi provides them
//! to a command whose standard streams are pipes, not terminals.
//!
//! - `environment`: the [`WasiCtx`](crate::WasiCtx)'s arguments and variables; no initial
//!   working directory.
//! - `exit`: unwinds the guest with [`ExitStatus`]: `exit(ok)` 0, `exit(err)` 1,
//!   `exit-with-code(n)` n.
//! - `stdin`: [`Platform::stdin_read`]: reads take what has arrived, `closed` at the end.
//! - `stdout`, `stderr`: writes go to [`Platform::console_write`] as far as
//!   [`Platform::console_capacity`] allows (at most 64 KiB at once, wasmtime-wasi's figure); a
//!   full console makes the stream not ready until it drains, a closed one fails writes with
//!   `closed`. Flushing does nothing more: the platform delivers everything it took.
//! - `terminal-*`: none of the streams is a terminal, so every `get-terminal-*` returns none.

use alloc::boxed::Box; // async_trait's expansion names `Box`
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::task::Poll;
use wasmtime::component::{Linker, Resource};
use wasmtime_wasi_io::bytes::Bytes;
use wasmtime_wasi_io::poll::Pollable;
use wasmtime_wasi_io::streams::{
    DynInputStream, DynOutputStream, InputStream, OutputStream, StreamError, StreamResult,
};

use crate::ExitStatus;
use crate::bindings::wasi::cli::{
    environment, exit, stderr, stdin, stdout, terminal_input, terminal_output, terminal_stderr, terminal_stdin,
    terminal_stdout,
};
use crate::ctx::{WasiHost, WasiHostCtxView, WasiHostView};
use crate::platform::{ConsoleClosed, ConsoleStream, Platform, StdinRead};

/// How many bytes a console stream's `check-write` allows at once (wasmtime-wasi's figure).
pub const CONSOLE_WRITE_BUDGET: usize = 64 * 1024;

/// Adds every `wasi:cli` interface but `run` (which the guest exports) to `linker`.
pub fn add_to_linker<T: WasiHostView + 'static>(linker: &mut Linker<T>) -> wasmtime::Result<()> {
    let l = linker;
    environment::add_to_linker::<T, WasiHost>(l, T::wasi)?;
    exit::add_to_linker::<T, WasiHost>(l, T::wasi)?;
    stdin::add_to_linker::<T, WasiHost>(l, T::wasi)?;
    stdout::add_to_linker::<T, WasiHost>(l, T::wasi)?;
    stderr::add_to_linker::<T, WasiHost>(l, T::wasi)?;
    terminal_input::add_to_linker::<T, WasiHost>(l, T::wasi)?;
    terminal_output::add_to_linker::<T, WasiHost>(l, T::wasi)?;
    terminal_stdin::add_to_linker::<T, WasiHost>(l, T::wasi)?;
    terminal_stdout::add_to_linker::<T, WasiHost>(l, T::wasi)?;
    terminal_stderr::add_to_linker::<T, WasiHost>(l, T::wasi)?;
    Ok(())
}

impl environment::Host for WasiHostCtxView<'_> {
    fn get_environment(&mut self) -> wasmtime::Result<Vec<(String, String)>> {
        Ok(self.ctx.env().to_vec())
    }

    fn get_arguments(&mut self) -> wasmtime::Result<Vec<String>> {
        Ok(self.ctx.args().to_vec())
    }

    fn initial_cwd(&mut self) -> wasmtime::Result<Option<String>> {
        Ok(None)
    }
}

impl exit::Host for WasiHostCtxView<'_> {
    fn exit(&mut self, status: Result<(), ()>) -> wasmtime::Result<()> {
        let status = match status {
            Ok(()) => 0,
            Err(()) => 1,
        };
        Err(wasmtime::Error::new(ExitStatus(status)))
    }

    fn exit_with_code(&mut self, status_code: u8) -> wasmtime::Result<()> {
        Err(wasmtime::Error::new(ExitStatus(status_code.into())))
    }
}

impl stdin::Host for WasiHostCtxView<'_> {
    fn get_stdin(&mut self) -> wasmtime::Result<Resource<DynInputStream>> {
        let stream: DynInputStream = Box::new(Stdin { platform: Arc::clone(self.ctx.platform()) });
        Ok(self.table.push(stream)?)
    }
}

impl stdout::Host for WasiHostCtxView<'_> {
    fn get_stdout(&mut self) -> wasmtime::Result<Resource<DynOutputStream>> {
        let stream: DynOutputStream = Box::new(Console::new(self.ctx.platform(), ConsoleStream::Stdout));
        Ok(self.table.push(stream)?)
    }
}

impl stderr::Host for WasiHostCtxView<'_> {
    fn get_stderr(&mut self) -> wasmtime::Result<Resource<DynOutputStream>> {
        let stream: DynOutputStream = Box::new(Console::new(self.ctx.platform(), ConsoleStream::Stderr));
        Ok(self.table.push(stream)?)
    }
}

// No terminal resource is ever created (every `get-terminal-*` returns none), so their types
// are bindgen!'s empty enums and dropping one would find nothing in the table.

impl terminal_input::Host for WasiHostCtxView<'_> {}

impl terminal_input::HostTerminalInput for WasiHostCtxView<'_> {
    fn drop(&mut self, terminal: Resource<terminal_input::TerminalInput>) -> wasmtime::Result<()> {
        self.table.delete(terminal)?;
        Ok(())
    }
}

impl terminal_output::Host for WasiHostCtxView<'_> {}

impl terminal_output::HostTerminalOutput for WasiHostCtxView<'_> {
    fn drop(&mut self, terminal: Resource<terminal_output::TerminalOutput>) -> wasmtime::Result<()> {
        self.table.delete(terminal)?;
        Ok(())
    }
}

impl terminal_stdin::Host for WasiHostCtxView<'_> {
    fn get_terminal_stdin(&mut self) -> wasmtime::Result<Option<Resource<terminal_input::TerminalInput>>> {
        Ok(None)
    }
}

impl terminal_stdout::Host for WasiHostCtxView<'_> {
    fn get_terminal_stdout(&mut self) -> wasmtime::Result<Option<Resource<terminal_output::TerminalOutput>>> {
        Ok(None)
    }
}

impl terminal_stderr::Host for WasiHostCtxView<'_> {
    fn get_terminal_stderr(&mut self) -> wasmtime::Result<Option<Resource<terminal_output::TerminalOutput>>> {
        Ok(None)
    }
}

/// Standard input: the platform's, read as the guest asks.
struct Stdin {
    platform: Arc<dyn Platform>,
}

#[wasmtime_wasi_io::async_trait]
impl InputStream for Stdin {
    fn read(&mut self, size: usize) -> StreamResult<Bytes> {
        match self.platform.stdin_read(size) {
            StdinRead::Bytes(bytes) => Ok(Bytes::from(bytes)),
            StdinRead::Wait => Ok(Bytes::new()),
            StdinRead::End => Err(StreamError::Closed),
        }
    }
}

#[wasmtime_wasi_io::async_trait]
impl Pollable for Stdin {
    async fn ready(&mut self) {
        core::future::poll_fn(|_| if self.platform.stdin_ready() { Poll::Ready(()) } else { Poll::Pending }).await
    }
}

/// Standard output or error: writes go to the platform's console as far as it takes them.
struct Console {
    platform: Arc<dyn Platform>,
    stream: ConsoleStream,
}

impl Console {
    fn new(platform: &Arc<dyn Platform>, stream: ConsoleStream) -> Self {
        Console { platform: Arc::clone(platform), stream }
    }
}

fn closed(_: ConsoleClosed) -> StreamError {
    StreamError::Closed
}

#[wasmtime_wasi_io::async_trait]
impl OutputStream for Console {
    fn write(&mut self, bytes: Bytes) -> StreamResult<()> {
        self.platform.console_write(self.stream, &bytes).map_err(closed)
    }

    fn flush(&mut self) -> StreamResult<()> {
        Ok(())
    }

    fn check_write(&mut self) -> StreamResult<usize> {
        Ok(self.platform.console_capacity(self.stream).map_err(closed)?.min(CONSOLE_WRITE_BUDGET))
    }
}

#[wasmtime_wasi_io::async_trait]
impl Pollable for Console {
    async fn ready(&mut self) {
        // Ready once there is room, or once the stream is closed (the next write says so).
        core::future::poll_fn(|_| match self.platform.console_capacity(self.stream) {
            Ok(0) => Poll::Pending,
            _ => Poll::Ready(()),
        })
        .await
    }
}
