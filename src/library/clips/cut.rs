//! The cut, with FFmpeg (ffmpeg-next): the recording's init segment and the
//! selected segments are read as one fragmented MP4 (FFmpeg's `concat:`
//! protocol, so nothing is copied first), and written as one MPEG-TS file,
//! which is what the VOD ladder then transcodes like any upload.
//!
//! MPEG-TS because its H.264 is Annex B with the parameter sets in band:
//! the re-encoded edges carry x264's SPS/PPS and the copied middle the
//! camera's, and a decoder follows each as it comes. An MP4 track has one
//! set of parameters in its header.
//!
//! Two passes: the first reads only the video packets' timestamps and
//! keyframe flags (no decoding) so that `plan` can decide each GOP; the
//! second writes. Blocking: run it on `spawn_blocking`.

use std::ops::Range;
use std::path::Path;

use ffmpeg::{Dictionary, Packet, Rational, codec, encoder, format, frame, media, picture};
use ffmpeg_next as ffmpeg;

use super::{GopAction, Selection, Timing, plan, reorder_delay, ticks};
use crate::library::uploads::probe;

/// The edges are a second or two of picture: encoded well, and quickly.
const EDGE_PRESET: &str = "veryfast";
const EDGE_CRF: &str = "18";

#[derive(Debug, thiserror::Error)]
pub enum CutError {
    /// Clips are copied from H.264; other codecs are not cut.
    #[error("the recording's video is {0}, not H.264")]
    Unsupported(String),
    #[error("the recording has no video")]
    NoVideo,
    #[error("no frame of the recording lies in the span")]
    Empty,
    /// The second reading saw other packets than the first.
    #[error("the recording's files changed while being cut")]
    Changed,
    #[error("FFmpeg: {0}")]
    Media(#[from] ffmpeg::Error),
}

/// What the cut did, for the log.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Cut {
    pub copied_frames: usize,
    pub encoded_frames: usize,
}

/// Cuts `selection` out of the rendition in `rendition_dir` into `output`
/// (MPEG-TS).
pub fn cut(rendition_dir: &Path, selection: &Selection, output: &Path) -> Result<Cut, CutError> {
    probe::init();
    let url = concat_url(rendition_dir, selection);
    let (video, timings) = video_timings(&url)?;
    let tb = video.time_base;
    // The first frame shown is where the first selected segment starts.
    let origin = timings.iter().map(|t| t.pts).min().ok_or(CutError::Empty)?;
    let at = |seconds: f64| origin + ticks(seconds - selection.first_starts_at, tb);
    let keep = at(selection.start)..at(selection.end);
    let gops = plan(&timings, keep.clone());
    if gops.iter().all(|g| g.action == GopAction::Drop) {
        return Err(CutError::Empty);
    }
    let mut input = format::input(&url)?;
    let mut writer = Writer::open(&input, output, video.index, keep, reorder_delay(&timings))?;
    let mut gop = 0;
    let mut edge: Option<Edge> = None;
    let mut n = 0;
    for (stream, packet) in input.packets() {
        if stream.index() != video.index {
            writer.audio(stream.index(), &packet)?;
            continue;
        }
        // Counted as the first pass counted them.
        if packet.pts().or(packet.dts()).is_none() {
            continue;
        }
        let i = n;
        n += 1;
        while gops.get(gop).is_some_and(|g| g.packets.end <= i) {
            gop += 1;
        }
        let Some(current) = gops.get(gop) else { break };
        match current.action {
            GopAction::Drop => {}
            GopAction::Copy => writer.copy(&packet)?,
            GopAction::Reencode => {
                if i == current.packets.start {
                    edge = Some(Edge::open(&stream, video.frame_rate)?);
                }
                if let Some(e) = edge.as_mut() {
                    e.decoder.send_packet(&packet)?;
                    e.drain_decoder(&mut writer)?;
                    if i + 1 == current.packets.end {
                        e.decoder.send_eof()?;
                        e.drain_decoder(&mut writer)?;
                        e.encoder.send_eof()?;
                        e.drain_encoder(&mut writer)?;
                        edge = None;
                    }
                }
            }
        }
    }
    if n != timings.len() || edge.is_some() {
        return Err(CutError::Changed);
    }
    writer.finish()
}

fn concat_url(dir: &Path, selection: &Selection) -> String {
    let mut parts = vec![dir.join(crate::hls::playlist::init_uri(selection.init))];
    parts.extend(selection.segments.iter().map(|s| dir.join(s)));
    let parts: Vec<String> = parts.iter().map(|p| p.display().to_string()).collect();
    format!("concat:{}", parts.join("|"))
}

struct VideoStream {
    index: usize,
    time_base: (i32, i32),
    frame_rate: Rational,
}

/// The first pass: every video packet's timing, in decode order.
fn video_timings(url: &str) -> Result<(VideoStream, Vec<Timing>), CutError> {
    let mut input = format::input(&url)?;
    let stream = input
        .streams()
        .best(media::Type::Video)
        .ok_or(CutError::NoVideo)?;
    let id = stream.parameters().id();
    if id != codec::Id::H264 {
        return Err(CutError::Unsupported(id.name().to_string()));
    }
    let tb = stream.time_base();
    let video = VideoStream {
        index: stream.index(),
        time_base: (tb.numerator(), tb.denominator()),
        frame_rate: stream.avg_frame_rate(),
    };
    let mut timings = Vec::new();
    for (stream, packet) in input.packets() {
        if stream.index() != video.index {
            continue;
        }
        let (Some(pts), dts) = (packet.pts().or(packet.dts()), packet.dts()) else {
            continue;
        };
        timings.push(Timing {
            pts,
            dts: dts.unwrap_or(pts),
            key: packet.is_key(),
        });
    }
    Ok((video, timings))
}

/// The output file and the arithmetic of its timestamps: every kept packet
/// is moved so the span starts at `delay` (in the video's ticks), copied
/// packets keep their decode order, re-encoded ones (no B-frames: dts is
/// pts) are placed `delay` earlier in decode order, and decode timestamps
/// never go backwards where the two meet.
struct Writer {
    output: format::context::Output,
    video_in: Rational,
    video_out: (usize, Rational),
    audio: Option<AudioTrack>,
    keep: Range<i64>,
    delay: i64,
    last_dts: Option<i64>,
    /// Bytes of each NAL unit's length in the camera's packets (avcC), and
    /// its SPS and PPS as Annex B, put before every copied keyframe.
    length_size: Option<usize>,
    parameter_sets: Vec<u8>,
    done: Cut,
}

impl Writer {
    /// The output's streams are made from `input`'s (the second reading's).
    fn open(
        input: &format::context::Input,
        path: &Path,
        video: usize,
        keep: Range<i64>,
        delay: i64,
    ) -> Result<Self, CutError> {
        let mut output = format::output_as(&path, "mpegts")?;
        let vin = input.stream(video).ok_or(CutError::NoVideo)?;
        let video_in = vin.time_base();
        let extradata = extradata(&vin.parameters());
        let (length_size, parameter_sets) = super::avcc_parameter_sets(&extradata)
            .map_or((None, Vec::new()), |(n, sets)| (Some(n), sets));
        let mut out = output.add_stream(encoder::find(codec::Id::None))?;
        out.set_parameters(vin.parameters());
        let video_index = out.index();
        let seconds = |ticks: i64, tb: Rational| ticks as f64 * f64::from(tb);
        let audio = match input.streams().best(media::Type::Audio) {
            Some(ain) => {
                let mut out = output.add_stream(encoder::find(codec::Id::None))?;
                out.set_parameters(ain.parameters());
                let atb = ain.time_base();
                let tb = (atb.numerator(), atb.denominator());
                let span = ticks(seconds(keep.start, video_in), tb)
                    ..ticks(seconds(keep.end, video_in), tb);
                Some(AudioTrack {
                    input: ain.index(),
                    output: out.index(),
                    in_tb: atb,
                    out_tb: atb,
                    span,
                })
            }
            None => None,
        };
        output.write_header()?;
        let video_out = output
            .stream(video_index)
            .map_or(video_in, |s| s.time_base());
        // The muxer picks its own time base as it writes the header.
        let audio = audio.map(|track| AudioTrack {
            out_tb: output
                .stream(track.output)
                .map_or(track.in_tb, |s| s.time_base()),
            ..track
        });
        Ok(Writer {
            output,
            video_in,
            video_out: (video_index, video_out),
            audio,
            keep,
            delay,
            last_dts: None,
            length_size,
            parameter_sets,
            done: Cut::default(),
        })
    }

    fn write_video(&mut self, mut packet: Packet, pts: i64, dts: i64) -> Result<(), CutError> {
        packet.set_pts(Some(pts - self.keep.start + self.delay));
        packet.set_dts(Some(dts - self.keep.start + self.delay));
        packet.set_stream(self.video_out.0);
        packet.rescale_ts(self.video_in, self.video_out.1);
        // Where copied and re-encoded packets meet, B-frames can put a
        // packet's dts at or before the one written last: it moves on by
        // one tick of the output's clock (never past its pts).
        if let (Some(pts), Some(dts)) = (packet.pts(), packet.dts()) {
            let dts = match self.last_dts {
                Some(last) if dts <= last => (last + 1).min(pts),
                _ => dts,
            };
            packet.set_dts(Some(dts));
            self.last_dts = Some(dts);
        }
        packet.set_position(-1);
        packet.write_interleaved(&mut self.output)?;
        Ok(())
    }

    fn copy(&mut self, packet: &Packet) -> Result<(), CutError> {
        let (Some(pts), Some(data)) = (packet.pts().or(packet.dts()), packet.data()) else {
            return Ok(());
        };
        let dts = packet.dts().unwrap_or(pts);
        let bytes = match self.length_size {
            Some(n) => super::to_annex_b(data, n, packet.is_key().then_some(&self.parameter_sets)),
            None => data.to_vec(),
        };
        let mut out = Packet::copy(&bytes);
        out.set_flags(packet.flags());
        out.set_duration(packet.duration());
        self.done.copied_frames += 1;
        self.write_video(out, pts, dts)
    }

    fn encoded(&mut self, packet: Packet) -> Result<(), CutError> {
        let Some(pts) = packet.pts() else {
            return Ok(());
        };
        self.done.encoded_frames += 1;
        // Placed `delay` before its pts, as the copied packets are at most.
        self.write_video(packet, pts, pts - self.delay)
    }

    fn audio(&mut self, index: usize, packet: &Packet) -> Result<(), CutError> {
        let Some(AudioTrack {
            input,
            output: out_index,
            in_tb,
            out_tb,
            span,
        }) = &self.audio
        else {
            return Ok(());
        };
        let Some(pts) = packet.pts() else {
            return Ok(());
        };
        if index != *input || !span.contains(&pts) {
            return Ok(());
        }
        let delay = ticks(
            self.delay as f64 * f64::from(self.video_in),
            (in_tb.numerator(), in_tb.denominator()),
        );
        let shift = |t: i64| t - span.start + delay;
        let mut out = packet.clone();
        out.set_pts(Some(shift(pts)));
        out.set_dts(Some(shift(packet.dts().unwrap_or(pts))));
        out.set_stream(*out_index);
        out.rescale_ts(*in_tb, *out_tb);
        out.set_position(-1);
        out.write_interleaved(&mut self.output)?;
        Ok(())
    }

    fn finish(mut self) -> Result<Cut, CutError> {
        self.output.write_trailer()?;
        if self.done == Cut::default() {
            return Err(CutError::Empty);
        }
        Ok(self.done)
    }
}

/// The sound: copied, every AAC frame whose pts is in `span` (the video's
/// span in this stream's ticks), moved as the video is.
struct AudioTrack {
    input: usize,
    output: usize,
    in_tb: Rational,
    out_tb: Rational,
    span: Range<i64>,
}

/// A GOP at an edge of the span: decoded from its keyframe, and the frames
/// inside the span encoded anew (x264, no B-frames, starting on an IDR).
struct Edge {
    decoder: ffmpeg::decoder::Video,
    encoder: ffmpeg::encoder::Video,
}

impl Edge {
    fn open(stream: &format::stream::Stream, frame_rate: Rational) -> Result<Self, CutError> {
        let decoder = codec::context::Context::from_parameters(stream.parameters())?
            .decoder()
            .video()?;
        let x264 = encoder::find_by_name("libx264").ok_or(ffmpeg::Error::EncoderNotFound)?;
        let mut settings = codec::context::Context::new_with_codec(x264)
            .encoder()
            .video()?;
        settings.set_width(decoder.width());
        settings.set_height(decoder.height());
        settings.set_aspect_ratio(decoder.aspect_ratio());
        settings.set_format(decoder.format());
        settings.set_time_base(stream.time_base());
        if frame_rate.numerator() > 0 {
            settings.set_frame_rate(Some(frame_rate));
        }
        settings.set_max_b_frames(0);
        let mut options = Dictionary::new();
        options.set("preset", EDGE_PRESET);
        options.set("crf", EDGE_CRF);
        let encoder = settings.open_with(options)?;
        Ok(Edge { decoder, encoder })
    }

    fn drain_decoder(&mut self, writer: &mut Writer) -> Result<(), CutError> {
        let mut decoded = frame::Video::empty();
        while self.decoder.receive_frame(&mut decoded).is_ok() {
            let Some(pts) = decoded.timestamp() else {
                continue;
            };
            if !writer.keep.contains(&pts) {
                continue;
            }
            decoded.set_pts(Some(pts));
            decoded.set_kind(picture::Type::None);
            self.encoder.send_frame(&decoded)?;
            self.drain_encoder(writer)?;
        }
        Ok(())
    }

    fn drain_encoder(&mut self, writer: &mut Writer) -> Result<(), CutError> {
        let mut encoded = Packet::empty();
        while self.encoder.receive_packet(&mut encoded).is_ok() {
            writer.encoded(std::mem::replace(&mut encoded, Packet::empty()))?;
        }
        Ok(())
    }
}

/// The stream's codec extradata (for H.264 in MP4, its avcC box).
fn extradata(parameters: &codec::Parameters) -> Vec<u8> {
    // SAFETY: ffmpeg-next has no accessor for extradata. The pointer and
    // size are read from parameters that live for this call, and the bytes
    // copied out, as FFmpeg's own avcodec_parameters_copy does.
    unsafe {
        let p = parameters.as_ptr();
        let (data, size) = ((*p).extradata, (*p).extradata_size);
        if data.is_null() || size <= 0 {
            return Vec::new();
        }
        std::slice::from_raw_parts(data, size as usize).to_vec()
    }
}
