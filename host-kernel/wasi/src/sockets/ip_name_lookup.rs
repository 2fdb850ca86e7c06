//! `wasi:sockets/ip-name-lookup`: IP addresses are answered at once, and so is `localhost`
//! (in any case, with or without a trailing dot): ::1 then 127.0.0.1, the order getaddrinfo
//! gives them on Linux with the usual `/etc/hosts`, so under wasmtime-wasi too, and never
//! through DNS (RFC 6761). Other names go to the network's resolver
//! ([`Network::resolve`](crate::network::Network::resolve)).
//!
//! As in wasmtime-wasi, a name is checked before it is looked up: one with characters no host
//! name may contain is `invalid-argument`. Unlike wasmtime-wasi (which converts international
//! names to punycode), a name that is not ASCII is `invalid-argument` too.

use alloc::boxed::Box; // async_trait's expansion names `Box`
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;
use core::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use wasmtime::component::Resource;
use wasmtime_wasi_io::poll::{DynPollable, Pollable, subscribe};

use super::NetCtx;
use super::network::Network;
use crate::bindings::wasi::sockets::ip_name_lookup::{Host, HostResolveAddressStream};
use crate::bindings::wasi::sockets::network::{ErrorCode, IpAddress};
use crate::ctx::WasiHostCtxView;
use crate::error::SocketError;
use crate::network::SocketId;

/// A lookup in progress or its result.
pub struct ResolveAddressStream {
    net: Option<NetCtx>,
    state: LookupState,
}

enum LookupState {
    Pending(SocketId),
    /// The addresses not handed out yet, in reverse order.
    Done(Vec<IpAddr>),
    Failed(ErrorCode),
}

impl ResolveAddressStream {
    /// Takes the network's result if it has come.
    fn update(&mut self) {
        if let (LookupState::Pending(id), Some(net)) = (&self.state, &self.net)
            && let Some(result) = net.network.resolve_result(*id)
        {
            self.state = match result {
                Ok(mut addresses) => {
                    addresses.reverse();
                    LookupState::Done(addresses)
                }
                Err(code) => LookupState::Failed(code),
            };
        }
    }
}

impl Drop for ResolveAddressStream {
    fn drop(&mut self) {
        if let (LookupState::Pending(id), Some(net)) = (&self.state, &self.net) {
            net.network.resolve_cancel(*id);
        }
    }
}

impl Host for WasiHostCtxView<'_> {
    fn resolve_addresses(
        &mut self,
        network: Resource<Network>,
        name: String,
    ) -> Result<Resource<ResolveAddressStream>, SocketError> {
        self.table.get(&network)?;
        let net = NetCtx::of(self.ctx).map_err(|_| ErrorCode::PermanentResolverFailure)?;
        let state = match parse_ip(&name) {
            Some(ip) => LookupState::Done(vec![ip]),
            None if is_localhost(&name) => {
                let mut addresses = LOCALHOST.to_vec();
                addresses.reverse();
                LookupState::Done(addresses)
            }
            None if is_valid_name(&name) => LookupState::Pending(net.network.resolve(&name)?),
            None => return Err(ErrorCode::InvalidArgument.into()),
        };
        let stream = ResolveAddressStream { net: Some(net), state };
        Ok(self.table.push(stream)?)
    }
}

impl HostResolveAddressStream for WasiHostCtxView<'_> {
    fn resolve_next_address(&mut self, this: Resource<ResolveAddressStream>) -> Result<Option<IpAddress>, SocketError> {
        let stream = self.table.get_mut(&this)?;
        stream.update();
        match &mut stream.state {
            LookupState::Pending(_) => Err(ErrorCode::WouldBlock.into()),
            LookupState::Done(addresses) => Ok(addresses.pop().map(IpAddress::from)),
            LookupState::Failed(code) => Err((*code).into()),
        }
    }

    fn subscribe(&mut self, this: Resource<ResolveAddressStream>) -> wasmtime::Result<Resource<DynPollable>> {
        subscribe(self.table, this)
    }

    fn drop(&mut self, this: Resource<ResolveAddressStream>) -> wasmtime::Result<()> {
        self.table.delete(this)?;
        Ok(())
    }
}

#[wasmtime_wasi_io::async_trait]
impl Pollable for ResolveAddressStream {
    async fn ready(&mut self) {
        let Some(net) = self.net.clone() else { return };
        let LookupState::Pending(id) = self.state else { return };
        let mut result = None;
        net.until(|network| {
            result = network.resolve_result(id);
            result.is_some()
        })
        .await;
        // The network has forgotten the lookup: keep its result.
        if let Some(result) = result {
            self.state = match result {
                Ok(mut addresses) => {
                    addresses.reverse();
                    LookupState::Done(addresses)
                }
                Err(code) => LookupState::Failed(code),
            };
        }
    }
}

/// What `localhost` resolves to, in order.
const LOCALHOST: [IpAddr; 2] = [IpAddr::V6(Ipv6Addr::LOCALHOST), IpAddr::V4(Ipv4Addr::LOCALHOST)];

/// `localhost`, in any case, with or without a trailing dot.
fn is_localhost(name: &str) -> bool {
    name.strip_suffix('.').unwrap_or(name).eq_ignore_ascii_case("localhost")
}

/// An IPv4 address, an IPv6 address, or an IPv6 address in brackets.
fn parse_ip(name: &str) -> Option<IpAddr> {
    if let Some(inner) = name.strip_prefix('[').and_then(|n| n.strip_suffix(']')) {
        return inner.parse::<Ipv6Addr>().ok().map(IpAddr::V6);
    }
    name.parse().ok()
}

/// Whether `name` could be a host name: non-empty ASCII without the characters URLs forbid in
/// hosts, spaces or control characters.
fn is_valid_name(name: &str) -> bool {
    const FORBIDDEN: &[u8] = b" #%/:<>?@[\\]^|";
    !name.is_empty() && name.bytes().all(|b| b.is_ascii_graphic() && !FORBIDDEN.contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn localhost_is_recognised_in_every_spelling_and_nothing_else() {
        for name in ["localhost", "LOCALHOST", "LocalHost", "localhost."] {
            assert!(is_localhost(name), "{name}");
        }
        for name in ["localhost..", "localhost.localdomain", "ip6-localhost", "a.localhost", "localhos", ""] {
            assert!(!is_localhost(name), "{name}");
        }
        assert_eq!(LOCALHOST, [IpAddr::V6(Ipv6Addr::LOCALHOST), IpAddr::V4(Ipv4Addr::LOCALHOST)]);
    }
}
