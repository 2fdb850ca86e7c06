//! `wasi:filesystem`: present, with nothing in it.
//!
//! `preopens.get-directories` returns an empty list, and no other function creates a
//! descriptor, so the guest can never hold one: a component built with wasi-libc (which imports
//! these interfaces whether or not it touches files) instantiates, and its file operations fail
//! the way they do under `wasmtime run` without `--dir` (no preopened directory matches).
//!
//! The descriptor and directory-entry-stream methods exist because the interface has them, but
//! they cannot be reached: the resource types are empty enums, and each method first looks its
//! resource up in the table, which fails (a trap, which is right for a host bug). The same holds
//! for the resources' destructors. `filesystem-error-code` returns none: no stream error here
//! comes from a file.

use alloc::string::String;
use alloc::vec::Vec;
use wasmtime::component::{Linker, Resource, ResourceTable};
use wasmtime_wasi_io::streams::{DynInputStream, DynOutputStream};

use crate::FsError;
use crate::bindings::wasi::filesystem::preopens;
use crate::bindings::wasi::filesystem::types::{
    self, Advice, Descriptor, DescriptorFlags, DescriptorStat, DescriptorType, DirectoryEntry, DirectoryEntryStream,
    ErrorCode, Filesize, MetadataHashValue, NewTimestamp, OpenFlags, PathFlags,
};
use crate::ctx::{WasiHost, WasiHostCtxView, WasiHostView};

type FsResult<T> = Result<T, FsError>;

/// Adds `wasi:filesystem/types` and `wasi:filesystem/preopens` to `linker`.
pub fn add_to_linker<T: WasiHostView + 'static>(linker: &mut Linker<T>) -> wasmtime::Result<()> {
    types::add_to_linker::<T, WasiHost>(linker, T::wasi)?;
    preopens::add_to_linker::<T, WasiHost>(linker, T::wasi)?;
    Ok(())
}

impl preopens::Host for WasiHostCtxView<'_> {
    fn get_directories(&mut self) -> wasmtime::Result<Vec<(Resource<Descriptor>, String)>> {
        Ok(Vec::new())
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
        self.table.get(&error)?;
        Ok(None)
    }
}

/// The error for a call on descriptor `fd`, which cannot exist: the table lookup fails.
fn no_descriptor(table: &ResourceTable, fd: &Resource<Descriptor>) -> FsError {
    match table.get(fd) {
        Ok(descriptor) => match *descriptor {},
        Err(error) => error.into(),
    }
}

fn no_stream(table: &ResourceTable, stream: &Resource<DirectoryEntryStream>) -> FsError {
    match table.get(stream) {
        Ok(stream) => match *stream {},
        Err(error) => error.into(),
    }
}

/// Like [`no_descriptor`], for the functions that return only traps.
fn no_descriptor_trap(table: &ResourceTable, fd: &Resource<Descriptor>) -> wasmtime::Error {
    match no_descriptor(table, fd) {
        FsError::Trap(error) => error,
        FsError::Code(code) => wasmtime::format_err!("unexpected filesystem error {code:?}"),
    }
}

impl types::HostDescriptor for WasiHostCtxView<'_> {
    async fn advise(&mut self, fd: Resource<Descriptor>, _: Filesize, _: Filesize, _: Advice) -> FsResult<()> {
        Err(no_descriptor(self.table, &fd))
    }

    async fn sync_data(&mut self, fd: Resource<Descriptor>) -> FsResult<()> {
        Err(no_descriptor(self.table, &fd))
    }

    async fn get_flags(&mut self, fd: Resource<Descriptor>) -> FsResult<DescriptorFlags> {
        Err(no_descriptor(self.table, &fd))
    }

    async fn get_type(&mut self, fd: Resource<Descriptor>) -> FsResult<DescriptorType> {
        Err(no_descriptor(self.table, &fd))
    }

    async fn set_size(&mut self, fd: Resource<Descriptor>, _: Filesize) -> FsResult<()> {
        Err(no_descriptor(self.table, &fd))
    }

    async fn set_times(&mut self, fd: Resource<Descriptor>, _: NewTimestamp, _: NewTimestamp) -> FsResult<()> {
        Err(no_descriptor(self.table, &fd))
    }

    async fn read(&mut self, fd: Resource<Descriptor>, _: Filesize, _: Filesize) -> FsResult<(Vec<u8>, bool)> {
        Err(no_descriptor(self.table, &fd))
    }

    async fn write(&mut self, fd: Resource<Descriptor>, _: Vec<u8>, _: Filesize) -> FsResult<Filesize> {
        Err(no_descriptor(self.table, &fd))
    }

    async fn read_directory(&mut self, fd: Resource<Descriptor>) -> FsResult<Resource<DirectoryEntryStream>> {
        Err(no_descriptor(self.table, &fd))
    }

    async fn sync(&mut self, fd: Resource<Descriptor>) -> FsResult<()> {
        Err(no_descriptor(self.table, &fd))
    }

    async fn create_directory_at(&mut self, fd: Resource<Descriptor>, _: String) -> FsResult<()> {
        Err(no_descriptor(self.table, &fd))
    }

    async fn stat(&mut self, fd: Resource<Descriptor>) -> FsResult<DescriptorStat> {
        Err(no_descriptor(self.table, &fd))
    }

    async fn stat_at(&mut self, fd: Resource<Descriptor>, _: PathFlags, _: String) -> FsResult<DescriptorStat> {
        Err(no_descriptor(self.table, &fd))
    }

    async fn set_times_at(
        &mut self,
        fd: Resource<Descriptor>,
        _: PathFlags,
        _: String,
        _: NewTimestamp,
        _: NewTimestamp,
    ) -> FsResult<()> {
        Err(no_descriptor(self.table, &fd))
    }

    async fn link_at(
        &mut self,
        fd: Resource<Descriptor>,
        _: PathFlags,
        _: String,
        _: Resource<Descriptor>,
        _: String,
    ) -> FsResult<()> {
        Err(no_descriptor(self.table, &fd))
    }

    async fn open_at(
        &mut self,
        fd: Resource<Descriptor>,
        _: PathFlags,
        _: String,
        _: OpenFlags,
        _: DescriptorFlags,
    ) -> FsResult<Resource<Descriptor>> {
        Err(no_descriptor(self.table, &fd))
    }

    async fn readlink_at(&mut self, fd: Resource<Descriptor>, _: String) -> FsResult<String> {
        Err(no_descriptor(self.table, &fd))
    }

    async fn remove_directory_at(&mut self, fd: Resource<Descriptor>, _: String) -> FsResult<()> {
        Err(no_descriptor(self.table, &fd))
    }

    async fn rename_at(
        &mut self,
        fd: Resource<Descriptor>,
        _: String,
        _: Resource<Descriptor>,
        _: String,
    ) -> FsResult<()> {
        Err(no_descriptor(self.table, &fd))
    }

    async fn symlink_at(&mut self, fd: Resource<Descriptor>, _: String, _: String) -> FsResult<()> {
        Err(no_descriptor(self.table, &fd))
    }

    async fn unlink_file_at(&mut self, fd: Resource<Descriptor>, _: String) -> FsResult<()> {
        Err(no_descriptor(self.table, &fd))
    }

    fn read_via_stream(&mut self, fd: Resource<Descriptor>, _: Filesize) -> FsResult<Resource<DynInputStream>> {
        Err(no_descriptor(self.table, &fd))
    }

    fn write_via_stream(&mut self, fd: Resource<Descriptor>, _: Filesize) -> FsResult<Resource<DynOutputStream>> {
        Err(no_descriptor(self.table, &fd))
    }

    fn append_via_stream(&mut self, fd: Resource<Descriptor>) -> FsResult<Resource<DynOutputStream>> {
        Err(no_descriptor(self.table, &fd))
    }

    async fn is_same_object(&mut self, a: Resource<Descriptor>, _: Resource<Descriptor>) -> wasmtime::Result<bool> {
        Err(no_descriptor_trap(self.table, &a))
    }

    async fn metadata_hash(&mut self, fd: Resource<Descriptor>) -> FsResult<MetadataHashValue> {
        Err(no_descriptor(self.table, &fd))
    }

    async fn metadata_hash_at(
        &mut self,
        fd: Resource<Descriptor>,
        _: PathFlags,
        _: String,
    ) -> FsResult<MetadataHashValue> {
        Err(no_descriptor(self.table, &fd))
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
        Err(no_stream(self.table, &stream))
    }

    fn drop(&mut self, stream: Resource<DirectoryEntryStream>) -> wasmtime::Result<()> {
        self.table.delete(stream)?;
        Ok(())
    }
}
