//! What the targets share: the limits the input's first byte picks.

use morgana_http::Limits;

/// The input's first byte picks the limits (its low bit: the defaults, or tiny ones that every
/// input can reach) and is taken off; `None` for an empty input.
pub fn split_limits(data: &[u8]) -> Option<(Limits, u8, &[u8])> {
    let (&cfg, rest) = data.split_first()?;
    let mut limits = Limits::default();
    if cfg & 1 == 1 {
        limits.max_headers = 4;
        limits.max_head_bytes = 256;
        limits.max_target_bytes = 32;
        limits.max_body_bytes = 64;
    }
    Some((limits, cfg, rest))
}
