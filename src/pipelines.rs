//! The pipeline descriptions in `pipelines/`, compiled in, with their
//! `{placeholders}` filled. Filling is strict: a value that would break the
//! gst-launch syntax, or a placeholder left unfilled, is an error, never a
//! silently different graph.

pub const INGEST_TEST: &str = include_str!("../pipelines/ingest-test.pipeline");
pub const INGEST_SLATE: &str = include_str!("../pipelines/ingest-slate.pipeline");
pub const INGEST_RTSP: &str = include_str!("../pipelines/ingest-rtsp.pipeline");
pub const INGEST_PUSHED: &str = include_str!("../pipelines/ingest-pushed.pipeline");
pub const INGEST_WHIP: &str = include_str!("../pipelines/ingest-whip.pipeline");
pub const INGEST_VIDEO: &str = include_str!("../pipelines/ingest-video.pipeline");
pub const INGEST_AUDIO: &str = include_str!("../pipelines/ingest-audio.pipeline");
pub const LADDER: &str = include_str!("../pipelines/ladder.pipeline");
pub const RENDITION_PASSTHROUGH: &str = include_str!("../pipelines/rendition-passthrough.pipeline");
pub const RENDITION_TRANSCODE: &str = include_str!("../pipelines/rendition-transcode.pipeline");

/// Font used for on-screen text; Debian's fonts-wqy-microhei has the CJK glyphs.
pub const OVERLAY_FONT: &str = "WenQuanYi Micro Hei";

#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    #[error("placeholder {{{0}}} has no value")]
    Unfilled(String),
    #[error("value for {{{0}}} contains a quote or line break")]
    UnsafeValue(String),
}

/// Replaces `{key}` with its value. Values end up inside gst-launch text, so
/// a double quote, backslash or line break in one (say, from a camera URL or
/// a password) is refused rather than allowed to change the graph.
pub fn fill(template: &str, values: &[(&str, &str)]) -> Result<String, TemplateError> {
    let mut out = template.to_string();
    for (key, value) in values {
        if value.contains(['"', '\\', '\n', '\r']) {
            return Err(TemplateError::UnsafeValue((*key).to_string()));
        }
        out = out.replace(&format!("{{{key}}}"), value);
    }
    if let Some(start) = out.find('{') {
        // Caps like `{avc, avc3}` never occur in our templates; any brace left is ours.
        let end = out[start..].find('}').map_or(out.len(), |e| start + e);
        return Err(TemplateError::Unfilled(out[start + 1..end].to_string()));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fills_every_placeholder_or_says_which_is_missing() {
        let text = fill("a {x} b {y}", &[("x", "1"), ("y", "2")]).unwrap();
        assert_eq!(text, "a 1 b 2");
        match fill("a {x} b {y}", &[("x", "1")]) {
            Err(TemplateError::Unfilled(name)) => assert_eq!(name, "y"),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn refuses_values_that_could_rewrite_the_graph() {
        let evil = "pw\" ! filesink location=/etc/passwd";
        assert!(matches!(
            fill(
                INGEST_RTSP,
                &[("url", "rtsp://cam"), ("username", "u"), ("password", evil)]
            ),
            Err(TemplateError::UnsafeValue(_))
        ));
    }
}
