//! Generated bindings for the WASI 0.2 interfaces this crate implements.
//!
//! This module holds the output of [`wasmtime::component::bindgen!`] over a world that imports
//! every interface of `wasi:cli/imports` except the unstable `wasi:clocks/timezone`, and exports
//! `wasi:cli/run`. The WIT is the WASI spec's, version
//! 0.2.12, in the repository's `wit/deps/` (copied from wasmtime-wasi 48.0.8). wasmtime's linker
//! accepts components built against any 0.2.x, since versions are matched semver-compatibly.
//!
//! The generated host traits are implemented in this crate's interface modules; embedders use
//! this module for [`Command`] (instantiate a component and call its `wasi:cli/run`) and for
//! the WIT types.

// Every interface in the `wasi:io` package is aliased to wasmtime-wasi-io's generated code, so
// the pollable and stream resources here are its `DynPollable`, `DynInputStream` and
// `DynOutputStream`, and its host implementation (over the `ResourceTable`) is the one linked.
wasmtime::component::bindgen!({
    inline: "
        package morgana:wasi-host;

        world command {
            import wasi:cli/environment@0.2.12;
            import wasi:cli/exit@0.2.12;
            import wasi:cli/stdin@0.2.12;
            import wasi:cli/stdout@0.2.12;
            import wasi:cli/stderr@0.2.12;
            import wasi:cli/terminal-input@0.2.12;
            import wasi:cli/terminal-output@0.2.12;
            import wasi:cli/terminal-stdin@0.2.12;
            import wasi:cli/terminal-stdout@0.2.12;
            import wasi:cli/terminal-stderr@0.2.12;
            import wasi:clocks/monotonic-clock@0.2.12;
            import wasi:clocks/wall-clock@0.2.12;
            import wasi:filesystem/types@0.2.12;
            import wasi:filesystem/preopens@0.2.12;
            import wasi:io/error@0.2.12;
            import wasi:io/poll@0.2.12;
            import wasi:io/streams@0.2.12;
            import wasi:random/random@0.2.12;
            import wasi:random/insecure@0.2.12;
            import wasi:random/insecure-seed@0.2.12;
            import wasi:sockets/network@0.2.12;
            import wasi:sockets/instance-network@0.2.12;
            import wasi:sockets/ip-name-lookup@0.2.12;
            import wasi:sockets/tcp@0.2.12;
            import wasi:sockets/tcp-create-socket@0.2.12;
            import wasi:sockets/udp@0.2.12;
            import wasi:sockets/udp-create-socket@0.2.12;

            export wasi:cli/run@0.2.12;
        }
    ",
    // One file per package, each after the packages it uses: bindgen! resolves a file's
    // foreign `use`s against the packages already read.
    path: [
        "../../wit/deps/io.wit",
        "../../wit/deps/clocks.wit",
        "../../wit/deps/random.wit",
        "../../wit/deps/filesystem.wit",
        "../../wit/deps/sockets.wit",
        "../../wit/deps/cli.wit",
    ],
    imports: {
        // As in wasmtime-wasi, only the functions that may have to wait are `async`; everything
        // else is synchronous, since it never blocks. The only waiting functions are in
        // `wasi:io` (`poll`, `block`, the blocking stream operations), whose host comes from
        // wasmtime-wasi-io, and the filesystem descriptor methods below, which wasmtime-wasi
        // makes async because they do file I/O. They are async here too so that the host
        // traits have the same shape as wasmtime-wasi's, ready for a real filesystem.
        "wasi:filesystem/types.[method]descriptor.advise": async | trappable,
        "wasi:filesystem/types.[method]descriptor.create-directory-at": async | trappable,
        "wasi:filesystem/types.[method]descriptor.get-flags": async | trappable,
        "wasi:filesystem/types.[method]descriptor.get-type": async | trappable,
        "wasi:filesystem/types.[method]descriptor.is-same-object": async | trappable,
        "wasi:filesystem/types.[method]descriptor.link-at": async | trappable,
        "wasi:filesystem/types.[method]descriptor.metadata-hash": async | trappable,
        "wasi:filesystem/types.[method]descriptor.metadata-hash-at": async | trappable,
        "wasi:filesystem/types.[method]descriptor.open-at": async | trappable,
        "wasi:filesystem/types.[method]descriptor.read": async | trappable,
        "wasi:filesystem/types.[method]descriptor.read-directory": async | trappable,
        "wasi:filesystem/types.[method]descriptor.readlink-at": async | trappable,
        "wasi:filesystem/types.[method]descriptor.remove-directory-at": async | trappable,
        "wasi:filesystem/types.[method]descriptor.rename-at": async | trappable,
        "wasi:filesystem/types.[method]descriptor.set-size": async | trappable,
        "wasi:filesystem/types.[method]descriptor.set-times": async | trappable,
        "wasi:filesystem/types.[method]descriptor.set-times-at": async | trappable,
        "wasi:filesystem/types.[method]descriptor.stat": async | trappable,
        "wasi:filesystem/types.[method]descriptor.stat-at": async | trappable,
        "wasi:filesystem/types.[method]descriptor.symlink-at": async | trappable,
        "wasi:filesystem/types.[method]descriptor.sync": async | trappable,
        "wasi:filesystem/types.[method]descriptor.sync-data": async | trappable,
        "wasi:filesystem/types.[method]descriptor.unlink-file-at": async | trappable,
        "wasi:filesystem/types.[method]descriptor.write": async | trappable,
        "wasi:filesystem/types.[method]directory-entry-stream.read-directory-entry": async | trappable,
        // Every host function returns `wasmtime::Result`, so that a host bug (say, a
        // resource missing from the table) traps instead of panicking the kernel.
        default: trappable,
    },
    // `wasi:cli/run` is called with `call_async`, which the executor drives.
    exports: { default: async },
    // Functions returning these error types return a Rust error that is either a WIT error
    // code for the guest or a trap, as in wasmtime-wasi.
    trappable_error_type: {
        "wasi:io/streams.stream-error" => wasmtime_wasi_io::streams::StreamError,
        "wasi:filesystem/types.error-code" => crate::FsError,
        "wasi:sockets/network.error-code" => crate::SocketError,
    },
    with: {
        // All interfaces in the wasi:io package are wasmtime-wasi-io's; this also maps its
        // resource types to the ones defined in that crate.
        "wasi:io": wasmtime_wasi_io::bindings::wasi::io,
        // The socket resources are this crate's (empty enums when their feature is off, so
        // that no such resource can exist).
        "wasi:sockets/network.network": crate::sockets::Network,
        "wasi:sockets/ip-name-lookup.resolve-address-stream": crate::sockets::ResolveAddressStream,
        "wasi:sockets/tcp.tcp-socket": crate::sockets::TcpSocket,
        "wasi:sockets/udp.udp-socket": crate::sockets::UdpSocket,
        "wasi:sockets/udp.incoming-datagram-stream": crate::sockets::IncomingDatagramStream,
        "wasi:sockets/udp.outgoing-datagram-stream": crate::sockets::OutgoingDatagramStream,
        // Descriptors and directory-entry streams are this crate's (feature `filesystem`).
        "wasi:filesystem/types.descriptor": crate::filesystem::Descriptor,
        "wasi:filesystem/types.directory-entry-stream": crate::filesystem::DirectoryEntryStream,
        // Terminals, which this host never creates, are left to bindgen!, which makes each an
        // empty enum: a `Resource` of one can exist in the guest only if the host made it, so
        // the host functions taking one are unreachable and say so in their types.
    },
});
