//! `wasi:filesystem`: the directories the embedder preopens, held in memory, with the behaviour
//! of wasmtime-wasi 48 over a Linux directory: the same error codes for the same calls, the
//! same permission rules (a read-only preopen refuses every change with `not-permitted`, as
//! wasmtime-wasi's `FsPerms::ReadOnly` does), the same open flags, descriptor flags and stream
//! semantics.
//!
//! - [`tree`]: one preopened directory as a tree of nodes; path resolution (sandboxed to the
//!   descriptor a path starts from, as cap-std does) and every change, sans-IO.
//! - this module: the `types` and `preopens` host traits over those trees; descriptors and
//!   directory-entry streams are resources in the table.
//! - [`stream`]: the input and output streams of `read-via-stream`, `write-via-stream` and
//!   `append-via-stream`.
//!
//! A preopen is given with [`WasiCtx::with_preopen`](crate::WasiCtx::with_preopen): a guest
//! path (`/data`) and a [`SharedTree`]. Without any, `get-directories` is empty, and a program
//! linked against wasi-libc finds no file, as under `wasmtime run` without `--dir`.

pub mod stream;
pub mod tree;

use alloc::boxed::Box;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::fmt;
use wasmtime::component::{Linker, Resource};
use wasmtime_wasi_io::streams::{DynInputStream, DynOutputStream};

use crate::FsError;
use crate::bindings::wasi::clocks::wall_clock::Datetime;
use crate::bindings::wasi::filesystem::preopens;
use crate::bindings::wasi::filesystem::types::{
    self, Advice, DescriptorFlags, DescriptorStat, DescriptorType, DirectoryEntry, ErrorCode, Filesize,
    MetadataHashValue, NewTimestamp, OpenFlags, PathFlags,
};
use crate::ctx::{WasiHost, WasiHostCtxView, WasiHostView};
use crate::platform::WallTime;
use tree::{NodeRef, ROOT, Resolved, Tree};

type FsResult<T> = Result<T, FsError>;

/// A preopened directory's tree, shared by its descriptors and streams.
pub type SharedTree = Arc<spin::Mutex<Tree>>;

/// The most bytes one `read` returns (wasmtime-wasi's figure).
const MAX_READ: usize = 64 * 1024;

/// An open file or directory: the node it names and how it was opened.
pub struct Descriptor {
    node: NodeRef,
    directory: bool,
    read: bool,
    write: bool,
}

/// The entries of a directory as they were when `read-directory` was called.
pub struct DirectoryEntryStream {
    entries: alloc::vec::IntoIter<DirectoryEntry>,
}

/// A file operation of a stream failed with this code; `filesystem-error-code` recovers it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileStreamError(pub ErrorCode);

impl fmt::Display for FileStreamError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "file operation failed: {:?}", self.0)
    }
}

impl core::error::Error for FileStreamError {}

/// A new, empty tree to preopen (a scratch directory, or one to fill with
/// [`Tree::insert_file`] and [`Tree::insert_directory`]). Each gets its own device number.
pub fn new_tree(read_only: bool, capacity: Option<u64>, now: WallTime) -> SharedTree {
    use core::sync::atomic::{AtomicU64, Ordering};
    static DEVICES: AtomicU64 = AtomicU64::new(1);
    let device = DEVICES.fetch_add(1, Ordering::Relaxed);
    Arc::new(spin::Mutex::new(Tree::new(device, read_only, capacity, now)))
}

/// Adds `wasi:filesystem/types` and `wasi:filesystem/preopens` to `linker`.
pub fn add_to_linker<T: WasiHostView + 'static>(linker: &mut Linker<T>) -> wasmtime::Result<()> {
    types::add_to_linker::<T, WasiHost>(linker, T::wasi)?;
    preopens::add_to_linker::<T, WasiHost>(linker, T::wasi)?;
    Ok(())
}

impl preopens::Host for WasiHostCtxView<'_> {
    fn get_directories(&mut self) -> wasmtime::Result<Vec<(Resource<Descriptor>, String)>> {
        let mut directories = Vec::new();
        for (guest, tree) in self.ctx.preopens() {
            let read_only = tree.lock().is_read_only();
            let descriptor =
                Descriptor { node: NodeRef::new(tree, ROOT), directory: true, read: true, write: !read_only };
            directories.push((self.table.push(descriptor)?, guest.clone()));
        }
        Ok(directories)
    }
}

impl types::Host for WasiHostCtxView<'_> {
    fn convert_error_code(&mut self, error: FsError) -> wasmtime::Result<ErrorCode> {
        match error {
            FsError::Code(code) => Ok(code),
            FsError::Trap(error) => Err(error),
        }
    }

    fn filesystem_error_code(&mut self, error: Resource<wasmtime::Error>) -> wasmtime::Result<Option<ErrorCode>> {
        let error = self.table.get(&error)?;
        Ok(error.downcast_ref::<FileStreamError>().map(|e| e.0))
    }
}

fn datetime(WallTime { seconds, nanoseconds }: WallTime) -> Datetime {
    Datetime { seconds, nanoseconds }
}

fn wall_time(new: NewTimestamp, now: WallTime) -> Result<Option<WallTime>, ErrorCode> {
    Ok(match new {
        NewTimestamp::NoChange => None,
        NewTimestamp::Now => Some(now),
        NewTimestamp::Timestamp(Datetime { seconds, nanoseconds }) => {
            // As wasmtime-wasi: carried nanoseconds that overflow the seconds are `overflow`.
            let seconds = seconds.checked_add(u64::from(nanoseconds / 1_000_000_000)).ok_or(ErrorCode::Overflow)?;
            if seconds > i64::MAX as u64 {
                return Err(ErrorCode::Overflow);
            }
            Some(WallTime { seconds, nanoseconds: nanoseconds % 1_000_000_000 })
        }
    })
}

/// The metadata hash of a node: a mix of its device and inode numbers, as wasmtime-wasi
/// derives one from the host's (an equal hash means the same file).
fn metadata_hash(device: u64, inode: u64) -> MetadataHashValue {
    let mut z = device.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ inode;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    let lower = z ^ (z >> 31);
    MetadataHashValue { lower, upper: lower ^ 4_614_256_656_552_045_848 }
}

impl WasiHostCtxView<'_> {
    fn now(&self) -> WallTime {
        self.ctx.platform().wall_now()
    }

    fn descriptor(&self, fd: &Resource<Descriptor>) -> Result<&Descriptor, FsError> {
        Ok(self.table.get(fd)?)
    }

    /// A descriptor that must be a file (else `bad-descriptor`, as wasmtime-wasi says for
    /// file operations on a directory).
    fn file(&self, fd: &Resource<Descriptor>) -> Result<&Descriptor, FsError> {
        let descriptor = self.descriptor(fd)?;
        if descriptor.directory { Err(ErrorCode::BadDescriptor.into()) } else { Ok(descriptor) }
    }

    /// A descriptor that must be a directory (else `not-directory`).
    fn dir(&self, fd: &Resource<Descriptor>) -> Result<&Descriptor, FsError> {
        let descriptor = self.descriptor(fd)?;
        if descriptor.directory { Ok(descriptor) } else { Err(ErrorCode::NotDirectory.into()) }
    }

    /// Two directories of one tree, for renames and links: another tree is another device
    /// (`EXDEV`, which wasmtime-wasi reports as `io`), and wasmtime-wasi refuses mixed
    /// permissions first.
    fn same_tree(
        &self,
        a: &Resource<Descriptor>,
        b: &Resource<Descriptor>,
    ) -> Result<(SharedTree, usize, usize), FsError> {
        let (a, b) = (self.dir(a)?, self.dir(b)?);
        if a.node.tree.lock().is_read_only() || b.node.tree.lock().is_read_only() {
            return Err(ErrorCode::NotPermitted.into());
        }
        if !Arc::ptr_eq(&a.node.tree, &b.node.tree) {
            return Err(ErrorCode::Io.into());
        }
        Ok((Arc::clone(&a.node.tree), a.node.node, b.node.node))
    }
}

impl types::HostDescriptor for WasiHostCtxView<'_> {
    async fn advise(&mut self, fd: Resource<Descriptor>, _: Filesize, _: Filesize, _: Advice) -> FsResult<()> {
        self.file(&fd)?;
        Ok(())
    }

    async fn sync_data(&mut self, fd: Resource<Descriptor>) -> FsResult<()> {
        self.descriptor(&fd)?;
        Ok(())
    }

    async fn get_flags(&mut self, fd: Resource<Descriptor>) -> FsResult<DescriptorFlags> {
        let descriptor = self.descriptor(&fd)?;
        let mut flags = DescriptorFlags::empty();
        if descriptor.read {
            flags |= DescriptorFlags::READ;
        }
        if descriptor.write {
            flags |= if descriptor.directory { DescriptorFlags::MUTATE_DIRECTORY } else { DescriptorFlags::WRITE };
        }
        Ok(flags)
    }

    async fn get_type(&mut self, fd: Resource<Descriptor>) -> FsResult<DescriptorType> {
        let descriptor = self.descriptor(&fd)?;
        Ok(if descriptor.directory { DescriptorType::Directory } else { DescriptorType::RegularFile })
    }

    async fn set_size(&mut self, fd: Resource<Descriptor>, size: Filesize) -> FsResult<()> {
        let now = self.now();
        let descriptor = self.file(&fd)?;
        let mut tree = descriptor.node.tree.lock();
        if tree.is_read_only() {
            return Err(ErrorCode::NotPermitted.into());
        }
        // ftruncate(2) on a descriptor not open for writing.
        if !descriptor.write {
            return Err(ErrorCode::Invalid.into());
        }
        Ok(tree.set_size(descriptor.node.node, size, now)?)
    }

    async fn set_times(&mut self, fd: Resource<Descriptor>, atim: NewTimestamp, mtim: NewTimestamp) -> FsResult<()> {
        let now = self.now();
        let descriptor = self.descriptor(&fd)?;
        let (accessed, modified) = (wall_time(atim, now)?, wall_time(mtim, now)?);
        Ok(descriptor.node.tree.lock().set_times(descriptor.node.node, accessed, modified, now)?)
    }

    async fn read(&mut self, fd: Resource<Descriptor>, len: Filesize, offset: Filesize) -> FsResult<(Vec<u8>, bool)> {
        let descriptor = self.file(&fd)?;
        if !descriptor.read {
            return Err(ErrorCode::BadDescriptor.into());
        }
        let len = usize::try_from(len).unwrap_or(usize::MAX).min(MAX_READ);
        let tree = descriptor.node.tree.lock();
        let bytes = tree.read(descriptor.node.node, offset, len).to_vec();
        let end = bytes.is_empty();
        Ok((bytes, end))
    }

    async fn write(&mut self, fd: Resource<Descriptor>, buffer: Vec<u8>, offset: Filesize) -> FsResult<Filesize> {
        let now = self.now();
        let descriptor = self.file(&fd)?;
        let mut tree = descriptor.node.tree.lock();
        if tree.is_read_only() {
            return Err(ErrorCode::NotPermitted.into());
        }
        if !descriptor.write {
            return Err(ErrorCode::BadDescriptor.into());
        }
        tree.write(descriptor.node.node, Some(offset), &buffer, now)?;
        Ok(buffer.len() as Filesize)
    }

    async fn read_directory(&mut self, fd: Resource<Descriptor>) -> FsResult<Resource<DirectoryEntryStream>> {
        let descriptor = self.dir(&fd)?;
        let entries: Vec<DirectoryEntry> = descriptor
            .node
            .tree
            .lock()
            .list(descriptor.node.node)
            .into_iter()
            .map(|(name, type_)| DirectoryEntry { type_, name })
            .collect();
        Ok(self.table.push(DirectoryEntryStream { entries: entries.into_iter() })?)
    }

    async fn sync(&mut self, fd: Resource<Descriptor>) -> FsResult<()> {
        self.descriptor(&fd)?;
        Ok(())
    }

    async fn create_directory_at(&mut self, fd: Resource<Descriptor>, path: String) -> FsResult<()> {
        let now = self.now();
        let descriptor = self.dir(&fd)?;
        Ok(descriptor.node.tree.lock().create_directory(descriptor.node.node, &path, now)?)
    }

    async fn stat(&mut self, fd: Resource<Descriptor>) -> FsResult<DescriptorStat> {
        let descriptor = self.descriptor(&fd)?;
        Ok(stat(&descriptor.node.tree.lock(), descriptor.node.node))
    }

    async fn stat_at(&mut self, fd: Resource<Descriptor>, flags: PathFlags, path: String) -> FsResult<DescriptorStat> {
        let descriptor = self.dir(&fd)?;
        let tree = descriptor.node.tree.lock();
        let node = tree.lookup(descriptor.node.node, &path, flags.contains(PathFlags::SYMLINK_FOLLOW))?;
        Ok(stat(&tree, node))
    }

    async fn set_times_at(
        &mut self,
        fd: Resource<Descriptor>,
        flags: PathFlags,
        path: String,
        atim: NewTimestamp,
        mtim: NewTimestamp,
    ) -> FsResult<()> {
        let now = self.now();
        let descriptor = self.dir(&fd)?;
        let mut tree = descriptor.node.tree.lock();
        if tree.is_read_only() {
            return Err(ErrorCode::NotPermitted.into());
        }
        let node = tree.lookup(descriptor.node.node, &path, flags.contains(PathFlags::SYMLINK_FOLLOW))?;
        let (accessed, modified) = (wall_time(atim, now)?, wall_time(mtim, now)?);
        Ok(tree.set_times(node, accessed, modified, now)?)
    }

    async fn link_at(
        &mut self,
        fd: Resource<Descriptor>,
        old_flags: PathFlags,
        old_path: String,
        new_fd: Resource<Descriptor>,
        new_path: String,
    ) -> FsResult<()> {
        let now = self.now();
        // wasmtime-wasi's order: permissions, then a following link is invalid.
        let (old, new) = (self.dir(&fd)?, self.dir(&new_fd)?);
        if old.node.tree.lock().is_read_only() || new.node.tree.lock().is_read_only() {
            return Err(ErrorCode::NotPermitted.into());
        }
        if old_flags.contains(PathFlags::SYMLINK_FOLLOW) {
            return Err(ErrorCode::Invalid.into());
        }
        let (tree, old_dir, new_dir) = self.same_tree(&fd, &new_fd)?;
        Ok(tree.lock().link(old_dir, &old_path, new_dir, &new_path, now)?)
    }

    async fn open_at(
        &mut self,
        fd: Resource<Descriptor>,
        path_flags: PathFlags,
        path: String,
        open_flags: OpenFlags,
        flags: DescriptorFlags,
    ) -> FsResult<Resource<Descriptor>> {
        let now = self.now();
        let start = self.dir(&fd)?;
        let descriptor = open(start, path_flags, &path, open_flags, flags, now)?;
        Ok(self.table.push(descriptor)?)
    }

    async fn readlink_at(&mut self, fd: Resource<Descriptor>, path: String) -> FsResult<String> {
        let descriptor = self.dir(&fd)?;
        let tree = descriptor.node.tree.lock();
        let node = tree.lookup(descriptor.node.node, &path, false)?;
        Ok(tree.readlink(node)?)
    }

    async fn remove_directory_at(&mut self, fd: Resource<Descriptor>, path: String) -> FsResult<()> {
        let now = self.now();
        let descriptor = self.dir(&fd)?;
        Ok(descriptor.node.tree.lock().remove_directory(descriptor.node.node, &path, now)?)
    }

    async fn rename_at(
        &mut self,
        fd: Resource<Descriptor>,
        old_path: String,
        new_fd: Resource<Descriptor>,
        new_path: String,
    ) -> FsResult<()> {
        let now = self.now();
        let (tree, old_dir, new_dir) = self.same_tree(&fd, &new_fd)?;
        Ok(tree.lock().rename(old_dir, &old_path, new_dir, &new_path, now)?)
    }

    async fn symlink_at(&mut self, fd: Resource<Descriptor>, target: String, path: String) -> FsResult<()> {
        let now = self.now();
        let descriptor = self.dir(&fd)?;
        Ok(descriptor.node.tree.lock().symlink(descriptor.node.node, &target, &path, now)?)
    }

    async fn unlink_file_at(&mut self, fd: Resource<Descriptor>, path: String) -> FsResult<()> {
        let now = self.now();
        let descriptor = self.dir(&fd)?;
        Ok(descriptor.node.tree.lock().unlink_file(descriptor.node.node, &path, now)?)
    }

    fn read_via_stream(&mut self, fd: Resource<Descriptor>, offset: Filesize) -> FsResult<Resource<DynInputStream>> {
        let descriptor = self.descriptor(&fd)?;
        if descriptor.directory {
            return Err(ErrorCode::IsDirectory.into());
        }
        let stream: DynInputStream = Box::new(stream::FileInputStream::new(descriptor, offset));
        Ok(self.table.push(stream)?)
    }

    fn write_via_stream(&mut self, fd: Resource<Descriptor>, offset: Filesize) -> FsResult<Resource<DynOutputStream>> {
        let platform = Arc::clone(self.ctx.platform());
        let descriptor = self.file(&fd)?;
        if descriptor.node.tree.lock().is_read_only() {
            return Err(ErrorCode::NotPermitted.into());
        }
        let stream: DynOutputStream = Box::new(stream::FileOutputStream::new(descriptor, Some(offset), platform));
        Ok(self.table.push(stream)?)
    }

    fn append_via_stream(&mut self, fd: Resource<Descriptor>) -> FsResult<Resource<DynOutputStream>> {
        let platform = Arc::clone(self.ctx.platform());
        let descriptor = self.file(&fd)?;
        if descriptor.node.tree.lock().is_read_only() {
            return Err(ErrorCode::NotPermitted.into());
        }
        let stream: DynOutputStream = Box::new(stream::FileOutputStream::new(descriptor, None, platform));
        Ok(self.table.push(stream)?)
    }

    async fn is_same_object(&mut self, a: Resource<Descriptor>, b: Resource<Descriptor>) -> wasmtime::Result<bool> {
        let (a, b) = (self.table.get(&a)?, self.table.get(&b)?);
        Ok(Arc::ptr_eq(&a.node.tree, &b.node.tree) && a.node.node == b.node.node)
    }

    async fn metadata_hash(&mut self, fd: Resource<Descriptor>) -> FsResult<MetadataHashValue> {
        let descriptor = self.descriptor(&fd)?;
        let tree = descriptor.node.tree.lock();
        Ok(metadata_hash(tree.device(), tree.inode(descriptor.node.node)))
    }

    async fn metadata_hash_at(
        &mut self,
        fd: Resource<Descriptor>,
        flags: PathFlags,
        path: String,
    ) -> FsResult<MetadataHashValue> {
        let descriptor = self.dir(&fd)?;
        let tree = descriptor.node.tree.lock();
        let node = tree.lookup(descriptor.node.node, &path, flags.contains(PathFlags::SYMLINK_FOLLOW))?;
        Ok(metadata_hash(tree.device(), tree.inode(node)))
    }

    fn drop(&mut self, fd: Resource<Descriptor>) -> wasmtime::Result<()> {
        self.table.delete(fd)?;
        Ok(())
    }
}

impl types::HostDirectoryEntryStream for WasiHostCtxView<'_> {
    async fn read_directory_entry(
        &mut self,
        stream: Resource<DirectoryEntryStream>,
    ) -> FsResult<Option<DirectoryEntry>> {
        Ok(self.table.get_mut(&stream)?.entries.next())
    }

    fn drop(&mut self, stream: Resource<DirectoryEntryStream>) -> wasmtime::Result<()> {
        self.table.delete(stream)?;
        Ok(())
    }
}

fn stat(tree: &Tree, node: usize) -> DescriptorStat {
    let stat = tree.stat(node);
    DescriptorStat {
        type_: stat.kind,
        link_count: stat.link_count,
        size: stat.size,
        data_access_timestamp: Some(datetime(stat.accessed)),
        data_modification_timestamp: Some(datetime(stat.modified)),
        status_change_timestamp: Some(datetime(stat.changed)),
    }
}

/// `open-at`, with wasmtime-wasi's checks first (in its order), then open(2)'s.
fn open(
    start: &Descriptor,
    path_flags: PathFlags,
    path: &str,
    open_flags: OpenFlags,
    flags: DescriptorFlags,
    now: WallTime,
) -> Result<Descriptor, ErrorCode> {
    let create = open_flags.contains(OpenFlags::CREATE);
    let truncate = open_flags.contains(OpenFlags::TRUNCATE);
    let write = create || truncate || flags.contains(DescriptorFlags::WRITE);
    // Without WRITE the file is opened for reading, whatever READ says.
    let read = flags.contains(DescriptorFlags::READ) || !flags.contains(DescriptorFlags::WRITE);
    if flags.intersects(
        DescriptorFlags::FILE_INTEGRITY_SYNC
            | DescriptorFlags::DATA_INTEGRITY_SYNC
            | DescriptorFlags::REQUESTED_WRITE_SYNC,
    ) {
        return Err(ErrorCode::Unsupported);
    }
    let directory_only = open_flags.contains(OpenFlags::DIRECTORY);
    if directory_only && (create || truncate || open_flags.contains(OpenFlags::EXCLUSIVE)) {
        return Err(ErrorCode::Invalid);
    }
    let mut tree = start.node.tree.lock();
    if tree.is_read_only() && write {
        return Err(ErrorCode::NotPermitted);
    }
    let follow = path_flags.contains(PathFlags::SYMLINK_FOLLOW);
    let node = match tree.resolve(start.node.node, path, follow)? {
        Resolved::Found { .. } if create && open_flags.contains(OpenFlags::EXCLUSIVE) => return Err(ErrorCode::Exist),
        Resolved::Found { node, .. } => node,
        Resolved::Missing { dir_required: true, .. } if create => return Err(ErrorCode::IsDirectory),
        Resolved::Missing { parent, name, .. } if create => tree.create_file(parent, name, now)?,
        Resolved::Missing { .. } => return Err(ErrorCode::NoEntry),
    };
    let kind = tree.stat(node).kind;
    let directory = match kind {
        DescriptorType::Directory if write => return Err(ErrorCode::IsDirectory),
        DescriptorType::Directory => true,
        // O_NOFOLLOW on a symbolic link.
        DescriptorType::SymbolicLink => return Err(ErrorCode::Loop),
        _ if directory_only => return Err(ErrorCode::NotDirectory),
        _ => false,
    };
    if truncate && !directory {
        tree.set_size(node, 0, now)?;
    }
    drop(tree);
    Ok(Descriptor { node: NodeRef::new(&start.node.tree, node), directory, read, write })
}
