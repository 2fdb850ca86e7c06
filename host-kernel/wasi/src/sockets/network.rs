//! `wasi:sockets/network` and `wasi:sockets/instance-network`.

use wasmtime::component::Resource;

use crate::bindings::wasi::sockets::instance_network;
use crate::bindings::wasi::sockets::network::{self, ErrorCode};
use crate::ctx::WasiHostCtxView;
use crate::error::{SocketError, StreamFailure};

/// The `network` resource: the capability to use the sockets interfaces. As in wasmtime-wasi it
/// carries nothing; what a guest may do is decided by the [`WasiCtx`](crate::WasiCtx)'s network.
#[derive(Debug)]
pub struct Network {
    _private: (),
}

impl instance_network::Host for WasiHostCtxView<'_> {
    fn instance_network(&mut self) -> wasmtime::Result<Resource<Network>> {
        Ok(self.table.push(Network { _private: () })?)
    }
}

impl network::Host for WasiHostCtxView<'_> {
    fn convert_error_code(&mut self, error: SocketError) -> wasmtime::Result<ErrorCode> {
        match error {
            SocketError::Code(code) => Ok(code),
            SocketError::Trap(error) => Err(error),
        }
    }

    fn network_error_code(&mut self, error: Resource<wasmtime::Error>) -> wasmtime::Result<Option<ErrorCode>> {
        let error = self.table.get(&error)?;
        Ok(error.downcast_ref::<StreamFailure>().map(|failure| failure.0))
    }
}

impl network::HostNetwork for WasiHostCtxView<'_> {
    fn drop(&mut self, this: Resource<Network>) -> wasmtime::Result<()> {
        self.table.delete(this)?;
        Ok(())
    }
}
