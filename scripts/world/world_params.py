"""Constants of the simulated world: output format, palette, materials, styles.

One module so that the generator and the evaluator agree on the same numbers.
"""

# Output format the model is trained on.
WIDTH = HEIGHT = 128
FPS = 12
SECONDS = 4.0
FRAMES = 48
SAMPLE_RATE = 16000
SAMPLES = 64000
SUBSTEPS_PER_SECOND = 240  # fixed physics timestep (20 substeps per video frame)

GRAVITY = 9.81  # m/s^2, acting along -y
WATER_DENSITY = 1000.0  # kg/m^3 (2-D: mass = density * area)

# Object colours: saturated, hue-separated by >= 25 degrees so hue alone names them,
# even after the newsreel style keeps only part of the colour.
COLOURS = {
    "red": (225, 35, 40),
    "orange": (245, 135, 20),
    "yellow": (240, 215, 25),
    "green": (40, 185, 60),
    "cyan": (20, 200, 210),
    "blue": (35, 70, 235),
    "purple": (140, 50, 220),
    "pink": (240, 60, 170),
}
COLOUR_NAMES = list(COLOURS)

# Background colours are kept at low saturation so that "saturated pixel" means "object".
SKY = (200, 210, 218)
SKY_ANIME = (205, 222, 232)
FLOOR = (150, 128, 104)
RAMP = (128, 116, 104)
WALL = (120, 118, 116)
WATER = (60, 120, 160)
WATER_ALPHA = 0.35  # how much water tint lies over submerged objects
RIM = (70, 70, 70)
BACKBOARD = (235, 235, 235)

# Materials: restitution e, Coulomb friction mu, density (kg/m^3), rolling resistance,
# and the modal sound (frequencies in Hz for a 0.2 m object, decay time constant in s).
MATERIALS = {
    "rubber": dict(e=0.80, mu=0.90, density=300.0, roll=0.04,
                   modes=(170.0, 260.0, 410.0), decay=0.030, click=0.15),
    "wood": dict(e=0.50, mu=0.50, density=600.0, roll=0.02,
                 modes=(850.0, 1500.0, 2300.0), decay=0.045, click=0.35),
    "metal": dict(e=0.30, mu=0.22, density=7800.0, roll=0.01,
                  modes=(2900.0, 4100.0, 5600.0), decay=0.220, click=0.25),
}
MATERIAL_NAMES = list(MATERIALS)

KINDS = ["ball", "box", "cylinder"]
STYLES = ["anime", "realistic", "newsreel"]
ACTIONS = ["drop", "throw", "bounce", "roll", "slide", "collide", "rebound", "sink", "float",
           "float_sink"]

# Camera framings: (name, pixels per metre, horizontal centre in m, floor row in px).
FRAMINGS = [
    ("wide", 24.0, 0.0, 116),
    ("medium", 30.0, 0.0, 112),
    ("close", 36.0, 0.0, 110),
    ("pan_left", 30.0, -0.6, 114),
    ("pan_right", 30.0, 0.6, 114),
    ("low", 28.0, 0.0, 104),
]

# Minimum approach speed (m/s) for a contact to count as an audible impact event, and the
# stronger one the evaluator's sync metric uses (small late bounces are hard to see at 12 fps).
AUDIBLE_SPEED = 0.3
SYNC_SPEED = 1.2
