"""Video analysis for the evaluator: style, colour segmentation, scene elements, object tracks.

Works from pixels only (no scene spec): the world is synthetic and its palette is known, so
objects are the saturated pixels and their hue names their colour; the background is static, so
its temporal median shows floor, ramp, water and hoop. The newsreel tint is undone first
(render.sepia_residual) so hue survives that style too.
"""
import numpy as np
from scipy import ndimage

from .render import sepia_residual
from .world_params import COLOURS, HEIGHT, WATER, WATER_ALPHA

OBJ_SAT, OBJ_VAL = 0.45, 75.0  # dark, saturated pixels are outlines seen through water
MIN_AREA = 12  # px; the smallest object (0.26 m at 24 px/m) covers ~40


def hsv(img):
    """hue (deg), saturation, value of float RGB [..., 3]."""
    mx, mn = img.max(-1), img.min(-1)
    chroma = mx - mn
    sat = chroma / np.maximum(mx, 1e-6)
    r, g, b = img[..., 0], img[..., 1], img[..., 2]
    c = np.maximum(chroma, 1e-6)
    h = np.where(mx == r, ((g - b) / c) % 6, np.where(mx == g, (b - r) / c + 2, (r - g) / c + 4))
    return h * 60.0, sat, mx


PALETTE_HUES = {k: hsv(np.array(v, np.float32))[0].item() for k, v in COLOURS.items()}


def classify_style(frames):
    """anime / realistic / newsreel from image statistics: grain, flicker, sepia, outlines."""
    f = frames[::4].astype(np.float32)
    lum = f @ np.array([0.299, 0.587, 0.114], np.float32)
    hp = lum - ndimage.uniform_filter(lum, size=(1, 3, 3))
    grain = float(np.median(np.abs(hp)))
    flicker = float(np.std(lum.mean(axis=(1, 2))) / max(lum.mean(), 1))
    low_sat = hsv(f)[1] < 0.35
    cast = float(np.mean((f[..., 0] - f[..., 2])[low_sat])) if low_sat.any() else 0.0
    dark = float(np.mean(f.max(-1) < 45))
    feats = dict(grain=grain, flicker=flicker, sepia_cast=cast, outline=dark)
    if grain > 2.2 or (flicker > 0.03 and cast > 25):
        return "newsreel", feats
    if dark > 0.004:
        return "anime", feats
    return "realistic", feats


def colour_space(frames, style, water_row=None, floor_row=HEIGHT):
    """Per-pixel (hue, sat, val) after undoing the newsreel tint (and smoothing its grain) and
    the water's tint below the surface (it pulls hues towards blue)."""
    if style == "newsreel":
        f = ndimage.uniform_filter(sepia_residual(frames), size=(1, 3, 3, 1))
    else:
        f = frames.astype(np.float32)
    if water_row is not None:
        w = f[:, water_row + 1:floor_row]
        f[:, water_row + 1:floor_row] = (w - WATER_ALPHA * np.array(WATER, np.float32)) / (1 - WATER_ALPHA)
    return hsv(f)


def segment(frames, style, water_row=None, floor_row=HEIGHT):
    """label map [F,H,W] of palette colour index+1 (0 = background)."""
    h, s, v = colour_space(frames, style, water_row, floor_row)
    names = list(PALETTE_HUES)
    hues = np.array([PALETTE_HUES[n] for n in names])
    d = np.abs(((h[..., None] - hues) + 180) % 360 - 180)
    label = d.argmin(-1) + 1
    # grain left in the newsreel residual lifts the floor's saturation: demand more there
    ok = (s > OBJ_SAT + (0.1 if style == "newsreel" else 0)) & (v > OBJ_VAL) & (d.min(-1) < 22)
    return np.where(ok, label, 0), names


def scene_elements(frames, style):
    """Floor row, water surface row, ramp and hoop presence from the static background."""
    bg = np.median(frames.astype(np.float32), axis=0)
    if style == "newsreel":
        bg = sepia_residual(bg[None])[0]
    h, s, v = hsv(bg)
    floorish = (h > 12) & (h < 48) & (s > 0.12) & (s < 0.45) & (v > 40)
    rows = floorish.mean(1)
    lower = np.nonzero(rows[HEIGHT // 3:] > 0.6)[0]
    floor_row = int(lower[0] + HEIGHT // 3) if lower.size else HEIGHT
    waterish = (h > 185) & (h < 225) & (s > 0.2) & (s < 0.5)
    wrows = waterish.mean(1)[:floor_row]
    wet = np.nonzero(wrows > 0.5)[0]
    # the water body is a contiguous band ending at the floor
    water_row = int(wet[0]) if wet.size and wet[-1] >= floor_row - 3 and wet.size > 4 else None
    # a ramp is floor-coloured ground rising from the floor: the floor's connected region above it
    lab, _ = ndimage.label(floorish)
    floor_labels = np.unique(lab[min(floor_row + 1, HEIGHT - 1)])
    grounded = np.isin(lab, floor_labels[floor_labels > 0])
    ramp_px = int(grounded[: max(floor_row - 3, 0)].sum())
    # the hoop's pole: a dark grey column standing on the floor (outlines and vignette are not)
    greyish = (s < 0.15) & (v > 45) & (v < 110)
    pole = greyish[max(floor_row - 22, 0): max(floor_row - 2, 0)].all(axis=0) if floor_row > 24 \
        else np.zeros(greyish.shape[1], bool)
    runs, n = ndimage.label(pole)
    widths = ndimage.sum(pole, runs, range(1, n + 1))
    # a pole is thin and away from the frame edges (walls are wide and at the edges)
    thin = [w <= 5 and 0 not in np.nonzero(runs == i + 1)[0] and pole.size - 1 not in
            np.nonzero(runs == i + 1)[0] for i, w in enumerate(widths)]
    ramp_mask = grounded.copy()  # objects' fringes are floor-coloured too, but not grounded
    ramp_mask[max(floor_row - 2, 0):] = False
    return dict(floor_row=floor_row, water_row=water_row, ramp=ramp_px > 40, hoop=any(thin),
                ramp_mask=ramp_mask)


def tracks(label, names, min_frames=0.25):
    """Per detected colour: per frame centre (c, r), bbox (c0, r0, c1, r1), area, components."""
    out = {}
    F = label.shape[0]
    for k, name in enumerate(names, start=1):
        m = ndimage.binary_opening(label == k, structure=np.ones((1, 2, 2), bool))  # drop specks
        present = m.sum(axis=(1, 2))
        if (present >= MIN_AREA).mean() < min_frames:
            continue
        cent = np.full((F, 2), np.nan)
        bbox = np.full((F, 4), np.nan)
        area = np.zeros(F)
        comps = np.zeros(F, int)
        for f in range(F):
            if present[f] < MIN_AREA:
                continue
            lab, n = ndimage.label(m[f])
            sizes = ndimage.sum(m[f], lab, range(1, n + 1))
            if sizes.max() < MIN_AREA:
                continue  # only specks of this colour in this frame
            # objects: pieces closer than 4 px are one (the water line or an outline splits one)
            glued, _ = ndimage.label(ndimage.binary_dilation(m[f], iterations=2))
            comps[f] = len(set(np.unique(glued[lab > 0][np.isin(lab[lab > 0], np.nonzero(
                sizes >= MIN_AREA)[0] + 1)])))
            big = lab == (int(np.argmax(sizes)) + 1)
            # merge pieces split by the water surface line or a stripe: keep components near the largest
            rr, cc = np.nonzero(big)
            near = ndimage.binary_dilation(big, iterations=4)
            keep = np.isin(lab, np.unique(lab[near & (lab > 0)]))
            rr, cc = np.nonzero(keep)
            if rr.size < MIN_AREA:
                continue
            cent[f] = (cc.mean() + 0.5, rr.mean() + 0.5)
            bbox[f] = (cc.min(), rr.min(), cc.max() + 1, rr.max() + 1)
            area[f] = rr.size
        seen = comps[comps > 0]
        if seen.size and (np.median(seen) > 3 or np.median(area[area > 0]) > 0.1 * HEIGHT * HEIGHT):
            continue  # speckle everywhere or a colour filling the frame: not an object
        a = area[area > 0]
        if a.size and np.mean(np.abs(a - np.median(a)) <= 0.4 * np.median(a)) < 0.6:
            continue  # a rigid body keeps its size; flickering specks do not
        out[name] = dict(centre=cent, bbox=bbox, area=area, comps=comps)
    return out


def analyse(frames):
    style, feats = classify_style(frames)
    scene = scene_elements(frames, style)
    label, names = segment(frames, style, scene["water_row"], scene["floor_row"])
    return dict(style=style, style_features=feats, scene=scene, tracks=tracks(label, names))
