"""Metrics on analysed clips: visual contacts, physics checks, attribute classifiers, audio sync.

Everything here reads what analysis.py extracted from pixels plus the audio; nothing reads the
scene spec, so a generated clip is judged on what it shows and sounds like.
Units: pixels and frames (12 fps); image rows grow downwards, so gravity is +row.
"""
import numpy as np

from .world_params import FPS, SAMPLE_RATE, WIDTH

CONTACT_DEV = 1.6  # px/frame^2 off the expected acceleration = an impulse
HOP = 64  # audio analysis hop (4 ms)
BANDS = {"rubber": (120, 600), "wood": (600, 2000), "metal": (2000, 7000)}


# ---------------------------------------------------------------- per-frame states
def states(tr, scene):
    """visible, supported (resting on floor/ramp), in_water, clean (unoccluded, off-border).

    "On the floor" is judged against the object's own lowest bottom row when that is near the
    floor: outlines, anti-aliasing and the water tint shift the mask's edge by a few pixels,
    but the same few pixels in every frame."""
    bb = tr["bbox"]
    vis = ~np.isnan(bb[:, 0])
    F = len(bb)
    sup, wet, clean = np.zeros(F, bool), np.zeros(F, bool), vis.copy()
    ramp, fr, wr = scene["ramp_mask"], scene["floor_row"], scene["water_row"]
    lowest = np.nanmax(bb[:, 3]) if vis.any() else np.nan
    rest = lowest if lowest >= fr - 5 else fr - 1
    for f in np.nonzero(vis)[0]:
        c0, r0, c1, r1 = bb[f].astype(int)
        sup[f] = r1 >= rest - 1 or bool(ramp[min(r1, len(ramp) - 1): r1 + 4, c0:c1].any())
        wet[f] = wr is not None and r1 > wr - 2
        clean[f] = c0 > 0 and r0 > 0 and c1 < WIDTH and not (wr is not None and r0 <= wr <= r1)
    tr["rest_row"] = rest
    return vis, sup, wet, clean


def gravity_estimate(tracks, scene):
    """Median row acceleration over airborne frames of all objects (px/frame^2) or None."""
    acc = []
    for tr in tracks.values():
        vis, sup, wet, _ = tr["states"]
        p = tr["centre"]
        for k in range(1, len(p) - 1):  # noqa: B007
            if vis[k - 1:k + 2].all() and not sup[k - 1:k + 2].any() and not wet[k - 1:k + 2].any():
                a = p[k + 1] - 2 * p[k] + p[k - 1]
                moving = np.abs(p[k + 1] - p[k - 1]).max() >= 1.0  # not resting on something
                if np.abs(a).max() < 6 and moving:
                    acc.append(a[1])
    return float(np.median(acc)) if len(acc) >= 2 else None


def contacts(tr, scene, g):
    """Frames of impulsive velocity changes (and water entries) of one object."""
    vis, sup, wet, _ = tr["states"]
    p = tr["centre"]
    F = len(p)
    dev = np.zeros(F)
    for k in range(2, F - 1):
        if not vis[k - 2:k + 2].all():
            continue
        a = p[k + 1] - 2 * p[k] + p[k - 1]
        # moving before, or set moving by the impact (a struck object at rest)
        speed_before = max(np.abs(p[k - 1] - p[k - 2]).max(), np.abs(p[k + 1] - p[k]).max())
        near_bottom = tr["bbox"][k, 3] >= tr["rest_row"] - 4 and tr["rest_row"] >= scene["floor_row"] - 5
        if wet[k] and not (sup[k - 1:k + 2].any() or near_bottom):
            continue  # drag and buoyancy in water are not impacts; the pool floor is
        else:
            # at rest or rolling only if supported throughout; a landing frame fell part-way
            exp_ = np.array([0.0, 0.0 if sup[k - 1:k + 2].all() or g is None else g])
            d = np.abs(a - exp_)
            vb, va = p[k, 0] - p[k - 1, 0], p[k + 1, 0] - p[k, 0]
            if sup[k] and va * vb >= 0 and abs(va) <= abs(vb):
                d[0] = 0.0  # friction only slows a sliding object down: not an impact
            d = d.max()
            if g is None and not sup[k - 1:k + 2].any() and d < 4.0:
                continue  # unknown gravity (up to ~2.5 px/frame^2 here) is not an impact
        if d >= CONTACT_DEV and speed_before >= 1.0:
            dev[k] = d
    out = []
    for k in np.nonzero(dev)[0]:  # keep local maxima, at least 2 frames apart
        if dev[k] >= dev[max(k - 1, 0):k + 2].max() and (not out or k - out[-1][0] >= 2):
            bottom = tr["bbox"][k, 3]
            # a fast object's nearest frame can be a whole frame's travel above the floor
            reach = abs(p[k, 1] - p[k - 1, 1]) + 3
            kind = "floor" if sup[k] or bottom >= tr["rest_row"] - reach else "air"
            out.append((float(k), kind))
    wr = scene["water_row"]
    if wr is not None:
        b = tr["bbox"][:, 3]
        for k in range(F - 1):
            if vis[k] and vis[k + 1] and b[k] <= wr < b[k + 1] and b[k + 1] - b[k] >= 1.2:
                out.append((k + (wr - b[k]) / (b[k + 1] - b[k]), "water"))
                break
    return sorted(out)


def touch_contacts(tracks, gap_px=3.5, touch_px=2.0):
    """Object-object contacts: frames where two bboxes come within gap_px after being apart
    (masks lose about a pixel each at the anti-aliased edge, so touching reads as ~2 px).
    A push between a ball and a heavy, grippy box can be too gradual to kink either track."""
    names, out = list(tracks), {}
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            ba, bb = tracks[a]["bbox"], tracks[b]["bbox"]
            gap = np.maximum(np.maximum(ba[:, 0] - bb[:, 2], bb[:, 0] - ba[:, 2]),
                             np.maximum(ba[:, 1] - bb[:, 3], bb[:, 1] - ba[:, 3]))
            for k in range(1, len(gap)):
                if gap[k] <= gap_px < gap[k - 1]:
                    # linear interpolation of the closing gap gives the sub-frame time
                    t = k - 1 + min((gap[k - 1] - touch_px) / max(gap[k - 1] - gap[k], 1e-6), 1.0)
                    out.setdefault(a, []).append((float(t), "object"))
                    out.setdefault(b, []).append((float(t), "object"))
                    break
    return out


# ---------------------------------------------------------------- physics
def physics(tracks, scene, g):
    """dict of checks; 'pass' is their conjunction."""
    res = dict(tracked=False, gravity=True, no_penetration=True, bounces_decay=True, smooth=True,
               no_spontaneous_motion=True)
    seg_acc, seg_rms, n_contacts, n_frames, jerk = [], [], 0, 0, []
    for tr in tracks.values():
        vis, sup, wet, clean = tr["states"]
        if vis.mean() >= 0.5:
            res["tracked"] = True
        p, bb = tr["centre"], tr["bbox"]
        cts = [c for c in tr["contacts"] if c[1] != "water"]
        n_contacts += len(cts)
        acc = np.abs(p[2:] - 2 * p[1:-1] + p[:-2]).max(1)
        jerk.extend(acc[~np.isnan(acc)])
        step = np.abs(np.diff(p, axis=0)).max(1)
        moving = np.nan_to_num(step) > 0.5
        n_frames += int(moving.sum())
        # an object at rest on a surface starts moving only when something hits it
        still = 0
        for k in range(len(moving)):
            if not moving[k] and sup[k]:
                still += 1
                continue
            if moving[k] and still >= 3 and not any(abs(c - k) <= 2 for c, _ in tr["contacts"]) \
                    and not any(abs(c - k) <= 2 for o in tracks.values() for c, _ in o["contacts"]):
                res["no_spontaneous_motion"] = False
            still = 0
        bottoms = bb[vis, 3] - 1
        if bottoms.size and bottoms.max() > scene["floor_row"] + 1:
            res["no_penetration"] = False
        # free flight: runs of airborne, dry, clean frames strictly between contacts
        free = vis & ~sup & ~wet & clean
        for k, _ in cts:
            free[max(int(k) - 1, 0): int(k) + 2] = False
        k = 0
        while k < len(free):
            if free[k]:
                j = k
                while j < len(free) and free[j]:
                    j += 1
                if j - k >= 5 and np.ptp(p[k:j, 1]) > 2:
                    t = np.arange(k, j)
                    coef = np.polyfit(t, p[k:j, 1], 2)
                    seg_acc.append(2 * coef[0])
                    seg_rms.append(float(np.sqrt(np.mean((np.polyval(coef, t) - p[k:j, 1]) ** 2))))
                k = j
            else:
                k += 1
        # bounce apexes between consecutive floor contacts must not rise
        floor_k = [int(k) for k, kind in cts if kind == "floor"]
        heights = []
        for a, b in zip(floor_k, floor_k[1:]):
            if any(a < k < b for k, kind in cts if kind != "floor"):
                heights.append(None)
                continue
            seg = bb[a + 1:b, 3]
            seg = seg[~np.isnan(seg)]
            heights.append(scene["floor_row"] - seg.min() if seg.size else None)
        for h0, h1 in zip(heights, heights[1:]):
            if h0 is not None and h1 is not None and h1 > h0 + 1.5:
                res["bounces_decay"] = False
    if seg_acc:
        med = float(np.median(seg_acc))
        res["gravity"] = bool(med > 0 and all(abs(a - med) <= 0.2 * med for a in seg_acc)
                              and max(seg_rms) < 1.0)
    res["free_flight_acc"] = [round(float(a), 3) for a in seg_acc]
    # impacts are rare events of moving objects; shuffled or jittering tracks kink constantly
    # (typical |acceleration| is gravity, at most ~2.5 px/frame^2 at the closest framing)
    res["smooth"] = n_contacts <= 0.3 * max(n_frames, 1) and (not jerk or np.median(jerk) <= 4.0)
    res["pass"] = all(res[k] for k in ("tracked", "gravity", "no_penetration", "bounces_decay",
                                       "smooth", "no_spontaneous_motion"))
    return res


# ---------------------------------------------------------------- audio
def onsets(audio, floor_db=30.0):
    """Impact onsets (seconds, level dB) by spectral flux: the summed rise of log-magnitude over
    the last 12 ms in 16 ms windows. A ringing or rumbling sound is stationary and adds no flux,
    so a bounce under a metal ring is still found. Peaks must stand out from the local median,
    lie within floor_db of the loudest onset, and come after the first 0.1 s (no visual contact
    can be seen earlier)."""
    win = 256
    n = (len(audio) - win) // HOP
    if n <= 0:
        return []
    idx = np.arange(win)[None, :] + HOP * np.arange(n)[:, None]
    spec = np.abs(np.fft.rfft(audio[idx] * np.hanning(win), axis=1))
    eps = 1e-3 * spec.max() + 1e-9
    logm = np.log10(spec + eps)
    flux = np.zeros(n)
    flux[3:] = np.maximum(logm[3:] - logm[:-3], 0).sum(1)  # rise over 3 hops
    level = 10 * np.log10((spec ** 2).sum(1) + 1e-12)
    cand, last = [], -100
    for k in range(25, n - 3):
        base = np.median(flux[k - 25:k])
        if flux[k] > base + 12 and flux[k] >= flux[k - 2:k + 3].max() and k - last >= 12:
            # the window ending at hop k+4 holds the rise; the sound starts near its middle
            cand.append(((k * HOP + win / 2) / SAMPLE_RATE, float(level[k:k + 4].max())))
            last = k
    if not cand:
        return []
    top = max(lv for _, lv in cand)
    return [(t, lv) for t, lv in cand if lv >= top - floor_db]


def band_energies(audio, t):
    n0 = int(t * SAMPLE_RATE)
    w = audio[n0:n0 + 1024]
    if w.size < 256:
        return None
    spec = np.abs(np.fft.rfft(w * np.hanning(w.size))) ** 2
    freqs = np.fft.rfftfreq(w.size, 1 / SAMPLE_RATE)
    return {m: float(spec[(freqs >= lo) & (freqs < hi)].sum()) for m, (lo, hi) in BANDS.items()}


def sync(visual, audio_onsets, tol=1.0, loud_db=12.0):
    """Recall: share of visual contacts with an audio onset within tol frames. Precision: share
    of loud onsets (within loud_db of the loudest; soft taps are often too small to see at
    128 px and 12 fps) with a visual contact within tol frames."""
    A = [t * FPS for t, _ in audio_onsets]
    top = max((lv for _, lv in audio_onsets), default=0.0)
    loud = [t * FPS for t, lv in audio_onsets if lv >= top - loud_db]
    V = sorted(visual)
    if not V and not A:
        return None
    rec = np.mean([any(abs(a - v) <= tol for a in A) for v in V]) if V else 0.0
    prec = np.mean([any(abs(a - v) <= tol for v in V) for a in loud]) if loud else 0.0
    return dict(recall=float(rec), precision=float(prec), visual=len(V), audio=len(A),
                pass_=bool(rec >= 0.8 and prec >= 0.5))
