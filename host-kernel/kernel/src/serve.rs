//! Serving a component that exports `wasi:http/incoming-handler`, as `wasmtime serve` does: an
//! HTTP/1.1 server on the VM's network (`morgana_wasi::http`) that gives every request a fresh
//! instance, pre-linked once, in a store of its own (or, with `http-instance-reuse=N`, one that
//! served fewer than N requests before and whose handler returned normally). A request's time limit (`--timeout`) stops
//! its handler, which yields at every epoch tick so that the others go on meanwhile.
//!
//! It never returns while the network works: the VM serves until it is stopped.

use alloc::boxed::Box;
use alloc::sync::Arc;
use core::future::Future;
use core::net::{IpAddr, Ipv4Addr, SocketAddr};
use core::pin::Pin;

use alloc::vec::Vec;
use morgana_image::exit;
use morgana_wasi::http::bindings::{Proxy, ProxyPre};
use morgana_wasi::http::{Handler, IncomingRequest, ResponseOutparam, ServeOptions};
use morgana_wasi::{WasiCtx, block_on};
use wasmtime::component::{Component, Linker, ResourceTable};
use wasmtime::{Engine, Store};

use crate::platform::KernelPlatform;
use crate::{Ending, Host, Stop, kprintln, time};

/// Where `wasmtime serve` listens by default.
const DEFAULT_LISTEN: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 8080);

/// What every request's store starts from.
pub struct Template {
    pub wasi: WasiCtx,
    #[cfg(feature = "morgana-crypto")]
    pub keys: morgana_keys::host::HostKeys,
}

/// How to serve, from the boot parameters.
pub struct ServeConfig {
    /// The address as the user gave it, which QEMU forwards to its port; 0.0.0.0:8080 by default.
    pub listen: Option<SocketAddr>,
    /// Each request's time limit.
    pub timeout_ms: Option<u64>,
    /// Requests one instance serves (1 by default).
    pub instance_reuse: Option<u32>,
}

/// Serves `component` on the port of `config.listen`, forever.
pub fn serve(
    engine: &Engine,
    linker: &Linker<Host>,
    component: &Component,
    platform: Arc<KernelPlatform>,
    template: Template,
    config: ServeConfig,
) -> Result<Ending, Stop> {
    let ServeConfig { listen, timeout_ms, instance_reuse } = config;
    let network = platform.network.clone().ok_or_else(|| {
        Stop(
            exit::HOST_ERROR,
            "a wasi:http handler is served on the network, and the VM has none; run it with `--net user` (the default) or `--net tap=NAME`".into(),
        )
    })?;
    let pre = linker
        .instantiate_pre(component)
        .and_then(ProxyPre::new)
        .map_err(|e| Stop(exit::LINK_FAILED, alloc::format!("the kernel cannot serve the component: {e:#}").into()))?;
    let listen = listen.unwrap_or(DEFAULT_LISTEN);
    let guest_address = SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), listen.port());
    let listener = morgana_wasi::http::listen(network, guest_address).map_err(|code| {
        Stop(exit::HOST_ERROR, alloc::format!("cannot listen on port {} of the VM: {code:?}", listen.port()).into())
    })?;
    if timeout_ms.is_some() {
        time::start_epoch_ticks();
    }
    let handler = KernelHandler {
        engine,
        pre,
        template,
        #[cfg(feature = "morgana-crypto")]
        platform: platform.clone(),
        timeout: timeout_ms.is_some(),
        max_uses: instance_reuse.unwrap_or(1),
        idle: spin::Mutex::new(Vec::new()),
    };
    let options = ServeOptions { timeout_ns: timeout_ms.map(|ms| ms * 1_000_000), ..ServeOptions::default() };
    kprintln!("Serving HTTP on http://{listen}/");
    let serving = morgana_wasi::http::serve(&listener, platform.clone(), options, &handler);
    // Serving ends only with the VM.
    #[allow(unreachable_code)]
    match block_on(&*platform, serving) {}
}

struct KernelHandler<'a> {
    engine: &'a Engine,
    pre: ProxyPre<Host>,
    template: Template,
    /// Seeds each store's key generator.
    #[cfg(feature = "morgana-crypto")]
    platform: Arc<KernelPlatform>,
    /// Requests have a time limit: handlers yield at every epoch tick.
    timeout: bool,
    /// Requests one instance serves.
    max_uses: u32,
    /// Instances that may serve again.
    idle: spin::Mutex<Vec<Idle>>,
}

/// An instance that served `uses` requests and may serve more.
struct Idle {
    store: Store<Host>,
    proxy: Proxy,
    uses: u32,
}

impl KernelHandler<'_> {
    fn new_host(&self) -> Host {
        Host {
            wasi: self.template.wasi.clone(),
            table: ResourceTable::new(),
            #[cfg(feature = "morgana-crypto")]
            keys: crate::keys::share(&self.template.keys, &self.platform.random),
        }
    }
}

impl Handler for KernelHandler<'_> {
    fn call(
        &self,
        request: IncomingRequest,
        outparam: ResponseOutparam,
    ) -> Pin<Box<dyn Future<Output = wasmtime::Result<()>> + '_>> {
        Box::pin(async move {
            let idle = self.idle.lock().pop();
            let (mut store, reused) = match idle {
                Some(Idle { store, proxy, uses }) => (store, Some((proxy, uses))),
                None => (Store::new(self.engine, self.new_host()), None),
            };
            if self.timeout {
                store.set_epoch_deadline(1);
                store.epoch_deadline_async_yield_and_update(1);
            } else {
                store.set_epoch_deadline(u64::MAX / 2);
            }
            let request = store.data_mut().table.push(request)?;
            let outparam = store.data_mut().table.push(outparam)?;
            let (proxy, uses) = match reused {
                Some(reused) => reused,
                None => (self.pre.instantiate_async(&mut store).await?, 0),
            };
            proxy.wasi_http_incoming_handler().call_handle(&mut store, request, outparam).await?;
            // Kept while it has uses left; one that failed above is dropped.
            if uses + 1 < self.max_uses {
                self.idle.lock().push(Idle { store, proxy, uses: uses + 1 });
            }
            Ok(())
        })
    }

    fn report(&self, message: &str) {
        kprintln!("{message}");
    }
}
