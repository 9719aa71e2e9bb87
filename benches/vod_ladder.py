#!/usr/bin/env python3
"""Helpers of benches/vod_ladder.sh (standard library only).

  job URL PID INPUT_KEY OUTPUT_KEY   queue a vod_ladder job on the server at
                                     URL (pid PID), wait for it; print one
                                     JSON line: wall, CPU, steps, memory
  master DIR DURATION                the finishing work classcast's job does
                                     after its pipeline, for ffmpeg's output:
                                     peak bandwidth per rendition from its
                                     segments, master playlist, WebVTT track
  gain LOG                           the gain classcast's loudness::gain_db
                                     gives for an ffmpeg ebur128 summary
  summary TSV SECONDS                the tables
"""
import json
import os
import re
import statistics
import sys
import time
import urllib.request

TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    # Fields after the command name: state is 1, utime 12, stime 13. The
    # process's figures include its threads that have already ended.
    with open(f"/proc/{pid}/stat") as f:
        rest = f.read().rsplit(")", 1)[1].split()
    return (int(rest[11]) + int(rest[12])) / TICK


def peak_rss_mib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return 0.0


def call(url, body=None):
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, headers={"content-type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as answer:
        return json.load(answer)


def job(url, pid, input_key, output_key):
    pid = int(pid)
    cpu0 = cpu_seconds(pid)
    t0 = time.monotonic()
    made = call(f"{url}/api/jobs", {"kind": "vod_ladder", "payload": {"input": input_key, "output_dir": output_key}})
    steps = {}
    while True:
        state = call(f"{url}/api/jobs/{made['id']}")
        now = time.monotonic()
        step = state.get("step")
        if step and step not in steps:
            steps[step] = now - t0
        if state["state"] in ("succeeded", "failed"):
            break
        time.sleep(0.25)
    cpu1 = cpu_seconds(pid)
    if state["state"] != "succeeded":
        sys.exit(f"job {state['state']}: {state.get('error')}")
    print(json.dumps({
        "wall": now - t0,
        "cpu": cpu1 - cpu0,
        "rss_mib": peak_rss_mib(pid),
        "steps": steps,
        "attempts": state["attempts"],
        "created_at": state["created_at"],
        "started_at": state["started_at"],
        "finished_at": state["finished_at"],
    }))


def playlist_segments(text):
    out, duration = [], None
    for line in map(str.strip, text.splitlines()):
        if line.startswith("#EXTINF:"):
            duration = float(line[8:].split(",")[0])
        elif line and not line.startswith("#"):
            out.append((duration or 0.0, line))
            duration = None
    return out


def peak_bps(sizes):
    # As vod_ladder::peak_bps: short last segments are not counted.
    longest = max((s for s, _ in sizes), default=0.0)
    return max((int(b * 8 / s) for s, b in sizes if s > 0 and s >= longest / 2), default=0)


def master(out_dir, duration):
    lines = ["#EXTM3U", "#EXT-X-VERSION:3", "#EXT-X-INDEPENDENT-SEGMENTS"]
    renditions = sorted((d for d in os.listdir(out_dir) if d.isdigit()), key=int, reverse=True) + ["audio"]
    for name in renditions:
        playlist = open(os.path.join(out_dir, name, "index.m3u8")).read()
        sizes = [(s, os.path.getsize(os.path.join(out_dir, name, f))) for s, f in playlist_segments(playlist)]
        info = f"#EXT-X-STREAM-INF:BANDWIDTH={max(peak_bps(sizes), 1)}"
        if name == "audio":
            info += ',CODECS="mp4a.40.2"'
        else:
            height = int(name)
            width = (1920 * height // 1080 + 1) & ~1
            info += f',CODECS="avc1.4d401f,mp4a.40.2",RESOLUTION={width}x{height}'
        lines += [info, f"{name}/index.m3u8"]
    open(os.path.join(out_dir, "master.m3u8"), "w").write("\n".join(lines) + "\n")
    # The sprite's track: 10 tiles of 160x90 a row, one every 5 s.
    cues = ["WEBVTT"]
    duration = float(duration)
    for i in range(int(-(-duration // 5))):
        stamp = lambda s: time.strftime("%H:%M:%S", time.gmtime(s)) + ".000"
        cues.append(f"\n{stamp(i * 5)} --> {stamp(min((i + 1) * 5, duration))}\n"
                    f"sprite.jpg#xywh={i % 10 * 160},{i // 10 * 90},160,90")
    open(os.path.join(out_dir, "preview", "thumbnails.vtt"), "w").write("\n".join(cues) + "\n")


def gain(log):
    text = open(log).read()
    summary = text[text.rfind("Summary:"):]
    loudness = float(re.search(r"I:\s+(-?[\d.]+) LUFS", summary).group(1))
    peak = float(re.search(r"Peak:\s+(-?[\d.inf]+) dBFS", summary).group(1))
    if loudness <= -70.0:  # below R128's absolute gate: silence
        print("0.00")
        return
    print(f"{max(-20.0, min(20.0, min(-23.0 - loudness, -1.0 - peak))):.2f}")


def summary(tsv, seconds):
    seconds = float(seconds)
    rows = [line.rstrip("\n").split("\t") for line in open(tsv) if line.strip()]
    by = {}
    for side, rnd, wall, cpu, rss, pre, main in rows:
        by.setdefault(side, []).append(dict(round=int(rnd), wall=float(wall), cpu=float(cpu),
                                            rss=float(rss), pre=float(pre), main=float(main)))

    def mm(values, fmt):
        return f"{fmt.format(min(values))} / {fmt.format(statistics.median(values))}"

    print(f"\n{len(by.get('classcast', []))} rounds each; min / median\n")
    print("| | wall | real-time factor | CPU | peak RSS | before the transcode | transcode to done |")
    print("|---|---|---|---|---|---|---|")
    for side in ("classcast", "ffmpeg"):
        runs = by.get(side, [])
        if not runs:
            continue
        walls = [r["wall"] for r in runs]
        rtf_best, rtf_med = seconds / min(walls), seconds / statistics.median(walls)
        print(f"| {side} | {mm(walls, '{:.1f} s')} | {rtf_best:.2f}× / {rtf_med:.2f}× "
              f"| {mm([r['cpu'] for r in runs], '{:.0f} s')} | {mm([r['rss'] for r in runs], '{:.0f} MiB')} "
              f"| {mm([r['pre'] for r in runs], '{:.1f} s')} | {mm([r['main'] for r in runs], '{:.1f} s')} |")
    cc, ff = by.get("classcast", []), by.get("ffmpeg", [])
    if cc and ff:
        med = lambda rs, k: statistics.median(r[k] for r in rs)
        pairs = [f"{f['wall'] / c['wall']:.2f}" for c, f in zip(cc, ff)]
        print(f"\nspeed ratio (ffmpeg wall / classcast wall), medians: {med(ff, 'wall') / med(cc, 'wall'):.2f}× ffmpeg"
              f"; round by round: {', '.join(pairs)}")
        print(f"CPU ratio (classcast / ffmpeg), medians: {med(cc, 'cpu') / med(ff, 'cpu'):.2f}")
        print(f"transcode to done only (no queue, probe or loudness pass): "
              f"{med(ff, 'main') / med(cc, 'main'):.2f}× ffmpeg")


if __name__ == "__main__":
    commands = {"job": job, "master": master, "gain": gain, "summary": summary}
    if len(sys.argv) < 2 or sys.argv[1] not in commands:
        sys.exit(__doc__)
    commands[sys.argv[1]](*sys.argv[2:])
