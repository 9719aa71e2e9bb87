#!/usr/bin/env python3
"""Time to first frame for a new WHEP viewer of a live lesson, for the
camera's H.264 passed through (`source`) and for a transcoded rendition
(`360p`): ROUNDS viewers of each, alternating, with p50 and p95.

The camera is ffmpeg over RTMP: testsrc2 1280x720 at 25 fps, x264
constrained baseline (so `source` is playable over WebRTC), a GOP of
exactly 2 s. Each viewer is the aiortc peer (tests/peers/whep_play.py, a
WebRTC stack independent of the server's) asking for one decoded frame;
its `first_frame_ms` runs from the POST to the first decoded picture, so
it holds the HTTP answer, ICE, DTLS and the wait for a keyframe. A viewer
of `source` waits for the camera's next keyframe (up to a GOP); one of
`360p` has its keyframe asked of the encoder.

    python3 benches/whep_first_frame.py HTTP_URL RTMP_PORT ROUNDS
(benches/whep_first_frame.sh starts the server and calls this.)
"""

import json
import random
import subprocess
import sys
import time
import urllib.request

base, rtmp_port, rounds = sys.argv[1], sys.argv[2], int(sys.argv[3])
FPS, GOP_SECONDS = 25, 2
PEER = ['target/peers-venv/bin/python', 'tests/peers/whep_play.py']
EXPECTED_HEIGHT = {'source': 720, '360p': 360}


def api(method, path, body=None):
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(base + path, data=data, method=method,
                                     headers={'content-type': 'application/json'})
    with urllib.request.urlopen(request) as response:
        return json.loads(response.read() or b'null')


def wait(what, check, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            value = check()
        except OSError:
            value = None
        if value:
            return value
        time.sleep(0.1)
    raise SystemExit(f'timed out waiting for {what}')


def camera(url):
    gop = str(FPS * GOP_SECONDS)
    return subprocess.Popen([
        'ffmpeg', '-hide_banner', '-loglevel', 'error', '-nostdin', '-re',
        '-f', 'lavfi', '-i', f'testsrc2=size=1280x720:rate={FPS}',
        '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000',
        '-c:v', 'libx264', '-preset', 'ultrafast', '-tune', 'zerolatency', '-profile:v', 'baseline',
        '-g', gop, '-keyint_min', gop, '-sc_threshold', '0', '-pix_fmt', 'yuv420p',
        '-c:a', 'aac', '-b:a', '96k', '-f', 'flv', url])


def quantile(values, q):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


room = api('POST', '/api/classrooms', {'name': '首帧测试 first frame'})
key = api('POST', f"/api/classrooms/{room['id']}/sources", {'kind': 'rtmp'})['stream_key']
encoder = camera(f'rtmp://127.0.0.1:{rtmp_port}/live/{key}')
try:
    wait('live', lambda: api('GET', f"/api/classrooms/{room['id']}")['live']['state'] == 'live')
    wait('the 360p rendition', lambda: b'360' in urllib.request.urlopen(
        f"{base}/live/{room['id']}/index.m3u8").read())
    time.sleep(3)  # past the ladder's first GOPs
    times = {'source': [], '360p': []}
    for _ in range(rounds):
        for rendition in times:
            # Viewers arrive at any moment of the camera's GOP, and a
            # rendition's encoder is asked at most once a second.
            time.sleep(1 + random.uniform(0, GOP_SECONDS))
            out = subprocess.run(PEER + ['--url', f"{base}/whep/{room['id']}?rendition={rendition}",
                                         '--frames', '1', '--seconds', '10'],
                                 capture_output=True, text=True, check=False)
            if out.returncode != 0:
                raise SystemExit(f'whep_play failed: {out.stderr.strip()}')
            report = json.loads(out.stdout)
            if report['status'] != 201 or report['rendition'] != rendition:
                raise SystemExit(f'{rendition}: {report}')
            if report['first_frame_ms'] is None or report['height'] != EXPECTED_HEIGHT[rendition]:
                raise SystemExit(f'{rendition}: no {EXPECTED_HEIGHT[rendition]}p frame: {report}')
            times[rendition].append(report['first_frame_ms'])
finally:
    encoder.terminate()
    encoder.wait()

print(f'{rounds} new viewers per rendition (aiortc, one at a time), camera 1280x720@{FPS} '
      f'x264 baseline, GOP {GOP_SECONDS} s; first decoded frame after the POST')
for rendition, values in times.items():
    kind = 'passthrough' if rendition == 'source' else 'transcoded'
    print(f'  {rendition:6} ({kind}): p50 {quantile(values, 0.5)} ms  p95 {quantile(values, 0.95)} ms  '
          f'(min {min(values)}, max {max(values)}; {", ".join(map(str, values))})')
