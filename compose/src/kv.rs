//! Baking a directory into a component that exports `morgana:kv/store` (`wit/kv/store.wit`).
//!
//! The analogue of MirageOS's crunch. The generated core module keeps every key and value in one
//! active data segment, so loading the store is a single memory initialisation however many
//! files it holds, and a lookup is a binary search over a sorted key table:
//!
//! ```text
//! 0               return area (16 bytes)
//! 16              key table:   N × (key ptr: u32, key len: u32), sorted by key bytes
//! 16 + 8N         value table: N × (value ptr: u32, value len: u32), same order
//! ...             key bytes, then value bytes
//! heap base       bump allocator for the arguments callers copy in (`cabi_realloc`);
//!                 reset by the post-return function after each `get`
//! ```
//!
//! `wit-component` wraps the module into a component, so the lifting and lowering of strings
//! and lists follows the canonical ABI exactly.

use std::path::{Path, PathBuf};

use wasm_encoder::{
    BlockType, CodeSection, ConstExpr, DataSection, ExportKind, ExportSection, Function, FunctionSection,
    GlobalSection, GlobalType, MemArg, MemorySection, MemoryType, Module, TypeSection, ValType,
};

/// The WIT this component implements, shared with the applications that import it.
pub const STORE_WIT: &str = include_str!("../../wit/kv/store.wit");
/// The interface name the generated component exports.
pub const STORE_INTERFACE: &str = "morgana:kv/store@0.1.0";

const RETURN_AREA: u32 = 0;
const TABLES: u32 = 16;
const PAGE: u64 = 65536;
/// Keys and values together must leave room for the tables and the heap in a 4 GiB memory.
const MAX_CONTENTS: u64 = 3 << 30;

/// One file of a baked directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The path relative to the directory, `/`-separated.
    pub key: String,
    pub value: Vec<u8>,
}

/// Why a store could not be baked.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KvError {
    #[error("kv store `{name}`: directory {} does not exist; create it or fix `dir` in [kv.{name}]", dir.display())]
    MissingDir { name: String, dir: PathBuf },
    #[error("kv store `{name}`: {} is not a directory; `dir` in [kv.{name}] must name a directory", dir.display())]
    NotADir { name: String, dir: PathBuf },
    #[error("kv store `{name}`: cannot read {}: {error}", path.display())]
    Read { name: String, path: PathBuf, error: std::io::Error },
    #[error("kv store `{name}`: file name {} is not valid UTF-8; keys are strings", path.display())]
    NonUtf8Name { name: String, path: PathBuf },
    #[error(
        "kv store `{name}`: {total} bytes of keys and values exceed the {MAX_CONTENTS}-byte limit of a 32-bit memory"
    )]
    TooLarge { name: String, total: u64 },
    #[error("kv store: generating the component failed: {0}")]
    Encode(String),
}

/// Reads every regular file below `dir` (following symbolic links), sorted by key.
pub fn read_dir(name: &str, dir: &Path) -> Result<Vec<Entry>, KvError> {
    let meta = std::fs::metadata(dir).map_err(|_| KvError::MissingDir { name: name.into(), dir: dir.into() })?;
    if !meta.is_dir() {
        return Err(KvError::NotADir { name: name.into(), dir: dir.into() });
    }
    let mut entries = Vec::new();
    let mut pending = vec![(dir.to_path_buf(), String::new())];
    while let Some((path, prefix)) = pending.pop() {
        let read_err = |error| KvError::Read { name: name.into(), path: path.clone(), error };
        for child in std::fs::read_dir(&path).map_err(read_err)? {
            let child = child.map_err(read_err)?;
            let child_path = child.path();
            let file_name = child
                .file_name()
                .into_string()
                .map_err(|_| KvError::NonUtf8Name { name: name.into(), path: child_path.clone() })?;
            let key = format!("{prefix}{file_name}");
            let meta = std::fs::metadata(&child_path).map_err(|error| KvError::Read {
                name: name.into(),
                path: child_path.clone(),
                error,
            })?;
            if meta.is_dir() {
                pending.push((child_path, format!("{key}/")));
            } else if meta.is_file() {
                let value = std::fs::read(&child_path).map_err(|error| KvError::Read {
                    name: name.into(),
                    path: child_path.clone(),
                    error,
                })?;
                entries.push(Entry { key, value });
            }
        }
    }
    entries.sort_by(|a, b| a.key.as_bytes().cmp(b.key.as_bytes()));
    Ok(entries)
}

/// Generates the component for a sorted list of entries.
pub fn generate(name: &str, entries: &[Entry]) -> Result<Vec<u8>, KvError> {
    debug_assert!(entries.windows(2).all(|w| w[0].key.as_bytes() < w[1].key.as_bytes()));
    let total: u64 = entries.iter().map(|e| (e.key.len() + e.value.len()) as u64).sum();
    if total > MAX_CONTENTS {
        return Err(KvError::TooLarge { name: name.into(), total });
    }
    let layout = Layout::new(entries);
    let mut module = layout.module(entries).finish();
    embed_and_wrap(&mut module)
}

struct Layout {
    count: u32,
    keys_table: u32,
    values_table: u32,
    heap_base: u32,
}

impl Layout {
    fn new(entries: &[Entry]) -> Self {
        let count = entries.len() as u32;
        let keys_table = TABLES;
        let values_table = keys_table + 8 * count;
        let contents: u64 = entries.iter().map(|e| (e.key.len() + e.value.len()) as u64).sum();
        let end = values_table as u64 + 8 * count as u64 + contents;
        Layout { count, keys_table, values_table, heap_base: end.next_multiple_of(8) as u32 }
    }

    /// The bytes of memory from `TABLES` up to the heap.
    fn image(&self, entries: &[Entry]) -> Vec<u8> {
        let mut image = Vec::with_capacity((self.heap_base - TABLES) as usize);
        let mut next = self.values_table + 8 * self.count;
        let mut key_table = Vec::with_capacity(entries.len() * 8);
        let mut value_table = Vec::with_capacity(entries.len() * 8);
        for e in entries {
            key_table.extend_from_slice(&next.to_le_bytes());
            key_table.extend_from_slice(&(e.key.len() as u32).to_le_bytes());
            next += e.key.len() as u32;
        }
        for e in entries {
            value_table.extend_from_slice(&next.to_le_bytes());
            value_table.extend_from_slice(&(e.value.len() as u32).to_le_bytes());
            next += e.value.len() as u32;
        }
        image.extend_from_slice(&key_table);
        image.extend_from_slice(&value_table);
        for e in entries {
            image.extend_from_slice(e.key.as_bytes());
        }
        for e in entries {
            image.extend_from_slice(&e.value);
        }
        image
    }

    fn module(&self, entries: &[Entry]) -> Module {
        const REALLOC: u32 = 0;
        const GET: u32 = 1;
        const POST_GET: u32 = 2;
        const KEYS: u32 = 3;
        const COMPARE: u32 = 4;
        let get_name = format!("{STORE_INTERFACE}#get");

        let mut types = TypeSection::new();
        types.ty().function([ValType::I32; 4], [ValType::I32]); // 0: realloc, compare
        types.ty().function([ValType::I32; 2], [ValType::I32]); // 1: get
        types.ty().function([ValType::I32], []); // 2: post-return
        types.ty().function([], [ValType::I32]); // 3: keys
        let mut functions = FunctionSection::new();
        for ty in [0, 1, 2, 3, 0] {
            functions.function(ty);
        }

        let mut memories = MemorySection::new();
        let pages = (self.heap_base as u64).div_ceil(PAGE) + 1;
        memories.memory(MemoryType {
            minimum: pages,
            maximum: None,
            memory64: false,
            shared: false,
            page_size_log2: None,
        });

        let mut globals = GlobalSection::new();
        globals.global(
            GlobalType { val_type: ValType::I32, mutable: true, shared: false },
            &ConstExpr::i32_const(self.heap_base as i32),
        );

        let mut exports = ExportSection::new();
        exports.export("memory", ExportKind::Memory, 0);
        exports.export("cabi_realloc", ExportKind::Func, REALLOC);
        exports.export(&get_name, ExportKind::Func, GET);
        exports.export(&format!("cabi_post_{get_name}"), ExportKind::Func, POST_GET);
        exports.export(&format!("{STORE_INTERFACE}#keys"), ExportKind::Func, KEYS);

        let mut code = CodeSection::new();
        code.function(&realloc());
        code.function(&self.get(COMPARE));
        code.function(&self.post_get());
        code.function(&self.keys());
        code.function(&compare());

        let mut data = DataSection::new();
        data.active(0, &ConstExpr::i32_const(TABLES as i32), self.image(entries));

        let mut module = Module::new();
        module
            .section(&types)
            .section(&functions)
            .section(&memories)
            .section(&globals)
            .section(&exports)
            .section(&code)
            .section(&data);
        module
    }

    /// `get(key_ptr, key_len) -> return area`: binary search over the key table.
    fn get(&self, compare: u32) -> Function {
        let (key_ptr, key_len, lo, hi, mid, order) = (0, 1, 2, 3, 4, 5);
        let mut f = Function::new([(4, ValType::I32)]);
        let table_slot = |f: &mut Function, table: u32| {
            f.instructions().local_get(mid).i32_const(8).i32_mul().i32_const(table as i32).i32_add();
        };
        f.instructions().i32_const(0).local_set(lo).i32_const(self.count as i32).local_set(hi);
        f.instructions().block(BlockType::Empty).loop_(BlockType::Empty);
        // while lo < hi
        f.instructions().local_get(lo).local_get(hi).i32_ge_u().br_if(1);
        f.instructions().local_get(lo).local_get(hi).i32_add().i32_const(1).i32_shr_u().local_set(mid);
        f.instructions().local_get(key_ptr).local_get(key_len);
        table_slot(&mut f, self.keys_table);
        f.instructions().i32_load(mem(0, 2));
        table_slot(&mut f, self.keys_table);
        f.instructions().i32_load(mem(4, 2)).call(compare).local_set(order);
        // found: some(value)
        f.instructions().local_get(order).i32_eqz().if_(BlockType::Empty);
        f.instructions().i32_const(RETURN_AREA as i32).i32_const(1).i32_store8(mem(0, 0));
        f.instructions().i32_const(RETURN_AREA as i32);
        table_slot(&mut f, self.values_table);
        f.instructions().i32_load(mem(0, 2)).i32_store(mem(4, 2));
        f.instructions().i32_const(RETURN_AREA as i32);
        table_slot(&mut f, self.values_table);
        f.instructions().i32_load(mem(4, 2)).i32_store(mem(8, 2));
        f.instructions().i32_const(RETURN_AREA as i32).return_().end();
        // key < table[mid] ? hi = mid : lo = mid + 1
        f.instructions().local_get(order).i32_const(0).i32_lt_s().if_(BlockType::Empty);
        f.instructions().local_get(mid).local_set(hi).else_();
        f.instructions().local_get(mid).i32_const(1).i32_add().local_set(lo).end();
        f.instructions().br(0).end().end();
        // not found: none
        f.instructions().i32_const(RETURN_AREA as i32).i32_const(0).i32_store8(mem(0, 0));
        f.instructions().i32_const(RETURN_AREA as i32).end();
        f
    }

    /// After `get` returned, the argument the caller copied in is no longer needed.
    fn post_get(&self) -> Function {
        let mut f = Function::new([]);
        f.instructions().i32_const(self.heap_base as i32).global_set(0).end();
        f
    }

    /// `keys() -> return area` pointing at the key table, which has the layout of `list<string>`.
    fn keys(&self) -> Function {
        let mut f = Function::new([]);
        f.instructions().i32_const(RETURN_AREA as i32).i32_const(self.keys_table as i32).i32_store(mem(0, 2));
        f.instructions().i32_const(RETURN_AREA as i32).i32_const(self.count as i32).i32_store(mem(4, 2));
        f.instructions().i32_const(RETURN_AREA as i32).end();
        f
    }
}

/// `cabi_realloc(old_ptr, old_size, align, new_size) -> ptr`: a bump allocator that grows
/// memory as needed and traps when memory cannot grow.
fn realloc() -> Function {
    let (old_ptr, old_size, align, new_size, ptr) = (0, 1, 2, 3, 4);
    let mut f = Function::new([(1, ValType::I32)]);
    // ptr = (bump + align - 1) & -align; bump = ptr + new_size
    f.instructions().global_get(0).local_get(align).i32_add().i32_const(1).i32_sub();
    f.instructions().i32_const(0).local_get(align).i32_sub().i32_and().local_set(ptr);
    f.instructions().local_get(ptr).local_get(new_size).i32_add().global_set(0);
    // if bump > memory size: grow by the missing pages, trap if that fails
    f.instructions().global_get(0).memory_size(0).i32_const(16).i32_shl().i32_gt_u().if_(BlockType::Empty);
    f.instructions().global_get(0).memory_size(0).i32_const(16).i32_shl().i32_sub();
    f.instructions().i32_const(65535).i32_add().i32_const(16).i32_shr_u().memory_grow(0);
    f.instructions().i32_const(-1).i32_eq().if_(BlockType::Empty).unreachable().end().end();
    // a reallocation keeps the old bytes
    f.instructions().local_get(old_ptr).if_(BlockType::Empty);
    f.instructions().local_get(ptr).local_get(old_ptr);
    f.instructions()
        .local_get(old_size)
        .local_get(new_size)
        .local_get(old_size)
        .local_get(new_size)
        .i32_lt_u()
        .select();
    f.instructions().memory_copy(0, 0).end();
    f.instructions().local_get(ptr).end();
    f
}

/// `compare(a_ptr, a_len, b_ptr, b_len) -> -1 | 0 | 1`, bytewise.
fn compare() -> Function {
    let (a, a_len, b, b_len, i, n, ca, cb) = (0, 1, 2, 3, 4, 5, 6, 7);
    let mut f = Function::new([(4, ValType::I32)]);
    f.instructions()
        .local_get(a_len)
        .local_get(b_len)
        .local_get(a_len)
        .local_get(b_len)
        .i32_lt_u()
        .select()
        .local_set(n);
    f.instructions().block(BlockType::Empty).loop_(BlockType::Empty);
    f.instructions().local_get(i).local_get(n).i32_ge_u().br_if(1);
    f.instructions().local_get(a).local_get(i).i32_add().i32_load8_u(mem(0, 0)).local_set(ca);
    f.instructions().local_get(b).local_get(i).i32_add().i32_load8_u(mem(0, 0)).local_set(cb);
    f.instructions().local_get(ca).local_get(cb).i32_ne().if_(BlockType::Empty);
    f.instructions().i32_const(-1).i32_const(1).local_get(ca).local_get(cb).i32_lt_u().select().return_().end();
    f.instructions().local_get(i).i32_const(1).i32_add().local_set(i).br(0).end().end();
    // equal prefixes: the shorter key is smaller
    f.instructions().local_get(a_len).local_get(b_len).i32_gt_u();
    f.instructions().local_get(a_len).local_get(b_len).i32_lt_u().i32_sub().end();
    f
}

fn mem(offset: u64, align: u32) -> MemArg {
    MemArg { offset, align, memory_index: 0 }
}

fn embed_and_wrap(module: &mut Vec<u8>) -> Result<Vec<u8>, KvError> {
    let encode = |e: &dyn std::fmt::Display| KvError::Encode(e.to_string());
    let mut resolve = wit_parser::Resolve::default();
    let package = resolve.push_str("store.wit", STORE_WIT).map_err(|e| encode(&e))?;
    let world = resolve.select_world(&[package], Some("provider")).map_err(|e| encode(&e))?;
    wit_component::embed_component_metadata(module, &resolve, world, wit_component::StringEncoding::UTF8)
        .map_err(|e| encode(&e))?;
    wit_component::ComponentEncoder::default()
        .validate(true)
        .module(module)
        .map_err(|e| encode(&e))?
        .encode()
        .map_err(|e| encode(&e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasmtime::component::{Component, Linker};
    use wasmtime::{Engine, Store};

    fn entries(pairs: &[(&str, &[u8])]) -> Vec<Entry> {
        let mut v: Vec<Entry> = pairs.iter().map(|(k, v)| Entry { key: k.to_string(), value: v.to_vec() }).collect();
        v.sort_by(|a, b| a.key.as_bytes().cmp(b.key.as_bytes()));
        v
    }

    /// Instantiates a generated store in wasmtime and calls it through the component model.
    struct Loaded {
        store: Store<()>,
        get: wasmtime::component::TypedFunc<(String,), (Option<Vec<u8>>,)>,
        list: wasmtime::component::TypedFunc<(), (Vec<String>,)>,
    }

    fn load(component: &[u8]) -> Loaded {
        let engine = Engine::default();
        let component = Component::new(&engine, component).unwrap();
        let mut store = Store::new(&engine, ());
        let instance = Linker::new(&engine).instantiate(&mut store, &component).unwrap();
        let iface = instance.get_export_index(&mut store, None, STORE_INTERFACE).unwrap();
        let get = instance.get_export_index(&mut store, Some(&iface), "get").unwrap();
        let list = instance.get_export_index(&mut store, Some(&iface), "keys").unwrap();
        let get = instance.get_typed_func(&mut store, &get).unwrap();
        let list = instance.get_typed_func(&mut store, &list).unwrap();
        Loaded { store, get, list }
    }

    impl Loaded {
        fn get(&mut self, key: &str) -> Option<Vec<u8>> {
            self.get.call(&mut self.store, (key.to_string(),)).unwrap().0
        }
        fn list(&mut self) -> Vec<String> {
            self.list.call(&mut self.store, ()).unwrap().0
        }
    }

    #[test]
    fn every_key_is_found_and_others_are_not() {
        let e = entries(&[
            ("index.html", b"<h1>hi</h1>"),
            ("css/site.css", b"body{}"),
            ("a", b""),
            ("ab", b"x"),
            ("b", &[0, 255, 7]),
        ]);
        let mut kv = load(&generate("t", &e).unwrap());
        assert_eq!(kv.list(), vec!["a", "ab", "b", "css/site.css", "index.html"]);
        for entry in &e {
            assert_eq!(kv.get(&entry.key).as_deref(), Some(entry.value.as_slice()), "{}", entry.key);
        }
        for missing in ["", "aa", "abc", "c", "index.htm", "index.html2", "css", "zzz"] {
            assert_eq!(kv.get(missing), None, "{missing}");
        }
    }

    #[test]
    fn empty_store_answers_none() {
        let mut kv = load(&generate("t", &[]).unwrap());
        assert!(kv.list().is_empty());
        assert_eq!(kv.get("anything"), None);
    }

    #[test]
    fn many_lookups_do_not_grow_memory_without_bound() {
        let e = entries(&[("k", b"v")]);
        let mut kv = load(&generate("t", &e).unwrap());
        let long_key = "x".repeat(100_000);
        for _ in 0..2_000 {
            assert_eq!(kv.get(&long_key), None);
        }
        assert_eq!(kv.get("k").as_deref(), Some(&b"v"[..]));
    }

    #[test]
    fn megabytes_are_baked_and_read_back() {
        let big: Vec<u8> = (0..4_000_000u32).map(|i| (i * 7 % 251) as u8).collect();
        let mut pairs: Vec<(String, Vec<u8>)> = (0..500).map(|i| (format!("f{i:04}"), vec![i as u8; 100])).collect();
        pairs.push(("big.bin".into(), big.clone()));
        let e = entries(&pairs.iter().map(|(k, v)| (k.as_str(), v.as_slice())).collect::<Vec<_>>());
        let mut kv = load(&generate("t", &e).unwrap());
        assert_eq!(kv.get("big.bin").unwrap(), big);
        assert_eq!(kv.get("f0499").unwrap(), vec![499u32 as u8; 100]);
        assert_eq!(kv.list().len(), 501);
    }

    #[test]
    fn directories_become_slash_separated_keys() {
        let dir = std::env::temp_dir().join(format!("morgana-kv-test-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("sub/deeper")).unwrap();
        std::fs::write(dir.join("top.txt"), "top").unwrap();
        std::fs::write(dir.join("sub/deeper/x.txt"), "x").unwrap();
        let e = read_dir("t", &dir).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        let keys: Vec<&str> = e.iter().map(|e| e.key.as_str()).collect();
        assert_eq!(keys, vec!["sub/deeper/x.txt", "top.txt"]);
        assert!(matches!(read_dir("t", &dir), Err(KvError::MissingDir { .. })));
    }
}
