//! The per-store WASI state and how the host functions reach it.

use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;
use wasmtime::component::{HasData, ResourceTable};

#[cfg(feature = "sockets")]
use crate::network::Network;
use crate::platform::Platform;

/// What one component instance sees of WASI: its arguments and environment, the machine
/// (through [`Platform`]) and, if the embedder gave it one, a network. Resources the guest holds
/// live in the embedder's [`ResourceTable`], beside it. A clone shares the platform, the network
/// and the preopened trees (a server gives each request's instance one).
#[derive(Clone)]
pub struct WasiCtx {
    platform: Arc<dyn Platform>,
    args: Vec<String>,
    env: Vec<(String, String)>,
    #[cfg(feature = "sockets")]
    network: Option<Arc<dyn Network>>,
    #[cfg(feature = "filesystem")]
    preopens: Vec<(String, crate::filesystem::SharedTree)>,
}

impl WasiCtx {
    /// A context with these arguments (`args[0]` is the program name, as the guest sees it) and
    /// environment variables (in this order, given to the guest as they are).
    pub fn new(platform: Arc<dyn Platform>, args: Vec<String>, env: Vec<(String, String)>) -> Self {
        WasiCtx {
            platform,
            args,
            env,
            #[cfg(feature = "sockets")]
            network: None,
            #[cfg(feature = "filesystem")]
            preopens: Vec::new(),
        }
    }

    /// This context with one more preopened directory: `tree`, which the guest finds at
    /// `guest_path` (`wasi:filesystem/preopens`, in the order they were added).
    #[cfg(feature = "filesystem")]
    pub fn with_preopen(mut self, guest_path: impl Into<String>, tree: crate::filesystem::SharedTree) -> Self {
        self.preopens.push((guest_path.into(), tree));
        self
    }

    /// The preopened directories.
    #[cfg(feature = "filesystem")]
    pub fn preopens(&self) -> &[(String, crate::filesystem::SharedTree)] {
        &self.preopens
    }

    /// This context with `network` for `wasi:sockets`. Without one, the guest can create no
    /// socket (`access-denied`) and look up no name (`permanent-resolver-failure`), as under
    /// wasmtime-wasi without network access.
    #[cfg(feature = "sockets")]
    pub fn with_network(mut self, network: Arc<dyn Network>) -> Self {
        self.network = Some(network);
        self
    }

    /// The network `wasi:sockets` uses, if any.
    #[cfg(feature = "sockets")]
    pub fn network(&self) -> Option<&Arc<dyn Network>> {
        self.network.as_ref()
    }

    /// The machine the host functions use.
    pub fn platform(&self) -> &Arc<dyn Platform> {
        &self.platform
    }

    /// The arguments `wasi:cli/environment.get-arguments` returns.
    pub fn args(&self) -> &[String] {
        &self.args
    }

    /// The variables `wasi:cli/environment.get-environment` returns.
    pub fn env(&self) -> &[(String, String)] {
        &self.env
    }
}

impl core::fmt::Debug for WasiCtx {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let mut f = f.debug_struct("WasiCtx");
        f.field("args", &self.args).field("env", &self.env);
        #[cfg(feature = "sockets")]
        f.field("network", &self.network.is_some());
        f.finish_non_exhaustive()
    }
}

/// What the host functions borrow from the store's data for one call: the context and the
/// resource table.
pub struct WasiHostCtxView<'a> {
    pub ctx: &'a mut WasiCtx,
    pub table: &'a mut ResourceTable,
}

/// Implemented by the embedder's store data (`T` of `Store<T>`), which holds a [`WasiCtx`] and
/// a [`ResourceTable`]; this is what [`add_to_linker_async`](crate::add_to_linker_async) and the
/// interface modules' `add_to_linker` need of it. Like wasmtime-wasi's `WasiView`.
///
/// ```
/// use morgana_wasi::{WasiCtx, WasiHostCtxView, WasiHostView};
/// use wasmtime::component::ResourceTable;
///
/// struct Host {
///     wasi: WasiCtx,
///     table: ResourceTable,
/// }
///
/// impl WasiHostView for Host {
///     fn wasi(&mut self) -> WasiHostCtxView<'_> {
///         WasiHostCtxView { ctx: &mut self.wasi, table: &mut self.table }
///     }
/// }
/// ```
pub trait WasiHostView: Send {
    fn wasi(&mut self) -> WasiHostCtxView<'_>;
}

/// The [`HasData`] marker for linking: the host traits are implemented on [`WasiHostCtxView`].
#[cfg(any(feature = "cli", feature = "clocks", feature = "random", feature = "filesystem", feature = "sockets"))]
pub(crate) struct WasiHost;

#[cfg(any(feature = "cli", feature = "clocks", feature = "random", feature = "filesystem", feature = "sockets"))]
impl HasData for WasiHost {
    type Data<'a> = WasiHostCtxView<'a>;
}

/// The [`HasData`] marker for `wasi:io`, whose host (wasmtime-wasi-io's) needs only the table.
pub(crate) struct WasiIo;

impl HasData for WasiIo {
    type Data<'a> = &'a mut ResourceTable;
}
