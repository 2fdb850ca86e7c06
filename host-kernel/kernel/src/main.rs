//! The Morgana kernel: boots through PVH, finds the image's payload after itself, and runs the
//! precompiled component in it with the WASI 0.2 host of `morgana-wasi`.
//!
//! Rooms: `arch` (boot, descriptor tables, interrupts, APIC timer, loader data, heap, the
//! page-table format), `mm` (the address space: W^X, the unmapped null page, guard pages,
//! memory-protection probes), `drivers` (serial, PIT, RTC, debug-exit, PCI, virtio), `runtime`
//! (wasmtime's platform hooks, code publishing, fiber stacks). `arch`, `drivers`, `runtime` and
//! `mm`'s probes hold every `unsafe`; the rest — this file, clocks, randomness, the console
//! channel, the WASI platform, the network, fault reports — is safe code.
//!
//! One address space, one vCPU, cooperative: the component runs on a wasmtime fiber; when it
//! blocks in `wasi:io/poll`, the executor halts the CPU until the APIC timer's next deadline.
//! Every end is reported: the application's exit status, a trap with its backtrace, a timeout,
//! a CPU exception, a panic, an image that is damaged or made for another machine — each on
//! the console and as its own exit status (`morgana_image::exit`).

#![no_std]
#![no_main]
#![deny(unsafe_code)]

extern crate alloc;

#[allow(unsafe_code)]
mod arch;
mod channel;
mod console;
#[allow(unsafe_code)]
mod drivers;
mod fault;
#[cfg(feature = "morgana-crypto")]
mod keys;
mod mm;
#[cfg(feature = "wasi-sockets")]
mod net;
mod platform;
mod random;
#[allow(unsafe_code)]
mod runtime;
#[cfg(feature = "wasi-http")]
mod serve;
mod time;

use alloc::borrow::Cow;
use alloc::boxed::Box;
use alloc::string::{String, ToString};
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll};

use morgana_image::boot_params::BootParams;
use morgana_image::channel::Start;
use morgana_image::{Payload, exit};
use morgana_wasi::{ExitStatus, WasiCtx, WasiHostCtxView, WasiHostView};
use wasmtime::component::{Linker, ResourceTable};
use wasmtime::{Store, Trap};

use crate::arch::{apic, cpu, gdt, heap, idt, ioapic, pvh};
use crate::channel::Channel;
use crate::drivers::serial::{COM1, COM2};
use crate::drivers::virtio_console::ConsolePort;
use crate::drivers::{debug_exit, pit, rtc};
use crate::platform::KernelPlatform;

/// A failure before the application could start: its exit status and message. Messages of
/// failures before the heap exists are static strings, so reporting them allocates nothing.
struct Stop(u8, Cow<'static, str>);

impl Stop {
    /// A failure described by an error's `Display`, reported on the spot (without allocating).
    fn reported(status: u8, error: impl core::fmt::Display) -> Self {
        kprintln!("morgana kernel: {error}");
        Stop(status, Cow::Borrowed(""))
    }
}

/// How the application ended.
enum Ending {
    /// With its own status, 0 to 255: the console channel carries it whole, QEMU's exit device
    /// up to [`exit::FIRST_RESERVED`] (above, it says `FIRST_RESERVED - 1`).
    Status(u8),
    /// With one of the kernel's reserved statuses (a trap, a timeout).
    Kernel(u8),
}

/// How long the TSC is measured against the PIT when CPUID does not state its rate: long
/// enough for a rate within 0.1% (the PIT ticks at 1.19 MHz), short enough not to dominate boot.
const TSC_MEASUREMENT_MS: u64 = 2;

/// Called by the boot code on the boot stack, interrupts off.
pub fn main(boot_tsc: u64) -> ! {
    COM1.init();
    COM2.init();
    // The IDT first: a fault while loading the GDT is then reported, not a triple fault.
    idt::load();
    gdt::load();
    let status = match boot(boot_tsc) {
        Ok(Ending::Status(status)) => status.min(exit::FIRST_RESERVED - 1),
        Ok(Ending::Kernel(status)) => status,
        Err(Stop(status, message)) => {
            if !message.is_empty() {
                kprintln!("morgana kernel: {message}");
            }
            status
        }
    };
    debug_exit::exit(status)
}

fn boot(boot_tsc: u64) -> Result<Ending, Stop> {
    let since_boot_us = |tsc_hz: u64| (cpu::rdtsc() - boot_tsc) as u128 * 1_000_000 / tsc_hz.max(1) as u128;

    // The payload's header says how long it is; the heap starts after it.
    let header =
        pvh::payload_memory(64).ok_or_else(|| Stop(exit::BAD_IMAGE, "the image carries no application".into()))?;
    let payload_len = Payload::declared_len(header).map_err(|e| Stop::reported(exit::BAD_IMAGE, e))?;
    let payload_start = pvh::kernel_end().next_multiple_of(morgana_image::PAYLOAD_ALIGN);
    let heap_floor = (payload_start + payload_len).next_multiple_of(4096);
    let mut heap_region = None::<(u64, u64)>;
    pvh::ram_regions(|r| {
        let start = r.start.max(heap_floor);
        if r.end > start && heap_region.is_none_or(|(s, e)| r.end - start > e - s) {
            heap_region = Some((start, r.end));
        }
    });
    let (heap_start, heap_end) = heap_region.filter(|(s, e)| e - s >= 4 << 20).ok_or_else(|| {
        Stop(
            exit::BAD_IMAGE,
            "the VM's memory is too small for this image and a heap; give it more memory (--memory)".into(),
        )
    })?;
    let heap_start = heap_start.next_multiple_of(4096);
    heap::init(heap_start, heap_end);
    // The boot's steps, timed by the TSC, reported with `verbose` once its rate is known.
    let mut steps: Vec<(&str, u64)> = Vec::with_capacity(8);
    steps.push(("heap ready", cpu::rdtsc()));

    let command_line = pvh::command_line()
        .map_err(|_| {
            Stop(
                exit::HOST_ERROR,
                alloc::format!(
                    "the kernel command line is longer than {} bytes; pass long arguments and environment with `morgana run`, which sends them over the console channel",
                    morgana_image::boot_params::MAX_COMMAND_LINE
                )
                .into(),
            )
        })?
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .unwrap_or_default();

    // The command line is copied and the memory map read: the real address space replaces the
    // boot code's provisional one (everything writable and executable) before anything that
    // came from outside — command line, payload — is parsed.
    let mut ram_end = 0;
    pvh::ram_regions(|r| ram_end = ram_end.max(r.end));
    mm::init(payload_start..payload_start + payload_len, heap_start..heap_end, ram_end);
    steps.push(("memory protected", cpu::rdtsc()));
    let params = BootParams::parse(&command_line).map_err(|e| Stop::reported(exit::HOST_ERROR, e))?;
    let verbose = params.verbose;

    let payload_bytes = pvh::payload_memory(payload_len).unwrap_or(&[]);
    if (payload_bytes.len() as u64) < payload_len {
        return Err(Stop(
            exit::BAD_IMAGE,
            "the image does not fit in the VM's memory; give it more memory (--memory)".into(),
        ));
    }
    let payload = Payload::decode(payload_bytes).map_err(|e| Stop::reported(exit::BAD_IMAGE, e))?;
    steps.push(("payload verified", cpu::rdtsc()));
    let baked = BootParams::parse(&payload.config.boot_params).map_err(|e| Stop::reported(exit::BAD_IMAGE, e))?;
    let params = baked.overridden_by(params);

    // Clocks: the TSC's rate from CPUID, or measured against the PIT (the APIC timer's rate is
    // measured over the same window); the wall clock from the RTC.
    apic::init();
    let (tsc_hz, tsc_source) = match cpu::tsc_hz_from_cpuid() {
        Some((hz, source)) => {
            apic::calibrate(hz / 1000, 1);
            (hz, source)
        }
        None => {
            let apic_start = apic::start_measuring();
            let (hz, source) = pit::measure_tsc_hz(TSC_MEASUREMENT_MS).map(|hz| (hz, "the PIT")).unwrap_or_else(|| {
                kprintln!("morgana kernel: warning: no PIT to measure the TSC against; assuming 1 GHz");
                (1_000_000_000, "a guess")
            });
            apic::finish_measuring(apic_start, hz);
            (hz, source)
        }
    };
    let wall = rtc::unix_seconds().or(params.wall_clock).unwrap_or_else(|| {
        kprintln!("morgana kernel: warning: no real-time clock and no wall-clock boot parameter; the wall clock starts at 1970");
        0
    });
    steps.push(("clocks measured", cpu::rdtsc()));
    time::init(boot_tsc, tsc_hz, wall);
    cpu::enable_interrupts();

    let random = random::Random::new();
    if !random.is_strong() {
        kprintln!(
            "morgana kernel: warning: the CPU has no RDSEED or RDRAND; randomness is seeded from timing jitter and is weak"
        );
    }
    if verbose {
        for (step, tsc) in steps {
            kprintln!("[kernel] t={}us {step}", (tsc - boot_tsc) as u128 * 1_000_000 / tsc_hz as u128);
        }
        let (used, free) = heap::usage();
        kprintln!(
            "[kernel] t={}us booted: tsc {} MHz (from {tsc_source}), apic timer {} ticks/ms, heap {} MiB, random from {}, payload {} KiB",
            since_boot_us(tsc_hz),
            tsc_hz / 1_000_000,
            apic::ticks_per_ms(),
            (used + free) >> 20,
            random.source,
            payload_len >> 10
        );
    }
    for unknown in &params.unknown {
        kprintln!("morgana kernel: warning: ignoring unknown boot parameter `{unknown}`");
    }

    let config = &payload.config;
    let channel = match params.console_channel {
        true => Some(open_channel(&params)?),
        false => None,
    };
    if verbose && channel.is_some() {
        kprintln!("[kernel] t={}us start block received", since_boot_us(tsc_hz));
    }
    let (channel, start) = match channel {
        Some((channel, start)) => (Some(channel), start),
        None => (None, Start::default()),
    };
    let mut args = Vec::with_capacity(params.args.len() + start.args.len() + 1);
    // `argv[0]`: what `morgana run` says, else the composed component's file name, as wasmtime gives it.
    args.push(start.argv0.unwrap_or_else(|| alloc::format!("{}.wasm", config.app_name)));
    args.extend(params.args.iter().cloned());
    args.extend(start.args);
    let mut env = config.env.clone();
    for (name, value) in params.env.iter().cloned().chain(start.env) {
        env.retain(|(n, _)| *n != name);
        env.push((name, value));
    }
    let timeout_ms = params.timeout_ms.or(config.timeout_ms).filter(|ms| *ms > 0);
    #[cfg(feature = "wasi-sockets")]
    let network = net::init(&params, random.next_u64(), verbose);
    let platform = Arc::new(KernelPlatform {
        random,
        channel: channel.map(spin::Mutex::new),
        #[cfg(feature = "wasi-sockets")]
        network: network.clone(),
    });
    #[cfg(feature = "wasi-sockets")]
    let wasi = WasiCtx::new(platform.clone(), args, env);
    #[cfg(feature = "wasi-sockets")]
    let wasi = match network {
        Some(network) => wasi.with_network(network),
        None => wasi,
    };
    #[cfg(not(feature = "wasi-sockets"))]
    let wasi = WasiCtx::new(platform.clone(), args, env);
    #[cfg(feature = "wasi-filesystem")]
    let wasi = preopen(wasi, &payload.dirs, start.dirs)?;
    #[cfg(feature = "morgana-crypto")]
    let keys = keys::load(&payload.keys, &start.keys, time::wall_now().0 as i64, &platform.random)?;
    let host = Host {
        wasi,
        table: ResourceTable::new(),
        #[cfg(feature = "morgana-crypto")]
        keys,
    };
    let result = run(
        payload.component,
        platform.clone(),
        host,
        timeout_ms,
        params.probe.as_deref().map(|name| (name, payload_start)),
        verbose.then_some(tsc_hz),
        boot_tsc,
        params.http_listen,
        params.http_instance_reuse,
    );
    #[cfg(feature = "wasi-sockets")]
    if let Some(network) = &platform.network {
        net::drain(network);
        if verbose {
            let stats = network.with(|stack| stack.stats());
            kprintln!(
                "[kernel] network: received {} frames ({} malformed, dropped), sent {}",
                stats.rx_frames,
                stats.rx_malformed,
                stats.tx_frames
            );
        }
    }
    if let (Some(channel), Ok(Ending::Status(status))) = (&platform.channel, &result) {
        let mut channel = channel.lock();
        channel.send_exit(*status);
        channel.flush();
    }
    if verbose {
        let (halts, halted_ns) = time::halt_stats();
        kprintln!(
            "[kernel] t={}us exit (halted {halts} times, {} ms in all)",
            since_boot_us(tsc_hz),
            halted_ns / 1_000_000
        );
    }
    result
}

struct Host {
    wasi: WasiCtx,
    table: ResourceTable,
    /// The image's keys, for `morgana:crypto/signing`.
    #[cfg(feature = "morgana-crypto")]
    keys: morgana_keys::host::HostKeys,
}

impl WasiHostView for Host {
    fn wasi(&mut self) -> WasiHostCtxView<'_> {
        WasiHostCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}

/// Adds the preopened directories: the image's (`[dirs]`: baked read-only trees, whose file
/// contents stay where the image put them, and scratch ones), then those `morgana run --dir`
/// sent (read-only copies).
#[cfg(feature = "wasi-filesystem")]
fn preopen(
    mut wasi: WasiCtx,
    baked: &[morgana_image::PayloadDir<'static>],
    sent: Vec<(String, Vec<u8>)>,
) -> Result<WasiCtx, Stop> {
    use morgana_image::DirContents;
    let (seconds, nanoseconds) = time::wall_now();
    let now = morgana_wasi::WallTime { seconds, nanoseconds };
    for dir in baked {
        let tree = match dir.contents {
            DirContents::Archive(bytes) => archive_tree(bytes, now).map_err(|e| {
                Stop(exit::BAD_IMAGE, alloc::format!("the image's directory {}: {e}", dir.guest).into())
            })?,
            DirContents::Scratch { capacity } => morgana_wasi::filesystem::new_tree(false, Some(capacity), now),
        };
        wasi = wasi.with_preopen(dir.guest.clone(), tree);
    }
    for (guest, archive) in sent {
        // Boot-time data that lives as long as the application: its files are borrowed from it.
        let bytes: &'static [u8] = Vec::leak(archive);
        let tree = archive_tree(bytes, now)
            .map_err(|e| Stop(exit::HOST_ERROR, alloc::format!("the directory sent for {guest}: {e}").into()))?;
        wasi = wasi.with_preopen(guest, tree);
    }
    Ok(wasi)
}

/// A read-only tree of an archive's entries.
#[cfg(feature = "wasi-filesystem")]
fn archive_tree(
    bytes: &'static [u8],
    now: morgana_wasi::WallTime,
) -> Result<morgana_wasi::filesystem::SharedTree, String> {
    use morgana_image::archive::{self, Kind};
    let entries = archive::decode(bytes).map_err(|e| e.to_string())?;
    let tree = morgana_wasi::filesystem::new_tree(true, None, now);
    {
        let mut tree = tree.lock();
        for entry in entries {
            let modified = morgana_wasi::WallTime { seconds: entry.modified.0, nanoseconds: entry.modified.1 };
            let data = alloc::borrow::Cow::Borrowed(entry.data);
            let inserted = match entry.kind {
                Kind::Directory => tree.insert_directory(entry.path, modified).map(|_| ()),
                Kind::File => tree.insert_file(entry.path, data, false, modified),
                Kind::Symlink => tree.insert_file(entry.path, data, true, modified),
            };
            inserted.map_err(|code| alloc::format!("`{}` cannot be added ({code:?})", entry.path))?;
        }
    }
    Ok(tree)
}

/// How long boot waits for `morgana run` to send the start block over the console channel.
const START_TIMEOUT_NS: u64 = 30_000_000_000;

/// Finds the console channel's device, routes its interrupt and takes the start block.
fn open_channel(params: &BootParams) -> Result<(Channel, Start), Stop> {
    let port = ConsolePort::probe(&params.virtio_mmio).map_err(|reason| {
        Stop(exit::HOST_ERROR, alloc::format!("the `console-channel` boot parameter is given but {reason}").into())
    })?;
    ioapic::route(port.gsi, idt::DEVICE_VECTOR);
    let mut channel = Channel::new(port);
    let start = channel.wait_start(START_TIMEOUT_NS).ok_or_else(|| {
        Stop(exit::HOST_ERROR, "the console channel delivered no start block (arguments and environment)".into())
    })?;
    Ok((channel, start))
}

/// Instantiates the component, calls its `wasi:cli/run`, and turns the outcome into a status;
/// or, for a component that exports `wasi:http/incoming-handler`, serves it on `http_listen`'s
/// port. `probe`: a memory-protection probe to run once the component is loaded (its name, and
/// an address in the payload).
#[allow(clippy::too_many_arguments)]
fn run(
    precompiled: &'static [u8],
    platform: Arc<KernelPlatform>,
    host: Host,
    timeout_ms: Option<u64>,
    probe: Option<(&str, u64)>,
    verbose_tsc_hz: Option<u64>,
    boot_tsc: u64,
    http_listen: Option<core::net::SocketAddr>,
    http_instance_reuse: Option<u32>,
) -> Result<Ending, Stop> {
    #[cfg(not(feature = "wasi-http"))]
    let _ = (http_listen, http_instance_reuse);
    let host_error = |e: wasmtime::Error| Stop(exit::HOST_ERROR, alloc::format!("{e:?}").into());
    let engine = runtime::engine().map_err(host_error)?;
    if let Some(hz) = verbose_tsc_hz {
        kprintln!("[kernel] t={}us engine ready", (cpu::rdtsc() - boot_tsc) as u128 * 1_000_000 / hz as u128);
    }
    let component = runtime::load_component(engine, precompiled).map_err(|e| {
        Stop(exit::INCOMPATIBLE, alloc::format!("the image's component cannot run on this machine: {e:#}").into())
    })?;
    if let Some(hz) = verbose_tsc_hz {
        kprintln!("[kernel] t={}us component loaded", (cpu::rdtsc() - boot_tsc) as u128 * 1_000_000 / hz as u128);
    }
    let exports: Vec<String> = component.component_type().exports(engine).map(|(name, _)| name.to_string()).collect();
    let run_export = exports.iter().find(|name| name.starts_with("wasi:cli/run@0.2")).cloned();
    let serves_http = exports.iter().any(|name| name.starts_with("wasi:http/incoming-handler@0.2"));
    if run_export.is_none() && !serves_http {
        return Err(Stop(
            exit::LINK_FAILED,
            "the component exports neither `wasi:cli/run` nor `wasi:http/incoming-handler`, so there is nothing to run"
                .into(),
        ));
    }
    let mut linker = Linker::<Host>::new(engine);
    morgana_wasi::add_to_linker_async(&mut linker).map_err(host_error)?;
    #[cfg(feature = "morgana-crypto")]
    morgana_keys::host::add_to_linker(&mut linker, |host| &mut host.keys).map_err(host_error)?;
    #[cfg(feature = "wasi-http")]
    morgana_wasi::http::add_to_linker(&mut linker).map_err(host_error)?;

    #[cfg(feature = "wasi-http")]
    if serves_http {
        run_probe(probe)?;
        let template = serve::Template {
            wasi: host.wasi,
            #[cfg(feature = "morgana-crypto")]
            keys: host.keys,
        };
        let config = serve::ServeConfig { listen: http_listen, timeout_ms, instance_reuse: http_instance_reuse };
        return serve::serve(engine, &linker, &component, platform, template, config);
    }
    let Some(run_export) = run_export else {
        return Err(Stop(
            exit::LINK_FAILED,
            "the component is a wasi:http handler, and this kernel was built without `wasi:http`; build the image with `morgana build --target qemu`".into(),
        ));
    };
    let pre = linker.instantiate_pre(&component).map_err(|e| {
        Stop(exit::LINK_FAILED, alloc::format!("the kernel cannot satisfy the component's imports: {e:#}").into())
    })?;

    run_probe(probe)?;

    let mut store = Store::new(engine, host);
    let deadline_ns = match timeout_ms {
        Some(ms) => {
            store.set_epoch_deadline(ms.div_ceil(time::EPOCH_TICK_NS / 1_000_000).max(1));
            store.epoch_deadline_trap();
            time::start_epoch_ticks();
            Some(time::now_ns() + ms * 1_000_000)
        }
        None => {
            store.set_epoch_deadline(u64::MAX / 2);
            None
        }
    };

    if let Some(hz) = verbose_tsc_hz {
        kprintln!("[kernel] t={}us component entry", (cpu::rdtsc() - boot_tsc) as u128 * 1_000_000 / hz as u128);
    }
    let call = async {
        let instance = pre.instantiate_async(&mut store).await?;
        let interface = instance
            .get_export_index(&mut store, None, &run_export)
            .ok_or_else(|| wasmtime::format_err!("no `{run_export}` export"))?;
        let function = instance
            .get_export_index(&mut store, Some(&interface), "run")
            .ok_or_else(|| wasmtime::format_err!("`{run_export}` has no `run` function"))?;
        let run = instance.get_typed_func::<(), (Result<(), ()>,)>(&mut store, &function)?;
        let (result,) = run.call_async(&mut store, ()).await?;
        Ok::<_, wasmtime::Error>(result)
    };
    let outcome = morgana_wasi::block_on(&*platform, WithDeadline { inner: Box::pin(call), deadline_ns });
    // The application's output reaches the host before anything the kernel says of its end.
    platform.flush_console();

    match outcome {
        None => Ok(timed_out(timeout_ms)),
        Some(Ok(Ok(()))) => Ok(Ending::Status(0)),
        Some(Ok(Err(()))) => Ok(Ending::Status(1)),
        Some(Err(error)) => Ok(classify(error, timeout_ms)),
    }
}

/// Runs the memory-protection probe, if one was asked for: every probe but a fiber-stack
/// overflow stops the kernel before the application starts.
fn run_probe(probe: Option<(&str, u64)>) -> Result<(), Stop> {
    let Some((name, payload)) = probe else { return Ok(()) };
    mm::probe::run(name, payload).map_err(|_| {
        Stop(
            exit::HOST_ERROR,
            alloc::format!("unknown probe `{name}`; the probes are: {}", mm::probe::NAMES.join(", ")).into(),
        )
    })?;
    if name != "fiber-stack-overflow" {
        return Err(Stop(exit::HOST_ERROR, "".into()));
    }
    Ok(())
}

/// How an error out of the guest ends it: an exit, a timeout, a trap (reported), or a host
/// function's error (reported).
fn classify(error: wasmtime::Error, timeout_ms: Option<u64>) -> Ending {
    if let Some(ExitStatus(status)) = error.downcast_ref::<ExitStatus>() {
        return Ending::Status((*status).clamp(0, 255) as u8);
    }
    if let Some(trap) = error.downcast_ref::<Trap>() {
        if *trap == Trap::Interrupt && timeout_ms.is_some() {
            return timed_out(timeout_ms);
        }
        kprintln!("error: the application trapped: {trap}");
        if let Some(backtrace) = error.downcast_ref::<wasmtime::WasmBacktrace>() {
            kprintln!("{}", backtrace.to_string().trim_end());
        }
        return Ending::Kernel(exit::TRAP);
    }
    // A host function's error (poll on an empty list, a resource dropped before its
    // children, ...): reported, and status 1, as under `wasmtime run`.
    kprintln!("error: the application failed: {}", exit::host_error_message(&error));
    Ending::Status(1)
}

fn timed_out(timeout_ms: Option<u64>) -> Ending {
    kprintln!("error: the application ran longer than its timeout of {} ms and was stopped", timeout_ms.unwrap_or(0));
    Ending::Kernel(exit::TIMEOUT)
}

/// Resolves to `None` once the deadline passes, even while the inner future sleeps.
struct WithDeadline<F> {
    inner: Pin<Box<F>>,
    deadline_ns: Option<u64>,
}

impl<F: Future> Future for WithDeadline<F> {
    type Output = Option<F::Output>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        if let Poll::Ready(value) = self.inner.as_mut().poll(cx) {
            return Poll::Ready(Some(value));
        }
        match self.deadline_ns {
            Some(deadline) if time::now_ns() >= deadline => Poll::Ready(None),
            Some(deadline) => {
                time::wake_at(deadline);
                Poll::Pending
            }
            None => Poll::Pending,
        }
    }
}
