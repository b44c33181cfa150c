"""Sound rendered from the simulation: mono 16 kHz, 4 s.

Impacts are modal synthesis (a few exponentially decaying sinusoids per material, pitched by the
object's size, loudness by the approach speed) plus a short noise click, each starting at the
event's exact sub-sample time. Rolling is low rumble and sliding a brighter scrape, both following
the simulated surface speed at 240 Hz. Water entries make a splash (band-passed noise burst and a
few quiet bubble chirps). A quiet room tone runs underneath.
"""
import math

import numpy as np

from .world_params import MATERIALS, SAMPLE_RATE, SAMPLES, SUBSTEPS_PER_SECOND

T = np.arange(SAMPLES) / SAMPLE_RATE
RIM_SOUND = dict(modes=(1900.0, 3300.0, 4700.0), decay=0.25, click=0.2)  # steel ring
FLOOR_THUD = dict(modes=(95.0, 160.0), decay=0.025)


def _lowpass(x, alpha):
    """One-pole low-pass, vectorised through scipy's lfilter."""
    from scipy.signal import lfilter
    return lfilter([alpha], [1, alpha - 1], x)


def _modes(out, t0, freqs, decay, amp, rng):
    n0 = int(math.ceil(t0 * SAMPLE_RATE))
    if n0 >= SAMPLES:
        return
    n1 = min(SAMPLES, n0 + int(decay * 8 * SAMPLE_RATE) + 1)
    tt = T[n0:n1] - t0  # exact time since contact (sub-sample)
    for k, f in enumerate(freqs):
        f = f * rng.uniform(0.97, 1.03)
        env = np.exp(-tt / (decay / (1 + 0.6 * k)))
        out[n0:n1] += amp * (0.75 ** k) * env * np.sin(2 * np.pi * f * tt + rng.uniform(0, 0.3))


def _click(out, t0, amp, rng):
    n0 = int(math.ceil(t0 * SAMPLE_RATE))
    n = min(48, SAMPLES - n0)
    if n > 0:
        out[n0:n0 + n] += amp * rng.normal(0, 1, n) * np.exp(-np.arange(n) / 12)


def impact(out, ev, size, rng, other_material=None):
    m = MATERIALS[ev["material"]]
    amp = 0.55 * min(ev["speed"] / 6.0, 1.0) ** 1.3  # soft taps are much quieter
    pitch = math.sqrt(0.4 / size)  # smaller objects ring higher
    _modes(out, ev["t"], [f * pitch for f in m["modes"]], m["decay"], amp, rng)
    _click(out, ev["t"], amp * m["click"], rng)
    surf = ev["surface"]
    if surf == "rim":
        _modes(out, ev["t"], RIM_SOUND["modes"], RIM_SOUND["decay"], 0.6 * amp, rng)
    elif surf in ("floor", "ramp", "wall", "backboard"):
        _modes(out, ev["t"], FLOOR_THUD["modes"], FLOOR_THUD["decay"], 0.5 * amp, rng)
    elif other_material:
        o = MATERIALS[other_material]
        _modes(out, ev["t"], o["modes"], o["decay"], 0.7 * amp, rng)


def splash(out, ev, rng):
    n0 = int(math.ceil(ev["t"] * SAMPLE_RATE))
    n = min(int(0.4 * SAMPLE_RATE), SAMPLES - n0)
    if n <= 0:
        return
    amp = 0.35 * min(ev["speed"] / 5.0, 1.0) ** 0.6
    noise = rng.normal(0, 1, n)
    band = _lowpass(noise, 0.5) - _lowpass(noise, 0.08)  # roughly 250 Hz .. 2 kHz
    tt = np.arange(n) / SAMPLE_RATE
    env = np.minimum(tt / 0.003, 1.0) * np.exp(-tt / 0.09)
    out[n0:n0 + n] += amp * 2.5 * band * env
    for _ in range(3):  # bubbles: quiet rising chirps, well below the splash itself
        tb = rng.uniform(0.08, 0.3)
        nb0, nb = n0 + int(tb * SAMPLE_RATE), int(0.03 * SAMPLE_RATE)
        if nb0 + nb < SAMPLES:
            tc = np.arange(nb) / SAMPLE_RATE
            f = rng.uniform(400, 700) * (1 + 8 * tc)
            out[nb0:nb0 + nb] += 0.06 * amp * np.sin(2 * np.pi * np.cumsum(f) / SAMPLE_RATE) \
                * np.sin(np.pi * tc / 0.03)


def surface_noise(out, env, bodies, rng):
    """Rolling rumble and sliding scrape, amplitude following the simulated speed."""
    env = np.asarray(env)  # [substeps, N, 2]
    if env.size == 0:
        return
    ts = (np.arange(env.shape[0]) + 1) / SUBSTEPS_PER_SECOND
    for i, b in enumerate(bodies):
        roll = np.interp(T, ts, env[:, i, 0], left=0)
        slide = np.interp(T, ts, env[:, i, 1], left=0)
        if roll.any():
            rumble = _lowpass(rng.normal(0, 1, SAMPLES), 0.03)
            out += 0.05 * np.minimum(roll, 3.0) * rumble
        if slide.any():
            noise = rng.normal(0, 1, SAMPLES)
            scrape = _lowpass(noise, 0.35) - _lowpass(noise, 0.1)
            out += 0.02 * np.minimum(slide, 3.0) * scrape * (1.5 if b.material == "metal" else 1.0)


def render_audio(spec, sim, rng_seed=0):
    """float32 waveform in [-1, 1] for a simulated spec."""
    rng = np.random.default_rng([rng_seed, 11])
    out = 0.004 * _lowpass(rng.normal(0, 1, SAMPLES), 0.1) / 0.2  # room tone
    sizes = [o["size"] for o in spec["objects"]]
    for ev in sim["events"]:
        if ev["surface"] == "water":
            splash(out, ev, rng)
        elif ev["surface"].startswith("obj:"):
            other = spec["objects"][int(ev["surface"][4:])]["material"]
            impact(out, ev, sizes[ev["obj"]], rng, other_material=other)
        else:
            impact(out, ev, sizes[ev["obj"]], rng)
    surface_noise(out, sim["env"], sim["bodies"], rng)
    peak = np.abs(out).max()
    if peak > 0.95:  # soft limit rather than clipping
        out *= 0.95 / peak
    return out.astype(np.float32)
