//! kv-demo: prints every file of the key-value store it imports. The store is the component
//! `morgana build` generates from the manifest's `[kv.site]` directory.

wit_bindgen::generate!({ path: "../../../wit/kv", world: "morgana:kv/reader" });

use morgana::kv::store;

fn main() {
    let keys = store::keys();
    println!("{} files baked into the image", keys.len());
    for key in keys {
        let Some(contents) = store::get(&key) else {
            eprintln!("kv-demo: `{key}` is listed but cannot be read");
            std::process::exit(1);
        };
        println!("== {key} ({} bytes)", contents.len());
        print!("{}", String::from_utf8_lossy(&contents));
    }
    if store::get("no/such/file").is_some() {
        eprintln!("kv-demo: a missing key was found");
        std::process::exit(1);
    }
}
