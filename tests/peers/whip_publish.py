"""Publishes a synthetic classroom over WHIP (RFC 9725) with aiortc, a WebRTC
stack independent of the server's, and prints what it did as one JSON line
on stdout.

Video is H.264 (constrained baseline, packetization-mode=1) of a moving
pattern with the frame number drawn on it, so no two frames are alike; audio
is Opus of a 440 Hz sine at 48 kHz, so a test can look for the tone after
the server transcodes it. It publishes for --seconds after the connection
comes up, then ends the session with DELETE.

The Rust integration tests (tests/common/webrtc_peer.rs) run this and judge
the result; this script only reports. A refused POST is a result, not an
error: it prints {"status": ..., "body": ...} and exits 0. It exits non-zero
only when it could not do its job (server unreachable, bad answer, a bug),
with the reason on stderr.

Installed by `make deps-test` into target/peers-venv.
"""

import argparse
import asyncio
import fractions
import ipaddress
import json
import logging
import math
import re
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from array import array

import aioice.ice
import av
from aiortc import RTCPeerConnection, RTCRtpSender, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

HTTP_TIMEOUT_S = 10
# From the answer to the connection being up; past it the publish is given
# up and the report says which state it got stuck in.
CONNECT_TIMEOUT_S = 10

VIDEO_CLOCK_RATE = 90000
VIDEO_TIME_BASE = fractions.Fraction(1, VIDEO_CLOCK_RATE)
AUDIO_RATE = 48000
AUDIO_TIME_BASE = fractions.Fraction(1, AUDIO_RATE)
AUDIO_PTIME_S = 0.020
AUDIO_SAMPLES = int(AUDIO_RATE * AUDIO_PTIME_S)
TONE_HZ = 440.0
# Half of full scale: loud enough to find, far from clipping after a
# resample and a lossy transcode.
TONE_AMPLITUDE = 16384

# 3x5 digits, drawn scaled up for the frame counter.
FONT = {
    "0": ("111", "101", "101", "101", "111"),
    "1": ("010", "110", "010", "010", "111"),
    "2": ("111", "001", "111", "100", "111"),
    "3": ("111", "001", "111", "001", "111"),
    "4": ("101", "101", "111", "001", "001"),
    "5": ("111", "100", "111", "001", "111"),
    "6": ("111", "100", "111", "101", "111"),
    "7": ("111", "001", "010", "010", "010"),
    "8": ("111", "101", "111", "101", "111"),
    "9": ("111", "101", "111", "001", "111"),
}
COUNTER_DIGITS = 6
FONT_SCALE = 6
BOX = 48


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True,
                        help="full WHIP POST url ({base}/whip or {base}/whip/{key})")
    parser.add_argument("--bearer", help="stream key for Authorization: Bearer")
    parser.add_argument("--seconds", type=float, default=5.0,
                        help="publish this long once connected, then DELETE")
    parser.add_argument("--width", type=int, default=640)
    parser.add_argument("--height", type=int, default=360)
    parser.add_argument("--fps", type=float, default=30.0)
    parser.add_argument("--no-audio", action="store_true", help="offer no audio at all")
    args = parser.parse_args()
    # 4:2:0 needs even sizes, and the counter needs room to be drawn.
    min_width = (COUNTER_DIGITS * 4 + 1) * FONT_SCALE
    if args.width % 2 or args.height % 2 or args.width < min_width or args.height < 64:
        parser.error(f"--width/--height must be even, width >= {min_width}, height >= 64")
    if args.fps <= 0:
        parser.error("--fps must be positive")
    return args


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
    /whip (or /whip/{key}) in the POST url; plain urljoin would drop a base
    path prefix."""
    if urllib.parse.urlsplit(location).scheme:
        return location
    if location.startswith("/"):
        parts = urllib.parse.urlsplit(post_url)
        match = re.match(r"^(.*)/whip(/[^/]*)?/?$", parts.path)
        prefix = match.group(1) if match else ""
        return f"{parts.scheme}://{parts.netloc}{prefix}{location}"
    return urllib.parse.urljoin(post_url, location)


class PatternTrack(MediaStreamTrack):
    """Video that changes every frame: a sliding ramp, a bouncing white box
    and the frame number in the top-left corner, paced in real time."""

    kind = "video"

    def __init__(self, width, height, fps):
        super().__init__()
        self.width, self.height, self.fps = width, height, fps
        self.frames = 0
        self._start = None
        # One period of a 256-step ramp past the width, sliced per frame.
        self._ramp = bytes(x & 0xFF for x in range(width + 256))

    async def recv(self):
        if self.readyState != "live":
            raise MediaStreamError
        n = self.frames
        if self._start is None:
            self._start = time.monotonic()
        else:
            wait = self._start + n / self.fps - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
        frame = self._draw(n)
        frame.pts = round(n * VIDEO_CLOCK_RATE / self.fps)
        frame.time_base = VIDEO_TIME_BASE
        self.frames += 1
        return frame

    def _draw(self, n):
        frame = av.VideoFrame(self.width, self.height, "yuv420p")
        luma, cb, cr = frame.planes
        stride = luma.line_size
        offset = (n * 4) % 256
        row = self._ramp[offset:offset + self.width] + bytes(stride - self.width)
        y = bytearray(row * luma.height)

        def fill(x0, y0, w, h, value):
            run = bytes([value]) * w
            for r in range(y0, y0 + h):
                start = r * stride + x0
                y[start:start + w] = run

        # The box bounces corner to corner, a triangle wave on each axis.
        span_x, span_y = self.width - BOX, self.height - BOX
        bx = abs((n * 6) % (2 * span_x) - span_x)
        by = abs((n * 4) % (2 * span_y) - span_y)
        fill(bx, by, BOX, BOX, 235)

        # The counter on black, drawn last so the box never hides it.
        s = FONT_SCALE
        fill(0, 0, (COUNTER_DIGITS * 4 + 1) * s, 7 * s, 16)
        for i, digit in enumerate(f"{n % 10 ** COUNTER_DIGITS:0{COUNTER_DIGITS}d}"):
            for gy, line in enumerate(FONT[digit]):
                for gx, lit in enumerate(line):
                    if lit == "1":
                        fill((1 + i * 4 + gx) * s, (1 + gy) * s, s, s, 235)

        luma.update(bytes(y))
        # Colour drifts slowly so chroma is not constant either.
        u = 128 + round(48 * math.sin(n / 15))
        cb.update(bytes([u]) * cb.buffer_size)
        cr.update(bytes([128]) * cr.buffer_size)
        return frame


class ToneTrack(MediaStreamTrack):
    """A 440 Hz sine at half of full scale (RMS 0.354), the same on both
    channels of s16 stereo at 48 kHz, in 20 ms frames paced in real time:
    what aiortc's Opus encoder takes without resampling (a mono source
    would come out 3 dB lower on each channel)."""

    kind = "audio"

    def __init__(self):
        super().__init__()
        self.frames = 0
        self._start = None

    async def recv(self):
        if self.readyState != "live":
            raise MediaStreamError
        n = self.frames
        if self._start is None:
            self._start = time.monotonic()
        else:
            wait = self._start + n * AUDIO_PTIME_S - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
        first = n * AUDIO_SAMPLES
        step = 2 * math.pi * TONE_HZ / AUDIO_RATE
        mono = [round(TONE_AMPLITUDE * math.sin(step * (first + i)))
                for i in range(AUDIO_SAMPLES)]
        # Packed stereo, the same sample on both channels.
        samples = array("h", (sample for sample in mono for _ in range(2)))
        frame = av.AudioFrame(format="s16", layout="stereo", samples=AUDIO_SAMPLES)
        data = samples.tobytes()
        plane = frame.planes[0]
        plane.update(data + bytes(plane.buffer_size - len(data)))
        frame.sample_rate = AUDIO_RATE
        frame.pts = first
        frame.time_base = AUDIO_TIME_BASE
        self.frames += 1
        return frame


def h264_constrained_baseline():
    """aiortc's H.264 codecs with packetization-mode=1, constrained baseline
    (42e0..) first; plain baseline (4200..) is what aiortc's encoder emits
    anyway, with no FMO or ASO, so it stays as the second choice."""
    codecs = [c for c in RTCRtpSender.getCapabilities("video").codecs
              if c.mimeType.lower() == "video/h264"
              and c.parameters.get("packetization-mode") == "1"]
    if not codecs:
        raise RuntimeError("aiortc offers no H.264 with packetization-mode=1")
    return sorted(codecs, key=lambda c: not c.parameters.get(
        "profile-level-id", "").lower().startswith("42e0"))


async def publish(args):
    pc = RTCPeerConnection()
    video = PatternTrack(args.width, args.height, args.fps)
    audio = None if args.no_audio else ToneTrack()

    # H.264 only, so a server that would take VP8 cannot; the answer has to
    # pick H.264 or refuse.
    video_transceiver = pc.addTransceiver(video, direction="sendonly")
    video_transceiver.setCodecPreferences(h264_constrained_baseline())
    if audio is not None:
        audio_transceiver = pc.addTransceiver(audio, direction="sendonly")
        audio_transceiver.setCodecPreferences(
            [c for c in RTCRtpSender.getCapabilities("audio").codecs
             if c.mimeType.lower() == "audio/opus"])

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

    connected = asyncio.Event()
    ended = asyncio.Event()

    @pc.on("connectionstatechange")
    def on_state():
        if pc.connectionState == "connected":
            connected.set()
        elif pc.connectionState in ("failed", "closed"):
            ended.set()

    await pc.setRemoteDescription(RTCSessionDescription(sdp=body, type="answer"))

    connect_ms = None
    waiters = [asyncio.create_task(connected.wait()), asyncio.create_task(ended.wait())]
    await asyncio.wait(waiters, timeout=CONNECT_TIMEOUT_S, return_when=asyncio.FIRST_COMPLETED)
    for task in waiters:
        task.cancel()
    if connected.is_set() and not ended.is_set():
        connect_ms = round((time.monotonic() - posted_at) * 1000)
        # Publish until the time is up or the server drops us (a test may
        # end the publish from the server side).
        try:
            await asyncio.wait_for(ended.wait(), timeout=args.seconds)
        except asyncio.TimeoutError:
            pass
    connection_state = pc.connectionState
    # Stop feeding the encoders before the DELETE, so the counts are what
    # was offered to the server while the session existed.
    video.stop()
    if audio is not None:
        audio.stop()

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

    report = {
        "status": status,
        "location": location,
        "etag": headers.get("ETag"),
        "connection_state": connection_state,
        "connect_ms": connect_ms,
        "video_frames_sent": video.frames,
        "audio_frames_sent": 0 if audio is None else audio.frames,
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
        report = asyncio.run(publish(args))
    except Exception as error:  # noqa: BLE001 - any failure is reported the same way
        print(f"whip_publish: {type(error).__name__}: {error}", file=sys.stderr)
        sys.exit(2)
    print(json.dumps(report), flush=True)


if __name__ == "__main__":
    main()
