"""`scripts/eval-default`: physics, prompt adherence and audio sync of clips.

  --mp4-dir DIR --prompts JSON   generated MP4s; JSON: [{"file", "prompt", "spec"}, ...]
  --npz DIR                      dataset shards (make-world-data output) as clips
  --validate                     held-out ground truth and corrupted versions of it

`spec` needs objects (colour, kind, material), action and style, as in a scene spec.
"""
import argparse
import json
import os
import sys
import time

import numpy as np

from . import classify
from .analysis import analyse
from .metrics import contacts, gravity_estimate, onsets, physics, states, sync, touch_contacts
from .world_params import FPS

ADHERENCE = ["colour", "kind", "count", "material", "action", "style"]
BARS = dict(physics=0.8, sync=0.8, **{k: 0.8 for k in ADHERENCE})


def analyse_clip(frames, audio):
    """Everything the scores need, from pixels and samples only."""
    an = analyse(frames)
    scene, trs = an["scene"], an["tracks"]
    for tr in trs.values():
        tr["states"] = states(tr, scene)
    g = gravity_estimate(trs, scene)
    for tr in trs.values():
        tr["contacts"] = contacts(tr, scene, g)
    for name, extra in touch_contacts(trs).items():  # add touches not already seen as kinks
        cs = trs[name]["contacts"]
        cs.extend(c for c in extra if not any(abs(c[0] - k) <= 1.5 for k, _ in cs))
        cs.sort()
    ons = onsets(audio)
    onset_frames = [t * FPS for t, _ in ons]
    kinds = {n: classify.kind(tr) for n, tr in trs.items()}
    mats = {n: classify.material(n, tr, trs, scene, audio, onset_frames) for n, tr in trs.items()}
    mats = classify.fill_from_collision(mats, trs, audio, onset_frames)
    visual = sorted(k for tr in trs.values() for k, _ in tr["contacts"])
    visual = [k for i, k in enumerate(visual) if i == 0 or k - visual[i - 1] > 0.5]  # one event
    return dict(style=an["style"], colours=sorted(trs), kinds=kinds, materials=mats,
                count=classify.count(trs), action=classify.action(trs, scene, kinds),
                physics=physics(trs, scene, g), sync=sync(visual, ons), gravity=g)


def score(a, target):
    """Compare an analysis with the prompt's target attributes: dict of booleans + details."""
    objs = target["objects"]
    want_mats = sorted(o["material"] for o in objs)
    got_mats = sorted(str(m) for m in a["materials"].values())
    res = dict(
        colour=a["colours"] == sorted(o["colour"] for o in objs),
        kind=sorted(str(k) for k in a["kinds"].values()) == sorted(o["kind"] for o in objs),
        count=a["count"] == len(objs),
        material=got_mats == want_mats,
        action=a["action"] == target["action"],
        style=a["style"] == target["style"],
        physics=a["physics"]["pass"],
        sync=None if a["sync"] is None else a["sync"]["pass_"],
    )
    return res


def summarise(results):
    """Rates over clips (sync over the clips that have contacts or onsets)."""
    out = {}
    for k in ["physics"] + ADHERENCE + ["sync"]:
        vals = [r[k] for r in results if r[k] is not None]
        out[k] = round(float(np.mean(vals)), 3) if vals else None
    out["clips"] = len(results)
    out["sync_clips"] = sum(r["sync"] is not None for r in results)
    return out


def meets_bars(summary):
    return all(summary[k] is not None and summary[k] >= bar for k, bar in BARS.items())


def load_npz_dir(d):
    from .dataset import load_shard
    for name in sorted(f[:-4] for f in os.listdir(d) if f.endswith(".npz")):
        frames, audio, _, metas = load_shard(os.path.join(d, name))
        for i, m in enumerate(metas):
            yield frames[i], audio[i], m["spec"]


def load_mp4s(d, prompts):
    from .mp4io import read_mp4
    with open(prompts) as f:
        items = json.load(f)
    for it in items:
        frames, audio = read_mp4(os.path.join(d, it["file"]), frames=48)
        yield frames, audio, it["spec"]


def run(clips, label, verbose=False):
    results, t0 = [], time.time()
    for frames, audio, spec in clips:
        a = analyse_clip(frames, audio)
        r = score(a, spec)
        results.append(r)
        if verbose:
            print(label, spec.get("action"), {k: v for k, v in r.items() if v is False},
                  file=sys.stderr)
    s = summarise(results)
    s["seconds"] = round(time.time() - t0, 1)
    return s, results


def print_table(rows):
    keys = ["physics"] + ADHERENCE + ["sync"]
    print("%-26s %5s " % ("clips", "n") + " ".join("%8s" % k for k in keys))
    for name, s in rows:
        print("%-26s %5d " % (name, s["clips"]) + " ".join(
            "%8s" % ("-" if s[k] is None else "%.3f" % s[k]) for k in keys))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--mp4-dir")
    p.add_argument("--prompts")
    p.add_argument("--npz")
    p.add_argument("--validate", action="store_true")
    p.add_argument("--count", type=int, default=200)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--mp4-subset", type=int, default=24)
    p.add_argument("--json", help="write the summary here")
    p.add_argument("-v", "--verbose", action="store_true")
    a = p.parse_args(argv)
    if a.validate:
        from .validate import validate
        rows = validate(a.count, a.seed, a.mp4_subset, a.npz, verbose=a.verbose)
    elif a.npz:
        rows = [("npz", run(load_npz_dir(a.npz), "npz", a.verbose)[0])]
    elif a.mp4_dir and a.prompts:
        rows = [("mp4", run(load_mp4s(a.mp4_dir, a.prompts), "mp4", a.verbose)[0])]
    else:
        p.error("give --mp4-dir and --prompts, --npz, or --validate")
    print_table(rows)
    for name, s in rows:
        print("%s: %s bars (physics, every adherence rate and sync >= 0.8)" %
              (name, "MEETS" if meets_bars(s) else "misses"))
    if a.json:
        with open(a.json, "w") as f:
            json.dump(dict(rows), f, indent=1)


if __name__ == "__main__":
    main()
