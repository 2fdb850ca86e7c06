//! Linking an image: the kernel's ELF file plus one more `PT_LOAD` segment, the payload.
//!
//! The kernel is linked once per feature set; an image is made from it without a linker by
//! appending the payload and a new program header table that lists the kernel's segments
//! and the payload's. The payload is loaded at the first [`PAYLOAD_ALIGN`] boundary after the
//! end of the kernel's last segment, which is where the kernel looks for it.

use std::ops::Range;

use morgana_image::{MAGIC, PAYLOAD_ALIGN};

const PT_LOAD: u32 = 1;
const PF_R: u32 = 4;
const PHDR_SIZE: usize = 56;
const EM_X86_64: u16 = 62;
const PAGE: u64 = 4096;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ElfError {
    #[error("the kernel file is not a 64-bit little-endian x86-64 ELF executable")]
    NotAnElf,
    #[error("the ELF file is truncated or its program headers are damaged")]
    Damaged,
    #[error("the image has no Morgana payload; it is a plain kernel, not an image made by `morgana build`")]
    NoPayload,
}

struct Header {
    phoff: usize,
    phnum: usize,
}

#[derive(Clone, Copy)]
struct ProgramHeader {
    kind: u32,
    offset: u64,
    paddr: u64,
    filesz: u64,
    memsz: u64,
}

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(b.get(at..at + 2)?.try_into().ok()?))
}
fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
}
fn u64_at(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_le_bytes(b.get(at..at + 8)?.try_into().ok()?))
}

fn header(elf: &[u8]) -> Result<Header, ElfError> {
    let is_elf64_le = elf.get(..6) == Some(b"\x7fELF\x02\x01");
    if !is_elf64_le || u16_at(elf, 18) != Some(EM_X86_64) {
        return Err(ElfError::NotAnElf);
    }
    let phoff = u64_at(elf, 32).ok_or(ElfError::Damaged)? as usize;
    let phentsize = u16_at(elf, 54).ok_or(ElfError::Damaged)? as usize;
    let phnum = u16_at(elf, 56).ok_or(ElfError::Damaged)? as usize;
    if phentsize != PHDR_SIZE || phoff.checked_add(phnum * PHDR_SIZE).is_none_or(|end| end > elf.len()) {
        return Err(ElfError::Damaged);
    }
    Ok(Header { phoff, phnum })
}

fn program_headers(elf: &[u8], h: &Header) -> Result<Vec<ProgramHeader>, ElfError> {
    (0..h.phnum)
        .map(|i| {
            let at = h.phoff + i * PHDR_SIZE;
            Some(ProgramHeader {
                kind: u32_at(elf, at)?,
                offset: u64_at(elf, at + 8)?,
                paddr: u64_at(elf, at + 24)?,
                filesz: u64_at(elf, at + 32)?,
                memsz: u64_at(elf, at + 40)?,
            })
        })
        .collect::<Option<Vec<_>>>()
        .ok_or(ElfError::Damaged)
}

/// Where the payload goes in memory for a kernel with these segments.
fn payload_address(segments: &[ProgramHeader]) -> u64 {
    let end = segments.iter().filter(|p| p.kind == PT_LOAD).map(|p| p.paddr + p.memsz).max().unwrap_or(0);
    end.next_multiple_of(PAYLOAD_ALIGN)
}

/// Makes an image from a kernel ELF and an encoded payload.
pub fn append_payload(kernel: &[u8], payload: &[u8]) -> Result<Vec<u8>, ElfError> {
    let h = header(kernel)?;
    let segments = program_headers(kernel, &h)?;
    let address = payload_address(&segments);

    let mut image = kernel.to_vec();
    let payload_offset = (image.len() as u64).next_multiple_of(PAGE);
    image.resize(payload_offset as usize, 0);
    image.extend_from_slice(payload);

    let table_offset = image.len().next_multiple_of(8);
    image.resize(table_offset, 0);
    image.extend_from_slice(&kernel[h.phoff..h.phoff + h.phnum * PHDR_SIZE]);
    let mut entry = [0u8; PHDR_SIZE];
    entry[0..4].copy_from_slice(&PT_LOAD.to_le_bytes());
    entry[4..8].copy_from_slice(&PF_R.to_le_bytes());
    entry[8..16].copy_from_slice(&payload_offset.to_le_bytes());
    entry[16..24].copy_from_slice(&address.to_le_bytes());
    entry[24..32].copy_from_slice(&address.to_le_bytes());
    entry[32..40].copy_from_slice(&(payload.len() as u64).to_le_bytes());
    entry[40..48].copy_from_slice(&(payload.len() as u64).to_le_bytes());
    entry[48..56].copy_from_slice(&PAGE.to_le_bytes());
    image.extend_from_slice(&entry);

    image[32..40].copy_from_slice(&(table_offset as u64).to_le_bytes());
    let phnum = u16::try_from(h.phnum + 1).map_err(|_| ElfError::Damaged)?;
    image[56..58].copy_from_slice(&phnum.to_le_bytes());
    Ok(image)
}

/// The first byte after the image in guest memory (the payload's end): the VM needs more
/// memory than this.
pub fn memory_end(image: &[u8]) -> Result<u64, ElfError> {
    let h = header(image)?;
    Ok(program_headers(image, &h)?.iter().filter(|p| p.kind == PT_LOAD).map(|p| p.paddr + p.memsz).max().unwrap_or(0))
}

/// The file range of an image's payload segment.
pub fn find_payload(image: &[u8]) -> Result<Range<usize>, ElfError> {
    let h = header(image)?;
    for segment in program_headers(image, &h)? {
        if segment.kind != PT_LOAD {
            continue;
        }
        let start = segment.offset as usize;
        let end = start.checked_add(segment.filesz as usize).ok_or(ElfError::Damaged)?;
        if image.get(start..start + MAGIC.len()) == Some(&MAGIC[..]) {
            if end > image.len() {
                return Err(ElfError::Damaged);
            }
            return Ok(start..end);
        }
    }
    Err(ElfError::NoPayload)
}

/// Makes a new image from an existing one with its payload replaced.
pub fn replace_payload(image: &[u8], payload: &[u8]) -> Result<Vec<u8>, ElfError> {
    let old = find_payload(image)?;
    let h = header(image)?;
    // The kernel alone: everything before the payload, with a program header table that
    // lists every segment but the payload's.
    let mut kernel = image[..old.start].to_vec();
    let table_offset = kernel.len().next_multiple_of(8);
    kernel.resize(table_offset, 0);
    let mut kept = 0u16;
    for i in 0..h.phnum {
        let entry = &image[h.phoff + i * PHDR_SIZE..h.phoff + (i + 1) * PHDR_SIZE];
        if u64_at(entry, 8) == Some(old.start as u64) && u32_at(entry, 0) == Some(PT_LOAD) {
            continue;
        }
        kernel.extend_from_slice(entry);
        kept += 1;
    }
    kernel[32..40].copy_from_slice(&(table_offset as u64).to_le_bytes());
    kernel[56..58].copy_from_slice(&kept.to_le_bytes());
    append_payload(&kernel, payload)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A minimal ELF64 x86-64 file with one PT_LOAD segment at 4 MiB of `memsz` bytes.
    fn kernel(memsz: u64) -> Vec<u8> {
        let mut elf = vec![0u8; 64 + PHDR_SIZE + 16];
        elf[..6].copy_from_slice(b"\x7fELF\x02\x01");
        elf[18..20].copy_from_slice(&EM_X86_64.to_le_bytes());
        elf[32..40].copy_from_slice(&64u64.to_le_bytes());
        elf[54..56].copy_from_slice(&(PHDR_SIZE as u16).to_le_bytes());
        elf[56..58].copy_from_slice(&1u16.to_le_bytes());
        let p = 64;
        elf[p..p + 4].copy_from_slice(&PT_LOAD.to_le_bytes());
        elf[p + 8..p + 16].copy_from_slice(&120u64.to_le_bytes());
        elf[p + 24..p + 32].copy_from_slice(&(4u64 << 20).to_le_bytes());
        elf[p + 32..p + 40].copy_from_slice(&16u64.to_le_bytes());
        elf[p + 40..p + 48].copy_from_slice(&memsz.to_le_bytes());
        elf
    }

    #[test]
    fn payload_segment_follows_the_kernel_at_a_2mib_boundary() {
        let mut payload = MAGIC.to_vec();
        payload.extend_from_slice(b"rest of payload");
        let image = append_payload(&kernel(3 << 20), &payload).unwrap();
        let range = find_payload(&image).unwrap();
        assert_eq!(&image[range.clone()], &payload[..]);
        assert_eq!(range.start % PAGE as usize, 0);
        let h = header(&image).unwrap();
        let segments = program_headers(&image, &h).unwrap();
        assert_eq!(segments.len(), 2);
        assert_eq!(segments[1].paddr, 8 << 20, "4 MiB + 3 MiB rounded up to 2 MiB");
    }

    #[test]
    fn a_payload_can_be_replaced() {
        let mut first = MAGIC.to_vec();
        first.extend_from_slice(b"first");
        let mut second = MAGIC.to_vec();
        second.extend_from_slice(b"second, longer");
        let image = append_payload(&kernel(3 << 20), &first).unwrap();
        let replaced = replace_payload(&image, &second).unwrap();
        assert_eq!(&replaced[find_payload(&replaced).unwrap()], &second[..]);
        let h = header(&replaced).unwrap();
        assert_eq!(program_headers(&replaced, &h).unwrap().len(), 2);
    }

    #[test]
    fn bad_files_are_refused() {
        assert!(matches!(append_payload(b"not an elf", b""), Err(ElfError::NotAnElf)));
        assert!(matches!(find_payload(&kernel(1)), Err(ElfError::NoPayload)));
        let mut damaged = kernel(1);
        damaged[56] = 200; // more program headers than the file holds
        assert!(matches!(find_payload(&damaged), Err(ElfError::Damaged)));
    }
}
