//! A GStreamer RTSP server standing in for a classroom IP camera. It can
//! require credentials, be unplugged (every client dropped, the stream gone)
//! and plugged back in, and it reports how much video it actually sent, so a
//! test can compare a recording with what the camera produced.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use gstreamer as gst;
use gstreamer::glib;
use gstreamer::prelude::*;
use gstreamer_rtsp_server as rtsp;
use gstreamer_rtsp_server::prelude::*;

const MOUNT: &str = "/Streaming/Channels/101";
const FPS: u64 = 25;

/// What the camera encodes: the two combinations Chinese classroom cameras
/// commonly send, and the one browsers play directly.
#[derive(Clone, Copy, Debug)]
pub enum CameraCodecs {
    H264Alaw,
    H265Aac,
}

impl CameraCodecs {
    fn launch(self) -> String {
        let picture = format!(
            "videotestsrc is-live=true pattern=ball ! video/x-raw,width=640,height=360,framerate={FPS}/1 \
             ! timeoverlay"
        );
        let (video, audio) = match self {
            CameraCodecs::H264Alaw => (
                "x264enc tune=zerolatency speed-preset=ultrafast key-int-max=50 \
                 ! video/x-h264,profile=main ! rtph264pay name=pay0 pt=96 config-interval=-1",
                "audio/x-raw,rate=8000,channels=1 ! alawenc ! rtppcmapay name=pay1 pt=8",
            ),
            CameraCodecs::H265Aac => (
                "x265enc tune=zerolatency speed-preset=ultrafast key-int-max=50 \
                 ! rtph265pay name=pay0 pt=96 config-interval=-1",
                "audio/x-raw,rate=48000,channels=1 ! avenc_aac ! rtpmp4gpay name=pay1 pt=97",
            ),
        };
        format!(
            "( {picture} ! {video} audiotestsrc is-live=true wave=sine freq=440 ! audioconvert \
             ! audioresample ! {audio} )"
        )
    }
}

/// Presentation times of the first and last video frame the camera sent,
/// over every connection it served.
#[derive(Default, Debug, Clone, Copy)]
struct Sent {
    first: Option<gst::ClockTime>,
    last: Option<gst::ClockTime>,
    frames: u64,
    connections: u64,
}

pub struct RtspCamera {
    pub port: u16,
    codecs: CameraCodecs,
    credentials: Option<(String, String)>,
    server: rtsp::RTSPServer,
    main_loop: glib::MainLoop,
    thread: Option<std::thread::JoinHandle<()>>,
    sent: Arc<Mutex<Sent>>,
}

impl RtspCamera {
    pub fn start(codecs: CameraCodecs, credentials: Option<(&str, &str)>) -> Self {
        gst::init().expect("GStreamer initialises");
        let port = super::free_tcp_port();
        let server = rtsp::RTSPServer::new();
        server.set_address("127.0.0.1");
        server.set_service(&port.to_string());
        let credentials = credentials.map(|(u, p)| (u.to_string(), p.to_string()));
        if let Some((user, password)) = &credentials {
            let auth = rtsp::RTSPAuth::new();
            let token = rtsp::RTSPToken::builder()
                .field(rtsp::RTSP_TOKEN_MEDIA_FACTORY_ROLE, "operator")
                .build();
            auth.add_basic(&rtsp::RTSPAuth::make_basic(user, password), &token);
            server.set_auth(Some(&auth));
        }
        let context = glib::MainContext::new();
        let main_loop = glib::MainLoop::new(Some(&context), false);
        server
            .attach(Some(&context))
            .expect("the RTSP server binds its port");
        let thread = {
            let main_loop = main_loop.clone();
            std::thread::spawn(move || {
                context
                    .with_thread_default(|| main_loop.run())
                    .expect("context is free")
            })
        };
        let camera = Self {
            port,
            codecs,
            credentials,
            server,
            main_loop,
            thread: Some(thread),
            sent: Arc::default(),
        };
        camera.plug_in();
        camera
    }

    /// The URL a school admin would type, without credentials.
    pub fn url(&self) -> String {
        format!("rtsp://127.0.0.1:{}{MOUNT}", self.port)
    }

    /// Serves the stream (again).
    pub fn plug_in(&self) {
        let factory = rtsp::RTSPMediaFactory::new();
        factory.set_launch(&self.codecs.launch());
        if self.credentials.is_some() {
            factory.add_role_from_structure(
                &gst::Structure::builder("operator")
                    .field(rtsp::RTSP_PERM_MEDIA_FACTORY_ACCESS, true)
                    .field(rtsp::RTSP_PERM_MEDIA_FACTORY_CONSTRUCT, true)
                    .build(),
            );
        }
        let sent = self.sent.clone();
        factory.connect_media_configure(move |_, media| {
            sent.lock().unwrap().connections += 1;
            let element = media.element();
            let bin = element
                .downcast_ref::<gst::Bin>()
                .expect("launch lines in parentheses make a bin");
            let pay = bin.by_name("pay0").expect("the launch line names pay0");
            let sink = pay.static_pad("sink").expect("payloaders have a sink");
            let sent = Arc::clone(&sent);
            sink.add_probe(gst::PadProbeType::BUFFER, move |_, info| {
                if let Some(pts) = info.buffer().and_then(|b| b.pts()) {
                    let mut sent = sent.lock().unwrap();
                    sent.first.get_or_insert(pts);
                    sent.last = Some(pts);
                    sent.frames += 1;
                }
                gst::PadProbeReturn::Ok
            });
        });
        self.server
            .mount_points()
            .expect("servers have mount points")
            .add_factory(MOUNT, factory);
    }

    /// Pulls the cable: the stream disappears and every client is dropped.
    pub fn unplug(&self) {
        self.server
            .mount_points()
            .expect("servers have mount points")
            .remove_factory(MOUNT);
        self.server
            .client_filter(Some(&mut |_, _| rtsp::RTSPFilterResult::Remove));
    }

    /// Frames sent so far, over every connection.
    pub fn frames_sent(&self) -> u64 {
        self.sent.lock().unwrap().frames
    }

    /// How many times a client was given the stream.
    pub fn connections(&self) -> u64 {
        self.sent.lock().unwrap().connections
    }

    /// Video duration the camera sent on one continuous connection: from
    /// its first frame's timestamp to the end of its last frame.
    pub fn seconds_sent(&self) -> f64 {
        let sent = *self.sent.lock().unwrap();
        assert_eq!(sent.connections, 1, "one connection has one timeline");
        match (sent.first, sent.last) {
            (Some(first), Some(last)) => {
                (last - first).seconds_f64() + Duration::from_millis(1000 / FPS).as_secs_f64()
            }
            _ => 0.0,
        }
    }
}

impl Drop for RtspCamera {
    fn drop(&mut self) {
        self.unplug();
        self.main_loop.quit();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
