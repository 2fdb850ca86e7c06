//! Generated bindings for `wasi:http` 0.2.12 (`wit/deps/http.wit`, copied from
//! wasmtime-wasi-http 48.0.8): the host side of `types`, and the `incoming-handler` export the
//! server calls, and `outgoing-handler`.
//!
//! Every resource of `wasi:http/types` is this crate's (see [`super`]); `wasi:io` is
//! wasmtime-wasi-io's and `wasi:clocks` the crate's own bindings, so streams, pollables and
//! durations are the same types as in the rest of the host.

wasmtime::component::bindgen!({
    inline: "
        package morgana:wasi-http-host;

        world proxy {
            import wasi:http/types@0.2.12;
            import wasi:http/outgoing-handler@0.2.12;
            export wasi:http/incoming-handler@0.2.12;
        }
    ",
    path: [
        "../../wit/deps/io.wit",
        "../../wit/deps/clocks.wit",
        "../../wit/deps/random.wit",
        "../../wit/deps/filesystem.wit",
        "../../wit/deps/sockets.wit",
        "../../wit/deps/cli.wit",
        "../../wit/deps/http.wit",
    ],
    // Nothing in `types` waits: bodies wait through their streams' and futures' pollables,
    // which are wasi:io's.
    imports: { default: trappable },
    exports: { default: async },
    with: {
        "wasi:io": wasmtime_wasi_io::bindings::wasi::io,
        "wasi:clocks": crate::bindings::wasi::clocks,
        "wasi:http/types.fields": super::fields::Fields,
        "wasi:http/types.incoming-request": super::types::IncomingRequest,
        "wasi:http/types.outgoing-request": super::types::OutgoingRequest,
        "wasi:http/types.request-options": super::types::RequestOptions,
        "wasi:http/types.response-outparam": super::types::ResponseOutparam,
        "wasi:http/types.incoming-response": super::types::IncomingResponse,
        "wasi:http/types.incoming-body": super::body::IncomingBody,
        "wasi:http/types.future-trailers": super::body::FutureTrailers,
        "wasi:http/types.outgoing-response": super::types::OutgoingResponse,
        "wasi:http/types.outgoing-body": super::body::OutgoingBody,
        "wasi:http/types.future-incoming-response": super::outgoing::FutureIncomingResponse,
    },
});
