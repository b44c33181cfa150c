"""2-D side-view rigid-body simulator (x right, y up, gravity -y).

Fixed 240 Hz timestep, semi-implicit Euler, one impulse pass per contact per substep with
restitution and Coulomb friction (balls also spin, so they roll), positional correction, buoyancy
and drag in water. Every impact faster than AUDIBLE_SPEED is recorded with a sub-step time
(penetration depth / approach speed back from the end of the step), so audio can be placed exactly.

Boxes and cylinders are axis-aligned and do not rotate: at 128 px a tumbling box is hardly
visible, and it keeps their shape metrics stable for the evaluator. Ramps and the hoop only
interact with balls (scenes never put boxes there).
"""
import math

from .world_params import (AUDIBLE_SPEED, FPS, FRAMES, GRAVITY, MATERIALS, SUBSTEPS_PER_SECOND,
                           WATER_DENSITY)

DT = 1.0 / SUBSTEPS_PER_SECOND
SUB_PER_FRAME = SUBSTEPS_PER_SECOND // FPS
RESTING_SPEED = 0.25  # below this approach speed a contact is resting: no bounce (no jitter)
RIM_RADIUS = 0.025


class Body:
    def __init__(self, kind, material, size, x, y, vx=0.0, vy=0.0, omega=0.0):
        self.kind, self.material = kind, material
        m = MATERIALS[material]
        self.e, self.mu, self.roll = m["e"], m["mu"], m["roll"]
        if kind == "ball":
            self.r = size / 2
            self.hx = self.hy = self.r
            self.area = math.pi * self.r ** 2
        elif kind == "box":
            self.hx = self.hy = size / 2
            self.area = size * size
        else:  # upright cylinder, taller than wide
            self.hx, self.hy = size / 2, size * 0.9
            self.area = 4 * self.hx * self.hy
        self.mass = m["density"] * self.area
        self.inv_mass = 1.0 / self.mass
        # A ball is a thin-walled-ish sphere (I = 2/5 m r^2); boxes never rotate.
        self.inv_inertia = 1.0 / (0.4 * self.mass * self.r ** 2) if kind == "ball" else 0.0
        self.x, self.y, self.vx, self.vy = x, y, vx, vy
        self.angle, self.omega = 0.0, omega
        self.entered_water = False

    def submerged_area(self, level):
        """Area below the water line `level` (2-D buoyancy)."""
        if self.kind == "ball":
            h = min(max(level - (self.y - self.r), 0.0), 2 * self.r)  # depth of the cap
            r = self.r
            if h <= 0:
                return 0.0
            # circular segment of height h
            return r * r * math.acos((r - h) / r) - (r - h) * math.sqrt(max(2 * r * h - h * h, 0))
        depth = min(max(level - (self.y - self.hy), 0.0), 2 * self.hy)
        return depth * 2 * self.hx


class World:
    """Static geometry plus bodies. Geometry: floor y=0, optional walls, ramp, hoop, water."""

    def __init__(self, walls=None, ramp=None, hoop=None, water_level=None):
        self.walls = walls  # (x_left, x_right) or None
        self.ramp = ramp  # ((x0, y0), (x1, y1)) segment, balls only
        self.hoop = hoop  # dict(x, y): rim centre; rim points at x±0.24, backboard at x+0.3
        self.water_level = water_level
        self.bodies = []
        self.events = []
        self.t = 0.0
        self._last_event = {}

    # ---- geometry helpers -------------------------------------------------------------
    def hoop_parts(self):
        hx, hy = self.hoop["x"], self.hoop["y"]
        rims = [(hx - 0.24, hy), (hx + 0.24, hy)]
        board = ((hx + 0.3, hy - 0.1), (hx + 0.3, hy + 0.75))
        return rims, board

    def static_contacts(self, b):
        """Yield (nx, ny, depth, surface, px, py) for b against static geometry."""
        out = []
        bottom = b.y - b.hy
        if bottom < 0:
            out.append((0.0, 1.0, -bottom, "floor", b.x, 0.0))
        if self.walls:
            xl, xr = self.walls
            if b.x - b.hx < xl:
                out.append((1.0, 0.0, xl - (b.x - b.hx), "wall", xl, b.y))
            if b.x + b.hx > xr:
                out.append((-1.0, 0.0, b.x + b.hx - xr, "wall", xr, b.y))
        if b.kind != "ball":
            return out
        if self.ramp:
            c = _circle_segment(b.x, b.y, b.r, *self.ramp[0], *self.ramp[1])
            if c:
                out.append(c + ("ramp",) + (b.x - c[0] * b.r, b.y - c[1] * b.r))
        if self.hoop:
            rims, board = self.hoop_parts()
            for rx, ry in rims:
                dx, dy = b.x - rx, b.y - ry
                d = math.hypot(dx, dy)
                if 1e-9 < d < b.r + RIM_RADIUS:
                    out.append((dx / d, dy / d, b.r + RIM_RADIUS - d, "rim", rx, ry))
            c = _circle_segment(b.x, b.y, b.r, *board[0], *board[1])
            if c:
                out.append(c + ("backboard", b.x - c[0] * b.r, b.y - c[1] * b.r))
        return out

    # ---- simulation ---------------------------------------------------------------------
    def step(self):
        t0 = self.t
        self.t += DT
        for b in self.bodies:
            ax, ay = 0.0, -GRAVITY
            if self.water_level is not None:
                sub = b.submerged_area(self.water_level)
                if sub > 0:
                    frac = sub / b.area
                    ay += WATER_DENSITY * sub * GRAVITY * b.inv_mass  # buoyancy
                    # quadratic drag (2-D, Cd ~ 1) plus linear damping so floating bodies settle
                    speed = math.hypot(b.vx, b.vy)
                    k = 0.5 * WATER_DENSITY * 1.0 * 2 * b.hx * frac * speed * b.inv_mass
                    ax -= (k + 1.5 * frac) * b.vx
                    ay -= (k + 1.5 * frac) * b.vy
                    b.omega *= 1.0 - 2.0 * frac * DT
                bottom = b.y - b.hy
                if not b.entered_water and b.vy < 0 and bottom + b.vy * DT < self.water_level <= bottom:
                    b.entered_water = True
                    tc = t0 + (bottom - self.water_level) / max(-b.vy, 1e-6)
                    self._event(tc, b, "water", -b.vy, b.x, self.water_level, force=True)
            b.vx += ax * DT
            b.vy += ay * DT
            b.x += b.vx * DT
            b.y += b.vy * DT
            b.angle += b.omega * DT
        for i, b in enumerate(self.bodies):
            for n_x, n_y, depth, surf, px, py in self.static_contacts(b):
                self._resolve(b, None, n_x, n_y, depth, surf, px, py)
            for j in range(i + 1, len(self.bodies)):
                c = _body_contact(b, self.bodies[j])
                if c:
                    nx, ny, depth, px, py = c
                    self._resolve(b, self.bodies[j], nx, ny, depth, "obj:%d" % j, px, py)

    def _resolve(self, a, o, nx, ny, depth, surf, px, py):
        """Impulse with restitution and Coulomb friction between a and o (None = static)."""
        ra = (px - a.x, py - a.y)
        rb = (px - o.x, py - o.y) if o else (0.0, 0.0)
        va = (a.vx - a.omega * ra[1], a.vy + a.omega * ra[0])
        vb = (o.vx - o.omega * rb[1], o.vy + o.omega * rb[0]) if o else (0.0, 0.0)
        rvx, rvy = va[0] - vb[0], va[1] - vb[1]
        vn = rvx * nx + rvy * ny
        inv_b = o.inv_mass if o else 0.0
        iib = o.inv_inertia if o else 0.0
        # positional correction, split by inverse mass
        share = a.inv_mass / (a.inv_mass + inv_b)
        a.x += nx * depth * share
        a.y += ny * depth * share
        if o:
            o.x -= nx * depth * (1 - share)
            o.y -= ny * depth * (1 - share)
        if vn >= 0:
            return
        e = min(a.e, o.e) if o else a.e
        mu = math.sqrt(a.mu * o.mu) if o else a.mu
        if -vn < RESTING_SPEED:
            e = 0.0
        elif -vn > AUDIBLE_SPEED:
            tc = max(self.t - DT, self.t - depth / -vn)
            self._event(tc, a, surf, -vn, px, py)
        ran = ra[0] * ny - ra[1] * nx
        rbn = rb[0] * ny - rb[1] * nx
        k_n = a.inv_mass + inv_b + ran * ran * a.inv_inertia + rbn * rbn * iib
        jn = -(1 + e) * vn / k_n
        tx, ty = -ny, nx
        vt = rvx * tx + rvy * ty
        rat = ra[0] * ty - ra[1] * tx
        rbt = rb[0] * ty - rb[1] * tx
        k_t = a.inv_mass + inv_b + rat * rat * a.inv_inertia + rbt * rbt * iib
        jt = max(-mu * jn, min(mu * jn, -vt / k_t))
        jx, jy = jn * nx + jt * tx, jn * ny + jt * ty
        a.vx += jx * a.inv_mass
        a.vy += jy * a.inv_mass
        a.omega += (ra[0] * jy - ra[1] * jx) * a.inv_inertia
        if o:
            o.vx -= jx * inv_b
            o.vy -= jy * inv_b
            o.omega -= (rb[0] * jy - rb[1] * jx) * iib
        # rolling resistance: a rolling ball slowly loses speed along the surface
        if a.kind == "ball" and o is None:
            vt_new = a.vx * tx + a.vy * ty
            dv = min(abs(vt_new), a.roll * GRAVITY * DT)
            a.vx -= math.copysign(dv, vt_new) * tx
            a.vy -= math.copysign(dv, vt_new) * ty

    def _event(self, tc, b, surf, speed, px, py, force=False):
        key = (id(b), surf)
        if not force and tc - self._last_event.get(key, -1.0) < 0.03:
            return
        self._last_event[key] = tc
        self.events.append(dict(t=round(tc, 5), obj=self.bodies.index(b), surface=surf,
                                speed=round(speed, 4), material=b.material,
                                x=round(px, 4), y=round(py, 4)))

    def run(self):
        """Simulate the whole clip. Returns (tracks, sound_env) where tracks[f][i] = (x, y, angle)
        at frame f and sound_env[s][i] = (rolling speed, sliding speed) at each substep."""
        tracks, env = [], []
        for f in range(FRAMES):
            tracks.append([(b.x, b.y, b.angle) for b in self.bodies])
            for _ in range(SUB_PER_FRAME):
                self.step()
                env.append([self._surface_motion(b) for b in self.bodies])
        self.events.sort(key=lambda ev: ev["t"])
        return tracks, env

    def _surface_motion(self, b):
        """(rolling speed, sliding speed) of b on a solid surface, 0 when airborne or in water."""
        touching = any(c[3] in ("floor", "ramp") for c in self.static_contacts_loose(b))
        if not touching:
            return (0.0, 0.0)
        if self.water_level is not None and b.y < self.water_level:
            return (0.0, 0.0)
        speed = math.hypot(b.vx, b.vy)
        return (speed, 0.0) if b.kind == "ball" else (0.0, speed)

    def static_contacts_loose(self, b):
        """Contacts with a 1 cm tolerance (after resolution bodies sit exactly on surfaces)."""
        b.y -= 0.01
        try:
            return self.static_contacts(b)
        finally:
            b.y += 0.01


def _circle_segment(cx, cy, r, x0, y0, x1, y1):
    """Contact of a circle with a segment: (nx, ny, depth) or None."""
    sx, sy = x1 - x0, y1 - y0
    u = max(0.0, min(1.0, ((cx - x0) * sx + (cy - y0) * sy) / (sx * sx + sy * sy)))
    qx, qy = x0 + u * sx, y0 + u * sy
    dx, dy = cx - qx, cy - qy
    d = math.hypot(dx, dy)
    if d >= r or d < 1e-9:
        return None
    return (dx / d, dy / d, r - d)


def _body_contact(a, b):
    """Contact between two bodies: (nx, ny, depth, px, py) with n pointing from b to a."""
    if a.kind == "ball" and b.kind == "ball":
        dx, dy = a.x - b.x, a.y - b.y
        d = math.hypot(dx, dy)
        if d >= a.r + b.r or d < 1e-9:
            return None
        nx, ny = dx / d, dy / d
        return (nx, ny, a.r + b.r - d, b.x + nx * b.r, b.y + ny * b.r)
    if a.kind == "ball" or b.kind == "ball":
        ball, box, sign = (a, b, 1.0) if a.kind == "ball" else (b, a, -1.0)
        qx = max(box.x - box.hx, min(box.x + box.hx, ball.x))
        qy = max(box.y - box.hy, min(box.y + box.hy, ball.y))
        dx, dy = ball.x - qx, ball.y - qy
        d = math.hypot(dx, dy)
        if d >= ball.r or d < 1e-9:
            return None
        return (sign * dx / d, sign * dy / d, ball.r - d, qx, qy)
    ox = a.hx + b.hx - abs(a.x - b.x)
    oy = a.hy + b.hy - abs(a.y - b.y)
    if ox <= 0 or oy <= 0:
        return None
    if ox < oy:
        nx = 1.0 if a.x > b.x else -1.0
        return (nx, 0.0, ox, (a.x + b.x) / 2, (a.y + b.y) / 2)
    ny = 1.0 if a.y > b.y else -1.0
    return (0.0, ny, oy, (a.x + b.x) / 2, min(a.y, b.y) + (b.hy if a.y > b.y else a.hy))
