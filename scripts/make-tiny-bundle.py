#!/usr/bin/env python3
"""Builds the tiny random-weight bundle at engines/bundles/tiny-random/.

The bundle has the same shape as a real joint audio+video diffusion bundle (text encoder, joint
denoiser, chunked video decoder, audio decoder) but with a few thousand random weights, so the
whole engine can run and be tested on a bare CPU in well under a second per clip.

Deterministic: a fixed numpy seed and fixed graph construction, so re-running the script
rewrites byte-identical files. Needs python3 with numpy, onnx and tokenizers (no torch).

    python3 scripts/make-tiny-bundle.py [--out DIR]
"""

import argparse
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
from tokenizers import Tokenizer, models, normalizers, pre_tokenizers

SEED = 20240611
OPSET = 18

# Geometry. Keep in sync with the [clip] and [latent] sections written below.
MAX_TOKENS = 32  # L
HIDDEN = 32  # D
VIDEO_CHANNELS = 8  # C
AUDIO_CHANNELS = 8  # Ca
WIDTH = HEIGHT = 128
SPATIAL = 8  # 128 / 8 = 16 latent pixels per side
TEMPORAL = 4  # frames per latent frame
FPS = 12
SAMPLE_RATE = 16_000
AUDIO_HOP = 320  # samples per audio latent step (20 ms)
MAX_SECONDS = 10.0
LATENT_SIDE = WIDTH // SPATIAL

WORDS = """
a an the of with and in on under over at by from into through near behind above below beside
cat dog bird fish horse cow sheep fox wolf bear lion tiger owl duck frog rabbit mouse whale
car truck bus train boat ship plane bicycle robot rocket drone lamp chair table door window
house tower bridge castle city street road river lake sea ocean beach mountain hill forest tree
flower grass leaf rock stone cloud sky sun moon star rain snow storm wind fire smoke water ice
cup bottle glass plate bowl spoon knife book clock phone camera guitar piano drum violin ball
box bag hat shoe shirt dress coat ring crown sword shield key coin map candle mirror bell
apple orange banana lemon cherry bread cake coffee tea soup pizza cheese egg honey
man woman child boy girl person people crowd dancer singer chef farmer soldier king queen
red orange yellow green blue purple pink brown black white gray grey gold silver teal cyan
magenta violet crimson amber beige ivory navy olive maroon turquoise bright dark pale vivid
wood wooden metal metallic steel iron copper brass glass plastic paper cloth silk wool leather
stone marble concrete clay sand velvet rubber crystal ceramic neon chrome rusty shiny matte
run runs running walk walks walking jump jumps jumping fly flies flying swim swims swimming
dance dances dancing sing sings singing spin spins spinning fall falls falling rise rises
float floats floating burn burns burning melt melts melting grow grows growing glow glows
glowing roll rolls rolling shake shakes shaking wave waves waving play plays playing sleep
eat eats eating drink talk talks talking laugh laughs laughing cry explode explodes exploding
open opens close closes turn turns move moves moving slowly quickly gently softly loudly
big small tiny huge tall short long wide round square old new young ancient modern empty
full hot cold warm cool wet dry soft hard smooth rough heavy light fast slow quiet loud
happy sad calm angry sleepy busy lonely
cinematic realistic photorealistic cartoon anime painting watercolor oil sketch pixel
art style render rendered 3d 2d film shot closeup close-up wide-angle aerial drone macro
portrait landscape night day morning evening sunset sunrise dusk dawn foggy misty rainy sunny
snowy stormy dramatic lighting light shadow shadows bokeh vintage retro futuristic minimal
surreal dreamy epic slow-motion timelapse loop camera pan zoom tracking handheld static
music sound noise voice song melody beat hum buzz roar whisper echo chime splash crackle
""".split()


def build_tokenizer(path):
    """WordLevel vocabulary: [PAD]=0, [UNK]=1, then the words above in first-seen order."""
    vocab = {"[PAD]": 0, "[UNK]": 1}
    for word in WORDS:
        vocab.setdefault(word.lower(), len(vocab))
    tokenizer = Tokenizer(models.WordLevel(vocab=vocab, unk_token="[UNK]"))
    tokenizer.normalizer = normalizers.Sequence([normalizers.NFKC(), normalizers.Lowercase()])
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.Whitespace(), pre_tokenizers.Punctuation()]
    )
    tokenizer.save(path)
    return len(vocab)


def tensor(rng, name, shape, scale):
    values = (rng.standard_normal(shape) * scale).astype(np.float32)
    return numpy_helper.from_array(values, name)


def const_i64(name, values):
    return numpy_helper.from_array(np.array(values, dtype=np.int64), name)


def save(graph, path):
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", OPSET)],
        producer_name="reel make-tiny-bundle.py",
    )
    model.ir_version = 8  # readable by every ONNX Runtime >= 1.14
    onnx.checker.check_model(model, full_check=True)
    onnx.save(model, path)


def f32(name, shape):
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, shape)


def i64(name, shape):
    return helper.make_tensor_value_info(name, TensorProto.INT64, shape)


def text_encoder(rng, vocab_size, path):
    """ids [1,L] + mask [1,L] -> hidden [1,L,D]: embedding, one tanh layer, masked."""
    inits = [
        tensor(rng, "embedding", (vocab_size, HIDDEN), 1.0),
        tensor(rng, "w_text", (HIDDEN, HIDDEN), 1.0 / np.sqrt(HIDDEN)),
        tensor(rng, "b_text", (HIDDEN,), 0.1),
        const_i64("last_axis", [-1]),
    ]
    nodes = [
        helper.make_node("Gather", ["embedding", "input_ids"], ["embedded"]),
        helper.make_node("MatMul", ["embedded", "w_text"], ["projected"]),
        helper.make_node("Add", ["projected", "b_text"], ["biased"]),
        helper.make_node("Tanh", ["biased"], ["activated"]),
        helper.make_node("Cast", ["attention_mask"], ["mask_f"], to=TensorProto.FLOAT),
        helper.make_node("Unsqueeze", ["mask_f", "last_axis"], ["mask_3d"]),
        helper.make_node("Mul", ["activated", "mask_3d"], ["hidden"]),
    ]
    graph = helper.make_graph(
        nodes,
        "text_encoder",
        [i64("input_ids", [1, MAX_TOKENS]), i64("attention_mask", [1, MAX_TOKENS])],
        [f32("hidden", [1, MAX_TOKENS, HIDDEN])],
        inits,
    )
    save(graph, path)


def denoiser(rng, path):
    """Joint audio+video velocity model, LTX-2-like in spirit.

    Conditioning = mean-pooled text + sinusoidal timestep, projected and broadcast-added into
    both streams; each stream also sees the other's pooled state (the "joint" part). Outputs go
    through tanh so velocities stay bounded whatever the random weights are.
    """
    c, ca, d = VIDEO_CHANNELS, AUDIO_CHANNELS, HIDDEN
    inits = [
        tensor(rng, "w_time", (1, d), 3.0),
        tensor(rng, "w_cond_video", (d, c), 1.0 / np.sqrt(d)),
        tensor(rng, "w_cond_audio", (d, ca), 1.0 / np.sqrt(d)),
        tensor(rng, "w_audio_to_video", (ca, c), 0.5 / np.sqrt(ca)),
        tensor(rng, "w_video_to_audio", (c, ca), 0.5 / np.sqrt(c)),
        tensor(rng, "conv_video_1", (c, c, 3, 3, 3), 1.0 / np.sqrt(c * 27)),
        tensor(rng, "conv_video_2", (c, c, 1, 1, 1), 1.0 / np.sqrt(c)),
        tensor(rng, "conv_audio_1", (ca, ca, 3), 1.0 / np.sqrt(ca * 3)),
        tensor(rng, "conv_audio_2", (ca, ca, 1), 1.0 / np.sqrt(ca)),
        numpy_helper.from_array(np.array([1e-3], dtype=np.float32), "timestep_scale"),
        numpy_helper.from_array(np.array([1.5], dtype=np.float32), "velocity_scale"),
        const_i64("axis_tokens", [1]),
        const_i64("axes_video_space_time", [2, 3, 4]),
        const_i64("axis_audio_time", [2]),
        const_i64("shape_video_cond", [1, c, 1, 1, 1]),
        const_i64("shape_audio_cond", [1, ca, 1]),
        const_i64("shape_time", [1, 1]),
    ]
    nodes = [
        # Conditioning vector [1, D]: pooled text + sin(timestep features).
        helper.make_node(
            "ReduceMean", ["encoder_hidden_states", "axis_tokens"], ["text_pooled"], keepdims=0
        ),
        helper.make_node("Mul", ["timestep", "timestep_scale"], ["t_unit"]),
        helper.make_node("Reshape", ["t_unit", "shape_time"], ["t_col"]),
        helper.make_node("MatMul", ["t_col", "w_time"], ["t_features"]),
        helper.make_node("Sin", ["t_features"], ["t_embedding"]),
        helper.make_node("Add", ["text_pooled", "t_embedding"], ["cond"]),
        # Cross-stream summaries.
        helper.make_node(
            "ReduceMean", ["video_latent", "axes_video_space_time"], ["video_pooled"], keepdims=0
        ),
        helper.make_node(
            "ReduceMean", ["audio_latent", "axis_audio_time"], ["audio_pooled"], keepdims=0
        ),
        # Video branch.
        helper.make_node("MatMul", ["cond", "w_cond_video"], ["cond_v"]),
        helper.make_node("MatMul", ["audio_pooled", "w_audio_to_video"], ["audio_into_v"]),
        helper.make_node("Add", ["cond_v", "audio_into_v"], ["bias_v_flat"]),
        helper.make_node("Reshape", ["bias_v_flat", "shape_video_cond"], ["bias_v"]),
        helper.make_node(
            "Conv", ["video_latent", "conv_video_1"], ["v_conv1"], pads=[1, 1, 1, 1, 1, 1]
        ),
        helper.make_node("Add", ["v_conv1", "bias_v"], ["v_conditioned"]),
        helper.make_node("Tanh", ["v_conditioned"], ["v_hidden"]),
        helper.make_node("Conv", ["v_hidden", "conv_video_2"], ["v_conv2"]),
        helper.make_node("Tanh", ["v_conv2"], ["v_bounded"]),
        helper.make_node("Mul", ["v_bounded", "velocity_scale"], ["video_velocity"]),
        # Audio branch.
        helper.make_node("MatMul", ["cond", "w_cond_audio"], ["cond_a"]),
        helper.make_node("MatMul", ["video_pooled", "w_video_to_audio"], ["video_into_a"]),
        helper.make_node("Add", ["cond_a", "video_into_a"], ["bias_a_flat"]),
        helper.make_node("Reshape", ["bias_a_flat", "shape_audio_cond"], ["bias_a"]),
        helper.make_node("Conv", ["audio_latent", "conv_audio_1"], ["a_conv1"], pads=[1, 1]),
        helper.make_node("Add", ["a_conv1", "bias_a"], ["a_conditioned"]),
        helper.make_node("Tanh", ["a_conditioned"], ["a_hidden"]),
        helper.make_node("Conv", ["a_hidden", "conv_audio_2"], ["a_conv2"]),
        helper.make_node("Tanh", ["a_conv2"], ["a_bounded"]),
        helper.make_node("Mul", ["a_bounded", "velocity_scale"], ["audio_velocity"]),
    ]
    video_shape = [1, c, "latent_frames", LATENT_SIDE, LATENT_SIDE]
    audio_shape = [1, ca, "audio_steps"]
    graph = helper.make_graph(
        nodes,
        "denoiser",
        [
            f32("video_latent", video_shape),
            f32("audio_latent", audio_shape),
            f32("timestep", [1]),
            f32("encoder_hidden_states", [1, MAX_TOKENS, HIDDEN]),
        ],
        [f32("video_velocity", video_shape), f32("audio_velocity", audio_shape)],
        inits,
    )
    save(graph, path)


def video_decoder(rng, path):
    """Latent [1,C,t,16,16] -> video [1,3,4t,128,128] in [-1,1].

    A 1x1x1 conv to 3*4*8*8 channels, then a depth-to-space rearrangement (pixel shuffle in
    time and space), a 1x3x3 smoothing conv and tanh.
    """
    c, tc, sc = VIDEO_CHANNELS, TEMPORAL, SPATIAL
    expanded = 3 * tc * sc * sc
    inits = [
        tensor(rng, "conv_expand", (expanded, c, 1, 1, 1), 1.0 / np.sqrt(c)),
        tensor(rng, "conv_smooth", (3, 3, 1, 3, 3), 1.0 / np.sqrt(3 * 9)),
        const_i64("shape_split", [1, 3, tc, sc, sc, -1, LATENT_SIDE, LATENT_SIDE]),
        const_i64("shape_video", [1, 3, -1, HEIGHT, WIDTH]),
    ]
    nodes = [
        helper.make_node("Conv", ["latent", "conv_expand"], ["expanded"]),
        helper.make_node("Reshape", ["expanded", "shape_split"], ["split"]),
        # [1, rgb, dt, dy, dx, t, y, x] -> [1, rgb, t, dt, y, dy, x, dx]
        helper.make_node("Transpose", ["split"], ["shuffled"], perm=[0, 1, 5, 2, 6, 3, 7, 4]),
        helper.make_node("Reshape", ["shuffled", "shape_video"], ["pixels"]),
        helper.make_node(
            "Conv", ["pixels", "conv_smooth"], ["smoothed"], pads=[0, 1, 1, 0, 1, 1]
        ),
        helper.make_node("Tanh", ["smoothed"], ["video"]),
    ]
    graph = helper.make_graph(
        nodes,
        "video_decoder",
        [f32("latent", [1, c, "latent_frames", LATENT_SIDE, LATENT_SIDE])],
        [f32("video", [1, 3, "frames", HEIGHT, WIDTH])],
        inits,
    )
    save(graph, path)


def audio_decoder(rng, path):
    """Latent [1,Ca,Ta] -> waveform [1,1,Ta*320] in [-1,1].

    Each latent step becomes 20 ms of a mix of sinusoids whose frequencies are multiples of
    50 Hz, so every basis completes whole cycles per hop and steps join without clicks: the
    random weights give a chord-like tone rather than white noise.
    """
    ca, hop = AUDIO_CHANNELS, AUDIO_HOP
    n = np.arange(hop) / SAMPLE_RATE
    freqs = 50.0 * rng.integers(4, 24, size=ca)
    basis = np.stack([np.sin(2 * np.pi * f * n) for f in freqs])  # [Ca, hop]
    weight = (basis.T[:, :, None] / np.sqrt(ca)).astype(np.float32)  # [hop, Ca, 1]
    inits = [
        numpy_helper.from_array(weight, "conv_synth"),
        numpy_helper.from_array(np.array([0.5], dtype=np.float32), "gain"),
        const_i64("shape_wave", [1, 1, -1]),
    ]
    nodes = [
        helper.make_node("Conv", ["latent", "conv_synth"], ["frames"]),  # [1, hop, Ta]
        helper.make_node("Transpose", ["frames"], ["steps"], perm=[0, 2, 1]),  # [1, Ta, hop]
        helper.make_node("Reshape", ["steps", "shape_wave"], ["raw"]),
        helper.make_node("Mul", ["raw", "gain"], ["scaled"]),
        helper.make_node("Tanh", ["scaled"], ["waveform"]),
    ]
    graph = helper.make_graph(
        nodes,
        "audio_decoder",
        [f32("latent", [1, ca, "audio_steps"])],
        [f32("waveform", [1, 1, "samples"])],
        inits,
    )
    save(graph, path)


def tensor_toml(kind, name, dtype, shape, trt=None):
    dims = ", ".join(f'"{d}"' if isinstance(d, str) else str(d) for d in shape)
    lines = [f"[[{kind}]]", f'name = "{name}"', f'dtype = "{dtype}"', f"shape = [{dims}]"]
    if trt:
        for key in ("min", "opt", "max"):
            lines.append(f"tensorrt_{key} = {trt[key]}")
    return "\n".join(lines) + "\n"


def manifest():
    c, ca, side = VIDEO_CHANNELS, AUDIO_CHANNELS, LATENT_SIDE
    max_latent = int(np.ceil(MAX_SECONDS * FPS / TEMPORAL))
    max_audio = int(np.ceil(MAX_SECONDS * SAMPLE_RATE / AUDIO_HOP))
    default_latent = int(np.ceil(4 * FPS / TEMPORAL))
    default_audio = int(np.ceil(4 * SAMPLE_RATE / AUDIO_HOP))

    def video_profile(opt):
        return {"min": [1, c, 1, side, side], "opt": [1, c, opt, side, side],
                "max": [1, c, max_latent, side, side]}

    audio_profile = {"min": [1, ca, 1], "opt": [1, ca, default_audio], "max": [1, ca, max_audio]}
    head = f"""# Tiny random-weight bundle for tests and bare-CPU demos. Generated by
# scripts/make-tiny-bundle.py; do not edit by hand, re-run the script.
format_version = 1

[bundle]
name = "tiny-random"
version = "0.1.0"
licence = "Apache-2.0"
source = "scripts/make-tiny-bundle.py (numpy seed {SEED})"
description = "Random weights with the shape of a joint audio+video flow-matching model. Output is abstract colour and tone, not a picture of the prompt."
pipeline = "joint_audio_video"

[clip]
width = {WIDTH}
height = {HEIGHT}
fps_num = {FPS}
fps_den = 1
sample_rate = {SAMPLE_RATE}
channels = 1
default_seconds = 4.0
max_seconds = {MAX_SECONDS}

[latent]
video_channels = {c}
spatial_compression = {SPATIAL}
temporal_compression = {TEMPORAL}
audio_channels = {ca}
audio_hop = {AUDIO_HOP}
decode_chunk_latent_frames = 2

[scheduler]
kind = "flow_match_euler"
steps = 8
shift = 3.0
guidance = 1.0
num_train_timesteps = 1000

[tokenizer]
file = "tokenizer.json"
max_length = {MAX_TOKENS}
truncation = "truncate"
pad_token = "[PAD]"

[capabilities]
reference_image = false
speech = false
"""
    parts = [head]
    t = "components.text_encoder"
    parts.append(f'[{t}]\nfile = "text_encoder.onnx"\n')
    parts.append(tensor_toml(f"{t}.inputs", "input_ids", "int64", [1, MAX_TOKENS]))
    parts.append(tensor_toml(f"{t}.inputs", "attention_mask", "int64", [1, MAX_TOKENS]))
    parts.append(tensor_toml(f"{t}.outputs", "hidden", "float32", [1, MAX_TOKENS, HIDDEN]))
    d = "components.denoiser"
    parts.append(f'[{d}]\nfile = "denoiser.onnx"\n')
    video = [1, c, "latent_frames", side, side]
    audio = [1, ca, "audio_steps"]
    parts.append(
        tensor_toml(f"{d}.inputs", "video_latent", "float32", video, video_profile(default_latent))
    )
    parts.append(tensor_toml(f"{d}.inputs", "audio_latent", "float32", audio, audio_profile))
    parts.append(tensor_toml(f"{d}.inputs", "timestep", "float32", [1]))
    parts.append(
        tensor_toml(f"{d}.inputs", "encoder_hidden_states", "float32", [1, MAX_TOKENS, HIDDEN])
    )
    parts.append(tensor_toml(f"{d}.outputs", "video_velocity", "float32", video))
    parts.append(tensor_toml(f"{d}.outputs", "audio_velocity", "float32", audio))
    v = "components.video_decoder"
    parts.append(f'[{v}]\nfile = "video_decoder.onnx"\n')
    parts.append(tensor_toml(f"{v}.inputs", "latent", "float32", video, video_profile(2)))
    parts.append(
        tensor_toml(f"{v}.outputs", "video", "float32", [1, 3, "frames", HEIGHT, WIDTH])
    )
    a = "components.audio_decoder"
    parts.append(f'[{a}]\nfile = "audio_decoder.onnx"\n')
    parts.append(tensor_toml(f"{a}.inputs", "latent", "float32", audio, audio_profile))
    parts.append(tensor_toml(f"{a}.outputs", "waveform", "float32", [1, 1, "samples"]))
    return "\n".join(parts)


def main():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=os.path.join(root, "engines", "bundles", "tiny-random"))
    out = parser.parse_args().out
    os.makedirs(out, exist_ok=True)

    rng = np.random.default_rng(SEED)
    vocab_size = build_tokenizer(os.path.join(out, "tokenizer.json"))
    text_encoder(rng, vocab_size, os.path.join(out, "text_encoder.onnx"))
    denoiser(rng, os.path.join(out, "denoiser.onnx"))
    video_decoder(rng, os.path.join(out, "video_decoder.onnx"))
    audio_decoder(rng, os.path.join(out, "audio_decoder.onnx"))
    with open(os.path.join(out, "bundle.toml"), "w", encoding="utf-8") as f:
        f.write(manifest())

    total = 0
    for name in sorted(os.listdir(out)):
        size = os.path.getsize(os.path.join(out, name))
        total += size
        print(f"wrote {os.path.join(out, name)} ({size} bytes)")
    print(f"total {total} bytes, vocabulary {vocab_size} tokens")
    if total >= 2 * 1024 * 1024:
        sys.exit("bundle is over the 2 MB budget")


if __name__ == "__main__":
    main()
