//! Shared media plumbing under every stage: the vocabulary (`format`), and
//! running GStreamer pipelines (`pipeline`): starting them, watching their
//! buses, stopping them off the runtime's threads, and the reports they
//! send their owner.

pub mod format;
pub mod pipeline;

use std::sync::Once;

use gstreamer as gst;

/// Initialises GStreamer and the statically linked plugins once per process.
pub fn init() -> Result<(), gst::glib::Error> {
    static ONCE: Once = Once::new();
    let mut result = Ok(());
    ONCE.call_once(|| {
        result = gst::init().and_then(|_| {
            gstfmp4::plugin_register_static()
                .map_err(|e| gst::glib::Error::new(gst::CoreError::Failed, &e.to_string()))
        });
    });
    result
}
