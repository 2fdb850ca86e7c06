//! Transport framing: RFC 5426 (UDP) and octet counting (RFC 6587 for TCP, RFC 5425 for TLS).

/// The default largest UDP datagram: RFC 5426 says every receiver must take 480 octets and
/// should take 2048; rsyslog takes 8096 by default.
pub const DEFAULT_UDP_MAX: usize = 2048;

/// The datagram for one formatted message (RFC 5426: one message per datagram): the message
/// itself, cut to at most `max` bytes on a UTF-8 character boundary.
pub fn udp_datagram(message: &str, max: usize) -> &str {
    if message.len() <= max {
        return message;
    }
    let mut end = max;
    while !message.is_char_boundary(end) {
        end -= 1;
    }
    &message[..end]
}

/// Appends one octet-counted frame (RFC 6587 3.4.1, RFC 5425 4.3: `MSG-LEN SP SYSLOG-MSG`) to
/// `out`.
pub fn octet_counted(message: &[u8], out: &mut Vec<u8>) {
    out.extend_from_slice(message.len().to_string().as_bytes());
    out.push(b' ');
    out.extend_from_slice(message);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn udp_keeps_short_messages() {
        assert_eq!(udp_datagram("<14>1 - - - - - - hi", DEFAULT_UDP_MAX), "<14>1 - - - - - - hi");
        assert_eq!(udp_datagram("", 0), "");
        assert_eq!(udp_datagram("abc", 3), "abc");
    }

    #[test]
    fn udp_cuts_on_char_boundaries() {
        assert_eq!(udp_datagram("abcdef", 4), "abcd");
        // "é" is two bytes, "🌍" four.
        assert_eq!(udp_datagram("aé", 2), "a");
        assert_eq!(udp_datagram("a🌍", 4), "a");
        assert_eq!(udp_datagram("a🌍", 5), "a🌍");
        assert_eq!(udp_datagram("🌍", 0), "");
        let long = "ü".repeat(2000);
        let d = udp_datagram(&long, DEFAULT_UDP_MAX);
        assert_eq!(d.len(), DEFAULT_UDP_MAX);
        let odd = format!("x{long}");
        assert_eq!(udp_datagram(&odd, DEFAULT_UDP_MAX).len(), DEFAULT_UDP_MAX - 1);
    }

    #[test]
    fn tcp_octet_counting() {
        let mut out = Vec::new();
        octet_counted(b"<14>1 - - - - - - hi", &mut out);
        octet_counted("é".as_bytes(), &mut out);
        octet_counted(b"", &mut out);
        assert_eq!(out, "20 <14>1 - - - - - - hi2 é0 ".as_bytes());
    }
}
