//! `morgana build`, `run` and `inspect` on the unix target, through the real CLI binary, with
//! the example applications built from source and run under wasmtime.

mod common;

use common::*;

#[test]
fn hello_prints_its_arguments_and_baked_environment() {
    let run = morgana(&["run", "examples/hello", "--", "a", "b"]);
    run.assert_success();
    assert!(run.stdout.contains("Hello from hello.wasm!"), "{}", run.stdout);
    assert!(run.stdout.contains(r#"args: ["a", "b"]"#), "{}", run.stdout);
    assert!(run.stdout.contains("env: GREETING=Hello"), "{}", run.stdout);
    assert!(run.stdout.contains("slept at least 20 ms: yes"), "{}", run.stdout);
    assert!(run.stdout.contains("wall clock is set: yes"), "{}", run.stdout);
    assert!(run.stderr.contains("hello: exiting with status 0"), "{}", run.stderr);
}

#[test]
fn env_on_the_command_line_overrides_the_baked_value() {
    let run = morgana(&["run", "examples/hello", "--env", "GREETING=Howdy", "--env", "EXTRA=1"]);
    run.assert_success();
    assert!(run.stdout.contains("Howdy from hello.wasm!"), "{}", run.stdout);
    assert!(run.stdout.contains("env: EXTRA=1"), "{}", run.stdout);
    assert!(!run.stdout.contains("GREETING=Hello"), "{}", run.stdout);
}

#[test]
fn exit_status_is_the_one_wasmtime_reports() {
    // WASI 0.2's exit carries only ok/err, so a std program's exit(3) is status 1 under wasmtime.
    let run = morgana(&["run", "examples/hello", "--", "--exit", "3"]);
    assert_eq!(run.status, 1, "{}", run.stderr);
    assert!(run.stderr.contains("hello: exiting with status 3"), "{}", run.stderr);
    assert_eq!(morgana(&["run", "examples/hello", "--", "--exit", "0"]).status, 0);
}

#[test]
fn kv_demo_prints_the_baked_files() {
    let run = morgana(&["run", "examples/kv-demo"]);
    run.assert_success();
    assert!(run.stdout.contains("3 files baked into the image"), "{}", run.stdout);
    for (key, file) in
        [("README.txt", "README.txt"), ("index.html", "index.html"), ("notes/todo.txt", "notes/todo.txt")]
    {
        let contents = std::fs::read_to_string(example("kv-demo/site").join(file)).unwrap();
        let header = format!("== {key} ({} bytes)\n", contents.len());
        assert!(run.stdout.contains(&format!("{header}{contents}")), "missing {key}:\n{}", run.stdout);
    }
    assert!(run.stderr.contains("Baking `site`"), "{}", run.stderr);
}

#[test]
fn kv_store_bakes_megabytes_and_binary_files() {
    let scratch = Scratch::new();
    let big: Vec<u8> = (0..3_000_000u32).map(|i| b'a' + (i % 26) as u8).collect();
    scratch.file("site/big.txt", &big);
    scratch.file("site/deep/er/x.txt", "x\n");
    let manifest = scratch.manifest(&format!(
        "name = \"big\"\n[components.app]\npath = {}\n[kv.site]\ndir = \"site\"\n",
        toml_path(&example("kv-demo/app"))
    ));
    let run = morgana(&["run", &manifest]);
    run.assert_success();
    assert!(run.stdout.contains("== big.txt (3000000 bytes)"), "{}", &run.stderr);
    assert!(run.stdout.contains("== deep/er/x.txt (2 bytes)\nx\n"));
}

#[test]
fn build_writes_the_composition_and_run_takes_it_as_a_file() {
    let scratch = Scratch::new();
    let out = scratch.path().join("kv-demo.wasm");
    let out_arg = out.display().to_string();
    morgana(&["build", "examples/kv-demo", "-o", &out_arg]).assert_success();
    let bytes = std::fs::read(&out).unwrap();
    assert_eq!(&bytes[..4], b"\0asm");

    // The file alone is enough: the composed component carries its parts and baked settings.
    let run = morgana(&["run", &out_arg]);
    run.assert_success();
    assert!(run.stdout.contains("== index.html"), "{}", run.stdout);

    let inspect = morgana(&["inspect", &out_arg]);
    inspect.assert_success();
    assert!(inspect.stdout.contains("app        kv-demo"), "{}", inspect.stdout);
    assert!(inspect.stdout.contains("wasi:cli/run@0.2"), "{}", inspect.stdout);
    assert!(inspect.stdout.contains("site") && inspect.stdout.contains("kv store of site"), "{}", inspect.stdout);
    assert!(!inspect.stdout.contains("morgana:kv/store"), "the store is inside, not imported:\n{}", inspect.stdout);
}

#[test]
fn default_output_lands_beside_the_manifest() {
    morgana(&["build", "examples/hello"]).assert_success();
    let out = example("hello/target/morgana/hello.wasm");
    let run = morgana(&["run", &out.display().to_string(), "--", "x"]);
    run.assert_success();
    assert!(run.stdout.contains("Hello from hello.wasm!") && run.stdout.contains(r#"args: ["x"]"#), "{}", run.stdout);
}

#[test]
fn without_a_manifest_the_default_example_runs() {
    let scratch = Scratch::new();
    let run = morgana_in(scratch.path(), &["run"]);
    run.assert_success();
    assert!(run.stdout.contains("Hello from hello.wasm!"), "{}", run.stdout);
    assert!(run.stderr.contains("default example"), "{}", run.stderr);
}

#[test]
fn a_manifest_in_the_current_directory_is_found() {
    let run = morgana_in(&example("kv-demo"), &["run"]);
    run.assert_success();
    assert!(run.stdout.contains("files baked into the image"), "{}", run.stdout);
}

#[test]
fn inspect_of_a_manifest_shows_the_wiring() {
    let run = morgana(&["inspect", "examples/kv-demo"]);
    run.assert_success();
    assert!(run.stdout.contains("app: morgana:kv/store@0.1.0 <- site.morgana:kv/store@0.1.0"), "{}", run.stdout);
    assert!(run.stdout.contains("<- host"), "{}", run.stdout);
    assert!(run.stdout.contains("main       app"), "{}", run.stdout);
}

#[test]
fn inspect_of_a_plain_component_lists_imports_and_exports() {
    let scratch = Scratch::new();
    let lib = scratch.wat("lib.wasm", &library_wat("test:x/in@0.1.0", "test:x/out@0.1.0"));
    let run = morgana(&["inspect", &lib.display().to_string()]);
    run.assert_success();
    assert!(run.stdout.contains("test:x/in@0.1.0"), "{}", run.stdout);
    assert!(run.stdout.contains("NOT provided by the unix host"), "{}", run.stdout);
    assert!(run.stdout.contains("test:x/out@0.1.0"), "{}", run.stdout);
    assert!(run.stdout.contains("size"), "{}", run.stdout);
}

#[test]
fn a_trap_is_reported_with_message_and_backtrace() {
    let scratch = Scratch::new();
    let trap = scratch.wat("trap.wasm", &command_wat("unreachable"));
    let run = morgana(&["run", &trap.display().to_string()]);
    assert_eq!(run.status, 134, "{}", run.stderr);
    assert!(run.stderr.contains("trapped"), "{}", run.stderr);
    assert!(run.stderr.contains("unreachable"), "{}", run.stderr);
    assert!(run.stderr.contains("deep"), "backtrace names the trapping function:\n{}", run.stderr);

    // The text format is accepted too, as `wasmtime run` accepts it.
    let divide = scratch.file("div.wat", command_wat("i32.const 1 i32.const 0 i32.div_u"));
    let run = morgana(&["run", &divide.display().to_string()]);
    assert_eq!(run.status, 134, "{}", run.stderr);
    assert!(run.stderr.contains("divide by zero"), "{}", run.stderr);
}

#[test]
fn a_component_that_is_not_a_command_is_refused() {
    let scratch = Scratch::new();
    let lib = scratch.wat("lib.wasm", r#"(component (instance $e) (export "test:x/y" (instance $e)))"#);
    morgana(&["run", &lib.display().to_string()]).assert_failure_mentioning(&["wasi:cli/run"]);
}

#[test]
fn a_wac_document_composes_instead_of_automatic_wiring() {
    let scratch = Scratch::new();
    scratch.file("site/one.txt", "one\n");
    scratch.file(
        "app.wac",
        r#"package local:composition;

let site = new local:site {};
let app = new local:app { "morgana:kv/store@0.1.0": site["morgana:kv/store@0.1.0"], ... };
export app["wasi:cli/run@0.2.0"];
"#,
    );
    let manifest = scratch.manifest(&format!(
        "name = \"wac-demo\"\nwac = \"app.wac\"\n[components.app]\npath = {}\n[kv.site]\ndir = \"site\"\n",
        toml_path(&example("kv-demo/app"))
    ));
    let run = morgana(&["run", &manifest]);
    run.assert_success();
    assert!(run.stdout.contains("== one.txt (4 bytes)\none\n"), "{}\n{}", run.stdout, run.stderr);

    scratch.file("app.wac", "package local:composition;\nlet app = new local:nope {};\n");
    morgana(&["build", &manifest]).assert_failure_mentioning(&["app.wac", "line 2"]);
}

#[test]
fn help_explains_the_commands() {
    let run = morgana(&["--help"]);
    run.assert_success();
    for word in ["build", "run", "inspect", "unikernel.toml"] {
        assert!(run.stdout.contains(word), "{}", run.stdout);
    }
    let run = morgana(&["run", "--help"]);
    assert!(run.stdout.contains("--env") && run.stdout.contains("--target"), "{}", run.stdout);
}

#[test]
fn network_is_reachable_only_when_allowed() {
    let probe = repo().join("tests/fixtures/net-probe");
    let probe = probe.display().to_string();
    let run = morgana(&["run", &probe]);
    run.assert_success();
    assert!(run.stdout.contains("listen: refused"), "{}", run.stdout);

    let run = morgana(&["run", &probe, "--network"]);
    run.assert_success();
    assert!(run.stdout.contains("listen: ok on port"), "{}", run.stdout);

    let scratch = Scratch::new();
    let manifest = scratch.manifest(&format!(
        "name = \"net\"\n[components.probe]\npath = {}\n[run]\nnetwork = true\n",
        toml_path(&repo().join("tests/fixtures/net-probe"))
    ));
    let run = morgana(&["run", &manifest]);
    run.assert_success();
    assert!(run.stdout.contains("listen: ok on port"), "{}", run.stdout);
}
