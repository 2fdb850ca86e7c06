//! `wasi:sockets/udp` and `wasi:sockets/udp-create-socket`.
//!
//! As in wasmtime-wasi: a socket must be bound before `stream`; `stream(some(address))`
//! connects it (only datagrams from that address are received, and sends default to it),
//! `stream(none)` disconnects it; a new `stream` needs the previous streams dropped (else a trap);
//! `check-send` allows up to 16 datagrams when the network has room (0 when not), and `send`
//! traps when given more than allowed; `receive` returns up to 16 datagrams and about 64 KiB.

use alloc::boxed::Box; // async_trait's expansion names `Box`
use alloc::vec::Vec;
use core::net::SocketAddr;
use wasmtime::component::Resource;
use wasmtime_wasi_io::poll::{DynPollable, Pollable, subscribe};

use super::network::Network;
use super::{MAX_TRANSFER, NetCtx, is_valid_address_family, is_valid_remote_address};
use crate::bindings::wasi::sockets::network::{ErrorCode, IpAddressFamily, IpSocketAddress};
use crate::bindings::wasi::sockets::udp::{
    self, HostIncomingDatagramStream, HostOutgoingDatagramStream, HostUdpSocket, IncomingDatagram, OutgoingDatagram,
};
use crate::bindings::wasi::sockets::udp_create_socket;
use crate::ctx::WasiHostCtxView;
use crate::error::SocketError;
use crate::network::{SocketId, UdpOptions};

type SocketResult<T> = Result<T, SocketError>;

/// The most datagrams one `receive` returns or one `check-send` allows (wasmtime-wasi's figure).
const MAX_DATAGRAMS: usize = 16;
/// The largest datagram payload, as wasmtime-wasi checks it (the network may allow less).
const MAX_DATAGRAM_SIZE: usize = u16::MAX as usize;

/// A UDP socket: wasmtime-wasi's bookkeeping over a socket of the network.
pub struct UdpSocket {
    net: NetCtx,
    id: SocketId,
    family: IpAddressFamily,
    bind_in_progress: bool,
    is_bound: bool,
    remote: Option<SocketAddr>,
    options: UdpOptions,
}

impl Drop for UdpSocket {
    fn drop(&mut self) {
        self.net.network.udp_close(self.id);
    }
}

impl UdpSocket {
    fn set_options(&mut self, change: impl FnOnce(&mut UdpOptions)) -> SocketResult<()> {
        let mut options = self.options;
        change(&mut options);
        self.options = self.net.network.udp_set_options(self.id, options)?;
        Ok(())
    }
}

/// The incoming half of a streamed UDP socket.
pub struct IncomingDatagramStream {
    net: NetCtx,
    id: SocketId,
    /// Only datagrams from here, when connected.
    remote: Option<SocketAddr>,
}

/// The outgoing half of a streamed UDP socket.
pub struct OutgoingDatagramStream {
    net: NetCtx,
    id: SocketId,
    family: IpAddressFamily,
    /// Where datagrams without an address go, when connected; the only address allowed then.
    remote: Option<SocketAddr>,
    /// What the last `check-send` allowed.
    permit: usize,
}

impl udp_create_socket::Host for WasiHostCtxView<'_> {
    fn create_udp_socket(&mut self, family: IpAddressFamily) -> SocketResult<Resource<UdpSocket>> {
        let net = NetCtx::of(self.ctx)?;
        let id = net.network.udp_open(family)?;
        let options = match net.network.udp_options(id) {
            Ok(options) => options,
            Err(code) => {
                net.network.udp_close(id);
                return Err(code.into());
            }
        };
        let socket = UdpSocket { net, id, family, bind_in_progress: false, is_bound: false, remote: None, options };
        Ok(self.table.push(socket)?)
    }
}

impl udp::Host for WasiHostCtxView<'_> {}

/// Whether the socket's streams are still alive (the socket is then not exclusively the guest's
/// to rebind or reconnect, as wasmtime-wasi sees it).
fn has_streams(view: &mut WasiHostCtxView<'_>, this: &Resource<UdpSocket>) -> SocketResult<bool> {
    Ok(view
        .table
        .iter_children(this)?
        .any(|child| child.is::<IncomingDatagramStream>() || child.is::<OutgoingDatagramStream>()))
}

impl HostUdpSocket for WasiHostCtxView<'_> {
    fn start_bind(
        &mut self,
        this: Resource<UdpSocket>,
        network: Resource<Network>,
        local_address: IpSocketAddress,
    ) -> SocketResult<()> {
        self.table.get(&network)?;
        let local = SocketAddr::from(local_address);
        let streams = has_streams(self, &this)?;
        let socket = self.table.get_mut(&this)?;
        if socket.bind_in_progress {
            return Err(ErrorCode::ConcurrencyConflict.into());
        }
        if streams || socket.is_bound {
            return Err(ErrorCode::InvalidState.into());
        }
        if !is_valid_address_family(local.ip(), socket.family) {
            return Err(ErrorCode::InvalidArgument.into());
        }
        socket.net.network.udp_bind(socket.id, local)?;
        socket.is_bound = true;
        socket.bind_in_progress = true;
        Ok(())
    }

    fn finish_bind(&mut self, this: Resource<UdpSocket>) -> SocketResult<()> {
        let socket = self.table.get_mut(&this)?;
        if !socket.bind_in_progress {
            return Err(ErrorCode::NotInProgress.into());
        }
        socket.bind_in_progress = false;
        Ok(())
    }

    fn stream(
        &mut self,
        this: Resource<UdpSocket>,
        remote_address: Option<IpSocketAddress>,
    ) -> SocketResult<(Resource<IncomingDatagramStream>, Resource<OutgoingDatagramStream>)> {
        if has_streams(self, &this)? {
            return Err(SocketError::trap("UDP streams not dropped yet"));
        }
        let socket = self.table.get_mut(&this)?;
        // In WASI 0.2, sockets had to be bound before connecting.
        if !socket.is_bound {
            return Err(ErrorCode::InvalidState.into());
        }
        match remote_address.map(SocketAddr::from) {
            Some(remote) => {
                if !is_valid_address_family(remote.ip(), socket.family) || !is_valid_remote_address(remote) {
                    return Err(ErrorCode::InvalidArgument.into());
                }
                socket.remote = Some(remote);
            }
            None => socket.remote = None,
        }
        let incoming = IncomingDatagramStream { net: socket.net.clone(), id: socket.id, remote: socket.remote };
        let outgoing = OutgoingDatagramStream {
            net: socket.net.clone(),
            id: socket.id,
            family: socket.family,
            remote: socket.remote,
            permit: 0,
        };
        let incoming = self.table.push_child(incoming, &this)?;
        let outgoing = self.table.push_child(outgoing, &this)?;
        Ok((incoming, outgoing))
    }

    fn local_address(&mut self, this: Resource<UdpSocket>) -> SocketResult<IpSocketAddress> {
        let socket = self.table.get(&this)?;
        if !socket.is_bound {
            return Err(ErrorCode::InvalidState.into());
        }
        Ok(socket.net.network.udp_local_address(socket.id)?.into())
    }

    fn remote_address(&mut self, this: Resource<UdpSocket>) -> SocketResult<IpSocketAddress> {
        let socket = self.table.get(&this)?;
        Ok(socket.remote.ok_or(ErrorCode::InvalidState)?.into())
    }

    fn address_family(&mut self, this: Resource<UdpSocket>) -> wasmtime::Result<IpAddressFamily> {
        Ok(self.table.get(&this)?.family)
    }

    fn unicast_hop_limit(&mut self, this: Resource<UdpSocket>) -> SocketResult<u8> {
        Ok(self.table.get(&this)?.options.unicast_hop_limit)
    }

    fn set_unicast_hop_limit(&mut self, this: Resource<UdpSocket>, value: u8) -> SocketResult<()> {
        if value == 0 {
            return Err(ErrorCode::InvalidArgument.into());
        }
        self.table.get_mut(&this)?.set_options(|o| o.unicast_hop_limit = value)
    }

    fn receive_buffer_size(&mut self, this: Resource<UdpSocket>) -> SocketResult<u64> {
        Ok(self.table.get(&this)?.options.receive_buffer_size)
    }

    fn set_receive_buffer_size(&mut self, this: Resource<UdpSocket>, value: u64) -> SocketResult<()> {
        if value == 0 {
            return Err(ErrorCode::InvalidArgument.into());
        }
        self.table.get_mut(&this)?.set_options(|o| o.receive_buffer_size = value)
    }

    fn send_buffer_size(&mut self, this: Resource<UdpSocket>) -> SocketResult<u64> {
        Ok(self.table.get(&this)?.options.send_buffer_size)
    }

    fn set_send_buffer_size(&mut self, this: Resource<UdpSocket>, value: u64) -> SocketResult<()> {
        if value == 0 {
            return Err(ErrorCode::InvalidArgument.into());
        }
        self.table.get_mut(&this)?.set_options(|o| o.send_buffer_size = value)
    }

    fn subscribe(&mut self, this: Resource<UdpSocket>) -> wasmtime::Result<Resource<DynPollable>> {
        subscribe(self.table, this)
    }

    fn drop(&mut self, this: Resource<UdpSocket>) -> wasmtime::Result<()> {
        self.table.delete(this)?;
        Ok(())
    }
}

#[wasmtime_wasi_io::async_trait]
impl Pollable for UdpSocket {
    /// No operation on the socket itself waits.
    async fn ready(&mut self) {}
}

impl HostIncomingDatagramStream for WasiHostCtxView<'_> {
    fn receive(
        &mut self,
        this: Resource<IncomingDatagramStream>,
        max_results: u64,
    ) -> SocketResult<Vec<IncomingDatagram>> {
        let stream = self.table.get_mut(&this)?;
        let max_results = usize::try_from(max_results).unwrap_or(usize::MAX).min(MAX_DATAGRAMS);
        let mut datagrams = Vec::new();
        let mut total = 0;
        while datagrams.len() < max_results && total < MAX_TRANSFER {
            match stream.net.network.udp_recv(stream.id) {
                Ok(Some((_, from))) if stream.remote.is_some_and(|remote| remote != from) => continue,
                Ok(Some((data, from))) => {
                    total += 1 + data.len();
                    datagrams.push(IncomingDatagram { data, remote_address: from.into() });
                }
                Ok(None) => break,
                Err(_) if !datagrams.is_empty() => break,
                Err(code) => return Err(code.into()),
            }
        }
        Ok(datagrams)
    }

    fn subscribe(&mut self, this: Resource<IncomingDatagramStream>) -> wasmtime::Result<Resource<DynPollable>> {
        subscribe(self.table, this)
    }

    fn drop(&mut self, this: Resource<IncomingDatagramStream>) -> wasmtime::Result<()> {
        self.table.delete(this)?;
        Ok(())
    }
}

#[wasmtime_wasi_io::async_trait]
impl Pollable for IncomingDatagramStream {
    async fn ready(&mut self) {
        let id = self.id;
        self.net.until(|network| network.udp_recv_ready(id)).await
    }
}

impl OutgoingDatagramStream {
    /// Where a datagram goes, checked as wasmtime-wasi checks it.
    fn destination(&self, datagram: &OutgoingDatagram) -> Result<SocketAddr, ErrorCode> {
        if datagram.data.len() > MAX_DATAGRAM_SIZE {
            return Err(ErrorCode::DatagramTooLarge);
        }
        match datagram.remote_address.map(SocketAddr::from) {
            Some(remote) => {
                if !is_valid_remote_address(remote) || !is_valid_address_family(remote.ip(), self.family) {
                    return Err(ErrorCode::InvalidArgument);
                }
                if self.remote.is_some_and(|connected| connected != remote) {
                    return Err(ErrorCode::InvalidArgument);
                }
                Ok(remote)
            }
            None => self.remote.ok_or(ErrorCode::InvalidArgument),
        }
    }
}

impl HostOutgoingDatagramStream for WasiHostCtxView<'_> {
    fn check_send(&mut self, this: Resource<OutgoingDatagramStream>) -> SocketResult<u64> {
        let stream = self.table.get_mut(&this)?;
        stream.permit = if stream.net.network.udp_send_ready(stream.id) { MAX_DATAGRAMS } else { 0 };
        Ok(stream.permit as u64)
    }

    fn send(&mut self, this: Resource<OutgoingDatagramStream>, datagrams: Vec<OutgoingDatagram>) -> SocketResult<u64> {
        let stream = self.table.get_mut(&this)?;
        if datagrams.is_empty() {
            return Ok(0);
        }
        if datagrams.len() > stream.permit {
            return Err(SocketError::trap("unpermitted: argument exceeds permitted size"));
        }
        // Each `send` must be permitted by a preceding `check-send`.
        stream.permit = 0;
        let mut sent = 0;
        for datagram in &datagrams {
            let result = stream
                .destination(datagram)
                .and_then(|remote| stream.net.network.udp_send(stream.id, &datagram.data, remote));
            match result {
                Ok(true) => sent += 1,
                Ok(false) => break,
                // Once a datagram has gone, `send` reports no error.
                Err(_) if sent > 0 => break,
                Err(code) => return Err(code.into()),
            }
        }
        Ok(sent)
    }

    fn subscribe(&mut self, this: Resource<OutgoingDatagramStream>) -> wasmtime::Result<Resource<DynPollable>> {
        subscribe(self.table, this)
    }

    fn drop(&mut self, this: Resource<OutgoingDatagramStream>) -> wasmtime::Result<()> {
        self.table.delete(this)?;
        Ok(())
    }
}

#[wasmtime_wasi_io::async_trait]
impl Pollable for OutgoingDatagramStream {
    async fn ready(&mut self) {
        let id = self.id;
        self.net.until(|network| network.udp_send_ready(id)).await
    }
}
