"""Plays one classroom over WHEP with aiortc, a WebRTC stack independent of
the server's, and prints what it saw as one JSON line on stdout.

The Rust integration tests (tests/common/webrtc_peer.rs) run this and judge
the result; this script only reports. A refused POST is a result, not an
error: it prints {"status": ..., "body": ...} and exits 0. It exits non-zero
only when it could not do its job (server unreachable, bad answer, a bug),
with the reason on stderr.

Installed by `make deps-test` into target/peers-venv.
"""

import argparse
import asyncio
import ipaddress
import json
import logging
import math
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from array import array

import aioice.ice
from aiortc import RTCPeerConnection, RTCRtpReceiver, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError

# RTP timestamps are 32-bit and aiortc hands them on as pts without
# unwrapping, so "later" is judged modulo 2**32.
RTP_TS_MODULO = 1 << 32
HTTP_TIMEOUT_S = 10


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True, help="full WHEP POST url")
    parser.add_argument("--bearer", help="API token for Authorization: Bearer")
    parser.add_argument("--frames", type=int, default=30,
                        help="decoded frames to wait for (audio frames with --audio-only)")
    parser.add_argument("--seconds", type=float, default=20.0,
                        help="give up waiting for frames after this long")
    parser.add_argument("--audio-only", action="store_true",
                        help="offer no video at all")
    parser.add_argument("--hold", type=float, default=0.0,
                        help="keep playing this long after reaching --frames")
    parser.add_argument("--drop", type=float, default=0.0,
                        help="lose this fraction of the RTP packets arriving, "
                             "as a network that cannot keep up would")
    parser.add_argument("--drop-after", type=float, default=0.0,
                        help="start losing packets this long after the first picture")
    return parser.parse_args()


def lose_packets(fraction, started):
    """Drops `fraction` of the arriving RTP after SRTP, once `started()`:
    the receiver's reports then tell the server what a congested link
    would (RTCP still flows, so the session stays up)."""
    import random
    from aiortc import rtcdtlstransport

    original = rtcdtlstransport.RTCDtlsTransport._handle_rtp_data

    async def lossy(self, data, arrival_time_ms):
        if started() and random.random() < fraction:
            return
        await original(self, data, arrival_time_ms)

    rtcdtlstransport.RTCDtlsTransport._handle_rtp_data = lossy


def gather_on_loopback_too(url):
    """aioice never offers loopback candidates, so against a server on
    127.0.0.1 the peer relies on some other interface routing to it, and on
    a host (or network namespace) with only `lo` it offers no candidate at
    all. When the server is on loopback, offer loopback as well."""
    host = urllib.parse.urlsplit(url).hostname or ""
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        return
    original = aioice.ice.get_host_addresses

    def with_loopback(use_ipv4, use_ipv6):
        addresses = original(use_ipv4, use_ipv6)
        if use_ipv4:
            addresses.append("127.0.0.1")
        if use_ipv6:
            addresses.append("::1")
        return addresses

    aioice.ice.get_host_addresses = with_loopback


def http(method, url, bearer, body=None, content_type=None):
    """One blocking request; returns (status, headers, text) for any HTTP
    status, so 4xx answers reach the caller instead of raising."""
    headers = {}
    if content_type:
        headers["Content-Type"] = content_type
    if bearer:
        headers["Authorization"] = f"Bearer {bearer}"
    request = urllib.request.Request(url, data=body, headers=headers, method=method)
    try:
        with urllib.request.urlopen(request, timeout=HTTP_TIMEOUT_S) as response:
            return response.status, response.headers, response.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read().decode("utf-8", "replace")


def session_url(post_url, location):
    """The contract is DELETE {base}{Location}, where base is what precedes
    /whep/ in the POST url; plain urljoin would drop a base path prefix."""
    if urllib.parse.urlsplit(location).scheme:
        return location
    if location.startswith("/"):
        path = urllib.parse.urlsplit(post_url).path
        prefix = path[: path.rfind("/whep/")] if "/whep/" in path else ""
        parts = urllib.parse.urlsplit(post_url)
        return f"{parts.scheme}://{parts.netloc}{prefix}{location}"
    return urllib.parse.urljoin(post_url, location)


class Seen:
    """What came out of the decoders, for the report."""

    def __init__(self):
        self.video_frames = 0
        self.audio_frames = 0
        self.width = None
        self.height = None
        self.first_frame_at = None
        self.video_pts = []
        self.audio_pts = []
        # Every picture size in the order they came: a viewer moved to a
        # lower rendition sees the height change.
        self.heights = []
        # Loudness and pitch of the left channel, so a test can tell a tone
        # from inserted silence; frame counts alone cannot.
        self.audio_sum_sq = 0.0
        self.audio_samples = 0
        self.audio_crossings = 0
        self.audio_rate = None
        self._last_sample = 0

    def add_video(self, frame):
        if self.first_frame_at is None:
            self.first_frame_at = time.monotonic()
        self.video_frames += 1
        self.width, self.height = frame.width, frame.height
        if not self.heights or self.heights[-1] != frame.height:
            self.heights.append(frame.height)
        self.video_pts.append(frame.pts)

    def add_audio(self, frame):
        self.audio_frames += 1
        self.audio_pts.append(frame.pts)
        self.audio_rate = frame.sample_rate
        # aiortc's Opus decoder yields packed s16; anything else is only counted.
        if frame.format.name != "s16" or not frame.planes:
            return
        channels = len(frame.layout.channels)
        samples = array("h", bytes(frame.planes[0]))[: frame.samples * channels : channels]
        for sample in samples:
            self.audio_sum_sq += sample * sample
            if (sample >= 0) != (self._last_sample >= 0):
                self.audio_crossings += 1
            self._last_sample = sample
        self.audio_samples += len(samples)


def advancing(pts_list):
    """True when there are at least two frames and every pts is later than
    the one before it (modulo the RTP wrap)."""
    stamps = [p for p in pts_list if p is not None]
    if len(stamps) < 2 or len(stamps) != len(pts_list):
        return False
    for before, after in zip(stamps, stamps[1:]):
        step = (after - before) % RTP_TS_MODULO
        if step == 0 or step >= RTP_TS_MODULO // 2:
            return False
    return True


async def drain(track, add, reached, target_count, count):
    """Feeds frames to `add` until the track ends or the task is cancelled,
    setting `reached` once `count()` gets to the target."""
    try:
        while True:
            frame = await track.recv()
            add(frame)
            if count() >= target_count:
                reached.set()
    except MediaStreamError:
        pass


async def play(args):
    pc = RTCPeerConnection()
    seen = Seen()
    if args.drop > 0:
        lose_packets(args.drop, lambda: seen.first_frame_at is not None
                     and time.monotonic() - seen.first_frame_at >= args.drop_after)
    if not args.audio_only:
        video = pc.addTransceiver("video", direction="recvonly")
        h264 = [c for c in RTCRtpReceiver.getCapabilities("video").codecs
                if c.mimeType.lower() == "video/h264"]
        # H.264 only, so a server that falls back to VP8 fails visibly here
        # instead of playing something browsers on iOS would not.
        video.setCodecPreferences(h264)
    pc.addTransceiver("audio", direction="recvonly")

    tracks = []
    pc.on("track", tracks.append)

    # aiortc gathers every candidate inside setLocalDescription: the offer
    # carries them all, which is what a server without trickle needs.
    await pc.setLocalDescription(await pc.createOffer())
    if pc.iceGatheringState != "complete":
        raise RuntimeError(f"ICE gathering ended {pc.iceGatheringState}")

    posted_at = time.monotonic()
    status, headers, body = await asyncio.to_thread(
        http, "POST", args.url, args.bearer,
        pc.localDescription.sdp.encode(), "application/sdp")
    if status != 201:
        await pc.close()
        return {"status": status, "body": body}

    location = headers.get("Location")
    if not location:
        await pc.close()
        raise RuntimeError("201 without a Location header")
    await pc.setRemoteDescription(RTCSessionDescription(sdp=body, type="answer"))

    reached = asyncio.Event()
    target_kind = "audio" if args.audio_only else "video"
    tasks = []
    for track in tracks:
        if track.kind == "video":
            tasks.append(asyncio.create_task(drain(
                track, seen.add_video, reached, args.frames, lambda: seen.video_frames)))
        elif track.kind == "audio":
            # Audio only ends the wait when it is what was asked for.
            event = reached if target_kind == "audio" else asyncio.Event()
            tasks.append(asyncio.create_task(drain(
                track, seen.add_audio, event, args.frames, lambda: seen.audio_frames)))

    failed = asyncio.Event()

    ended_by_server = False
    letting_go = False

    @pc.on("connectionstatechange")
    def on_state():
        nonlocal ended_by_server
        if pc.connectionState in ("failed", "closed") and not letting_go:
            ended_by_server = True
            failed.set()

    waiters = [asyncio.create_task(reached.wait()), asyncio.create_task(failed.wait())]
    remaining = args.seconds - (time.monotonic() - posted_at)
    done, _ = await asyncio.wait(waiters, timeout=max(remaining, 0),
                                 return_when=asyncio.FIRST_COMPLETED)
    timed_out = not done
    if reached.is_set() and args.hold > 0 and not failed.is_set():
        await asyncio.sleep(args.hold)
    connection_state = pc.connectionState
    letting_go = True
    for task in tasks + waiters:
        task.cancel()
    await asyncio.gather(*tasks, *waiters, return_exceptions=True)

    delete_status = None
    delete_error = None
    try:
        delete_status, _, _ = await asyncio.to_thread(
            http, "DELETE", session_url(args.url, location), args.bearer)
    except OSError as error:
        # The server may be gone (a test may have killed it); say so and
        # let the test decide.
        delete_error = str(error)
    await pc.close()

    rms = None
    hz = None
    if seen.audio_samples:
        rms = math.sqrt(seen.audio_sum_sq / seen.audio_samples) / 32768.0
        if seen.audio_rate:
            # Two zero crossings per period of a tone.
            hz = seen.audio_crossings / 2 / (seen.audio_samples / seen.audio_rate)

    report = {
        "status": status,
        "rendition": headers.get("Classcast-Rendition"),
        "location": location,
        "etag": headers.get("ETag"),
        "video_frames": seen.video_frames,
        "width": seen.width,
        "height": seen.height,
        "audio_frames": seen.audio_frames,
        "first_frame_ms": None if seen.first_frame_at is None
        else round((seen.first_frame_at - posted_at) * 1000),
        "pts_advancing": advancing(seen.audio_pts if args.audio_only else seen.video_pts),
        "audio_rms": None if rms is None else round(rms, 4),
        "audio_hz": None if hz is None else round(hz, 1),
        "timed_out": timed_out,
        "heights": seen.heights,
        "ended_by_server": ended_by_server,
        "connection_state": connection_state,
        "delete_status": delete_status,
    }
    if delete_error:
        report["delete_error"] = delete_error
    return report


def main():
    # aiortc and aioice log through `logging`; stdout is kept for the one line.
    logging.basicConfig(stream=sys.stderr, level=logging.WARNING)
    args = parse_args()
    gather_on_loopback_too(args.url)
    try:
        report = asyncio.run(play(args))
    except Exception as error:  # noqa: BLE001 - any failure is reported the same way
        print(f"whep_play: {type(error).__name__}: {error}", file=sys.stderr)
        sys.exit(2)
    print(json.dumps(report), flush=True)


if __name__ == "__main__":
    main()
