//! Each interface module on its own: small components (WAT) through each module's
//! `add_to_linker`, and the host traits called directly where a component would need memory
//! and a realloc to see the result.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{FakePlatform, Host, SEED, engine, splitmix};
use morgana_wasi::bindings::wasi::cli::{
    environment, exit, stderr, stdin, stdout, terminal_stderr, terminal_stdin, terminal_stdout,
};
use morgana_wasi::bindings::wasi::clocks::{monotonic_clock, wall_clock};
use morgana_wasi::bindings::wasi::filesystem::{preopens, types as fs};
use morgana_wasi::bindings::wasi::random::{insecure, insecure_seed, random};
use morgana_wasi::{ExitStatus, FsError, WasiHostView, block_on};
use wasmtime::Store;
use wasmtime::component::{Component, Linker, Resource};
use wasmtime_wasi_io::bindings::wasi::io::poll::{Host as _, HostPollable};
use wasmtime_wasi_io::bindings::wasi::io::streams::{HostInputStream, HostOutputStream};
use wasmtime_wasi_io::streams::StreamError;

// ---- components through single modules' linkers

/// A component whose `run: func() -> u64` returns the `u64` function `func` of `interface`,
/// which it imports.
fn u64_getter(interface: &str, func: &str) -> Component {
    let wat = format!(
        r#"(component
            (import "{interface}" (instance $i (export "{func}" (func (result u64)))))
            (core func $get (canon lower (func $i "{func}")))
            (core module $m
              (import "host" "get" (func $get (result i64)))
              (func (export "run") (result i64) call $get))
            (core instance $host (export "get" (func $get)))
            (core instance $m (instantiate $m (with "host" (instance $host))))
            (func (export "run") (result u64) (canon lift (core func $m "run"))))"#
    );
    Component::new(engine(), wat::parse_str(wat).unwrap()).unwrap()
}

fn call_u64(linker: &Linker<Host>, platform: &Arc<FakePlatform>, component: &Component) -> wasmtime::Result<u64> {
    let mut store = Store::new(engine(), Host::new(platform, &["test"], &[]));
    block_on(&**platform, async {
        let instance = linker.instantiate_async(&mut store, component).await?;
        let run = instance.get_typed_func::<(), (u64,)>(&mut store, "run")?;
        let (value,) = run.call_async(&mut store, ()).await?;
        Ok(value)
    })
}

#[test]
fn each_module_links_its_interfaces_and_no_others() {
    let platform = FakePlatform::new();
    let random_u64 = u64_getter("wasi:random/random@0.2.0", "get-random-u64");
    let clock_now = u64_getter("wasi:clocks/monotonic-clock@0.2.3", "now");

    // io + random: the random component runs and gets the platform's secure random number...
    let mut linker = Linker::<Host>::new(engine());
    morgana_wasi::io::add_to_linker(&mut linker).unwrap();
    morgana_wasi::random::add_to_linker(&mut linker).unwrap();
    assert_eq!(call_u64(&linker, &platform, &random_u64).unwrap(), splitmix(0));
    // ...and the clock component does not link.
    let error = linker.instantiate_pre(&clock_now).err().expect("linked without wasi:clocks");
    assert!(format!("{error:#}").contains("wasi:clocks/monotonic-clock"), "{error:#}");

    // Adding clocks makes it link, and `now` is the platform's monotonic clock.
    morgana_wasi::clocks::add_to_linker(&mut linker).unwrap();
    let before = platform.monotonic_now_for_test();
    let now = call_u64(&linker, &platform, &clock_now).unwrap();
    assert!(now >= before && now <= platform.monotonic_now_for_test(), "{before} {now}");

    // cli and filesystem alone provide neither.
    for add in [morgana_wasi::cli::add_to_linker::<Host>, morgana_wasi::filesystem::add_to_linker::<Host>] {
        let mut linker = Linker::<Host>::new(engine());
        morgana_wasi::io::add_to_linker(&mut linker).unwrap();
        add(&mut linker).unwrap();
        assert!(linker.instantiate_pre(&random_u64).is_err());
        assert!(linker.instantiate_pre(&clock_now).is_err());
    }
}

/// A component whose `run` calls `wasi:cli/exit`: `exit` with `result` (0 ok, 1 err), or
/// `exit-with-code` with a code.
fn exiter(call: &str, arg: u32) -> Component {
    let (version, func_type) = match call {
        "exit" => ("0.2.0", r#"(func (param "status" (result)))"#),
        "exit-with-code" => ("0.2.12", r#"(func (param "status-code" u8))"#),
        _ => unreachable!(),
    };
    let wat = format!(
        r#"(component
            (import "wasi:cli/exit@{version}" (instance $i (export "{call}" {func_type})))
            (core func $exit (canon lower (func $i "{call}")))
            (core module $m
              (import "host" "exit" (func $exit (param i32)))
              (func (export "run") (result i32) i32.const {arg} call $exit i32.const 0))
            (core instance $host (export "exit" (func $exit)))
            (core instance $m (instantiate $m (with "host" (instance $host))))
            (func $run (result (result)) (canon lift (core func $m "run")))
            (instance $run (export "run" (func $run)))
            (export "wasi:cli/run@0.2.0" (instance $run)))"#
    );
    Component::new(engine(), wat::parse_str(wat).unwrap()).unwrap()
}

#[test]
fn exit_unwinds_with_exit_status() {
    use morgana_wasi::bindings::Command;
    for (call, arg, expected) in [("exit", 0, 0), ("exit", 1, 1), ("exit-with-code", 7, 7)] {
        let platform = FakePlatform::new();
        let mut linker = Linker::<Host>::new(engine());
        morgana_wasi::add_to_linker_async(&mut linker).unwrap();
        let mut store = Store::new(engine(), Host::new(&platform, &["test"], &[]));
        let component = exiter(call, arg);
        let error = block_on(&*platform, async {
            let command = Command::instantiate_async(&mut store, &component, &linker).await?;
            command.wasi_cli_run().call_run(&mut store).await
        })
        .expect_err("returned from exit");
        assert_eq!(error.downcast_ref::<ExitStatus>(), Some(&ExitStatus(expected)), "{call}({arg}): {error:?}");
    }
}

// ---- host traits, directly

fn host(platform: &Arc<FakePlatform>) -> Host {
    Host::new(platform, &["prog", "arg"], &[("A", "1"), ("B", "2")])
}

#[test]
fn stdin_is_at_end_of_file() {
    let platform = FakePlatform::new();
    let mut host = host(&platform);
    let mut view = host.wasi();
    let stream = stdin::Host::get_stdin(&mut view).unwrap();
    let table = view.table;
    let borrow = || Resource::new_borrow(stream.rep());
    assert!(matches!(table.read(borrow(), 10), Err(StreamError::Closed)));
    assert!(matches!(table.skip(borrow(), 10), Err(StreamError::Closed)));
    assert!(matches!(block_on(&*platform, table.blocking_read(borrow(), 10)), Err(StreamError::Closed)));
    // Ready at once: waiting on stdin never idles.
    let pollable = HostInputStream::subscribe(table, borrow()).unwrap();
    assert!(block_on(&*platform, HostPollable::ready(table, Resource::new_borrow(pollable.rep()))).unwrap());
    HostPollable::drop(table, pollable).unwrap();
    block_on(&*platform, HostInputStream::drop(table, stream)).unwrap();
    assert!(table.is_empty());
    assert_eq!(platform.idle_calls(), 0);
}

#[test]
fn stdout_and_stderr_write_to_the_console() {
    let platform = FakePlatform::new();
    let mut host = host(&platform);
    let mut view = host.wasi();
    let out = stdout::Host::get_stdout(&mut view).unwrap();
    let err = stderr::Host::get_stderr(&mut view).unwrap();
    let table = view.table;
    let out_ = || Resource::new_borrow(out.rep());
    assert_eq!(table.check_write(out_()).unwrap(), 64 * 1024);
    table.write(out_(), b"one ".to_vec()).unwrap();
    HostOutputStream::flush(table, out_()).unwrap();
    block_on(&*platform, table.blocking_write_and_flush(out_(), b"two\n".to_vec())).unwrap();
    block_on(&*platform, table.blocking_write_and_flush(Resource::new_borrow(err.rep()), b"oops\n".to_vec())).unwrap();
    assert_eq!(platform.stdout(), "one two\n");
    assert_eq!(platform.stderr(), "oops\n");
    assert_eq!(platform.idle_calls(), 0);
}

#[test]
fn no_stream_is_a_terminal() {
    let platform = FakePlatform::new();
    let mut host = host(&platform);
    let mut view = host.wasi();
    assert!(terminal_stdin::Host::get_terminal_stdin(&mut view).unwrap().is_none());
    assert!(terminal_stdout::Host::get_terminal_stdout(&mut view).unwrap().is_none());
    assert!(terminal_stderr::Host::get_terminal_stderr(&mut view).unwrap().is_none());
}

#[test]
fn environment_is_the_context_s() {
    let platform = FakePlatform::new();
    let mut host = host(&platform);
    let mut view = host.wasi();
    assert_eq!(environment::Host::get_arguments(&mut view).unwrap(), ["prog", "arg"]);
    let env = environment::Host::get_environment(&mut view).unwrap();
    assert_eq!(env, [("A".to_string(), "1".to_string()), ("B".to_string(), "2".to_string())]);
    assert_eq!(environment::Host::initial_cwd(&mut view).unwrap(), None);
    let error = exit::Host::exit(&mut view, Err(())).unwrap_err();
    assert_eq!(error.downcast_ref::<ExitStatus>(), Some(&ExitStatus(1)));
    assert_eq!(error.to_string(), "the component exited with status 1");
}

#[test]
fn random_comes_from_the_platform() {
    let platform = FakePlatform::new();
    let mut host = host(&platform);
    let mut view = host.wasi();

    // Secure: 20 bytes are three of the platform's words, cut to length.
    let bytes = random::Host::get_random_bytes(&mut view, 20).unwrap();
    let expected: Vec<u8> = (0..3).flat_map(|i| splitmix(i).to_le_bytes()).take(20).collect();
    assert_eq!(bytes, expected);
    assert_eq!(random::Host::get_random_u64(&mut view).unwrap(), splitmix(3));
    assert!(random::Host::get_random_bytes(&mut view, 0).unwrap().is_empty());
    assert_eq!(platform.secure_calls.load(std::sync::atomic::Ordering::SeqCst), 3);

    // Insecure: from `insecure_random`, never from the secure source.
    let bytes = insecure::Host::get_insecure_random_bytes(&mut view, 13).unwrap();
    let expected: Vec<u8> = (0..2).flat_map(|i| splitmix((1 << 32) + i).to_le_bytes()).take(13).collect();
    assert_eq!(bytes, expected);
    assert_eq!(insecure::Host::get_insecure_random_u64(&mut view).unwrap(), splitmix((1 << 32) + 2));
    assert_eq!(insecure_seed::Host::insecure_seed(&mut view).unwrap(), SEED);
    assert_eq!(platform.secure_calls.load(std::sync::atomic::Ordering::SeqCst), 3);

    // Over the limit traps, as in wasmtime-wasi, instead of allocating.
    let too_many = morgana_wasi::random::MAX_RANDOM_BYTES + 1;
    assert!(random::Host::get_random_bytes(&mut view, too_many).is_err());
    assert!(insecure::Host::get_insecure_random_bytes(&mut view, too_many).is_err());
}

#[test]
fn clocks_read_the_platform() {
    let platform = FakePlatform::new();
    let mut host = host(&platform);
    let mut view = host.wasi();
    assert_eq!(monotonic_clock::Host::resolution(&mut view).unwrap(), 1);
    let a = monotonic_clock::Host::now(&mut view).unwrap();
    let b = monotonic_clock::Host::now(&mut view).unwrap();
    assert!(a <= b);
    let wall = wall_clock::Host::now(&mut view).unwrap();
    assert!(wall.seconds > 1_577_836_800 && wall.nanoseconds < 1_000_000_000);
    let resolution = wall_clock::Host::resolution(&mut view).unwrap();
    assert_eq!((resolution.seconds, resolution.nanoseconds), (0, 1));
}

#[test]
fn poll_waits_for_the_earliest_of_mixed_clock_pollables() {
    let platform = FakePlatform::new();
    let mut host = host(&platform);
    let mut view = host.wasi();
    let now = monotonic_clock::Host::now(&mut view).unwrap();
    let ms = |n: u64| n * 1_000_000;
    let slow = monotonic_clock::Host::subscribe_duration(&mut view, ms(150)).unwrap();
    let fast = monotonic_clock::Host::subscribe_instant(&mut view, now + ms(20)).unwrap();
    let past = monotonic_clock::Host::subscribe_instant(&mut view, now.saturating_sub(1)).unwrap();
    let zero = monotonic_clock::Host::subscribe_duration(&mut view, 0).unwrap();
    let never = monotonic_clock::Host::subscribe_duration(&mut view, u64::MAX).unwrap();
    let table = view.table;
    let b = |p: &Resource<_>| Resource::new_borrow(p.rep());

    // Already-due pollables are ready without idling.
    let ready = block_on(&*platform, table.poll(vec![b(&slow), b(&past), b(&zero), b(&never)])).unwrap();
    assert_eq!(ready, [1, 2]);
    assert_eq!(platform.idle_calls(), 0);

    // A future instant and a longer duration: poll returns when the earlier is due, having
    // idled until its deadline (once or so, not 20 times 1 ms), and only it is ready.
    let started = Instant::now();
    let ready = block_on(&*platform, table.poll(vec![b(&never), b(&slow), b(&fast)])).unwrap();
    let took = started.elapsed();
    assert_eq!(ready, [2]);
    assert!(took >= Duration::from_millis(15) && took < Duration::from_millis(150), "{took:?}");
    assert!((1..=3).contains(&platform.idle_calls()), "{}", platform.idle_calls());
    assert!(platform.wake_ats.lock().unwrap().contains(&(now + ms(20))));
    assert!(!block_on(&*platform, HostPollable::ready(table, b(&slow))).unwrap());

    // `block` on the slow one waits for it.
    block_on(&*platform, HostPollable::block(table, b(&slow))).unwrap();
    assert!(monotonic_clock::Host::now(&mut host.wasi()).unwrap() >= now + ms(150));

    // Dropping each pollable also drops its deadline: nothing is left.
    let table = &mut host.table;
    for p in [slow, fast, past, zero, never] {
        HostPollable::drop(table, p).unwrap();
    }
    assert!(table.is_empty());
}

#[test]
fn the_filesystem_has_no_preopens_and_no_descriptors() {
    let platform = FakePlatform::new();
    let mut host = host(&platform);
    let mut view = host.wasi();
    assert!(preopens::Host::get_directories(&mut view).unwrap().is_empty());
    // No descriptor can exist; a forged handle is a host bug and traps.
    let forged = Resource::<fs::Descriptor>::new_borrow(0);
    let error = block_on(&*platform, fs::HostDescriptor::stat(&mut view, forged)).unwrap_err();
    assert!(matches!(error, FsError::Trap(_)), "{error}");
    let code = fs::Host::convert_error_code(&mut view, FsError::Code(fs::ErrorCode::NoEntry)).unwrap();
    assert_eq!(code, fs::ErrorCode::NoEntry);
}
