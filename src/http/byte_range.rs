//! `Range: bytes=…` on downloads (RFC 9110 §14), so a browser's PDF viewer
//! fetches the pages it shows and a download manager resumes where it was
//! cut off. Pure: a header and the object's length in, what to answer out.
//! One range only; a request for several is answered with the whole file,
//! as the RFC allows (a multipart/byteranges body is for no client we
//! serve), and so is a header we cannot read.

use std::ops::Range;

/// What a download answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ByteRange {
    /// 200 with everything: no range asked for, or none we honour.
    Whole,
    /// 206 with these bytes (never empty, within the object).
    Part(Range<u64>),
    /// 416 with `Content-Range: bytes */{len}`.
    Unsatisfiable,
}

/// The answer to `header` for an object of `len` bytes.
pub fn byte_range(header: Option<&str>, len: u64) -> ByteRange {
    let Some(header) = header else {
        return ByteRange::Whole;
    };
    let Some((unit, spec)) = header.trim().split_once('=') else {
        return ByteRange::Whole;
    };
    if !unit.trim().eq_ignore_ascii_case("bytes") || spec.contains(',') {
        return ByteRange::Whole;
    }
    let Some((first, last)) = spec.trim().split_once('-') else {
        return ByteRange::Whole;
    };
    let number = |text: &str| -> Option<u64> {
        let text = text.trim();
        // u64's parse takes a leading '+'; the RFC's grammar does not.
        (!text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()))
            .then(|| text.parse().ok())
            .flatten()
    };
    match (first.trim().is_empty(), number(first), number(last)) {
        // `-n`: the last n bytes.
        (true, _, Some(suffix)) => {
            if suffix == 0 || len == 0 {
                ByteRange::Unsatisfiable
            } else {
                ByteRange::Part(len.saturating_sub(suffix)..len)
            }
        }
        // `a-` and `a-b` (b past the end means the end).
        (false, Some(start), end) if last.trim().is_empty() || end.is_some() => match end {
            Some(end) if end < start => ByteRange::Whole,
            _ if start >= len => ByteRange::Unsatisfiable,
            Some(end) => ByteRange::Part(start..end.min(len - 1) + 1),
            None => ByteRange::Part(start..len),
        },
        _ => ByteRange::Whole,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_range_of_each_form_is_cut_from_the_object() {
        let part = |h: &str| byte_range(Some(h), 1000);
        assert_eq!(byte_range(None, 1000), ByteRange::Whole);
        assert_eq!(part("bytes=0-499"), ByteRange::Part(0..500));
        assert_eq!(part("bytes=500-"), ByteRange::Part(500..1000));
        assert_eq!(part("bytes=-200"), ByteRange::Part(800..1000));
        assert_eq!(part("bytes=999-999"), ByteRange::Part(999..1000));
        assert_eq!(part(" Bytes = 10 - 19 "), ByteRange::Part(10..20));
        // Past the end is the end; a suffix longer than the file is all of it.
        assert_eq!(part("bytes=900-5000"), ByteRange::Part(900..1000));
        assert_eq!(part("bytes=-5000"), ByteRange::Part(0..1000));
    }

    #[test]
    fn a_range_outside_the_object_is_unsatisfiable() {
        assert_eq!(
            byte_range(Some("bytes=1000-"), 1000),
            ByteRange::Unsatisfiable
        );
        assert_eq!(
            byte_range(Some("bytes=1000-1200"), 1000),
            ByteRange::Unsatisfiable
        );
        assert_eq!(byte_range(Some("bytes=-0"), 1000), ByteRange::Unsatisfiable);
        assert_eq!(byte_range(Some("bytes=0-"), 0), ByteRange::Unsatisfiable);
    }

    #[test]
    fn what_cannot_be_honoured_gets_the_whole_object() {
        for header in [
            "bytes=0-1,5-9",
            "bytes=9-5",
            "items=0-1",
            "bytes=abc",
            "bytes=-",
            "bytes=+1-2",
            "bytes=1-+2",
            "bytes=0x10-",
            "bytes=18446744073709551616-",
            "",
        ] {
            assert_eq!(byte_range(Some(header), 1000), ByteRange::Whole, "{header}");
        }
    }
}
