"""Dataset writer: `scripts/make-world-data --out DIR --count N --seed S [--split train|heldout]`.

Writes DIR/shard-NNNNN.npz (frames uint8 [n,48,128,128,3], audio int16 [n,64000], captions as
JSON strings) and DIR/shard-NNNNN.json (per clip: spec, captions, ground-truth tracks, contact
events), plus DIR/index.json. Clip i of (seed, split) is the same whatever N or shard size.
"""
import argparse
import json
import os
import sys
import time

import numpy as np

from .audio import render_audio
from .captions import captions, rng_for
from .render import render
from .scenes import combo_key, make_spec, spec_id, world_to_px
from .world_params import FPS, HEIGHT, SAMPLE_RATE, SYNC_SPEED, WIDTH


def ground_truth(spec, sim):
    """Per object per frame: centre px, bbox [x0, y0, x1, y1] px, visible; plus events."""
    s = spec["camera"]["scale"]
    tracks = []
    for i, (o, b) in enumerate(zip(spec["objects"], sim["bodies"])):
        rows = []
        for frame in sim["tracks"]:
            x, y, _ = frame[i]
            c, r = world_to_px(spec, x, y)
            hx, hy = b.hx * s, b.hy * s
            box = [c - hx, r - hy, c + hx, r + hy]
            vis = bool(0 <= c < WIDTH and 0 <= r < HEIGHT)
            rows.append(dict(c=round(c, 2), r=round(r, 2), bbox=[round(v, 2) for v in box], visible=vis))
        tracks.append(rows)
    events = []
    for e in sim["events"]:
        e = dict(e, frame=round(e["t"] * FPS, 3), loud=e["speed"] >= SYNC_SPEED)
        if e["surface"].startswith("obj:"):
            e["other_material"] = spec["objects"][int(e["surface"][4:])]["material"]
        events.append(e)
    return tracks, events


def make_clip(seed, index, split="train"):
    """Everything for one clip: dict(frames, audio (float32), captions, meta)."""
    spec, sim = make_spec(seed, index, split)
    frames = render(spec, sim, rng_seed=seed * 1000003 + index)
    audio = render_audio(spec, sim, rng_seed=seed * 1000003 + index)
    caps = captions(spec, rng_for(spec))
    tracks, events = ground_truth(spec, sim)
    meta = dict(id=spec_id(spec), combo=combo_key(spec), spec=spec, captions=caps, tracks=tracks,
                events=events, fps=FPS, sample_rate=SAMPLE_RATE)
    return dict(frames=frames, audio=audio, captions=caps, meta=meta)


def write_shard(path, clips):
    frames = np.stack([c["frames"] for c in clips])
    audio = np.stack([np.round(c["audio"] * 32767).astype(np.int16) for c in clips])
    caps = np.array([json.dumps(c["captions"]) for c in clips])
    np.savez_compressed(path + ".npz", frames=frames, audio=audio, captions=caps)
    with open(path + ".json", "w") as f:
        json.dump([c["meta"] for c in clips], f)


def load_shard(path):
    """(frames, audio float32, captions, metas) from a shard path without extension."""
    with np.load(path + ".npz") as z:
        frames, audio, caps = z["frames"], z["audio"].astype(np.float32) / 32767, z["captions"]
    with open(path + ".json") as f:
        metas = json.load(f)
    return frames, audio, [json.loads(c) for c in caps], metas


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", required=True)
    p.add_argument("--count", type=int, required=True)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--split", choices=["train", "heldout"], default="train")
    p.add_argument("--shard-size", type=int, default=64)
    p.add_argument("--start", type=int, default=0, help="first clip index (to extend a set)")
    a = p.parse_args(argv)
    os.makedirs(a.out, exist_ok=True)
    t0 = time.time()
    shards, clips = [], []
    for i in range(a.start, a.start + a.count):
        clips.append(make_clip(a.seed, i, a.split))
        if len(clips) == a.shard_size or i == a.start + a.count - 1:
            name = "shard-%05d" % (i // a.shard_size)
            write_shard(os.path.join(a.out, name), clips)
            shards.append(dict(name=name, clips=len(clips)))
            clips = []
            done = i - a.start + 1
            print("%s: %d clips, %.2f clips/s" % (name, done, done / (time.time() - t0)),
                  file=sys.stderr)
    dt = time.time() - t0
    with open(os.path.join(a.out, "index.json"), "w") as f:
        json.dump(dict(seed=a.seed, split=a.split, count=a.count, start=a.start,
                       shards=shards), f, indent=1)
    print("wrote %d clips to %s in %.1f s: %.2f clips/s" % (a.count, a.out, dt, a.count / dt))


if __name__ == "__main__":
    main()
