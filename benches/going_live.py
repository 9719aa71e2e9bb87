#!/usr/bin/env python3
"""How fast a pushed lesson goes live, and how soon after it ends its
recording is catalogued and playable, over RTMP and SRT; ROUNDS of each,
with the median, minimum and maximum. The issue's targets: live within
3 s of the encoder starting, the VOD complete within 5 s of the lesson's
end (the end itself comes one grace period, 1 s here, after the hang-up).

    python3 benches/going_live.py HTTP_URL RTMP_PORT SRT_PORT ROUNDS
(benches/going_live.sh starts the server and calls this.)
"""

import json
import statistics
import subprocess
import sys
import time
import urllib.request

base, rtmp_port, srt_port, rounds = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
PUBLISHED = 6


def api(method, path, body=None):
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(base + path, data=data, method=method,
                                     headers={'content-type': 'application/json'})
    with urllib.request.urlopen(request) as response:
        return json.loads(response.read() or b'null')


def wait(what, check, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.02)
    raise SystemExit(f'timed out waiting for {what}')


def publisher(url, fmt):
    return subprocess.Popen([
        'ffmpeg', '-hide_banner', '-loglevel', 'error', '-nostdin', '-re',
        '-f', 'lavfi', '-i', 'testsrc2=size=640x360:rate=25',
        '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000',
        '-t', str(PUBLISHED), '-c:v', 'libx264', '-preset', 'ultrafast', '-tune', 'zerolatency',
        '-g', '50', '-pix_fmt', 'yuv420p', '-c:a', 'aac', '-b:a', '96k', '-f', fmt, url])


results = {}
for protocol in ('rtmp', 'srt'):
    room = api('POST', '/api/classrooms', {'name': f'上线测试 {protocol}', 'grace_seconds': 1})
    source = api('POST', f"/api/classrooms/{room['id']}/sources", {'kind': protocol})
    key = source['stream_key']
    url = (f'rtmp://127.0.0.1:{rtmp_port}/live/{key}' if protocol == 'rtmp'
           else f'srt://127.0.0.1:{srt_port}?streamid=publish:{key}&pkt_size=1316')
    fmt = 'flv' if protocol == 'rtmp' else 'mpegts'
    live_times, vod_times = [], []
    for _ in range(rounds):
        wait('idle', lambda: api('GET', f"/api/classrooms/{room['id']}")['live']['state'] == 'idle')
        started = time.monotonic()
        encoder = publisher(url, fmt)
        status = wait('live', lambda: (lambda c: c if c['live']['state'] == 'live' else None)(
            api('GET', f"/api/classrooms/{room['id']}")))
        live_times.append(time.monotonic() - started)
        recording = status['live']['recording_id']
        encoder.wait()
        ended = time.monotonic()
        wait('complete', lambda: api('GET', f'/api/recordings/{recording}')['status'] == 'complete')
        vod_times.append(time.monotonic() - ended)
    results[protocol] = (live_times, vod_times)

print(f'{rounds} lessons of {PUBLISHED} s per protocol, 640x360 H.264 + AAC from ffmpeg, grace 1 s')
for protocol, (live, vod) in results.items():
    def fmt(v):
        return f'median {statistics.median(v):.2f} s (min {min(v):.2f}, max {max(v):.2f})'
    print(f'  {protocol}: live in the API after the encoder starts: {fmt(live)}')
    print(f'  {protocol}: recording complete after the encoder stops: {fmt(vod)}')
