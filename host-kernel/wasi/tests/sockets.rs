//! `wasi:sockets` over the real stack (`morgana-net`): a real wasm32-wasip2 component that uses
//! only `std::net` (tests/fixtures/net-echo) serves a client on another stack across an
//! in-memory Ethernet cable, and the host traits are checked against wasmtime-wasi's state
//! machine and error codes.

mod common;

use std::collections::VecDeque;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::engine;
use morgana_net::smoltcp::phy::{Device, DeviceCapabilities, Medium, RxToken, TxToken};
use morgana_net::smoltcp::time::Instant as NetInstant;
use morgana_net::{Family, NetConfig, SharedStack, SocketId, Stack, StackOptions, StaticConfig};
use morgana_wasi::bindings::Command as WasiCommand;
use morgana_wasi::bindings::wasi::sockets::ip_name_lookup;
use morgana_wasi::bindings::wasi::sockets::network::{
    ErrorCode, IpAddress, IpAddressFamily, IpSocketAddress, Ipv4SocketAddress,
};
use morgana_wasi::bindings::wasi::sockets::tcp::ShutdownType;
use morgana_wasi::bindings::wasi::sockets::udp::OutgoingDatagram;
use morgana_wasi::bindings::wasi::sockets::{instance_network, tcp_create_socket, udp_create_socket};
use morgana_wasi::{
    ConsoleClosed, ConsoleStream, ExitStatus, Platform, SocketError, WallTime, WasiCtx, WasiHostCtxView, WasiHostView,
    block_on,
};
use wasmtime::Store;
use wasmtime::component::{Component, Linker, Resource, ResourceTable};
use wasmtime_wasi_io::bindings::wasi::io::poll::HostPollable;

// ---- an in-memory Ethernet cable

#[derive(Default)]
struct Queue {
    frames: Mutex<VecDeque<Vec<u8>>>,
    arrived: Condvar,
}

impl Queue {
    /// Waits until a frame is there or `timeout` has passed: the tests' network interrupt.
    fn wait(&self, timeout: Duration) {
        let frames = self.frames.lock().unwrap();
        if frames.is_empty() {
            let _ = self.arrived.wait_timeout(frames, timeout).unwrap();
        }
    }
}

#[derive(Clone)]
struct Port {
    inbox: Arc<Queue>,
    outbox: Arc<Queue>,
}

fn cable() -> (Port, Port) {
    let (x, y) = (Arc::new(Queue::default()), Arc::new(Queue::default()));
    (Port { inbox: x.clone(), outbox: y.clone() }, Port { inbox: y, outbox: x })
}

struct Rx(Vec<u8>);
struct Tx(Port);

impl RxToken for Rx {
    fn consume<R, F: FnOnce(&[u8]) -> R>(self, f: F) -> R {
        f(&self.0)
    }
}

impl TxToken for Tx {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        let mut frame = vec![0; len];
        let result = f(&mut frame);
        self.0.outbox.frames.lock().unwrap().push_back(frame);
        self.0.outbox.arrived.notify_all();
        result
    }
}

impl Device for Port {
    type RxToken<'a> = Rx;
    type TxToken<'a> = Tx;

    fn receive(&mut self, _: NetInstant) -> Option<(Rx, Tx)> {
        let frame = self.inbox.frames.lock().unwrap().pop_front()?;
        Some((Rx(frame), Tx(self.clone())))
    }

    fn transmit(&mut self, _: NetInstant) -> Option<Tx> {
        Some(Tx(self.clone()))
    }

    fn capabilities(&self) -> DeviceCapabilities {
        let mut caps = DeviceCapabilities::default();
        caps.medium = Medium::Ethernet;
        caps.max_transmission_unit = 1514;
        caps
    }
}

const GUEST_IP: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
const CLIENT_IP: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);

fn config(address: Ipv4Addr, dns: Option<Ipv4Addr>) -> NetConfig {
    NetConfig::Static(StaticConfig {
        address: IpAddr::V4(address),
        prefix_len: 24,
        gateway: None,
        dns_servers: dns.into_iter().map(IpAddr::V4).collect(),
    })
}

fn net_instant(start: Instant) -> NetInstant {
    NetInstant::from_micros(start.elapsed().as_micros() as i64)
}

// ---- the platform: std clocks, captured console, and an idle that polls the stack and sleeps
// until a frame arrives or the earliest deadline

struct NetPlatform {
    start: Instant,
    stdout: Mutex<Vec<u8>>,
    deadline: Mutex<Option<u64>>,
    net: Arc<SharedStack<Port>>,
    port: Port,
    idle_calls: AtomicUsize,
    /// Set when the peer's thread has ended (a failure, while the guest still runs): the guest
    /// would wait forever.
    peer_gone: Arc<AtomicBool>,
}

/// Sets its flag when dropped: when the thread holding it ends, normally or by a panic.
struct Gone(Arc<AtomicBool>);

impl Drop for Gone {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

impl Platform for NetPlatform {
    fn monotonic_now(&self) -> u64 {
        self.start.elapsed().as_nanos() as u64
    }
    fn monotonic_resolution(&self) -> u64 {
        1
    }
    fn wall_now(&self) -> WallTime {
        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
        WallTime { seconds: now.as_secs(), nanoseconds: now.subsec_nanos() }
    }
    fn wall_resolution(&self) -> WallTime {
        WallTime { seconds: 0, nanoseconds: 1 }
    }
    fn secure_random(&self, buf: &mut [u8]) {
        buf.iter_mut().enumerate().for_each(|(i, b)| *b = i as u8);
    }
    fn insecure_random(&self) -> u64 {
        4
    }
    fn insecure_seed(&self) -> (u64, u64) {
        (1, 2)
    }
    fn console_write(&self, stream: ConsoleStream, bytes: &[u8]) -> Result<(), ConsoleClosed> {
        match stream {
            ConsoleStream::Stdout => self.stdout.lock().unwrap().extend_from_slice(bytes),
            ConsoleStream::Stderr => eprint!("{}", String::from_utf8_lossy(bytes)),
        }
        Ok(())
    }
    fn wake_at(&self, deadline: u64) {
        let mut earliest = self.deadline.lock().unwrap();
        *earliest = Some(earliest.map_or(deadline, |d| d.min(deadline)));
    }
    fn idle(&self) {
        assert!(!self.peer_gone.load(Ordering::SeqCst), "the peer's thread ended");
        self.idle_calls.fetch_add(1, Ordering::SeqCst);
        // What the kernel does: poll the stack, then halt until an interrupt (a frame) or the
        // earliest deadline, the stack's included.
        let now = self.monotonic_now();
        let next = self.net.poll_ns(now);
        let deadline = match (self.deadline.lock().unwrap().take(), next) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        // Without a deadline only a frame wakes it; the cap only keeps a broken test finite.
        let wait = deadline.map_or(Duration::from_secs(5), |d| Duration::from_nanos(d.saturating_sub(now)));
        self.port.inbox.wait(wait.min(Duration::from_secs(5)));
    }
}

struct Host {
    wasi: WasiCtx,
    table: ResourceTable,
}

impl WasiHostView for Host {
    fn wasi(&mut self) -> WasiHostCtxView<'_> {
        WasiHostCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}

fn net_echo_wasm() -> &'static [u8] {
    static WASM: OnceLock<Vec<u8>> = OnceLock::new();
    WASM.get_or_init(|| {
        let fixture = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/net-echo");
        let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
            .args(["build", "--release", "--target", "wasm32-wasip2", "--manifest-path"])
            .arg(fixture.join("Cargo.toml"))
            .status()
            .expect("cannot run cargo to build the net-echo fixture");
        assert!(status.success(), "building tests/fixtures/net-echo failed");
        let wasm = fixture.join("target/wasm32-wasip2/release/net-echo.wasm");
        std::fs::read(&wasm).unwrap_or_else(|e| panic!("{}: {e}", wasm.display()))
    })
}

// ---- the client: its own stack in its own thread, real time

struct Client {
    stack: Stack<Port>,
    port: Port,
    start: Instant,
    dns: SocketId,
    listener: SocketId,
    /// Connections to port 9000 and what they sent so far.
    incoming: Vec<(SocketId, Vec<u8>)>,
    goodbyes: Vec<String>,
    /// Set when the guest has returned.
    finished: Arc<AtomicBool>,
    /// Set when the test no longer needs this stack.
    stop: Arc<AtomicBool>,
}

impl Client {
    fn new(port: Port, start: Instant, finished: Arc<AtomicBool>, stop: Arc<AtomicBool>) -> Client {
        let mut stack = Stack::new(
            port.clone(),
            [2, 0, 0, 0, 0, 2],
            config(CLIENT_IP, None),
            StackOptions::default(),
            net_instant(start),
            2,
        )
        .unwrap();
        let dns = stack.udp_open(Family::Ipv4).unwrap();
        stack.udp_bind(dns, SocketAddr::new(Ipv4Addr::UNSPECIFIED.into(), 53)).unwrap();
        let listener = stack.tcp_open(Family::Ipv4).unwrap();
        stack.tcp_bind(listener, SocketAddr::new(Ipv4Addr::UNSPECIFIED.into(), 9000)).unwrap();
        stack.tcp_listen(listener, 4).unwrap();
        Client { stack, port, start, dns, listener, incoming: Vec::new(), goodbyes: Vec::new(), finished, stop }
    }

    /// What runs all along: a DNS server (`client.test` is 10.0.0.2) and a service on port
    /// 9000 that answers "ok" to whoever finishes sending.
    fn background(&mut self) {
        while let Some((query, from)) = self.stack.udp_recv(self.dns).unwrap() {
            if let Some(reply) = dns_answer(&query) {
                self.stack.udp_send(self.dns, &reply, from).unwrap();
            }
        }
        while let Some(id) = self.stack.tcp_accept(self.listener).unwrap() {
            self.incoming.push((id, Vec::new()));
        }
        let stack = &mut self.stack;
        let goodbyes = &mut self.goodbyes;
        self.incoming.retain_mut(|(id, data)| {
            loop {
                match stack.tcp_recv(*id, 1000) {
                    Ok(Some(d)) if d.is_empty() => return true,
                    Ok(Some(d)) => data.extend_from_slice(&d),
                    Ok(None) => {
                        goodbyes.push(String::from_utf8_lossy(data).into_owned());
                        stack.tcp_send(*id, b"ok\n").unwrap();
                        stack.tcp_close(*id);
                        return false;
                    }
                    Err(e) => panic!("port 9000: {e}"),
                }
            }
        });
    }

    /// Runs the stack (and the background services) until `f` says it is done.
    fn until<T>(&mut self, what: &str, mut f: impl FnMut(&mut Client) -> Option<T>) -> T {
        let limit = Instant::now() + Duration::from_secs(30);
        loop {
            let finished = self.finished.load(Ordering::SeqCst);
            let next = self.stack.poll(net_instant(self.start));
            self.background();
            if let Some(result) = f(self) {
                return result;
            }
            self.stack.poll(net_instant(self.start));
            assert!(!finished, "client: the guest returned before {what}");
            assert!(Instant::now() < limit, "client: {what} takes too long");
            let wait = next
                .map(|next| Duration::from_micros((next - net_instant(self.start)).total_micros()))
                .unwrap_or(Duration::from_millis(20))
                .min(Duration::from_millis(20));
            self.port.inbox.wait(wait);
        }
    }

    fn run(mut self) -> Vec<String> {
        let guest = |port| SocketAddr::new(IpAddr::V4(GUEST_IP), port);

        // UDP, until the guest is up and echoes.
        let udp = self.stack.udp_open(Family::Ipv4).unwrap();
        self.stack.udp_bind(udp, SocketAddr::new(Ipv4Addr::UNSPECIFIED.into(), 0)).unwrap();
        let mut last_ping = Instant::now() - Duration::from_secs(1);
        let echo = self.until("the udp echo", |c| {
            if last_ping.elapsed() > Duration::from_millis(100) {
                c.stack.udp_send(udp, b"ping", guest(5353)).unwrap();
                last_ping = Instant::now();
            }
            c.stack.udp_recv(udp).unwrap()
        });
        assert_eq!(echo, (b"ping".to_vec(), guest(5353)));

        // Five connections at once: the guest serves them one after the other, the others
        // waiting in its backlog.
        struct Transfer {
            id: SocketId,
            data: Vec<u8>,
            sent: usize,
            received: Vec<u8>,
            done: bool,
        }
        let mut transfers: Vec<Transfer> = (0..5u8)
            .map(|i| {
                let id = self.stack.tcp_open(Family::Ipv4).unwrap();
                self.stack.tcp_connect(id, guest(8080)).unwrap();
                let data = (0..50_000u32).map(|j| (j as u8).wrapping_mul(7).wrapping_add(i)).collect();
                Transfer { id, data, sent: 0, received: Vec::new(), done: false }
            })
            .collect();
        self.until("five echoes", |c| {
            for t in &mut transfers {
                if t.done || c.stack.tcp_connect_result(t.id).is_none() {
                    continue;
                }
                if t.sent < t.data.len() {
                    t.sent += c.stack.tcp_send(t.id, &t.data[t.sent..]).unwrap();
                    if t.sent == t.data.len() {
                        c.stack.tcp_shutdown(t.id, true, false).unwrap();
                    }
                }
                loop {
                    match c.stack.tcp_recv(t.id, 65536).unwrap() {
                        Some(d) if d.is_empty() => break,
                        Some(d) => t.received.extend_from_slice(&d),
                        None => {
                            t.done = true;
                            c.stack.tcp_close(t.id);
                            break;
                        }
                    }
                }
            }
            transfers.iter().all(|t| t.done).then_some(())
        });
        for t in &transfers {
            assert!(t.received == t.data, "an echo differs");
        }

        // A connection that keeps the guest waiting past its read timeout.
        let late = self.stack.tcp_open(Family::Ipv4).unwrap();
        self.stack.tcp_connect(late, guest(8080)).unwrap();
        self.until("the late connection", |c| c.stack.tcp_connect_result(late)).unwrap();
        let quiet_until = Instant::now() + Duration::from_millis(400);
        self.until("a pause", |_| (Instant::now() >= quiet_until).then_some(()));
        self.stack.tcp_send(late, b"late").unwrap();
        self.stack.tcp_shutdown(late, true, false).unwrap();
        let mut received = Vec::new();
        self.until("the late echo", |c| match c.stack.tcp_recv(late, 100).unwrap() {
            Some(d) => {
                received.extend_from_slice(&d);
                None
            }
            None => Some(()),
        });
        assert_eq!(received, b"late");
        self.stack.tcp_close(late);

        // The guest's own connection to port 9000; then keep answering (the guest's last
        // connection attempt is refused by this stack, its connections close) until the test
        // is done.
        self.until("the guest's goodbye", |c| (!c.goodbyes.is_empty()).then_some(()));
        while !self.stop.load(Ordering::SeqCst) {
            self.stack.poll(net_instant(self.start));
            self.background();
            self.port.inbox.wait(Duration::from_millis(10));
        }
        self.goodbyes
    }
}

/// A DNS answer for A queries of `client.test` (10.0.0.2); every other name does not exist.
fn dns_answer(query: &[u8]) -> Option<Vec<u8>> {
    let mut end = 12;
    let mut labels = Vec::new();
    loop {
        let len = *query.get(end)? as usize;
        end += 1;
        if len == 0 {
            break;
        }
        labels.push(String::from_utf8_lossy(query.get(end..end + len)?).into_owned());
        end += len;
    }
    let qtype = u16::from_be_bytes([*query.get(end)?, *query.get(end + 1)?]);
    end += 4;
    let known = labels.join(".") == "client.test" && qtype == 1;
    let mut reply = query.get(0..2)?.to_vec();
    reply.extend_from_slice(&[0x81, if known { 0x80 } else { 0x83 }, 0, 1, 0, known as u8, 0, 0, 0, 0]);
    reply.extend_from_slice(query.get(12..end)?);
    if known {
        reply.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 10, 0, 0, 2]);
    }
    Some(reply)
}

#[test]
fn a_std_net_component_serves_a_client_on_another_stack() {
    let component = Component::new(engine(), net_echo_wasm()).unwrap();
    let (guest_port, client_port) = cable();
    let start = Instant::now();
    let stack = Stack::new(
        guest_port.clone(),
        [2, 0, 0, 0, 0, 1],
        config(GUEST_IP, Some(CLIENT_IP)),
        StackOptions::default(),
        net_instant(start),
        1,
    )
    .unwrap();
    let net = Arc::new(SharedStack::new(stack));
    let platform = Arc::new(NetPlatform {
        start,
        stdout: Mutex::default(),
        deadline: Mutex::default(),
        net: net.clone(),
        port: guest_port,
        idle_calls: AtomicUsize::new(0),
        peer_gone: Arc::default(),
    });

    let finished = Arc::new(AtomicBool::new(false));
    let stop = Arc::new(AtomicBool::new(false));
    let client = std::thread::spawn({
        let (finished, stop, gone) = (finished.clone(), stop.clone(), Gone(platform.peer_gone.clone()));
        move || {
            let _gone = gone;
            Client::new(client_port, start, finished, stop).run()
        }
    });

    let mut linker = Linker::<Host>::new(engine());
    morgana_wasi::add_to_linker_async(&mut linker).unwrap();
    let args = vec!["net-echo".to_string(), "5".to_string()];
    let wasi = WasiCtx::new(platform.clone(), args, vec![]).with_network(net.clone());
    let mut store = Store::new(engine(), Host { wasi, table: ResourceTable::new() });
    let result = block_on(&*platform, async {
        let command = WasiCommand::instantiate_async(&mut store, &component, &linker).await?;
        command.wasi_cli_run().call_run(&mut store).await
    });
    finished.store(true, Ordering::SeqCst);
    let stdout = String::from_utf8(platform.stdout.lock().unwrap().clone()).unwrap();
    let guest_ok = match &result {
        Ok(Ok(())) => true,
        Err(e) => e.downcast_ref::<ExitStatus>() == Some(&ExitStatus(0)),
        Ok(Err(())) => false,
    };
    if !guest_ok {
        stop.store(true, Ordering::SeqCst);
        let _ = client.join();
        panic!("the guest failed: {result:?}\nstdout:\n{stdout}");
    }

    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines[0], "listening on 0.0.0.0:8080", "{stdout}");
    assert!(lines[1].starts_with("udp: echoed 4 bytes to 10.0.0.2:"), "{stdout}");
    assert_eq!(&lines[2..7], ["tcp: echoed 50000 bytes to 10.0.0.2"; 5], "{stdout}");
    assert_eq!(lines[7], "read timed out after 100 ms", "{stdout}");
    assert_eq!(lines[8], "late: echoed \"late\"", "{stdout}");
    assert_eq!(lines[9], "client.test is 10.0.0.2:9000; it said \"ok\\n\"", "{stdout}");
    assert_eq!(lines[10], "closed port: ConnectionRefused", "{stdout}");
    assert_eq!(lines.len(), 11, "{stdout}");

    // The guest's sockets were closed as it exited (its resources dropped with the store); the
    // stack frees them once their connections are over. Only the connection the guest closed
    // first lingers, in TIME-WAIT.
    drop(store);
    let deadline = Instant::now() + Duration::from_secs(2);
    while net.with(|s| s.socket_count()) > 1 && Instant::now() < deadline {
        net.poll_ns(platform.monotonic_now());
        std::thread::sleep(Duration::from_millis(5));
    }
    assert!(net.with(|s| s.socket_count()) <= 1, "{} sockets left", net.with(|s| s.socket_count()));

    stop.store(true, Ordering::SeqCst);
    let goodbyes = client.join().unwrap_or_else(|_| panic!("the client failed; guest stdout:\n{stdout}"));
    assert_eq!(goodbyes, ["bye from the guest\n"]);
}

// ---- the host traits directly, against wasmtime-wasi's state machine and error codes

/// A host whose network is a stack on a cable nobody listens to (10.0.0.1/24, no DNS server),
/// or no network at all.
fn host(with_network: bool) -> Host {
    let (port, _) = cable();
    let start = Instant::now();
    let stack = Stack::new(
        port.clone(),
        [2, 0, 0, 0, 0, 1],
        config(GUEST_IP, None),
        StackOptions::default(),
        net_instant(start),
        1,
    )
    .unwrap();
    let net = Arc::new(SharedStack::new(stack));
    let platform = Arc::new(NetPlatform {
        start,
        stdout: Mutex::default(),
        deadline: Mutex::default(),
        net: net.clone(),
        port,
        idle_calls: AtomicUsize::new(0),
        peer_gone: Arc::default(),
    });
    let mut wasi = WasiCtx::new(platform, vec![], vec![]);
    if with_network {
        wasi = wasi.with_network(net);
    }
    Host { wasi, table: ResourceTable::new() }
}

fn code<T: std::fmt::Debug>(result: Result<T, SocketError>) -> ErrorCode {
    match result {
        Err(SocketError::Code(code)) => code,
        other => panic!("expected an error code, got {other:?}"),
    }
}

fn borrow<T: 'static>(resource: &Resource<T>) -> Resource<T> {
    Resource::new_borrow(resource.rep())
}

fn ipv4(a: [u8; 4], port: u16) -> IpSocketAddress {
    IpSocketAddress::Ipv4(Ipv4SocketAddress { port, address: (a[0], a[1], a[2], a[3]) })
}

#[test]
fn without_a_network_no_socket_can_be_made() {
    let mut host = host(false);
    let mut view = host.wasi();
    let network = instance_network::Host::instance_network(&mut view).unwrap();
    let tcp = tcp_create_socket::Host::create_tcp_socket(&mut view, IpAddressFamily::Ipv4);
    assert_eq!(code(tcp), ErrorCode::AccessDenied);
    let udp = udp_create_socket::Host::create_udp_socket(&mut view, IpAddressFamily::Ipv6);
    assert_eq!(code(udp), ErrorCode::AccessDenied);
    let lookup = ip_name_lookup::Host::resolve_addresses(&mut view, borrow(&network), "10.0.0.1".into());
    assert_eq!(code(lookup), ErrorCode::PermanentResolverFailure);
}

#[test]
fn tcp_state_machine_and_errors() {
    use morgana_wasi::bindings::wasi::sockets::tcp::HostTcpSocket;
    let mut host = host(true);
    let mut view = host.wasi();
    let network = instance_network::Host::instance_network(&mut view).unwrap();
    let net = || Resource::new_borrow(network.rep());
    let socket = tcp_create_socket::Host::create_tcp_socket(&mut view, IpAddressFamily::Ipv4).unwrap();
    let s = || Resource::new_borrow(socket.rep());
    let v = &mut view;

    // Binding.
    assert_eq!(code(v.finish_bind(s())), ErrorCode::NotInProgress);
    let six = IpSocketAddress::Ipv6(morgana_wasi::bindings::wasi::sockets::network::Ipv6SocketAddress {
        port: 0,
        flow_info: 0,
        address: (0, 0, 0, 0, 0, 0, 0, 0),
        scope_id: 0,
    });
    assert_eq!(code(v.start_bind(s(), net(), six)), ErrorCode::InvalidArgument);
    assert_eq!(code(v.start_bind(s(), net(), ipv4([224, 0, 0, 1], 0))), ErrorCode::InvalidArgument);
    assert_eq!(code(v.start_bind(s(), net(), ipv4([10, 0, 0, 9], 80))), ErrorCode::AddressNotBindable);
    assert_eq!(code(v.start_listen(s())), ErrorCode::InvalidState);
    assert_eq!(code(v.local_address(s())), ErrorCode::InvalidState);
    v.start_bind(s(), net(), ipv4([0, 0, 0, 0], 0)).unwrap();
    assert_eq!(code(v.start_bind(s(), net(), ipv4([0, 0, 0, 0], 0))), ErrorCode::ConcurrencyConflict);
    v.finish_bind(s()).unwrap();
    assert_eq!(code(v.start_bind(s(), net(), ipv4([0, 0, 0, 0], 0))), ErrorCode::InvalidState);
    let IpSocketAddress::Ipv4(local) = v.local_address(s()).unwrap() else { panic!() };
    assert!(local.port >= 49152);
    assert_eq!(code(v.remote_address(s())), ErrorCode::InvalidState);

    // Options: wasmtime-wasi's validation and clamping.
    assert_eq!(code(v.set_keep_alive_idle_time(s(), 0)), ErrorCode::InvalidArgument);
    v.set_keep_alive_idle_time(s(), 1_500_000_000).unwrap();
    assert_eq!(v.keep_alive_idle_time(s()).unwrap(), 1_000_000_000);
    v.set_keep_alive_interval(s(), u64::MAX).unwrap();
    assert_eq!(v.keep_alive_interval(s()).unwrap(), 32767 * 1_000_000_000);
    assert_eq!(code(v.set_keep_alive_count(s(), 0)), ErrorCode::InvalidArgument);
    v.set_keep_alive_count(s(), 1000).unwrap();
    assert_eq!(v.keep_alive_count(s()).unwrap(), 127);
    assert!(!v.keep_alive_enabled(s()).unwrap());
    v.set_keep_alive_enabled(s(), true).unwrap();
    assert!(v.keep_alive_enabled(s()).unwrap());
    assert_eq!(v.hop_limit(s()).unwrap(), 64);
    assert_eq!(code(v.set_hop_limit(s(), 0)), ErrorCode::InvalidArgument);
    v.set_hop_limit(s(), 12).unwrap();
    assert_eq!(v.hop_limit(s()).unwrap(), 12);
    assert_eq!(v.receive_buffer_size(s()).unwrap(), 64 * 1024);
    assert_eq!(code(v.set_receive_buffer_size(s(), 0)), ErrorCode::InvalidArgument);
    v.set_receive_buffer_size(s(), 1).unwrap();
    assert_eq!(v.receive_buffer_size(s()).unwrap(), 1024);
    v.set_send_buffer_size(s(), 1 << 40).unwrap();
    assert_eq!(v.send_buffer_size(s()).unwrap(), 1 << 20);
    assert_eq!(code(v.set_listen_backlog_size(s(), 0)), ErrorCode::InvalidArgument);
    v.set_listen_backlog_size(s(), 3).unwrap();

    // Listening.
    assert!(!v.is_listening(s()).unwrap());
    assert_eq!(code(v.finish_listen(s())), ErrorCode::NotInProgress);
    v.start_listen(s()).unwrap();
    assert_eq!(code(v.start_listen(s())), ErrorCode::ConcurrencyConflict);
    v.finish_listen(s()).unwrap();
    assert!(v.is_listening(s()).unwrap());
    assert_eq!(code(v.accept(s())), ErrorCode::WouldBlock);
    assert_eq!(code(v.start_connect(s(), net(), ipv4([10, 0, 0, 2], 80))), ErrorCode::InvalidState);
    assert_eq!(code(v.shutdown(s(), ShutdownType::Both)), ErrorCode::InvalidState);
    v.set_listen_backlog_size(s(), 5).unwrap();
    // A second listener on the port cannot bind.
    let other = tcp_create_socket::Host::create_tcp_socket(v, IpAddressFamily::Ipv4).unwrap();
    let o = || Resource::new_borrow(other.rep());
    let port = local.port;
    assert_eq!(code(v.start_bind(o(), net(), ipv4([10, 0, 0, 1], port))), ErrorCode::AddressInUse);

    // Connecting: bad addresses at once, failures from finish-connect.
    assert_eq!(code(v.start_connect(o(), net(), ipv4([0, 0, 0, 0], 80))), ErrorCode::InvalidArgument);
    assert_eq!(code(v.start_connect(o(), net(), ipv4([10, 0, 0, 2], 0))), ErrorCode::InvalidArgument);
    assert_eq!(code(v.start_connect(o(), net(), ipv4([255, 255, 255, 255], 80))), ErrorCode::InvalidArgument);
    assert_eq!(code(v.finish_connect(o())), ErrorCode::NotInProgress);
    v.start_connect(o(), net(), ipv4([192, 168, 9, 9], 80)).unwrap();
    assert_eq!(code(v.start_connect(o(), net(), ipv4([192, 168, 9, 9], 80))), ErrorCode::ConcurrencyConflict);
    assert_eq!(code(v.finish_connect(o())), ErrorCode::RemoteUnreachable);
    assert_eq!(code(v.start_connect(o(), net(), ipv4([10, 0, 0, 2], 80))), ErrorCode::InvalidState);
    assert_eq!(code(v.local_address(o())), ErrorCode::InvalidState);

    // An attempt nobody answers is still in progress, and its pollable is not ready.
    let third = tcp_create_socket::Host::create_tcp_socket(v, IpAddressFamily::Ipv4).unwrap();
    v.start_connect(borrow(&third), net(), ipv4([10, 0, 0, 2], 80)).unwrap();
    assert_eq!(code(v.finish_connect(borrow(&third))), ErrorCode::WouldBlock);
    assert_eq!(code(v.keep_alive_enabled(borrow(&third))), ErrorCode::InvalidState);
    let pollable = v.subscribe(borrow(&third)).unwrap();
    let ready = block_on(&*v.ctx.platform().clone(), HostPollable::ready(v.table, borrow(&pollable))).unwrap();
    assert!(!ready);
    HostPollable::drop(v.table, pollable).unwrap();

    for socket in [socket, other, third] {
        HostTcpSocket::drop(v, socket).unwrap();
    }
}

#[test]
fn udp_state_machine_and_errors() {
    use morgana_wasi::bindings::wasi::sockets::udp::{
        HostIncomingDatagramStream as Incoming, HostOutgoingDatagramStream as Outgoing, HostUdpSocket,
    };
    let mut host = host(true);
    let mut view = host.wasi();
    let network = instance_network::Host::instance_network(&mut view).unwrap();
    let net = || Resource::new_borrow(network.rep());
    let socket = udp_create_socket::Host::create_udp_socket(&mut view, IpAddressFamily::Ipv4).unwrap();
    let s = || Resource::new_borrow(socket.rep());
    let v = &mut view;

    assert_eq!(code(v.stream(s(), None)), ErrorCode::InvalidState);
    assert_eq!(code(v.local_address(s())), ErrorCode::InvalidState);
    assert_eq!(code(v.finish_bind(s())), ErrorCode::NotInProgress);
    v.start_bind(s(), net(), ipv4([0, 0, 0, 0], 0)).unwrap();
    v.finish_bind(s()).unwrap();
    assert_eq!(code(v.remote_address(s())), ErrorCode::InvalidState);
    assert_eq!(code(v.set_unicast_hop_limit(s(), 0)), ErrorCode::InvalidArgument);
    assert_eq!(code(v.stream(s(), Some(ipv4([10, 0, 0, 2], 0)))), ErrorCode::InvalidArgument);

    // Unconnected: every datagram needs an address; sends need a permit.
    let (incoming, outgoing) = v.stream(s(), None).unwrap();
    assert!(matches!(v.stream(s(), None), Err(SocketError::Trap(_))));
    let datagram = |to: Option<IpSocketAddress>| OutgoingDatagram { data: b"hi".to_vec(), remote_address: to };
    assert!(matches!(v.send(borrow(&outgoing), vec![datagram(None)]), Err(SocketError::Trap(_))));
    assert!(v.receive(borrow(&incoming), 0).unwrap().is_empty());
    assert_eq!(v.check_send(borrow(&outgoing)).unwrap(), 16);
    assert_eq!(code(v.send(borrow(&outgoing), vec![datagram(None)])), ErrorCode::InvalidArgument);
    assert_eq!(v.check_send(borrow(&outgoing)).unwrap(), 16);
    assert!(matches!(v.send(borrow(&outgoing), vec![datagram(None); 17]), Err(SocketError::Trap(_))));
    assert_eq!(v.check_send(borrow(&outgoing)).unwrap(), 16);
    let peer = ipv4([10, 0, 0, 2], 9);
    let to = Some(peer);
    // The first datagram goes; the second fails, which `send` does not report.
    assert_eq!(v.send(borrow(&outgoing), vec![datagram(to), datagram(None)]).unwrap(), 1);
    assert_eq!(v.check_send(borrow(&outgoing)).unwrap(), 16);
    let big = OutgoingDatagram { data: vec![0; 70_000], remote_address: to };
    assert_eq!(code(v.send(borrow(&outgoing), vec![big])), ErrorCode::DatagramTooLarge);
    assert_eq!(v.receive(borrow(&incoming), 10).unwrap().len(), 0);
    assert_eq!(v.check_send(borrow(&outgoing)).unwrap(), 16);
    Incoming::drop(v, incoming).unwrap();
    Outgoing::drop(v, outgoing).unwrap();

    // Connected: the address is fixed.
    let (incoming, outgoing) = v.stream(s(), to).unwrap();
    assert_eq!(SocketAddr::from(v.remote_address(s()).unwrap()), SocketAddr::from(peer));
    assert_eq!(v.check_send(borrow(&outgoing)).unwrap(), 16);
    let elsewhere = Some(ipv4([10, 0, 0, 3], 9));
    assert_eq!(code(v.send(borrow(&outgoing), vec![datagram(elsewhere)])), ErrorCode::InvalidArgument);
    assert_eq!(v.check_send(borrow(&outgoing)).unwrap(), 16);
    assert_eq!(v.send(borrow(&outgoing), vec![datagram(None), datagram(to)]).unwrap(), 2);
    Incoming::drop(v, incoming).unwrap();
    Outgoing::drop(v, outgoing).unwrap();
    HostUdpSocket::drop(v, socket).unwrap();
}

#[test]
fn name_lookups_answer_addresses_at_once_and_check_names() {
    use ip_name_lookup::HostResolveAddressStream;
    let mut host = host(true);
    let mut view = host.wasi();
    let network = instance_network::Host::instance_network(&mut view).unwrap();
    let mut lookup = |name: &str| ip_name_lookup::Host::resolve_addresses(&mut view, borrow(&network), name.into());
    let stream = lookup("10.1.2.3").unwrap();
    let six = lookup("[::1]").unwrap();
    assert_eq!(code(lookup("no spaces.test")), ErrorCode::InvalidArgument);
    assert_eq!(code(lookup("")), ErrorCode::InvalidArgument);
    assert_eq!(code(lookup("bücher.test")), ErrorCode::InvalidArgument);
    // No DNS server is configured.
    assert_eq!(code(lookup("example.test")), ErrorCode::TemporaryResolverFailure);
    let v = &mut view;
    let next =
        |v: &mut WasiHostCtxView<'_>, s: &Resource<_>| format!("{:?}", v.resolve_next_address(borrow(s)).unwrap());
    assert_eq!(next(v, &stream), format!("{:?}", Some(IpAddress::Ipv4((10, 1, 2, 3)))));
    assert_eq!(next(v, &stream), "None");
    assert_eq!(next(v, &six), format!("{:?}", Some(IpAddress::Ipv6((0, 0, 0, 0, 0, 0, 0, 1)))));
    HostResolveAddressStream::drop(v, stream).unwrap();
    HostResolveAddressStream::drop(v, six).unwrap();
}

#[test]
fn poll_mixes_socket_and_clock_pollables() {
    use morgana_wasi::bindings::wasi::clocks::monotonic_clock;
    use morgana_wasi::bindings::wasi::sockets::tcp::HostTcpSocket;
    use wasmtime_wasi_io::bindings::wasi::io::poll::Host as _;

    // The guest's stack, and a client stack polled by a thread that connects after 150 ms.
    let (guest_port, client_port) = cable();
    let start = Instant::now();
    let stack = Stack::new(
        guest_port.clone(),
        [2, 0, 0, 0, 0, 1],
        config(GUEST_IP, None),
        StackOptions::default(),
        net_instant(start),
        1,
    )
    .unwrap();
    let net = Arc::new(SharedStack::new(stack));
    let platform = Arc::new(NetPlatform {
        start,
        stdout: Mutex::default(),
        deadline: Mutex::default(),
        net: net.clone(),
        port: guest_port,
        idle_calls: AtomicUsize::new(0),
        peer_gone: Arc::default(),
    });
    let done = Arc::new(AtomicBool::new(false));
    let client = std::thread::spawn({
        let (done, gone) = (done.clone(), Gone(platform.peer_gone.clone()));
        move || {
            let _gone = gone;
            let mut stack = Stack::new(
                client_port.clone(),
                [2, 0, 0, 0, 0, 2],
                config(CLIENT_IP, None),
                StackOptions::default(),
                net_instant(start),
                2,
            )
            .unwrap();
            let id = stack.tcp_open(Family::Ipv4).unwrap();
            let mut connecting = false;
            while !done.load(Ordering::SeqCst) {
                if !connecting && start.elapsed() > Duration::from_millis(150) {
                    stack.tcp_connect(id, SocketAddr::new(IpAddr::V4(GUEST_IP), 80)).unwrap();
                    connecting = true;
                }
                stack.poll(net_instant(start));
                client_port.inbox.wait(Duration::from_millis(5));
            }
        }
    });

    let mut host =
        Host { wasi: WasiCtx::new(platform.clone(), vec![], vec![]).with_network(net), table: ResourceTable::new() };
    let mut view = host.wasi();
    let network = instance_network::Host::instance_network(&mut view).unwrap();
    let listener = tcp_create_socket::Host::create_tcp_socket(&mut view, IpAddressFamily::Ipv4).unwrap();
    view.start_bind(borrow(&listener), borrow(&network), ipv4([0, 0, 0, 0], 80)).unwrap();
    view.finish_bind(borrow(&listener)).unwrap();
    view.start_listen(borrow(&listener)).unwrap();
    view.finish_listen(borrow(&listener)).unwrap();
    let accept = view.subscribe(borrow(&listener)).unwrap();

    // Nobody connects within 50 ms: the clock wins, after one idle or so (not a busy loop).
    let short = monotonic_clock::Host::subscribe_duration(&mut view, 50_000_000).unwrap();
    let before = Instant::now();
    let ready = block_on(&*platform, view.table.poll(vec![borrow(&accept), borrow(&short)])).unwrap();
    let took = before.elapsed();
    assert_eq!(ready, [1]);
    assert!(took >= Duration::from_millis(45) && took < Duration::from_millis(140), "{took:?}");
    assert!(platform.idle_calls.load(Ordering::SeqCst) <= 5, "{}", platform.idle_calls.load(Ordering::SeqCst));

    // The connection comes (at about 150 ms) well before a 5 s deadline: the socket wins.
    let long = monotonic_clock::Host::subscribe_duration(&mut view, 5_000_000_000).unwrap();
    let before = Instant::now();
    let ready = block_on(&*platform, view.table.poll(vec![borrow(&long), borrow(&accept)])).unwrap();
    assert_eq!(ready, [1]);
    // It returns as soon as the connection is in (about 100 ms later), not at the next
    // deadline of some stack timer.
    let took = before.elapsed();
    assert!(took >= Duration::from_millis(50) && took < Duration::from_millis(500), "{took:?}");
    let (connection, input, output) = view.accept(borrow(&listener)).unwrap();
    done.store(true, Ordering::SeqCst);
    client.join().unwrap();

    for pollable in [accept, short, long] {
        HostPollable::drop(view.table, pollable).unwrap();
    }
    block_on(&*platform, wasmtime_wasi_io::bindings::wasi::io::streams::HostInputStream::drop(view.table, input))
        .unwrap();
    block_on(&*platform, wasmtime_wasi_io::bindings::wasi::io::streams::HostOutputStream::drop(view.table, output))
        .unwrap();
    HostTcpSocket::drop(&mut view, connection).unwrap();
    HostTcpSocket::drop(&mut view, listener).unwrap();
}
