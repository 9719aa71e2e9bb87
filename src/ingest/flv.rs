//! FLV framing for RTMP media: rml_rtmp hands us tag bodies, flvdemux wants
//! an FLV byte stream, so we add the file header and tag headers back.

use bytes::{BufMut, Bytes, BytesMut};

pub const TAG_AUDIO: u8 = 8;
pub const TAG_VIDEO: u8 = 9;

/// File header announcing audio and video, plus the first PreviousTagSize (0).
pub fn header() -> Bytes {
    Bytes::from_static(&[b'F', b'L', b'V', 1, 0x05, 0, 0, 0, 9, 0, 0, 0, 0])
}

/// One tag: 11-byte header, body, then PreviousTagSize.
pub fn tag(kind: u8, timestamp_ms: u32, body: &[u8]) -> Bytes {
    let mut out = BytesMut::with_capacity(11 + body.len() + 4);
    out.put_u8(kind);
    let size = body.len() as u32;
    out.put_slice(&size.to_be_bytes()[1..]);
    // 24 low bits, then the extension byte with bits 24..31.
    out.put_slice(&timestamp_ms.to_be_bytes()[1..]);
    out.put_u8((timestamp_ms >> 24) as u8);
    out.put_slice(&[0, 0, 0]);
    out.put_slice(body);
    out.put_u32(11 + size);
    out.freeze()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tag_layout_matches_the_flv_spec() {
        let t = tag(TAG_VIDEO, 0x0102_0304, &[0xAA, 0xBB]);
        assert_eq!(t[0], 9);
        assert_eq!(&t[1..4], &[0, 0, 2]);
        assert_eq!(&t[4..8], &[0x02, 0x03, 0x04, 0x01]);
        assert_eq!(&t[11..13], &[0xAA, 0xBB]);
        assert_eq!(&t[13..], &13u32.to_be_bytes());
        assert_eq!(header().len(), 13);
    }
}
