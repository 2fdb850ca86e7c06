//! One preopened directory in memory: a tree of directories, files and symbolic links, with
//! the path rules and error codes of a Linux filesystem reached through wasmtime-wasi (whose
//! `cap-std` sandbox makes every path relative to the descriptor it starts from).
//!
//! Files hold `Cow<'static, [u8]>`: contents baked into an image are borrowed from it and copied
//! only when first written. Nodes live in an arena; a node is freed when no directory entry
//! names it and no descriptor or stream holds it (a [`NodeRef`]), as an unlinked file stays
//! readable through an open descriptor on Linux.

use alloc::borrow::Cow;
use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;

use crate::bindings::wasi::filesystem::types::{DescriptorType, ErrorCode};
use crate::platform::WallTime;

/// How many symbolic links one path may pass through (Linux's `MAXSYMLINKS`).
const MAX_SYMLINKS: usize = 40;
/// The longest name of one entry (Linux's `NAME_MAX`).
const MAX_NAME: usize = 255;
/// What `stat` reports as a directory's size (ext4's block size, what most hosts show).
const DIRECTORY_SIZE: u64 = 4096;
/// The largest file (Linux's limit for ext4 with 4 KiB blocks).
const MAX_FILE_SIZE: u64 = 16 << 40;

pub type NodeId = usize;

/// The root directory of every tree.
pub const ROOT: NodeId = 0;

pub(crate) enum Kind {
    Directory { entries: BTreeMap<String, NodeId>, parent: Option<NodeId> },
    File(Cow<'static, [u8]>),
    Symlink(String),
}

pub(crate) struct Node {
    pub kind: Kind,
    inode: u64,
    /// Directory entries naming it (a directory: 1 while it is in the tree).
    links: u64,
    /// Descriptors and streams holding it.
    holders: u64,
    pub accessed: WallTime,
    pub modified: WallTime,
    pub changed: WallTime,
}

/// What a path names.
pub(crate) enum Resolved {
    /// An existing node; `entry` is its directory and name (none for `.`, `..` and the start).
    Found { node: NodeId, entry: Option<(NodeId, String)> },
    /// Nothing, in an existing directory.
    Missing { parent: NodeId, name: String, dir_required: bool },
}

/// What a node's stat says, before conversion to WIT types.
pub(crate) struct Stat {
    pub kind: DescriptorType,
    pub link_count: u64,
    pub size: u64,
    pub accessed: WallTime,
    pub modified: WallTime,
    pub changed: WallTime,
}

pub struct Tree {
    nodes: Vec<Option<Node>>,
    free: Vec<NodeId>,
    next_inode: u64,
    device: u64,
    read_only: bool,
    capacity: Option<u64>,
    used: u64,
}

impl Tree {
    /// An empty tree: its root directory only. `device` tells trees apart (metadata hashes);
    /// `capacity` bounds the bytes its files may hold (`insufficient-space` beyond).
    pub fn new(device: u64, read_only: bool, capacity: Option<u64>, now: WallTime) -> Self {
        let root = Node {
            kind: Kind::Directory { entries: BTreeMap::new(), parent: None },
            inode: 1,
            links: 1,
            holders: 0,
            accessed: now,
            modified: now,
            changed: now,
        };
        Tree { nodes: alloc::vec![Some(root)], free: Vec::new(), next_inode: 2, device, read_only, capacity, used: 0 }
    }

    /// Whether the tree refuses every change (wasmtime-wasi's read-only preopen: `not-permitted`).
    pub fn is_read_only(&self) -> bool {
        self.read_only
    }

    /// Bytes its files hold.
    pub fn used(&self) -> u64 {
        self.used
    }

    /// The device number that tells this tree's nodes from another's.
    pub fn device(&self) -> u64 {
        self.device
    }

    pub(crate) fn node(&self, id: NodeId) -> &Node {
        self.nodes[id].as_ref().expect("a held node exists")
    }

    fn node_mut(&mut self, id: NodeId) -> &mut Node {
        self.nodes[id].as_mut().expect("a held node exists")
    }

    pub(crate) fn inode(&self, id: NodeId) -> u64 {
        self.node(id).inode
    }

    fn add_node(&mut self, kind: Kind, now: WallTime) -> NodeId {
        let node =
            Node { kind, inode: self.next_inode, links: 0, holders: 0, accessed: now, modified: now, changed: now };
        self.next_inode += 1;
        match self.free.pop() {
            Some(id) => {
                self.nodes[id] = Some(node);
                id
            }
            None => {
                self.nodes.push(Some(node));
                self.nodes.len() - 1
            }
        }
    }

    /// A descriptor or stream takes hold of `id`.
    pub(crate) fn hold(&mut self, id: NodeId) {
        self.node_mut(id).holders += 1;
    }

    /// A descriptor or stream lets go of `id`; an unlinked node nobody holds is freed.
    pub(crate) fn release(&mut self, id: NodeId) {
        let node = self.node_mut(id);
        node.holders = node.holders.saturating_sub(1);
        self.free_if_unused(id);
    }

    fn free_if_unused(&mut self, id: NodeId) {
        let node = self.node(id);
        if node.links == 0 && node.holders == 0 && id != ROOT {
            if let Kind::File(data) = &node.kind {
                self.used -= data.len() as u64;
            }
            self.nodes[id] = None;
            self.free.push(id);
        }
    }

    pub(crate) fn is_directory(&self, id: NodeId) -> bool {
        matches!(self.node(id).kind, Kind::Directory { .. })
    }

    fn entries(&self, id: NodeId) -> Option<&BTreeMap<String, NodeId>> {
        match &self.node(id).kind {
            Kind::Directory { entries, .. } => Some(entries),
            _ => None,
        }
    }

    fn entries_mut(&mut self, id: NodeId) -> Option<&mut BTreeMap<String, NodeId>> {
        match &mut self.node_mut(id).kind {
            Kind::Directory { entries, .. } => Some(entries),
            _ => None,
        }
    }

    /// Whether the directory has been removed (it can still be open).
    fn is_removed(&self, id: NodeId) -> bool {
        self.node(id).links == 0 && id != ROOT
    }

    // ---- paths

    /// What `path` names, relative to directory `start`, which is also the sandbox: a path
    /// that is absolute or climbs out of `start` is `not-permitted`, as under cap-std.
    /// Symbolic links are followed on the way, and at the end when `follow` is set (or the
    /// path ends with `/`).
    pub(crate) fn resolve(&self, start: NodeId, path: &str, follow: bool) -> Result<Resolved, ErrorCode> {
        if path.is_empty() {
            return Err(ErrorCode::NoEntry);
        }
        if path.starts_with('/') {
            return Err(ErrorCode::NotPermitted);
        }
        // The directories from `start` down to where the walk is.
        let mut stack: Vec<NodeId> = alloc::vec![start];
        // Components still to walk, last first; symbolic links push theirs.
        let mut pending: Vec<(String, bool)> = Vec::new();
        push_components(&mut pending, path)?;
        let mut links = 0;
        while let Some((component, dir_required)) = pending.pop() {
            let last = pending.is_empty();
            let here = *stack.last().expect("the walk never leaves the start");
            match component.as_str() {
                "." => {
                    if last {
                        return Ok(Resolved::Found { node: here, entry: None });
                    }
                }
                ".." => {
                    if stack.len() == 1 {
                        return Err(ErrorCode::NotPermitted);
                    }
                    stack.pop();
                    if last {
                        return Ok(Resolved::Found { node: *stack.last().unwrap(), entry: None });
                    }
                }
                name => {
                    if name.len() > MAX_NAME {
                        return Err(ErrorCode::NameTooLong);
                    }
                    let Some(entries) = self.entries(here) else { return Err(ErrorCode::NotDirectory) };
                    let Some(&node) = entries.get(name) else {
                        if last {
                            if self.is_removed(here) {
                                return Err(ErrorCode::NoEntry);
                            }
                            return Ok(Resolved::Missing { parent: here, name: name.into(), dir_required });
                        }
                        return Err(ErrorCode::NoEntry);
                    };
                    match &self.node(node).kind {
                        Kind::Symlink(target) if !last || follow || dir_required => {
                            links += 1;
                            if links > MAX_SYMLINKS {
                                return Err(ErrorCode::Loop);
                            }
                            if target.starts_with('/') {
                                return Err(ErrorCode::NotPermitted);
                            }
                            // The link's own trailing slash applies to what it names.
                            let before = pending.len();
                            push_components(&mut pending, target)?;
                            if last && dir_required && pending.len() > before {
                                pending[before].1 = true;
                            }
                        }
                        Kind::Directory { .. } if !last => stack.push(node),
                        Kind::File(_) | Kind::Symlink(_) if !last => return Err(ErrorCode::NotDirectory),
                        Kind::File(_) if dir_required => return Err(ErrorCode::NotDirectory),
                        _ => return Ok(Resolved::Found { node, entry: Some((here, name.into())) }),
                    }
                }
            }
        }
        // A path of only `/`-separated empty components cannot reach here: `push_components`
        // refuses it.
        Err(ErrorCode::NoEntry)
    }

    /// The existing node `path` names.
    pub(crate) fn lookup(&self, start: NodeId, path: &str, follow: bool) -> Result<NodeId, ErrorCode> {
        match self.resolve(start, path, follow)? {
            Resolved::Found { node, .. } => Ok(node),
            Resolved::Missing { .. } => Err(ErrorCode::NoEntry),
        }
    }

    // ---- reading

    pub(crate) fn stat(&self, id: NodeId) -> Stat {
        let node = self.node(id);
        let (kind, size, link_count) = match &node.kind {
            Kind::Directory { entries, .. } => {
                let subdirectories = entries.values().filter(|&&child| self.is_directory(child)).count() as u64;
                let links = if self.is_removed(id) { 0 } else { 2 + subdirectories };
                (DescriptorType::Directory, DIRECTORY_SIZE, links)
            }
            Kind::File(data) => (DescriptorType::RegularFile, data.len() as u64, node.links),
            Kind::Symlink(target) => (DescriptorType::SymbolicLink, target.len() as u64, node.links),
        };
        Stat { kind, link_count, size, accessed: node.accessed, modified: node.modified, changed: node.changed }
    }

    /// Up to `len` bytes of a file from `offset`.
    pub(crate) fn read(&self, id: NodeId, offset: u64, len: usize) -> &[u8] {
        match &self.node(id).kind {
            Kind::File(data) => {
                let start = usize::try_from(offset).unwrap_or(usize::MAX).min(data.len());
                &data[start..start + len.min(data.len() - start)]
            }
            _ => &[],
        }
    }

    /// A directory's entries, by name.
    pub(crate) fn list(&self, id: NodeId) -> Vec<(String, DescriptorType)> {
        let Some(entries) = self.entries(id) else { return Vec::new() };
        entries.iter().map(|(name, &child)| (name.clone(), self.stat(child).kind)).collect()
    }

    pub(crate) fn readlink(&self, id: NodeId) -> Result<String, ErrorCode> {
        match &self.node(id).kind {
            Kind::Symlink(target) => Ok(target.clone()),
            _ => Err(ErrorCode::Invalid),
        }
    }

    // ---- changing

    fn check_writable(&self) -> Result<(), ErrorCode> {
        if self.read_only { Err(ErrorCode::NotPermitted) } else { Ok(()) }
    }

    /// Makes room for `more` bytes of file data.
    fn reserve(&mut self, more: u64) -> Result<(), ErrorCode> {
        let used = self.used.checked_add(more).ok_or(ErrorCode::InsufficientSpace)?;
        if self.capacity.is_some_and(|capacity| used > capacity) {
            return Err(ErrorCode::InsufficientSpace);
        }
        self.used = used;
        Ok(())
    }

    fn touch(&mut self, id: NodeId, now: WallTime) {
        let node = self.node_mut(id);
        node.modified = now;
        node.changed = now;
    }

    fn link_entry(&mut self, parent: NodeId, name: String, child: NodeId, now: WallTime) {
        if let Kind::Directory { parent: up, .. } = &mut self.node_mut(child).kind {
            *up = Some(parent);
        }
        self.node_mut(child).links += 1;
        self.node_mut(child).changed = now;
        if let Some(entries) = self.entries_mut(parent) {
            entries.insert(name, child);
        }
        self.touch(parent, now);
    }

    fn unlink_entry(&mut self, parent: NodeId, name: &str, now: WallTime) -> Option<NodeId> {
        let child = self.entries_mut(parent)?.remove(name)?;
        let node = self.node_mut(child);
        node.links = node.links.saturating_sub(1);
        node.changed = now;
        self.touch(parent, now);
        Some(child)
    }

    /// Creates an empty file where `resolve` found nothing.
    pub(crate) fn create_file(&mut self, parent: NodeId, name: String, now: WallTime) -> Result<NodeId, ErrorCode> {
        self.check_writable()?;
        let id = self.add_node(Kind::File(Cow::Borrowed(&[])), now);
        self.link_entry(parent, name, id, now);
        Ok(id)
    }

    pub(crate) fn create_directory(&mut self, start: NodeId, path: &str, now: WallTime) -> Result<(), ErrorCode> {
        self.check_writable()?;
        match self.resolve(start, path, false)? {
            Resolved::Found { .. } => Err(ErrorCode::Exist),
            Resolved::Missing { parent, name, .. } => {
                let id = self.add_node(Kind::Directory { entries: BTreeMap::new(), parent: Some(parent) }, now);
                self.link_entry(parent, name, id, now);
                Ok(())
            }
        }
    }

    pub(crate) fn symlink(&mut self, start: NodeId, target: &str, path: &str, now: WallTime) -> Result<(), ErrorCode> {
        self.check_writable()?;
        match self.resolve(start, path, false)? {
            Resolved::Found { .. } => Err(ErrorCode::Exist),
            Resolved::Missing { dir_required: true, .. } => Err(ErrorCode::NoEntry),
            Resolved::Missing { parent, name, .. } => {
                if target.is_empty() {
                    return Err(ErrorCode::NoEntry);
                }
                let id = self.add_node(Kind::Symlink(target.into()), now);
                self.link_entry(parent, name, id, now);
                Ok(())
            }
        }
    }

    /// Writes `data` at `offset` (or at the end when `append`), growing the file with zeros
    /// as needed; returns the offset after the write.
    pub(crate) fn write(
        &mut self,
        id: NodeId,
        offset: Option<u64>,
        data: &[u8],
        now: WallTime,
    ) -> Result<u64, ErrorCode> {
        self.check_writable()?;
        let length = match &self.node(id).kind {
            Kind::File(contents) => contents.len() as u64,
            _ => return Err(ErrorCode::BadDescriptor),
        };
        let offset = offset.unwrap_or(length);
        let end = offset.checked_add(data.len() as u64).ok_or(ErrorCode::FileTooLarge)?;
        if end > MAX_FILE_SIZE {
            return Err(ErrorCode::FileTooLarge);
        }
        if data.is_empty() {
            return Ok(offset);
        }
        self.reserve(end.saturating_sub(length))?;
        if let Kind::File(contents) = &mut self.node_mut(id).kind {
            let contents = contents.to_mut();
            if (contents.len() as u64) < end {
                contents.resize(end as usize, 0);
            }
            contents[offset as usize..end as usize].copy_from_slice(data);
        }
        self.touch(id, now);
        Ok(end)
    }

    pub(crate) fn set_size(&mut self, id: NodeId, size: u64, now: WallTime) -> Result<(), ErrorCode> {
        self.check_writable()?;
        let length = match &self.node(id).kind {
            Kind::File(contents) => contents.len() as u64,
            _ => return Err(ErrorCode::BadDescriptor),
        };
        if size > MAX_FILE_SIZE {
            return Err(ErrorCode::FileTooLarge);
        }
        if size > length {
            self.reserve(size - length)?;
        } else {
            self.used -= length - size;
        }
        if let Kind::File(contents) = &mut self.node_mut(id).kind {
            contents.to_mut().resize(size as usize, 0);
        }
        self.touch(id, now);
        Ok(())
    }

    pub(crate) fn set_times(
        &mut self,
        id: NodeId,
        accessed: Option<WallTime>,
        modified: Option<WallTime>,
        now: WallTime,
    ) -> Result<(), ErrorCode> {
        self.check_writable()?;
        let node = self.node_mut(id);
        if let Some(accessed) = accessed {
            node.accessed = accessed;
        }
        if let Some(modified) = modified {
            node.modified = modified;
        }
        node.changed = now;
        Ok(())
    }

    pub(crate) fn unlink_file(&mut self, start: NodeId, path: &str, now: WallTime) -> Result<(), ErrorCode> {
        self.check_writable()?;
        match self.resolve(start, path, false)? {
            Resolved::Missing { .. } => Err(ErrorCode::NoEntry),
            Resolved::Found { entry: None, .. } => Err(ErrorCode::IsDirectory),
            Resolved::Found { node, .. } if self.is_directory(node) => Err(ErrorCode::IsDirectory),
            Resolved::Found { entry: Some((parent, name)), .. } => {
                let child = self.unlink_entry(parent, &name, now).ok_or(ErrorCode::NoEntry)?;
                self.free_if_unused(child);
                Ok(())
            }
        }
    }

    pub(crate) fn remove_directory(&mut self, start: NodeId, path: &str, now: WallTime) -> Result<(), ErrorCode> {
        self.check_writable()?;
        match self.resolve(start, path, false)? {
            Resolved::Missing { .. } => Err(ErrorCode::NoEntry),
            // `.`: Linux refuses it as an argument (EINVAL); `..` and the start itself are busy
            // or not empty, refused the same way here.
            Resolved::Found { entry: None, .. } => Err(ErrorCode::Invalid),
            Resolved::Found { node, entry: Some((parent, name)) } => {
                match self.entries(node) {
                    None => return Err(ErrorCode::NotDirectory),
                    Some(entries) if !entries.is_empty() => return Err(ErrorCode::NotEmpty),
                    Some(_) => {}
                }
                self.unlink_entry(parent, &name, now);
                self.free_if_unused(node);
                Ok(())
            }
        }
    }

    /// `rename(2)` within this tree.
    pub(crate) fn rename(
        &mut self,
        old_start: NodeId,
        old_path: &str,
        new_start: NodeId,
        new_path: &str,
        now: WallTime,
    ) -> Result<(), ErrorCode> {
        self.check_writable()?;
        let (node, old_parent, old_name) = match self.resolve(old_start, old_path, false)? {
            Resolved::Missing { .. } => return Err(ErrorCode::NoEntry),
            Resolved::Found { entry: None, .. } => return Err(ErrorCode::Busy),
            Resolved::Found { node, entry: Some((parent, name)) } => (node, parent, name),
        };
        let moving_directory = self.is_directory(node);
        let (new_parent, new_name, replaced) = match self.resolve(new_start, new_path, false)? {
            Resolved::Missing { dir_required: true, .. } if !moving_directory => return Err(ErrorCode::NotDirectory),
            Resolved::Missing { parent, name, .. } => (parent, name, None),
            Resolved::Found { entry: None, .. } => return Err(ErrorCode::Busy),
            Resolved::Found { node: target, entry: Some((parent, name)) } => (parent, name, Some(target)),
        };
        if replaced == Some(node) {
            return Ok(()); // the same file under both names: nothing to do
        }
        // A directory cannot move below itself.
        if moving_directory && self.is_within(new_parent, node) {
            return Err(ErrorCode::Invalid);
        }
        if let Some(target) = replaced {
            match (moving_directory, self.entries(target)) {
                (true, None) => return Err(ErrorCode::NotDirectory),
                (false, Some(_)) => return Err(ErrorCode::IsDirectory),
                (true, Some(entries)) if !entries.is_empty() => return Err(ErrorCode::NotEmpty),
                _ => {}
            }
            self.unlink_entry(new_parent, &new_name, now);
            self.free_if_unused(target);
        }
        self.unlink_entry(old_parent, &old_name, now);
        self.link_entry(new_parent, new_name, node, now);
        Ok(())
    }

    /// Whether `id` is `ancestor` or lies below it.
    fn is_within(&self, mut id: NodeId, ancestor: NodeId) -> bool {
        loop {
            if id == ancestor {
                return true;
            }
            match &self.node(id).kind {
                Kind::Directory { parent: Some(parent), .. } => id = *parent,
                _ => return false,
            }
        }
    }

    /// `link(2)`: a second name for a file.
    pub(crate) fn link(
        &mut self,
        old_start: NodeId,
        old_path: &str,
        new_start: NodeId,
        new_path: &str,
        now: WallTime,
    ) -> Result<(), ErrorCode> {
        self.check_writable()?;
        let node = self.lookup(old_start, old_path, false)?;
        if self.is_directory(node) {
            return Err(ErrorCode::NotPermitted);
        }
        match self.resolve(new_start, new_path, false)? {
            Resolved::Found { .. } => Err(ErrorCode::Exist),
            Resolved::Missing { dir_required: true, .. } => Err(ErrorCode::NoEntry),
            Resolved::Missing { parent, name, .. } => {
                self.link_entry(parent, name, node, now);
                Ok(())
            }
        }
    }

    // ---- building (baked contents)

    /// Adds a directory at `path` (relative, `/`-separated), and its parents as needed, with
    /// this modification time.
    pub fn insert_directory(&mut self, path: &str, modified: WallTime) -> Result<NodeId, ErrorCode> {
        let id = self.ensure_directory(path, modified)?;
        let node = self.node_mut(id);
        node.modified = modified;
        node.changed = modified;
        Ok(id)
    }

    /// The directory at `path`, made (with its parents) if missing; existing ones keep their
    /// times.
    fn ensure_directory(&mut self, path: &str, now: WallTime) -> Result<NodeId, ErrorCode> {
        let mut here = ROOT;
        for name in path.split('/').filter(|c| !c.is_empty()) {
            check_name(name)?;
            here = match self.entries(here).and_then(|e| e.get(name)).copied() {
                Some(child) if self.is_directory(child) => child,
                Some(_) => return Err(ErrorCode::NotDirectory),
                None => {
                    let child = self.add_node(Kind::Directory { entries: BTreeMap::new(), parent: Some(here) }, now);
                    self.link_entry_keeping_times(here, name.into(), child);
                    child
                }
            };
        }
        Ok(here)
    }

    /// Adds a file (or, with `symlink`, a symbolic link to `contents` as UTF-8) at `path`.
    pub fn insert_file(
        &mut self,
        path: &str,
        contents: Cow<'static, [u8]>,
        symlink: bool,
        modified: WallTime,
    ) -> Result<(), ErrorCode> {
        let (parent_path, name) = path.rsplit_once('/').unwrap_or(("", path));
        check_name(name)?;
        let parent = self.ensure_directory(parent_path, modified)?;
        if self.entries(parent).is_some_and(|e| e.contains_key(name)) {
            return Err(ErrorCode::Exist);
        }
        let kind = if symlink {
            Kind::Symlink(String::from_utf8(contents.into_owned()).map_err(|_| ErrorCode::IllegalByteSequence)?)
        } else {
            self.used += contents.len() as u64;
            Kind::File(contents)
        };
        let id = self.add_node(kind, modified);
        self.link_entry_keeping_times(parent, name.into(), id);
        Ok(())
    }

    /// Links a new node into a directory without touching the directory's times (an
    /// archive says what they are).
    fn link_entry_keeping_times(&mut self, parent: NodeId, name: String, child: NodeId) {
        let saved = (self.node(parent).modified, self.node(parent).changed);
        let child_changed = self.node(child).changed;
        self.link_entry(parent, name, child, child_changed);
        let node = self.node_mut(parent);
        (node.modified, node.changed) = saved;
    }
}

fn check_name(name: &str) -> Result<(), ErrorCode> {
    match name {
        "" | "." | ".." => Err(ErrorCode::Invalid),
        _ if name.len() > MAX_NAME => Err(ErrorCode::NameTooLong),
        _ => Ok(()),
    }
}

/// Pushes the components of `path` onto `pending` so that the first pops first; each carries
/// whether a `/` followed it (then it must be a directory).
fn push_components(pending: &mut Vec<(String, bool)>, path: &str) -> Result<(), ErrorCode> {
    let components: Vec<&str> = path.split('/').collect();
    let mut pushed = Vec::new();
    for (i, component) in components.iter().enumerate() {
        if component.is_empty() {
            continue;
        }
        let slash_after = i + 1 < components.len();
        pushed.push((String::from(*component), slash_after));
    }
    if pushed.is_empty() {
        // "/" alone is absolute (refused earlier); "" is no entry.
        return Err(ErrorCode::NoEntry);
    }
    // Only the last component's slash matters (every earlier one is a directory anyway).
    pending.extend(pushed.into_iter().rev());
    Ok(())
}

/// A node held by a descriptor or a stream: it stays readable until dropped, even unlinked.
pub struct NodeRef {
    pub(crate) tree: Arc<spin::Mutex<Tree>>,
    pub(crate) node: NodeId,
}

impl NodeRef {
    pub(crate) fn new(tree: &Arc<spin::Mutex<Tree>>, node: NodeId) -> Self {
        tree.lock().hold(node);
        NodeRef { tree: Arc::clone(tree), node }
    }
}

impl Clone for NodeRef {
    fn clone(&self) -> Self {
        NodeRef::new(&self.tree, self.node)
    }
}

impl Drop for NodeRef {
    fn drop(&mut self) {
        self.tree.lock().release(self.node);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: WallTime = WallTime { seconds: 1_700_000_000, nanoseconds: 0 };

    fn tree() -> Tree {
        let mut tree = Tree::new(1, false, Some(100), T0);
        tree.insert_file("a/b/file.txt", Cow::Borrowed(b"hello"), false, T0).unwrap();
        tree.insert_file("a/link", Cow::Borrowed(b"b/file.txt"), true, T0).unwrap();
        tree.insert_file("a/up", Cow::Borrowed(b"../a"), true, T0).unwrap();
        tree.insert_file("a/escape", Cow::Borrowed(b"../../x"), true, T0).unwrap();
        tree.insert_file("a/absolute", Cow::Borrowed(b"/etc/passwd"), true, T0).unwrap();
        tree.insert_file("loop", Cow::Borrowed(b"loop"), true, T0).unwrap();
        tree
    }

    fn found(tree: &Tree, path: &str, follow: bool) -> Result<DescriptorType, ErrorCode> {
        tree.lookup(ROOT, path, follow).map(|id| tree.stat(id).kind)
    }

    #[test]
    fn paths_resolve_as_under_a_sandboxed_linux_directory() {
        let tree = tree();
        assert_eq!(found(&tree, "a/b/file.txt", false), Ok(DescriptorType::RegularFile));
        assert_eq!(found(&tree, "./a//b/../b/file.txt", false), Ok(DescriptorType::RegularFile));
        assert_eq!(found(&tree, "a/link", false), Ok(DescriptorType::SymbolicLink));
        assert_eq!(found(&tree, "a/link", true), Ok(DescriptorType::RegularFile));
        assert_eq!(found(&tree, "a/up/b", false), Ok(DescriptorType::Directory));
        assert_eq!(found(&tree, "a/b/file.txt/", false), Err(ErrorCode::NotDirectory));
        assert_eq!(found(&tree, "a/b/file.txt/x", false), Err(ErrorCode::NotDirectory));
        assert_eq!(found(&tree, "a/nope/x", false), Err(ErrorCode::NoEntry));
        assert_eq!(found(&tree, "", false), Err(ErrorCode::NoEntry));
        assert_eq!(found(&tree, "/a", false), Err(ErrorCode::NotPermitted));
        assert_eq!(found(&tree, "..", false), Err(ErrorCode::NotPermitted));
        assert_eq!(found(&tree, "a/../..", false), Err(ErrorCode::NotPermitted));
        assert_eq!(found(&tree, "a/escape", true), Err(ErrorCode::NotPermitted));
        assert_eq!(found(&tree, "a/absolute", true), Err(ErrorCode::NotPermitted));
        assert_eq!(found(&tree, "loop", true), Err(ErrorCode::Loop));
        assert_eq!(found(&tree, "loop/x", false), Err(ErrorCode::Loop));
        assert!(matches!(tree.resolve(ROOT, "a/new", false), Ok(Resolved::Missing { .. })));
    }

    #[test]
    fn changes_keep_counts_links_and_space() {
        let mut tree = tree();
        let file = tree.lookup(ROOT, "a/b/file.txt", false).unwrap();
        assert_eq!(tree.used(), 5);
        assert_eq!(tree.write(file, Some(10), b"!", T0), Ok(11));
        assert_eq!(tree.read(file, 0, 100), b"hello\0\0\0\0\0!");
        assert_eq!(tree.used(), 11);
        assert_eq!(tree.write(file, Some(0), &[0; 101], T0), Err(ErrorCode::InsufficientSpace));
        tree.link(ROOT, "a/b/file.txt", ROOT, "second", T0).unwrap();
        assert_eq!(tree.stat(file).link_count, 2);
        tree.hold(file);
        tree.unlink_file(ROOT, "a/b/file.txt", T0).unwrap();
        tree.unlink_file(ROOT, "second", T0).unwrap();
        // Still held: readable, and still counted.
        assert_eq!(tree.read(file, 0, 5), b"hello");
        assert_eq!(tree.used(), 11);
        tree.release(file);
        assert_eq!(tree.used(), 0);
        assert_eq!(tree.remove_directory(ROOT, "a", T0), Err(ErrorCode::NotEmpty));
        assert_eq!(tree.remove_directory(ROOT, "a/b", T0), Ok(()));
        assert_eq!(tree.unlink_file(ROOT, "a", T0), Err(ErrorCode::IsDirectory));
        assert_eq!(tree.create_directory(ROOT, "a", T0), Err(ErrorCode::Exist));
    }

    #[test]
    fn renames_follow_rename_2() {
        let mut tree = tree();
        tree.create_directory(ROOT, "d", T0).unwrap();
        tree.create_directory(ROOT, "d/e", T0).unwrap();
        assert_eq!(tree.rename(ROOT, "d", ROOT, "d/e/f", T0), Err(ErrorCode::Invalid));
        assert_eq!(tree.rename(ROOT, "a/b/file.txt", ROOT, "d", T0), Err(ErrorCode::IsDirectory));
        assert_eq!(tree.rename(ROOT, "d", ROOT, "a/b/file.txt", T0), Err(ErrorCode::NotDirectory));
        assert_eq!(tree.rename(ROOT, "a", ROOT, "d", T0), Err(ErrorCode::NotEmpty));
        tree.rename(ROOT, "a/b/file.txt", ROOT, "d/moved", T0).unwrap();
        assert_eq!(found(&tree, "d/moved", false), Ok(DescriptorType::RegularFile));
        assert_eq!(found(&tree, "a/b/file.txt", false), Err(ErrorCode::NoEntry));
        tree.rename(ROOT, "d/e", ROOT, "a/b", T0).unwrap(); // over an empty directory
        assert_eq!(found(&tree, "a/b", false), Ok(DescriptorType::Directory));
        let mut read_only = Tree::new(2, true, None, T0);
        assert_eq!(read_only.create_directory(ROOT, "x", T0), Err(ErrorCode::NotPermitted));
    }
}
