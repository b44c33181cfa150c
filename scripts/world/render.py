"""Rasteriser: simulated tracks -> uint8 frames [48, 128, 128, 3] in one of three styles.

anime     flat colours, cel-shaded objects, black outlines
realistic gradient sky, Lambert shading, highlights, soft contact shadows
newsreel  realistic, then sepia with 40 % of the colour kept, flicker, grain, vignette, scratches

Shapes use signed distances in pixels so edges are anti-aliased. Object shading only scales the
colour (never mixes in much white), so an object's hue and saturation survive every style: that
is what the evaluator's colour segmentation relies on.
"""
import math

import numpy as np

from .scenes import world_to_px
from .world_params import (BACKBOARD, COLOURS, FLOOR, FPS, FRAMES, HEIGHT, RAMP, RIM, SKY, SKY_ANIME,
                           WALL, WATER, WATER_ALPHA, WIDTH)

ROWS, COLS = np.mgrid[0:HEIGHT, 0:WIDTH].astype(np.float32) + 0.5
BLACK = np.zeros(3, np.float32)
NEWSREEL_COLOUR_KEPT = 0.4
SEPIA = np.array([1.07, 0.95, 0.74], np.float32)


def _paint(img, cov, colour):
    """Alpha-blend colour (rgb or per-pixel [H,W,3]) into img with coverage cov in [0,1]."""
    cov = cov[..., None]
    img *= 1 - cov
    img += cov * colour


def _cov(sd):
    return np.clip(0.5 - sd, 0.0, 1.0)


def _segment_sd(x0, y0, x1, y1):
    sx, sy = x1 - x0, y1 - y0
    u = np.clip(((COLS - x0) * sx + (ROWS - y0) * sy) / (sx * sx + sy * sy + 1e-9), 0, 1)
    return np.hypot(COLS - (x0 + u * sx), ROWS - (y0 + u * sy))


def background(spec):
    style, cam = spec["style"], spec["camera"]
    fr = cam["floor_row"]
    img = np.empty((HEIGHT, WIDTH, 3), np.float32)
    if style == "anime":
        img[:] = SKY_ANIME
    else:  # vertical gradient: brighter near the horizon, plus a faint wall texture
        t = (ROWS / fr)[..., None]
        img[:] = np.array(SKY) * (0.82 + 0.18 * t)
        img *= 1 + 0.03 * np.sin(COLS * 0.9 + 0.37 * ROWS)[..., None]
    below = ROWS >= fr
    floor = np.array(FLOOR, np.float32)
    if style == "anime":
        img[below] = floor
        img[np.abs(ROWS - fr) < 1.0] = BLACK
    else:
        depth = ((ROWS - fr) / max(HEIGHT - fr, 1))[..., None]
        planks = 1 - 0.06 * ((np.floor((COLS + 3 * np.floor(ROWS / 4)) / 11) % 2))[..., None]
        img = np.where(below[..., None], floor * (1.05 - 0.3 * depth) * planks, img)
    if spec["walls"]:
        for xw, side in zip(spec["walls"], (-1, 1)):
            c, _ = world_to_px(spec, xw, 0)
            sd = (COLS - c) if side < 0 else (c - COLS)
            shade = 1.0 if style == "anime" else 0.9 + 0.1 * np.clip(ROWS / HEIGHT, 0, 1)[..., None]
            _paint(img, _cov(sd), np.array(WALL) * shade)
            if style == "anime":
                _paint(img, _cov(np.abs(sd) - 0.6), BLACK)
    if spec["ramp"]:
        (x0, y0), (x1, y1) = spec["ramp"]
        c0, r0 = world_to_px(spec, x0, y0)
        c1, r1 = world_to_px(spec, x1, y1)
        # region under the ramp line and above the floor
        line_row = r0 + (COLS - c0) * (r1 - r0) / (c1 - c0)
        inside = np.clip(ROWS - line_row + 0.5, 0, 1) * ((COLS >= c0) & (COLS <= c1) & (ROWS < fr + 1))
        shade = 1.0 if style == "anime" else (0.85 + 0.15 * (ROWS - r0) / max(fr - r0, 1))[..., None]
        _paint(img, inside, np.array(RAMP) * shade)
        if style == "anime":
            _paint(img, _cov(_segment_sd(c0, r0, c1, r1) - 0.6), BLACK)
    if spec["hoop"]:
        hx, hy = spec["hoop"]["x"], spec["hoop"]["y"]
        bc, br0 = world_to_px(spec, hx + 0.3, hy - 0.1)
        _, br1 = world_to_px(spec, hx + 0.3, hy + 0.75)
        pc, _ = world_to_px(spec, hx + 0.45, 0)
        _paint(img, _cov(np.maximum(np.abs(COLS - pc) - 1.2, np.maximum(br0 - ROWS, ROWS - fr))), RIM)
        _paint(img, _cov(np.maximum(np.abs(COLS - bc) - 1.5, np.maximum(br1 - ROWS, ROWS - br0))),
               BACKBOARD)
        c0, rr = world_to_px(spec, hx - 0.24, hy)
        c1, _ = world_to_px(spec, hx + 0.24, hy)
        _paint(img, _cov(_segment_sd(c0, rr, c1, rr) - 1.0), RIM)
    return img


def _object_layer(img, spec, o, x, y, angle, style):
    """Draw one object at world (x, y) rotated by angle (balls only show rotation)."""
    s = spec["camera"]["scale"]
    c, r = world_to_px(spec, x, y)
    base = np.array(COLOURS[o["colour"]], np.float32)
    dx, dy = COLS - c, ROWS - r
    anime = style == "anime"
    if o["kind"] == "ball":
        rad = o["size"] / 2 * s
        dist = np.hypot(dx, dy)
        sd = dist - rad
        # light from the upper left; nz is the sphere normal's z component
        nx, ny = dx / rad, dy / rad
        nz = np.sqrt(np.clip(1 - nx * nx - ny * ny, 0, 1))
        lam = -0.45 * nx - 0.55 * ny + 0.7 * nz
        shade = np.where(lam > 0.1, 1.0, 0.72) if anime else 0.5 + 0.55 * np.clip(lam, 0, 1)
        # a stripe through the centre shows the ball's rotation (rolling, spin)
        stripe = np.abs(-math.sin(-angle) * dx + math.cos(-angle) * dy)
        shade = shade * np.where(stripe < 0.16 * rad, 0.72, 1.0)
        colour = base * shade[..., None]
        if not anime and o["material"] != "rubber":  # hard materials get a small highlight
            hl = np.clip(1 - np.hypot(dx + 0.35 * rad, dy + 0.4 * rad) / (0.22 * rad), 0, 1)[..., None]
            colour = colour * (1 - 0.25 * hl) + 255 * 0.25 * hl
    else:
        hx = o["size"] / 2 * s
        hy = hx * (1.8 if o["kind"] == "cylinder" else 1.0)
        if o["kind"] == "box":
            qx, qy = np.abs(dx) - hx, np.abs(dy) - hy
            sd = np.hypot(np.maximum(qx, 0), np.maximum(qy, 0)) + np.minimum(np.maximum(qx, qy), 0)
            shade = np.where(dx > 0.45 * hx, 0.78, 1.0) if anime else 1.05 - 0.25 * (dx + dy) / (2 * hx)
            if o["material"] == "wood":  # grain
                shade = shade * (1 - 0.12 * (np.sin(dy * 2.2 + 0.8 * np.sin(dx * 0.7)) > 0.6))
        else:  # upright cylinder: side view is a rectangle with elliptic caps
            cap = 0.35 * hx
            body = np.maximum(np.abs(dx) - hx, np.abs(dy) - (hy - cap))
            ell = np.hypot(dx / hx, (np.abs(dy) - (hy - cap)) / cap) - 1.0
            sd = np.minimum(body, ell * min(hx, cap))
            top = np.hypot(dx / hx, (dy + hy - cap) / cap) < 1.0
            if anime:
                shade = np.where(top, 1.15, np.where(dx > 0.4 * hx, 0.75, 1.0))
            else:
                shade = np.where(top, 1.12, 0.55 + 0.5 * np.cos(np.clip(dx / hx, -1, 1) * 1.3 + 0.5))
        colour = np.clip(base * np.asarray(shade)[..., None], 0, 255)
    if anime:
        _paint(img, _cov(sd + 1.0), colour)
        _paint(img, _cov(np.abs(sd + 0.5) - 0.5), BLACK)  # outline
    else:
        _paint(img, _cov(sd), colour)


def _shadow(img, spec, o, x, y):
    s, fr = spec["camera"]["scale"], spec["camera"]["floor_row"]
    c, _ = world_to_px(spec, x, 0)
    height = max(y - o["size"] / 2, 0.0)
    w = o["size"] * s * (0.6 + 0.3 * height)
    strength = 0.45 / (1 + 1.5 * height)
    e = ((COLS - c) / w) ** 2 + ((ROWS - fr - 1.5) / 2.0) ** 2
    a = strength * np.clip(1 - e, 0, 1) * (ROWS >= fr)
    img *= (1 - a)[..., None]


def render(spec, sim, style=None, rng_seed=0):
    """Frames for a simulated spec. `rng_seed` drives film grain and splash droplets."""
    style = style or spec["style"]
    rng = np.random.default_rng([rng_seed, 7])
    spec = dict(spec, style=style)
    bg = background(spec)
    tracks = sim["tracks"]
    wl = spec["water_level"]
    splashes = [e for e in sim["events"] if e["surface"] == "water"]
    drops = [(e["t"], e["x"], rng.uniform(-1.2, 1.2, 8), rng.uniform(1.5, 3.0, 8)) for e in splashes]
    frames = np.empty((FRAMES, HEIGHT, WIDTH, 3), np.uint8)
    for f in range(FRAMES):
        img = bg.copy()
        if style != "anime":
            for o, (x, y, _) in zip(spec["objects"], tracks[f]):
                if wl is None or y > wl:
                    _shadow(img, spec, o, x, y)
        for o, (x, y, ang) in zip(spec["objects"], tracks[f]):
            _object_layer(img, spec, o, x, y, ang, style)
        if wl is not None:
            _, wr = world_to_px(spec, 0, wl)
            fr = spec["camera"]["floor_row"]
            inside = np.clip(ROWS - wr + 0.5, 0, 1) * (ROWS < fr)
            _paint(img, inside * WATER_ALPHA, np.array(WATER, np.float32))
            _paint(img, _cov(np.abs(ROWS - wr) - 0.5) * 0.6, np.array([205, 225, 235], np.float32))
            t = f / FPS
            for t0, x0, vx, vy in drops:
                dt = t - t0
                if 0 < dt:
                    px = x0 + vx * dt
                    py = wl + vy * dt - 4.9 * dt * dt
                    for dx_, dy_ in zip(px, py):
                        if dy_ > wl:
                            c, r = world_to_px(spec, dx_, dy_)
                            _paint(img, _cov(np.hypot(COLS - c, ROWS - r) - 1.0), (215, 232, 240))
        if style == "newsreel":
            img = _newsreel(img, rng)
        frames[f] = np.clip(img + 0.5, 0, 255).astype(np.uint8)
    return frames


VIGNETTE = (1 - 0.3 * (((ROWS - 64) / 64) ** 2 + ((COLS - 64) / 64) ** 2) / 2)[..., None]


def _newsreel(img, rng):
    lum = img @ np.array([0.299, 0.587, 0.114], np.float32)
    out = (1 - NEWSREEL_COLOUR_KEPT) * lum[..., None] * SEPIA + NEWSREEL_COLOUR_KEPT * img
    out *= VIGNETTE * rng.uniform(0.86, 1.1)  # flicker: per-frame exposure
    if rng.random() < 0.35:  # a vertical scratch
        c = rng.uniform(0, WIDTH)
        out += (_cov(np.abs(COLS - c) - 0.3) * 60)[..., None]
    out += rng.normal(0, 9.0, (HEIGHT, WIDTH, 1)) + rng.normal(0, 3.0, out.shape)  # grain
    return out


def sepia_residual(frames):
    """Inverse of the newsreel tint for the evaluator: what is left after removing the sepia
    version of each pixel's luminance, rescaled to full colour. Hue survives; grain is amplified."""
    f = frames.astype(np.float32)
    lum = f @ np.array([0.299, 0.587, 0.114], np.float32)
    resid = (f - (1 - NEWSREEL_COLOUR_KEPT) * lum[..., None] * SEPIA) / NEWSREEL_COLOUR_KEPT
    return resid
