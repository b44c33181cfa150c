"""Scene specifications: sampling by action, simulation, and the train/held-out split.

A spec is a plain JSON-able dict; `simulate(spec)` is a pure function of it, so a spec alone
reproduces a clip. Sampling draws a spec, simulates it and keeps it only when the simulated
outcome really shows the action (e.g. a "rebound" must touch the rim and not score), retrying
otherwise; every draw comes from one seeded generator, so (seed, index, split) fixes the clip.
"""
import hashlib
import json
import math

import numpy as np

from .physics import World, Body
from .world_params import (ACTIONS, COLOUR_NAMES, FRAMINGS, HEIGHT, KINDS, MATERIAL_NAMES,
                           STYLES, SYNC_SPEED, WIDTH, MATERIALS, GRAVITY)

HOLDOUT_BUCKETS = 7  # 1 in 7 (action, kind, material, style) combinations is held out


def combo_key(spec):
    o = spec["objects"][0]
    return "%s|%s|%s|%s" % (spec["action"], o["kind"], o["material"], spec["style"])


def is_heldout_combo(spec):
    digest = hashlib.sha256(combo_key(spec).encode()).digest()
    return int.from_bytes(digest[:4], "big") % HOLDOUT_BUCKETS == 0


def spec_id(spec):
    """Content hash of the scene (independent of the seed that produced it)."""
    keep = {k: v for k, v in spec.items() if k not in ("seed", "split", "index", "attempt")}
    return hashlib.sha256(json.dumps(keep, sort_keys=True).encode()).hexdigest()[:16]


def world_to_px(spec, x, y):
    """World metres -> image (column, row) floats; a perspective-free camera."""
    cam = spec["camera"]
    return (WIDTH / 2 + (x - cam["cx"]) * cam["scale"], cam["floor_row"] - y * cam["scale"])


def _u(rng, a, b):
    return float(round(rng.uniform(a, b), 4))


def _obj(rng, kind, colour, material, x, y, vx=0.0, vy=0.0, omega=0.0):
    size = {"ball": (0.34, 0.48), "box": (0.32, 0.44), "cylinder": (0.26, 0.34)}[kind]
    return dict(kind=kind, colour=colour, material=material, size=_u(rng, *size),
                x=x, y=y, vx=vx, vy=vy, omega=omega)


def _half_height(o):
    return {"ball": 0.5, "box": 0.5, "cylinder": 0.9}[o["kind"]] * o["size"]


def sample_spec(rng, action=None, style=None):
    """Draw one candidate spec (not yet checked against its action)."""
    action = action or ACTIONS[rng.integers(len(ACTIONS))]
    style = style or STYLES[rng.integers(len(STYLES))]
    name, scale, cx, floor_row = FRAMINGS[rng.integers(len(FRAMINGS))]
    cx = round(cx + _u(rng, -0.2, 0.2), 3)
    hw = WIDTH / 2 / scale  # half the visible width in metres
    top = floor_row / scale  # highest visible y
    left, right = cx - hw, cx + hw
    spec = dict(action=action, style=style, camera=dict(framing=name, scale=scale, cx=cx,
                floor_row=floor_row), walls=None, ramp=None, hoop=None, water_level=None)
    colours = [COLOUR_NAMES[i] for i in rng.permutation(len(COLOUR_NAMES))]
    kinds = lambda n: [KINDS[i] for i in rng.integers(0, 3, n)]  # noqa: E731
    mats = lambda n, allowed=MATERIAL_NAMES: [allowed[i] for i in rng.integers(0, len(allowed), n)]  # noqa: E731
    objs = []
    if action == "drop":
        n = int(rng.integers(1, 4))
        xs = np.linspace(left + 0.5, right - 0.5, n + 2)[1:-1] if n > 1 else [cx + _u(rng, -0.8, 0.8)]
        for i, (k, m) in enumerate(zip(kinds(n), mats(n))):
            objs.append(_obj(rng, k, colours[i], m, float(round(xs[i], 3)), 0.0))
            objs[-1]["y"] = _half_height(objs[-1]) + _u(rng, 0.8, min(2.2, top - 0.6))
        if rng.random() < 0.5:
            spec["walls"] = [left + 0.05, right - 0.05]
    elif action in ("throw", "bounce"):
        n = int(rng.integers(1, 3))
        allowed = MATERIAL_NAMES if action == "throw" else ["rubber", "wood"]
        for i, m in enumerate(mats(n, allowed)):
            k = kinds(1)[0] if action == "throw" else "ball"
            if action == "throw":
                o = _obj(rng, k, colours[i], m, left + 0.35 + 0.5 * i, _u(rng, 0.5, 1.0),
                         _u(rng, 1.2, 2.4), _u(rng, 3.0, 4.5))
            else:
                o = _obj(rng, k, colours[i], m, cx + _u(rng, -1.0, 1.0) - 0.8 * i + 0.4,
                         _u(rng, 1.2, min(2.0, top - 0.5)), _u(rng, -0.7, 0.7), _u(rng, -2.5, -1.0))
            objs.append(o)
        if rng.random() < 0.6:
            spec["walls"] = [left + 0.05, right - 0.05]
    elif action == "roll":
        n = int(rng.integers(1, 3))
        if n == 1 and rng.random() < 0.7:
            h = _u(rng, 0.7, 1.2)
            x0 = left + 0.1
            spec["ramp"] = [[x0, h], [x0 + _u(rng, 1.4, 1.9), 0.0]]
        for i, m in enumerate(mats(n)):
            o = _obj(rng, "ball", colours[i], m, 0.0, 0.0)
            r = o["size"] / 2
            if spec["ramp"] and i == 0:
                (x0, y0), (x1, y1) = spec["ramp"]
                length = math.hypot(x1 - x0, y1 - y0)
                nx, ny = (y0 - y1) / length, (x1 - x0) / length  # upward normal
                o["x"] = round(x0 + 0.12 * (x1 - x0) + nx * r, 4)
                o["y"] = round(y0 + 0.12 * (y1 - y0) + ny * r, 4)
            else:
                # a second ball trails the first, slower, so they never meet
                v = _u(rng, 1.8, 2.5) if i == 0 else _u(rng, 0.8, 1.3)
                o.update(x=left + 1.4 - 1.0 * i, y=r, vx=v, omega=-v / r)
            objs.append(o)
        if n == 1 and rng.random() < 0.5:
            spec["walls"] = [left + 0.05, right - 0.05]
    elif action == "slide":
        (k,), (m,) = [["box", "cylinder"][rng.integers(2)]], mats(1)
        o = _obj(rng, k, colours[0], m, left + 0.4, 0.0)
        o["y"] = _half_height(o)  # starts on the floor: a shove, then only scraping
        vmax = math.sqrt(2 * MATERIALS[m]["mu"] * GRAVITY * (2 * hw - 1.2))
        o["vx"] = _u(rng, 0.6 * vmax, 0.95 * vmax)
        objs.append(o)
    elif action == "collide":
        a = _obj(rng, "ball", colours[0], mats(1)[0], left + 0.4, 0.0, _u(rng, 1.8, 3.0))
        b = _obj(rng, ["ball", "box"][rng.integers(2)], colours[1], mats(1)[0],
                 cx + _u(rng, 0.0, 0.8), 0.0, -_u(rng, 0.0, 2.0))
        for o in (a, b):
            o["y"] = _half_height(o)
            if o["kind"] == "ball":
                o["omega"] = -o["vx"] / (o["size"] / 2)
            elif o["vx"] != 0:
                o["vx"] = 0.0  # a box starts at rest and is struck
        objs = [a, b]
    elif action == "rebound":
        o = _obj(rng, "ball", colours[0], mats(1)[0], left + 0.4, _u(rng, 0.6, 1.0))
        hx, hy = right - 0.8, min(_u(rng, 1.8, 2.3), top - 1.0)
        spec["hoop"] = dict(x=hx, y=hy)
        r = o["size"] / 2
        rim_x = hx + (0.24 if rng.random() < 0.3 else -0.24)
        tx, ty = rim_x + _u(rng, -0.7, 0.2) * r, hy + _u(rng, 0.2, 0.8) * r
        T = _u(rng, 0.75, 1.05)
        o["vx"] = round((tx - o["x"]) / T, 4)
        o["vy"] = round((ty - o["y"] + 0.5 * 9.81 * T * T) / T, 4)
        objs.append(o)
    else:  # sink, float, float_sink
        spec["water_level"] = min(_u(rng, 0.9, 1.4), top - 1.2)
        n = 2 if action == "float_sink" else int(rng.integers(1, 3))
        chosen = {"sink": ["metal"] * n, "float": mats(n, ["rubber", "wood"]),
                  "float_sink": ["metal", mats(1, ["rubber", "wood"])[0]]}[action]
        xs = [cx - 0.6, cx + 0.6] if n == 2 else [cx + _u(rng, -0.5, 0.5)]
        for i, m in enumerate(chosen):
            o = _obj(rng, kinds(1)[0], colours[i], m, float(round(xs[i], 3)), 0.0)
            o["y"] = spec["water_level"] + _half_height(o) + _u(rng, 0.3, 0.9)
            objs.append(o)
    spec["objects"] = objs
    return spec


def build_world(spec):
    w = World(walls=spec["walls"], ramp=spec["ramp"], hoop=spec["hoop"],
              water_level=spec["water_level"])
    for o in spec["objects"]:
        w.bodies.append(Body(o["kind"], o["material"], o["size"], o["x"], o["y"], o["vx"], o["vy"],
                             o["omega"]))
    return w


def simulate(spec):
    """Run the physics. Returns dict(world, tracks, env, events, bodies)."""
    w = build_world(spec)
    tracks, env = w.run()
    return dict(world=w, tracks=tracks, env=env, events=w.events, bodies=w.bodies)


def shows_action(spec, sim):
    """Does the simulated outcome really show the requested action (and stay in view)?"""
    tr = np.array(sim["tracks"])  # [F, N, 3]
    col, row = world_to_px(spec, tr[:, :, 0], tr[:, :, 1])
    inside = (col > 4) & (col < WIDTH - 4) & (row > 4) & (row < HEIGHT - 2)
    if (inside.mean(axis=0) < 0.85).any():  # off-screen sounds cannot be checked for sync
        return False
    ev, bodies, a = sim["events"], sim["bodies"], spec["action"]
    loud = [e for e in ev if e["speed"] >= SYNC_SPEED]
    if a != "collide" and any(e["surface"].startswith("obj:") for e in ev):
        return False  # only "collide" scenes may have objects touching each other
    if a == "bounce":
        return all(sum(e["obj"] == i and e["surface"] == "floor" for e in loud) >= 2
                   for i in range(len(bodies)))
    if a == "collide":
        return any(e["surface"].startswith("obj:") for e in loud)
    if a == "rebound":
        hoop = spec["hoop"]
        if not any(e["surface"] in ("rim", "backboard") for e in loud):
            return False
        # reject a scored basket: centre passes down through the ring between the rims
        x, y = tr[:, 0, 0], tr[:, 0, 1]
        down = (y[:-1] > hoop["y"]) & (y[1:] <= hoop["y"])
        if (down & (np.abs(x[1:] - hoop["x"]) < 0.24)).any():
            return False
        return bodies[0].y < 0.6  # and it falls back down (not wedged on the rim)
    if a == "slide":
        return abs(bodies[0].vx) < 0.02  # it must come to rest
    if a == "roll":
        return all(abs(b.vx) > 0.1 or b.kind != "ball" for b in bodies[:1])
    if a in ("sink", "float", "float_sink"):
        for o, b in zip(spec["objects"], bodies):
            sank = b.y - b.hy < 0.05
            if sank != (o["material"] == "metal"):
                return False
        return True
    return True  # drop, throw


def make_spec(seed, index, split="train", max_attempts=1000):
    """The accepted spec for clip `index` of a (seed, split) stream.

    Train and held-out draw from disjoint generator streams (the split is part of the seed
    sequence) and from disjoint (action, kind, material, style) combinations."""
    stream = 0 if split == "train" else 1
    rng = np.random.default_rng([seed, stream, index])
    want_heldout = split != "train"
    for attempt in range(max_attempts):
        spec = sample_spec(rng)
        if is_heldout_combo(spec) != want_heldout:
            continue
        sim = simulate(spec)
        if shows_action(spec, sim):
            spec.update(seed=seed, split=split, index=index, attempt=attempt)
            return spec, sim
    raise RuntimeError("no acceptable scene for seed %d index %d" % (seed, index))

