"""Tests of the simulated world and its evaluator: `python3 -m unittest discover scripts/world`.

Kept small (a few clips) so the whole suite runs in well under a minute on 2 cores.
"""
import os
import sys
import tempfile
import unittest

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from world import captions as cap  # noqa: E402
from world.dataset import load_shard, main as make_data, make_clip  # noqa: E402
from world.evaluate import analyse_clip, score  # noqa: E402
from world.metrics import onsets  # noqa: E402
from world.physics import Body, World  # noqa: E402
from world.scenes import combo_key, is_heldout_combo, make_spec, spec_id  # noqa: E402
from world.validate import corrupt  # noqa: E402
from world.world_params import FPS, MATERIALS, SUBSTEPS_PER_SECOND  # noqa: E402


def drop(kind, material, height=2.0, water=None, seconds=4.0):
    w = World(water_level=water)
    b = Body(kind, material, 0.4, 0.0, height)
    w.bodies.append(b)
    ys = []
    for _ in range(int(seconds * SUBSTEPS_PER_SECOND)):
        w.step()
        ys.append(b.y - b.hy)
    return w, b, np.array(ys)


class PhysicsTest(unittest.TestCase):
    def test_rubber_bounce_heights_fall_by_e_squared(self):
        _, _, ys = drop("ball", "rubber")
        apex = [ys[i] for i in range(1, len(ys) - 1) if ys[i - 1] <= ys[i] > ys[i + 1]]
        e2 = MATERIALS["rubber"]["e"] ** 2
        self.assertGreaterEqual(len(apex), 3)
        for h0, h1 in zip(apex, apex[1:3]):
            self.assertAlmostEqual(h1 / h0, e2, delta=0.05)

    def test_energy_never_grows(self):
        _, _, ys = drop("box", "wood")
        self.assertLess(ys[100:].max(), 2.0 - 0.2)  # never back to the release height

    def test_wood_and_rubber_float_metal_sinks(self):
        for mat, floats in (("wood", True), ("rubber", True), ("metal", False)):
            for kind in ("ball", "box"):
                _, b, _ = drop(kind, mat, water=1.2)
                if floats:
                    self.assertLess(abs(b.y - 1.2), b.hy + 0.05, (mat, kind))
                    self.assertLess(abs(b.vy), 0.3, (mat, kind))  # still bobbing gently
                else:
                    self.assertLess(b.y - b.hy, 0.01, (mat, kind))

    def test_contact_time_is_sub_step_exact(self):
        w, _, _ = drop("ball", "metal", height=2.0, seconds=1.0)
        t_exact = np.sqrt(2 * (2.0 - 0.2) / 9.81)
        self.assertAlmostEqual(w.events[0]["t"], t_exact, delta=0.5 / SUBSTEPS_PER_SECOND)

    def test_box_slides_and_stops(self):
        w = World()
        b = Body("box", "wood", 0.4, 0.0, 0.2, vx=3.0)
        w.bodies.append(b)
        for _ in range(SUBSTEPS_PER_SECOND * 2):
            w.step()
        self.assertEqual(b.vx, 0.0)
        self.assertAlmostEqual(b.x, 9.0 / (2 * 0.5 * 9.81), delta=0.1)  # v^2 / (2 mu g)


class DatasetTest(unittest.TestCase):
    def test_same_seed_same_arrays(self):
        a, b = make_clip(3, 5), make_clip(3, 5)
        self.assertTrue(np.array_equal(a["frames"], b["frames"]))
        self.assertTrue(np.array_equal(a["audio"], b["audio"]))
        self.assertEqual(a["captions"], b["captions"])
        c = make_clip(4, 5)
        self.assertFalse(np.array_equal(a["frames"], c["frames"]))

    def test_writer_and_shapes(self):
        with tempfile.TemporaryDirectory() as d:
            make_data(["--out", d, "--count", "2", "--seed", "1", "--split", "heldout"])
            frames, audio, caps, metas = load_shard(os.path.join(d, "shard-00000"))
        self.assertEqual(frames.shape, (2, 48, 128, 128, 3))
        self.assertEqual(frames.dtype, np.uint8)
        self.assertEqual(audio.shape, (2, 64000))
        self.assertTrue(all(len(c) >= 3 for c in caps))
        t = metas[0]["tracks"][0][0]
        self.assertEqual(set(t), {"c", "r", "bbox", "visible"})
        self.assertEqual(len(metas[0]["tracks"][0]), 48)

    def test_heldout_is_disjoint_from_train(self):
        train = [make_spec(0, i, "train")[0] for i in range(12)]
        held = [make_spec(0, i, "heldout")[0] for i in range(12)]
        self.assertFalse({combo_key(s) for s in train} & {combo_key(s) for s in held})
        self.assertFalse({spec_id(s) for s in train} & {spec_id(s) for s in held})
        self.assertTrue(all(is_heldout_combo(s) for s in held))
        self.assertFalse(any(is_heldout_combo(s) for s in train))

    def test_caption_variety(self):
        spec, _ = make_spec(1, 0, "train")
        caps = cap.captions(spec, cap.rng_for(spec))
        self.assertEqual(len(set(caps)), 5)
        words = {w.strip(",:.").lower() for c in caps for w in c.split()}
        colour = spec["objects"][0]["colour"]
        self.assertTrue(words & {w.split()[-1] for w in cap.COLOUR_WORDS[colour]})

    def test_audio_onsets_at_contact_times(self):
        c = make_clip(2, 1, "heldout")
        loud = [e["t"] for e in c["meta"]["events"] if e["loud"]]
        found = [t for t, _ in onsets(c["audio"])]
        self.assertTrue(loud)
        for t in loud:
            self.assertLess(min(abs(t - f) for f in found), 0.5 / FPS, t)


class EvaluatorTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.clips = [make_clip(11, i, "heldout") for i in range(4)]

    def test_ground_truth_scores_high_and_corruptions_low(self):
        rng = np.random.default_rng(0)
        good, shuffled, noise, shifted, wrong = [], [], [], [], []
        for c in self.clips:
            f, a, s = c["frames"], c["audio"], c["meta"]["spec"]
            ana = analyse_clip(f, a)
            good.append(score(ana, s))
            wrong.append(score(ana, corrupt("wrong_colour_prompt", f, a, s, rng)[2]))
            shuffled.append(score(analyse_clip(*corrupt("shuffled_frames", f, a, s, rng)[:2]), s))
            noise.append(score(analyse_clip(*corrupt("noise_video", f, a, s, rng)[:2]), s))
            shifted.append(score(analyse_clip(*corrupt("audio_shift_3f", f, a, s, rng)[:2]), s))
        rate = lambda rs, k: np.mean([r[k] for r in rs if r[k] is not None])  # noqa: E731
        for k in ("physics", "colour", "kind", "count", "style"):
            self.assertGreaterEqual(rate(good, k), 0.75, k)
        self.assertLessEqual(rate(wrong, "colour"), 0.25)
        self.assertLessEqual(rate(noise, "physics"), 0.25)
        self.assertLessEqual(rate(noise, "colour"), 0.25)
        self.assertLess(rate(shuffled, "physics") + rate(shuffled, "sync"), rate(good, "physics"))
        if any(r["sync"] is not None for r in good):
            self.assertLessEqual(rate(shifted, "sync"), 0.25)


if __name__ == "__main__":
    unittest.main()
