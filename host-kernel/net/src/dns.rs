//! Name lookups through the configured DNS servers (smoltcp's DNS socket: servers tried in
//! turn, queries retransmitted, given up after about 10 s).

use alloc::collections::BTreeMap;
use alloc::vec::Vec;
use core::net::IpAddr;
use smoltcp::phy::Device;
use smoltcp::socket::dns::{self, GetQueryResultError, QueryHandle, StartQueryError};
use smoltcp::wire::{DnsQueryType, IpCidr};

use crate::error::Error;
use crate::stack::{SocketId, Stack};

#[derive(Default)]
pub(crate) struct Lookups {
    map: BTreeMap<SocketId, Lookup>,
}

struct Lookup {
    /// Queries not answered yet (A, and AAAA when the interface has a global IPv6 address).
    pending: Vec<QueryHandle>,
    addresses: Vec<IpAddr>,
}

impl<D: Device> Stack<D> {
    /// Starts looking up the addresses of `name`. [`Error::NoDnsServer`] when none is
    /// configured (yet), [`Error::NameUnresolvable`] for a name DNS cannot carry.
    pub fn resolve(&mut self, name: &str) -> Result<SocketId, Error> {
        if self.dns_servers.is_empty() {
            return Err(Error::NoDnsServer);
        }
        if self.lookups.map.len() >= self.options.max_lookups {
            return Err(Error::LookupLimit);
        }
        let ipv6 = self.iface.ip_addrs().iter().any(|cidr| match cidr {
            IpCidr::Ipv6(c) => c.address().segments()[0] & 0xe000 == 0x2000,
            IpCidr::Ipv4(_) => false,
        });
        let context = self.iface.context();
        let socket = self.sockets.wire.get_mut::<dns::Socket>(self.dns);
        let a = socket.start_query(context, name, DnsQueryType::A).map_err(|e| match e {
            StartQueryError::NoFreeSlot => Error::LookupLimit,
            StartQueryError::InvalidName | StartQueryError::NameTooLong => Error::NameUnresolvable,
        })?;
        let mut pending = alloc::vec![a];
        if ipv6 {
            let context = self.iface.context();
            let socket = self.sockets.wire.get_mut::<dns::Socket>(self.dns);
            if let Ok(aaaa) = socket.start_query(context, name, DnsQueryType::Aaaa) {
                pending.push(aaaa);
            }
        }
        let id = self.new_id();
        self.lookups.map.insert(id, Lookup { pending, addresses: Vec::new() });
        Ok(id)
    }

    /// How a lookup ended: `None` while in progress, then the addresses (IPv4 first), or
    /// [`Error::NameUnresolvable`] if there are none (no such name, or no answer). Once it has
    /// returned `Some` the lookup is forgotten.
    pub fn resolve_result(&mut self, id: SocketId) -> Option<Result<Vec<IpAddr>, Error>> {
        let Some(lookup) = self.lookups.map.get_mut(&id) else {
            return Some(Err(Error::UnknownSocket));
        };
        let socket = self.sockets.wire.get_mut::<dns::Socket>(self.dns);
        // A query's slot is freed when its result is taken: keep only those still pending.
        lookup.pending.retain(|&handle| match socket.get_query_result(handle) {
            Ok(addresses) => {
                lookup.addresses.extend(addresses.iter().map(|&a| IpAddr::from(a)));
                false
            }
            Err(GetQueryResultError::Pending) => true,
            Err(GetQueryResultError::Failed) => false,
        });
        if !lookup.pending.is_empty() {
            return None;
        }
        let mut addresses = self.lookups.map.remove(&id)?.addresses;
        addresses.sort_by_key(|a| a.is_ipv6());
        let mut unique = Vec::with_capacity(addresses.len());
        for address in addresses {
            if !unique.contains(&address) {
                unique.push(address);
            }
        }
        let addresses = unique;
        Some(if addresses.is_empty() { Err(Error::NameUnresolvable) } else { Ok(addresses) })
    }

    /// Abandons a lookup.
    pub fn resolve_cancel(&mut self, id: SocketId) {
        if let Some(lookup) = self.lookups.map.remove(&id) {
            let socket = self.sockets.wire.get_mut::<dns::Socket>(self.dns);
            for handle in lookup.pending {
                socket.cancel_query(handle);
            }
        }
    }
}
