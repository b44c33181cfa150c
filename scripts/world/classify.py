"""Attribute classifiers on analysed clips: kind, count, material, action.

Colour and style come straight from analysis.py (hue of the segmented object, image statistics).
"""
import numpy as np

from .metrics import band_energies
from .world_params import FPS


def kind(tr):
    """ball / box / cylinder from shape: an upright cylinder is tall; a box fills its bbox."""
    vis, _, _, clean = tr["states"]
    bb, area = tr["bbox"], tr["area"]
    fills, aspects = [], []
    for f in np.nonzero(clean & (area >= 12))[0]:
        w, h = bb[f, 2] - bb[f, 0], bb[f, 3] - bb[f, 1]
        fills.append(area[f] / (w * h))
        aspects.append(h / w)
    if not fills:
        return None
    fill, aspect = float(np.median(fills)), float(np.median(aspects))
    if aspect > 1.4:
        return "cylinder"
    return "box" if fill > 0.88 else "ball"


def count(tracks):
    """Objects = connected components per colour (median over the frames it is seen in)."""
    n = 0
    for tr in tracks.values():
        c = tr["comps"][tr["comps"] > 0]
        n += int(round(float(np.median(c)))) if c.size else 0
    return n


def _final(tr, key, frames=8):
    v = tr["bbox"][-frames:, key]
    v = v[~np.isnan(v)]
    return float(np.median(v)) if v.size else None


def water_fate(tr, scene):
    """'sink' if it ends on the pool floor, else 'float' (None without water)."""
    if scene["water_row"] is None:
        return None
    bottom = _final(tr, 3)
    if bottom is None:
        return None
    return "sink" if bottom >= scene["floor_row"] - 4 else "float"


def material(name, tr, tracks, scene, audio, onset_frames):
    """Water: sinks -> metal; floats -> rubber (rides high) or wood (half submerged).
    Otherwise: the loudest spectral band right after this object's floor impacts."""
    fate = water_fate(tr, scene)
    if fate == "sink":
        return "metal"
    if fate == "float":
        top, bottom = _final(tr, 1), _final(tr, 3)
        frac = (bottom - scene["water_row"]) / max(bottom - top, 1)
        return "rubber" if frac < 0.45 else "wood"
    others = [k for n, t in tracks.items() if n != name for k, _ in t["contacts"]]
    votes = {}
    for k, where in tr["contacts"]:
        if where != "floor" or any(abs(k - o) <= 1 for o in others):
            continue  # only this object's own floor impacts have its material alone
        near = [a for a in onset_frames if abs(a - k) <= 1]
        e = band_energies(audio, near[0] / FPS) if near else None
        if e:
            best = max(e, key=e.get)
            votes[best] = votes.get(best, 0) + 1
    return max(votes, key=votes.get) if votes else None


# Coulomb friction decelerates a slide by mu*g; divided by the object's width that is free of
# the camera's scale. Thresholds sit between rubber (0.9), wood (0.5) and metal (0.22).
FRICTION_LIMITS = {"box": (8.5, 17.5), "cylinder": (10.5, 22.5)}


def friction_material(tr):
    vis, sup, _, _ = tr["states"]
    p, bb = tr["centre"], tr["bbox"]
    step = np.abs(np.diff(p[:, 0]))
    frames = [k for k in range(len(step)) if sup[k] and sup[k + 1] and step[k] > 0.3]
    if len(frames) < 5:
        return None
    t = np.array(frames + [frames[-1] + 1], float)
    coef = np.polyfit(t, p[t.astype(int), 0], 2)
    v0 = coef[1] + 2 * coef[0] * t[0]
    decel = -2 * coef[0] * np.sign(v0)
    width = float(np.nanmedian(bb[:, 2] - bb[:, 0]))
    value = decel * FPS * FPS / max(width, 1.0)  # mu * g / size, in 1/s^2
    h = float(np.nanmedian(bb[:, 3] - bb[:, 1]))
    lo, hi = FRICTION_LIMITS["cylinder" if h / max(width, 1) > 1.4 else "box"]
    return "metal" if value < lo else ("wood" if value < hi else "rubber")


def collision_materials(tracks, audio, onset_frames):
    """Materials heard at the loudest onset that coincides with a visual contact: an impact
    between two objects rings with both (bands within 30 % of the strongest)."""
    best, best_e = None, 0.0
    for tr in tracks.values():
        for k, _ in tr["contacts"]:
            for a in onset_frames:
                if abs(a - k) <= 1:
                    e = band_energies(audio, a / FPS)
                    if e and sum(e.values()) > best_e:
                        best, best_e = e, sum(e.values())
    if not best:
        return []
    ranked = sorted(best, key=best.get, reverse=True)
    return [m for m in ranked if best[m] >= 0.3 * best[ranked[0]]]


def fill_from_collision(mats, tracks, audio, onset_frames):
    """Objects without a material of their own (rolling balls, struck boxes) get the materials
    heard when they collided, minus the ones already accounted for."""
    missing = [n for n, m in mats.items() if m is None]
    if not missing:
        return mats
    if len(tracks) < 2:  # a lone slider: judge by how hard friction brakes it
        for n in missing:
            mats[n] = friction_material(tracks[n])
        return mats
    heard = collision_materials(tracks, audio, onset_frames)
    known = [m for m in mats.values() if m]
    left = [m for m in heard if m not in known] or heard[:1]
    for i, n in enumerate(missing):
        mats[n] = left[min(i, len(left) - 1)] if left else None
    return mats


def action(tracks, scene, kinds):
    """Scene action from the scene elements and the tracks (see README for the rules)."""
    if not tracks:
        return None
    if scene["water_row"] is not None:
        fates = {water_fate(tr, scene) for tr in tracks.values()} - {None}
        return "float_sink" if fates == {"float", "sink"} else (fates.pop() if fates else None)
    if scene["hoop"]:
        air = any(where == "air" for tr in tracks.values() for _, where in tr["contacts"])
        return "rebound" if air else "throw"
    if any(where == "object" for tr in tracks.values() for _, where in tr["contacts"]) or \
            (len(tracks) >= 2 and touching(tracks)):
        return "collide"
    if scene["ramp"]:
        return "roll"
    # the object that moves most decides
    name = max(tracks, key=lambda n: np.nansum(np.abs(np.diff(tracks[n]["centre"], axis=0))))
    tr = tracks[name]
    vis, sup, _, _ = tr["states"]
    p = tr["centre"]
    vx = np.abs(np.diff(p[:, 0]))
    ground_moving = int(np.sum(sup[1:] & sup[:-1] & (vx > 0.5)))
    floor_bounces = sum(1 for _, where in tr["contacts"] if where == "floor")
    if ground_moving >= 10 and floor_bounces <= 1:
        return "roll" if kinds.get(name) == "ball" else "slide"
    first = np.nonzero(vis)[0][:4]
    if len(first) < 3:
        return None
    coef_r = np.polyfit(first, p[first, 1], 2)
    coef_c = np.polyfit(first, p[first, 0], 1)
    v_row = coef_r[1] + 2 * coef_r[0] * first[0]  # initial row velocity (px/frame; <0 = up)
    if v_row < -1.5:
        return "throw"
    if abs(v_row) < 1.0 and abs(coef_c[0]) < 0.5 and not sup[first[0]]:
        return "drop"
    return "bounce"


def touching(tracks):
    """Do two objects touch (bboxes within 2 px) in a frame where one of them has a contact?"""
    names = list(tracks)
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            for k, _ in tracks[a]["contacts"] + tracks[b]["contacts"]:
                for f in range(max(int(k) - 1, 0), min(int(k) + 2, len(tracks[a]["bbox"]))):
                    ba, bb = tracks[a]["bbox"][f], tracks[b]["bbox"][f]
                    if np.isnan(ba[0]) or np.isnan(bb[0]):
                        continue
                    gap_x = max(ba[0] - bb[2], bb[0] - ba[2])
                    gap_y = max(ba[1] - bb[3], bb[1] - ba[3])
                    if max(gap_x, gap_y) <= 2:
                        return True
    return False

