//! The lesson as a recording: fragments go to the recorder task, which
//! writes them to disk and the catalogue off this task.

use bytes::Bytes;

use super::{Finishing, Fragment, LessonEnd, LessonOutput};
use crate::catalog::recordings::RecordingStatus;
use crate::recording::{RecorderHandle, RecorderMsg};

pub struct Recording {
    recorder: RecorderHandle,
}

impl Recording {
    pub fn new(recorder: RecorderHandle) -> Self {
        Self { recorder }
    }
}

impl LessonOutput for Recording {
    fn fragment(&mut self, fragment: &Fragment) {
        if let Some(init) = &fragment.init {
            self.recorder.send(RecorderMsg::Init {
                rendition: fragment.rendition.clone(),
                init: fragment.entry.init,
                data: init.clone(),
            });
        }
        self.recorder.send(RecorderMsg::Segment {
            rank: fragment.rank,
            rendition: fragment.rendition.clone(),
            entry: fragment.entry.clone(),
            data: fragment.data.clone(),
            variant: fragment.variant.clone(),
        });
    }

    fn thumbnail(&mut self, _jpeg: &Bytes) {}

    fn end(&mut self, end: &LessonEnd) -> Finishing {
        Some(
            self.recorder
                .finish(RecordingStatus::Complete, end.ended_at, end.trim_slate),
        )
    }
}
