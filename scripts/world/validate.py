"""Validation of the evaluator itself: it must pass ground truth and fail corrupted clips.

Ground truth = held-out clips from the generator (in memory or from --npz shards), scored
straight and after an MP4 round trip (x264 + AAC through gst-launch-1.0) on a subset.
Corruptions: frames shuffled, noise video with noise audio, audio delayed by 3 frames, video
played backwards, and prompts naming the wrong colours.
"""
import os
import sys
import tempfile
import time

import numpy as np

from .evaluate import analyse_clip, score, summarise
from .world_params import COLOUR_NAMES, FPS, SAMPLE_RATE

CORRUPTIONS = ["shuffled_frames", "noise_video", "audio_shift_3f", "reversed_video",
               "wrong_colour_prompt"]


def corrupt(kind, frames, audio, spec, rng):
    if kind == "shuffled_frames":
        return frames[rng.permutation(len(frames))], audio, spec
    if kind == "noise_video":
        return (rng.integers(0, 256, frames.shape, dtype=np.uint8),
                rng.normal(0, 0.1, audio.shape).astype(np.float32), spec)
    if kind == "audio_shift_3f":
        shift = 3 * SAMPLE_RATE // FPS
        return frames, np.concatenate([np.zeros(shift, np.float32), audio[:-shift]]), spec
    if kind == "reversed_video":
        return frames[::-1].copy(), audio[::-1].copy(), spec
    if kind == "wrong_colour_prompt":
        off = int(rng.integers(1, len(COLOUR_NAMES)))
        objs = [dict(o, colour=COLOUR_NAMES[(COLOUR_NAMES.index(o["colour"]) + off)
                                            % len(COLOUR_NAMES)]) for o in spec["objects"]]
        return frames, audio, dict(spec, objects=objs)
    raise ValueError(kind)


def ground_truth(count, seed, npz):
    if npz:
        from .evaluate import load_npz_dir
        for i, clip in enumerate(load_npz_dir(npz)):
            if i >= count:
                return
            yield clip
        return
    from .dataset import make_clip
    for i in range(count):
        c = make_clip(seed, i, "heldout")
        yield c["frames"], c["audio"], c["meta"]["spec"]


def validate(count, seed, mp4_subset, npz=None, verbose=False):
    from .mp4io import read_mp4, write_mp4
    rng = np.random.default_rng([seed, 99])
    res = {k: [] for k in ["ground_truth", "ground_truth_mp4"] + CORRUPTIONS}
    t0 = time.time()
    with tempfile.TemporaryDirectory() as tmp:
        for i, (frames, audio, spec) in enumerate(ground_truth(count, seed, npz)):
            a = analyse_clip(frames, audio)
            r = score(a, spec)
            res["ground_truth"].append(r)
            if verbose and not all(v is not False for v in r.values()):
                print("gt", i, spec["action"], spec["style"], {k: v for k, v in r.items() if v is False},
                      a["kinds"], a["materials"], a["action"], a["sync"], file=sys.stderr)
            if i < mp4_subset:
                path = os.path.join(tmp, "clip.mp4")
                write_mp4(path, frames, audio)
                f2, a2 = read_mp4(path, frames=len(frames), samples=len(audio))
                res["ground_truth_mp4"].append(score(analyse_clip(f2, a2), spec))
            for kind in CORRUPTIONS:
                f2, a2, s2 = corrupt(kind, frames, audio, spec, rng)
                ana = a if kind == "wrong_colour_prompt" else analyse_clip(f2, a2)
                res[kind].append(score(ana, s2))
            if (i + 1) % 25 == 0:
                print("validate: %d clips, %.0f s" % (i + 1, time.time() - t0), file=sys.stderr)
    return [(k, summarise(v)) for k, v in res.items() if v]
