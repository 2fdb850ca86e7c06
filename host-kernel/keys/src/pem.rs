//! PEM files of several blocks (RFC 7468), as openssl writes them: each block found by its
//! armor, its contents decoded by `pem-rfc7468`.

use alloc::format;
use alloc::vec::Vec;

const BEGIN: &[u8] = b"-----BEGIN ";
const DASHES: &[u8] = b"-----";

/// One armored block, from its BEGIN line to the end of its END line.
pub(crate) struct Block<'a> {
    pub(crate) label: &'a str,
    text: &'a [u8],
}

impl Block<'_> {
    /// The block's contents, or `None` when they do not decode.
    pub(crate) fn decode(&self) -> Option<Vec<u8>> {
        pem_rfc7468::decode_vec(self.text).ok().map(|(_, der)| der)
    }

    /// Whether the block has explicit headers (RFC 1421), which OpenSSL's traditional format
    /// uses only for encrypted keys ("Proc-Type: 4,ENCRYPTED").
    pub(crate) fn has_headers(&self) -> bool {
        find(self.text, b"Proc-Type:").is_some()
    }
}

/// The blocks of `input` in order. Text around them is skipped; a block without its END line
/// runs to the end of the input (and so fails to decode).
pub(crate) fn blocks(mut input: &[u8]) -> impl Iterator<Item = Block<'_>> {
    core::iter::from_fn(move || {
        let start = find(input, BEGIN)?;
        let block = &input[start..];
        let label = label(&block[BEGIN.len()..]);
        let end_line = format!("-----END {label}-----");
        let len = find(block, end_line.as_bytes()).map_or(block.len(), |end| end + end_line.len());
        input = &block[len..];
        Some(Block { label, text: &block[..len] })
    })
}

/// The label that starts `rest` and ends at the next dashes; empty when it is not text.
fn label(rest: &[u8]) -> &str {
    let len = find(rest, DASHES).unwrap_or(0);
    core::str::from_utf8(&rest[..len]).unwrap_or("")
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|window| window == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_blocks_in_order_and_skips_text_between() {
        let input =
            b"junk\n-----BEGIN A-----\nQUJD\n-----END A-----\ntext\n-----BEGIN B C-----\nREVG\n-----END B C-----\n";
        let found: Vec<_> = blocks(input).map(|b| (b.label, b.decode())).collect();
        assert_eq!(found, [("A", Some(b"ABC".to_vec())), ("B C", Some(b"DEF".to_vec()))]);
    }

    #[test]
    fn an_unterminated_block_runs_to_the_end_and_does_not_decode() {
        let input = b"-----BEGIN A-----\nQUJD\n";
        let found: Vec<_> = blocks(input).map(|b| (b.label, b.decode())).collect();
        assert_eq!(found, [("A", None)]);
        assert_eq!(blocks(b"-----BEGIN ").count(), 1);
        assert_eq!(blocks(b"no pem here").count(), 0);
    }
}
