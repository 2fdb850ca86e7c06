//! Arbitrary bytes, pushed in arbitrary pieces, read as console-channel frames both ways: no
//! panic, and every frame the kernel accepts encodes back to the same frame.
#![no_main]

use libfuzzer_sys::fuzz_target;
use morgana_image::channel::{FrameReader, MAX_PAYLOAD, ToGuest, encode_to_guest};

fuzz_target!(|data: &[u8]| {
    let Some((&split, bytes)) = data.split_first() else { return };
    let mut reader = FrameReader::new();
    for piece in bytes.chunks(usize::from(split).max(1)) {
        reader.push(piece);
        loop {
            let frame = match reader.next_frame(MAX_PAYLOAD) {
                Ok(Some(frame)) => frame,
                Ok(None) | Err(_) => break,
            };
            let _ = frame.to_host();
            if let Ok(message) = frame.to_guest() {
                let mut again = Vec::new();
                encode_to_guest(&mut again, &message);
                let mut check = FrameReader::new();
                check.push(&again);
                let decoded: ToGuest<'_> = check.next_frame(usize::MAX).unwrap().unwrap().to_guest().unwrap();
                assert_eq!(decoded, message);
            }
        }
    }
});
