"""Varied English captions for a scene spec: several paraphrases per clip.

Synonyms for colours, kinds, materials, actions and styles, with different sentence shapes,
so a text encoder learns the attributes rather than one template.
"""
import numpy as np

COLOUR_WORDS = {
    "red": ["red", "crimson", "scarlet"], "orange": ["orange", "tangerine", "amber"],
    "yellow": ["yellow", "golden", "lemon-yellow"], "green": ["green", "emerald", "lime-green"],
    "cyan": ["cyan", "turquoise", "aqua"], "blue": ["blue", "cobalt", "royal blue"],
    "purple": ["purple", "violet", "plum"], "pink": ["pink", "magenta", "hot pink"],
}
KIND_WORDS = {"ball": ["ball", "sphere", "orb"], "box": ["box", "cube", "crate", "block"],
              "cylinder": ["cylinder", "can", "canister", "drum"]}
MATERIAL_WORDS = {"rubber": ["rubber", "rubbery", "bouncy rubber"],
                  "wood": ["wooden", "wood", "timber"],
                  "metal": ["metal", "steel", "iron", "metallic"]}
STYLE_WORDS = {
    "anime": ["in anime style", "anime-style and cel-shaded", "as a flat 2D cartoon",
              "in the style of Japanese animation", "as cel-shaded animation"],
    "realistic": ["realistic", "photorealistic, with soft shadows", "as a lifelike render",
                  "shot realistically", "with natural lighting and shadows"],
    "newsreel": ["as an old newsreel", "in grainy sepia film", "as 1920s newsreel footage",
                 "on flickering vintage film", "like an old silent film reel"],
}
NUMBERS = {2: "two", 3: "three"}

# Templates: {S} subject list, {s} verb ending (singular 's'), {is} is/are, {it} it/them,
# {es} for verbs ending in -sh, {y} flies/fly.
ACTION_TEMPLATES = {
    "drop": ["{S} {is} dropped onto the floor", "{S} fall{s} to the ground",
             "someone drops {S}", "{S} tumble{s} down and land{s} on the floor",
             "{S} {is} let go and drop{s} straight down"],
    "throw": ["{S} {is} thrown across the room", "someone tosses {S} through the air",
              "{S} {y} in an arc and land{s}", "{S} {is} hurled and come{s} down on the floor"],
    "bounce": ["{S} bounce{s} on the floor", "{S} bounce{s} a few times before settling",
               "{S} keep{s} bouncing, each bounce lower than the last", "{S} hop{s} along the ground"],
    "roll": ["{S} roll{s} along", "{S} roll{s} across the floor", "{S} trundle{s} along the ground",
             "{S} {is} rolling"],
    "slide": ["{S} slide{s} across the floor and stop{s}", "{S} skid{s} along the ground until "
              "friction stops {it}", "someone shoves {S} and {it} glide{s} to a halt",
              "{S} scrape{s} across the floor and come{s} to rest"],
    "collide": ["{A} and {B} collide", "{A} crashes into {B}", "{A} rolls into {B}",
                "{A} smacks into {B}"],
    "rebound": ["{S} is shot at a basketball hoop and rebounds off the rim",
                "a missed shot: {S} bounces off the rim", "{S} clangs off the hoop and falls away",
                "someone throws {S} at the hoop and misses"],
    "sink": ["{S} sink{s} to the bottom of the water", "{S} drop{s} into a pool and sink{s}",
             "{S} plunge{s} into the water and go{es} under", "{S} splash{es} down and sink{s}"],
    "float": ["{S} float{s} on the water", "{S} splash{es} into a pool and bob{s} on the surface",
              "{S} drop{s} into water and stay{s} afloat", "{S} land{s} in the water and float{s}"],
    "float_sink": ["{F} floats while {K} sinks", "{K} sinks to the bottom but {F} stays afloat",
                   "dropped into water, {F} bobs on the surface and {K} goes under",
                   "{F} and {K} fall into a pool: one floats, the other sinks"],
}


def noun_phrase(o, rng, article=True):
    colour = rng.choice(COLOUR_WORDS[o["colour"]])
    kind = rng.choice(KIND_WORDS[o["kind"]])
    mat = rng.choice(MATERIAL_WORDS[o["material"]])
    shape = rng.integers(3)
    if shape == 0:
        np_ = "%s %s %s" % (colour, mat, kind)
    elif shape == 1:
        np_ = "%s %s made of %s" % (colour, kind, "wood" if o["material"] == "wood" else
                                    mat.replace("metallic", "metal").replace("rubbery", "rubber")
                                    .replace("bouncy rubber", "rubber"))
    else:
        np_ = "%s %s %s" % (mat, colour, kind)
    if not article:
        return np_
    return ("an " if np_[0] in "aeiou" else "a ") + np_


def join(parts):
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


def caption(spec, rng):
    objs = spec["objects"]
    n = len(objs)
    action = spec["action"]
    tpl = rng.choice(ACTION_TEMPLATES[action])
    nps = [noun_phrase(o, rng) for o in objs]
    if n > 1 and rng.random() < 0.3:
        subject = "%s objects, %s," % (NUMBERS[n], join(nps))
    else:
        subject = join(nps)
    single = n == 1
    fields = dict(S=subject, s="s" if single else "", es="es" if single else "",
                  it="it" if single else "them", y="flies" if single else "fly",
                  A=nps[0], B=nps[-1])
    fields["is"] = "is" if single else "are"
    if action == "float_sink":
        metal = [i for i, o in enumerate(objs) if o["material"] == "metal"][0]
        fields.update(K=nps[metal], F=nps[1 - metal])
    text = tpl.format(**fields)
    style = rng.choice(STYLE_WORDS[spec["style"]])
    if rng.random() < 0.5:
        text = "%s, %s" % (text, style)
    else:
        text = "%s: %s" % (style[0].upper() + style[1:], text)
    return text[0].upper() + text[1:]


def captions(spec, rng, count=5):
    """`count` distinct paraphrases (fewer only if the templates run out)."""
    seen = []
    for _ in range(count * 8):
        c = caption(spec, rng)
        if c not in seen:
            seen.append(c)
        if len(seen) == count:
            break
    return seen


def rng_for(spec):
    return np.random.default_rng([spec.get("seed", 0), 3, spec.get("index", 0)])
