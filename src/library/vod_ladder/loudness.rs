//! EBU R128 loudness: lessons recorded in different rooms, with different
//! microphones and gain, should play at the same level. The file's audio is
//! measured first (FFmpeg decodes only the audio stream, `ebur128` measures
//! integrated loudness and true peak), then the transcode applies one gain
//! to all of it: a linear gain keeps the lesson's own dynamics, where a
//! dynamic normaliser would pump between the teacher's voice and silence.
//! The gain is limited so the true peak stays under R128's -1 dBTP and so a
//! near-silent file is not raised into noise.

use std::path::Path;

use ebur128::{EbuR128, Mode};
use ffmpeg::format::Sample;
use ffmpeg_next as ffmpeg;

use crate::library::jobs::runner::WorkError;

/// EBU R128's programme loudness target.
pub const TARGET_LUFS: f64 = -23.0;
/// R128's maximum true peak.
pub const MAX_TRUE_PEAK_DBTP: f64 = -1.0;
/// Never raise or lower a lesson by more than this.
pub const MAX_GAIN_DB: f64 = 20.0;

/// What the measurement found.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Measured {
    /// Integrated loudness; `None` for silence (below R128's gate).
    pub integrated_lufs: Option<f64>,
    pub true_peak_dbtp: f64,
}

/// The gain in dB that brings `measured` to the target within the limits.
pub fn gain_db(measured: Measured) -> f64 {
    let Some(loudness) = measured.integrated_lufs else {
        return 0.0;
    };
    let wanted = TARGET_LUFS - loudness;
    let headroom = MAX_TRUE_PEAK_DBTP - measured.true_peak_dbtp;
    wanted.min(headroom).clamp(-MAX_GAIN_DB, MAX_GAIN_DB)
}

/// `gain_db` as GStreamer's `volume` wants it: a linear factor.
pub fn linear(gain_db: f64) -> f64 {
    10f64.powf(gain_db / 20.0)
}

/// Measures the best audio stream of `input`; `None` when it has none.
pub fn measure(input: &Path) -> Result<Option<Measured>, WorkError> {
    let failed = |e: ffmpeg::Error| WorkError::Failed(format!("cannot measure loudness: {e}"));
    crate::library::uploads::probe::init();
    let mut file = ffmpeg::format::input(input).map_err(failed)?;
    let Some(stream) = file.streams().best(ffmpeg::media::Type::Audio) else {
        return Ok(None);
    };
    let index = stream.index();
    let context = ffmpeg::codec::Context::from_parameters(stream.parameters()).map_err(failed)?;
    let mut decoder = context.decoder().audio().map_err(failed)?;
    let channels = u32::from(decoder.channels().max(1));
    let mut meter = EbuR128::new(channels, decoder.rate().max(1), Mode::I | Mode::TRUE_PEAK)
        .map_err(|e| WorkError::Failed(format!("cannot measure loudness: {e}")))?;
    let mut frame = ffmpeg::frame::Audio::empty();
    let mut feed = |decoder: &mut ffmpeg::decoder::Audio, meter: &mut EbuR128| {
        while decoder.receive_frame(&mut frame).is_ok() {
            add(meter, &frame);
        }
    };
    for (stream, packet) in file.packets() {
        if stream.index() == index && decoder.send_packet(&packet).is_ok() {
            feed(&mut decoder, &mut meter);
        }
    }
    if decoder.send_eof().is_ok() {
        feed(&mut decoder, &mut meter);
    }
    // The ladder is stereo: a mono lesson plays from both channels, 3 dB
    // louder than it measures as one.
    let upmix = if channels == 1 {
        10.0 * 2f64.log10()
    } else {
        0.0
    };
    let loudness = meter
        .loudness_global()
        .ok()
        .filter(|l| l.is_finite())
        .map(|l| l + upmix);
    let peak = (0..channels)
        .filter_map(|c| meter.true_peak(c).ok())
        .fold(0.0f64, f64::max);
    let true_peak_dbtp = if peak > 0.0 {
        20.0 * peak.log10()
    } else {
        -150.0
    };
    Ok(Some(Measured {
        integrated_lufs: loudness,
        true_peak_dbtp,
    }))
}

/// Feeds one decoded frame, in whichever common sample format it came;
/// frames in other formats are skipped (they would only be measured less).
fn add(meter: &mut EbuR128, frame: &ffmpeg::frame::Audio) {
    let samples = frame.samples();
    if samples == 0 {
        return;
    }
    let channels = frame.channels() as usize;
    macro_rules! planes {
        ($t:ty) => {
            (0..channels)
                .map(|c| &frame.plane::<$t>(c)[..samples])
                .collect::<Vec<_>>()
        };
    }
    let _ = match frame.format() {
        Sample::F32(ffmpeg::format::sample::Type::Planar) => {
            meter.add_frames_planar_f32(&planes!(f32))
        }
        Sample::F64(ffmpeg::format::sample::Type::Planar) => {
            meter.add_frames_planar_f64(&planes!(f64))
        }
        Sample::I16(ffmpeg::format::sample::Type::Planar) => {
            meter.add_frames_planar_i16(&planes!(i16))
        }
        Sample::I32(ffmpeg::format::sample::Type::Planar) => {
            meter.add_frames_planar_i32(&planes!(i32))
        }
        Sample::F32(_) => meter.add_frames_f32(&packed::<f32>(frame, samples * channels)),
        Sample::F64(_) => meter.add_frames_f64(&packed::<f64>(frame, samples * channels)),
        Sample::I16(_) => meter.add_frames_i16(&packed::<i16>(frame, samples * channels)),
        Sample::I32(_) => meter.add_frames_i32(&packed::<i32>(frame, samples * channels)),
        _ => Ok(()),
    };
}

/// A sample type read from native-endian bytes.
trait Sampled: Copy {
    const SIZE: usize;
    fn read(bytes: &[u8]) -> Self;
}

macro_rules! sampled {
    ($($t:ty),*) => {$(
        impl Sampled for $t {
            const SIZE: usize = std::mem::size_of::<$t>();
            fn read(bytes: &[u8]) -> Self {
                // `chunks_exact` hands over exactly SIZE bytes.
                <$t>::from_ne_bytes(bytes.try_into().unwrap_or_default())
            }
        }
    )*};
}
sampled!(f32, f64, i16, i32);

/// The interleaved samples of a packed frame (one plane, channels × samples).
fn packed<T: Sampled>(frame: &ffmpeg::frame::Audio, count: usize) -> Vec<T> {
    frame
        .data(0)
        .chunks_exact(T::SIZE)
        .take(count)
        .map(T::read)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn measured(lufs: f64, peak: f64) -> Measured {
        Measured {
            integrated_lufs: Some(lufs),
            true_peak_dbtp: peak,
        }
    }

    #[test]
    fn quiet_rooms_are_raised_and_loud_ones_lowered_to_the_target() {
        assert!((gain_db(measured(-33.0, -15.0)) - 10.0).abs() < 1e-9);
        assert!((gain_db(measured(-13.0, 0.0)) + 10.0).abs() < 1e-9);
    }

    #[test]
    fn the_peak_and_the_limits_bound_the_gain() {
        // Raising by 10 dB would push the peak to +2 dBTP: only 7 dB.
        assert!((gain_db(measured(-33.0, -8.0)) - 7.0).abs() < 1e-9);
        assert_eq!(gain_db(measured(-70.0, -60.0)), MAX_GAIN_DB);
        let silence = Measured {
            integrated_lufs: None,
            true_peak_dbtp: -150.0,
        };
        assert_eq!(gain_db(silence), 0.0);
        assert!((linear(-6.0) - 0.501).abs() < 0.001);
    }
}
