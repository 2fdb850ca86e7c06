//! Every kind of bad input stops `morgana` with status 2 and a message that names the problem
//! and its fix; nothing is written where a good output would go.

mod common;

use common::*;

#[test]
fn unknown_manifest_key() {
    let scratch = Scratch::new();
    let manifest = scratch.manifest("name = \"a\"\ncolour = \"red\"\n[components.a]\npath = \".\"\n");
    morgana(&["build", &manifest]).assert_failure_mentioning(&["unikernel.toml", "unknown field `colour`"]);
}

#[test]
fn malformed_manifest() {
    let scratch = Scratch::new();
    let manifest = scratch.manifest("name = \"a\n[components.a]\n");
    morgana(&["build", &manifest]).assert_failure_mentioning(&["unikernel.toml", "line 1"]);
    let manifest = scratch.manifest("name = \"A_B\"\n[components.a]\npath = \".\"\n");
    morgana(&["build", &manifest]).assert_failure_mentioning(&["`A_B` is not a valid application name"]);
}

#[test]
fn missing_component_path() {
    let scratch = Scratch::new();
    let manifest = scratch.manifest("name = \"a\"\n[components.app]\npath = \"nowhere\"\n");
    morgana(&["build", &manifest]).assert_failure_mentioning(&["component `app`", "nowhere", "does not exist"]);
    let manifest = scratch.manifest("name = \"a\"\n[components.app]\nwasm = \"gone.wasm\"\n");
    morgana(&["build", &manifest]).assert_failure_mentioning(&["component `app`", "gone.wasm"]);
    let manifest = scratch.manifest("name = \"a\"\n[kv.site]\ndir = \"no-dir\"\n");
    morgana(&["build", &manifest]).assert_failure_mentioning(&["kv store `site`", "no-dir", "does not exist"]);
}

#[test]
fn missing_manifest_or_file() {
    let scratch = Scratch::new();
    let dir = scratch.path().display().to_string();
    morgana(&["build", &dir]).assert_failure_mentioning(&["holds no unikernel.toml"]);
    morgana(&["run", "does/not/exist.toml"]).assert_failure_mentioning(&["does not exist"]);
}

#[test]
fn crate_that_fails_to_build_shows_cargos_error() {
    let scratch = Scratch::new();
    scratch.file(
        "broken/Cargo.toml",
        "[package]\nname = \"broken\"\nversion = \"0.1.0\"\nedition = \"2024\"\n[workspace]\n",
    );
    scratch.file("broken/src/main.rs", "fn main() { let x: u32 = \"not a number\"; }\n");
    let manifest = scratch.manifest("name = \"a\"\n[components.app]\npath = \"broken\"\n");
    let run = morgana(&["build", &manifest]);
    run.assert_failure_mentioning(&["mismatched types", "cargo failed to build", "component `app`"]);
    assert!(!scratch.path().join("target/morgana/a.wasm").exists(), "no output after a failed build");
}

#[test]
fn file_that_is_not_a_component() {
    let scratch = Scratch::new();
    scratch.wat("core.wasm", "(module)");
    scratch.file("text.wasm", "this is not wasm");
    let manifest = scratch.manifest("name = \"a\"\n[components.app]\nwasm = \"core.wasm\"\n");
    morgana(&["build", &manifest])
        .assert_failure_mentioning(&["core.wasm", "core WebAssembly module, not a component"]);

    let core = scratch.path().join("core.wasm").display().to_string();
    morgana(&["run", &core]).assert_failure_mentioning(&["core WebAssembly module"]);
    let text = scratch.path().join("text.wasm").display().to_string();
    morgana(&["run", &text]).assert_failure_mentioning(&["not a WebAssembly file"]);
    morgana(&["inspect", &text]).assert_failure_mentioning(&["not a WebAssembly file"]);

    let mut truncated = std::fs::read(example("hello/target/morgana/hello.wasm")).unwrap_or_else(|_| {
        morgana(&["build", "examples/hello"]).assert_success();
        std::fs::read(example("hello/target/morgana/hello.wasm")).unwrap()
    });
    truncated.truncate(truncated.len() / 2);
    let truncated_path = scratch.file("truncated.wasm", &truncated).display().to_string();
    let run = morgana(&["run", &truncated_path]);
    assert_eq!(run.status, 2, "{}", run.stderr);
    assert!(run.stderr.contains("error:"), "{}", run.stderr);
}

#[test]
fn two_providers_of_one_interface_without_explicit_wiring() {
    let scratch = Scratch::new();
    scratch.file("a/x.txt", "from a\n");
    scratch.file("b/x.txt", "from b\n");
    let app = toml_path(&example("kv-demo/app"));
    let manifest = scratch.manifest(&format!(
        "name = \"two\"\n[components.app]\npath = {app}\n[kv.one]\ndir = \"a\"\n[kv.two]\ndir = \"b\"\n"
    ));
    morgana(&["build", &manifest]).assert_failure_mentioning(&[
        "component `app` imports `morgana:kv/store@0.1.0`",
        "`one` and `two`",
        "[components.app.wire]",
        "\"morgana:kv/store\" = \"one\"",
    ]);

    // The fix the message suggests works, and leaves the other store out with a warning.
    let manifest = scratch.manifest(&format!(
        "name = \"two\"\n[components.app]\npath = {app}\n[components.app.wire]\n\"morgana:kv/store\" = \"two\"\n[kv.one]\ndir = \"a\"\n[kv.two]\ndir = \"b\"\n"
    ));
    let run = morgana(&["run", &manifest]);
    run.assert_success();
    assert!(run.stdout.contains("from b") && !run.stdout.contains("from a"), "{}", run.stdout);
    assert!(run.stderr.contains("component `one` is not used"), "{}", run.stderr);
}

#[test]
fn import_nobody_provides() {
    let scratch = Scratch::new();
    let manifest = scratch
        .manifest(&format!("name = \"lonely\"\n[components.app]\npath = {}\n", toml_path(&example("kv-demo/app"))));
    morgana(&["build", &manifest]).assert_failure_mentioning(&[
        "component `app` imports interface `morgana:kv/store@0.1.0`, which nothing provides",
        "[kv.NAME]",
    ]);

    scratch.wat("lib.wasm", &library_wat("vendor:thing/api@1.0.0", "vendor:thing/other@1.0.0"));
    scratch.wat(
        "app.wasm",
        &command_wat("i32.const 0")
            .replace("(core module", "(import \"vendor:thing/other@1.0.0\" (instance))\n(core module"),
    );
    let manifest = scratch
        .manifest("name = \"lonely\"\n[components.app]\nwasm = \"app.wasm\"\n[components.lib]\nwasm = \"lib.wasm\"\n");
    morgana(&["build", &manifest]).assert_failure_mentioning(&[
        "component `lib` imports interface `vendor:thing/api@1.0.0`",
        "the `unix` target does not provide it",
    ]);

    // A component file given directly is checked the same way.
    let lib = scratch.path().join("lib.wasm").display().to_string();
    morgana(&["run", &lib]).assert_failure_mentioning(&["vendor:thing/api@1.0.0", "does not provide"]);
}

#[test]
fn explicit_wire_to_an_interface_the_target_does_not_provide() {
    let scratch = Scratch::new();
    scratch.file("site/x.txt", "x");
    let manifest = scratch.manifest(&format!(
        "name = \"a\"\n[components.app]\npath = {}\n[components.app.wire]\n\"morgana:kv/store\" = \"host\"\n[kv.site]\ndir = \"site\"\n",
        toml_path(&example("kv-demo/app"))
    ));
    morgana(&["build", &manifest]).assert_failure_mentioning(&[
        "wires `morgana:kv/store@0.1.0` to the host",
        "the `unix` target does not provide it",
    ]);

    let manifest = scratch.manifest(&format!(
        "name = \"a\"\n[components.app]\npath = {}\n[components.app.wire]\n\"wasi:nope/nothing\" = \"site\"\n[kv.site]\ndir = \"site\"\n",
        toml_path(&example("kv-demo/app"))
    ));
    morgana(&["build", &manifest])
        .assert_failure_mentioning(&["wires `wasi:nope/nothing`, but it imports no such interface"]);
}

#[test]
fn a_cycle() {
    let scratch = Scratch::new();
    scratch.wat("ping.wasm", &library_wat("test:cycle/pong@0.1.0", "test:cycle/ping@0.1.0"));
    scratch.wat("pong.wasm", &library_wat("test:cycle/ping@0.1.0", "test:cycle/pong@0.1.0"));
    let manifest = scratch.manifest(
        "name = \"loop\"\n[components.ping]\nwasm = \"ping.wasm\"\n[components.pong]\nwasm = \"pong.wasm\"\n",
    );
    morgana(&["build", &manifest]).assert_failure_mentioning(&["cycle", "ping → pong → ping"]);
}

#[test]
fn bad_command_line() {
    let run = morgana(&["run", "examples/hello", "--target", "mars"]);
    assert_ne!(run.status, 0);
    assert!(run.stderr.contains("invalid value 'mars'") && run.stderr.contains("unix"), "{}", run.stderr);
    morgana(&["run", "examples/hello", "--env", "=x"]).assert_failure_mentioning(&["variable name is empty"]);
    morgana(&["run", "examples/hello", "--env", "MORGANA_SURELY_UNSET"])
        .assert_failure_mentioning(&["MORGANA_SURELY_UNSET is not set"]);
}

#[test]
fn provider_whose_interface_has_another_type() {
    let scratch = Scratch::new();
    // `lib` exports test:x/api with a function `g`; `app` expects one named `f`.
    scratch.wat(
        "lib.wasm",
        r#"(component
            (core module $m (func (export "g")))
            (core instance $i (instantiate $m))
            (func $g (canon lift (core func $i "g")))
            (instance $out (export "g" (func $g)))
            (export "test:x/api@0.1.0" (instance $out)))"#,
    );
    scratch.wat(
        "app.wasm",
        &command_wat("i32.const 0")
            .replace("(core module", "(import \"test:x/api@0.1.0\" (instance (export \"f\" (func))))\n(core module"),
    );
    let manifest = scratch
        .manifest("name = \"a\"\n[components.app]\nwasm = \"app.wasm\"\n[components.lib]\nwasm = \"lib.wasm\"\n");
    morgana(&["build", &manifest]).assert_failure_mentioning(&[
        "component `app` imports `test:x/api@0.1.0`",
        "`lib` exports under that name has a different type",
    ]);
}
