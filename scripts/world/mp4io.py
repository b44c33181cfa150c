"""MP4 (H.264 + AAC) write and read through gst-launch-1.0, no ffmpeg.

Raw RGB frames and S16LE audio go through temporary files; gst-launch-1.0 is run as a subprocess.
"""
import os
import subprocess
import tempfile

import numpy as np

from .world_params import FPS, HEIGHT, SAMPLE_RATE, SAMPLES, WIDTH


def _gst(*pipeline):
    subprocess.run(["gst-launch-1.0", "-q", *pipeline], check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.PIPE)


def write_mp4(path, frames, audio):
    """frames uint8 [F,H,W,3], audio float32 [-1,1] mono 16 kHz -> MP4 at `path`."""
    with tempfile.TemporaryDirectory() as d:
        vf, af = os.path.join(d, "v.rgb"), os.path.join(d, "a.raw")
        np.ascontiguousarray(frames, np.uint8).tofile(vf)
        np.round(np.clip(audio, -1, 1) * 32767).astype("<i2").tofile(af)
        f, h, w, _ = frames.shape
        _gst("filesrc", "location=" + vf, "!", "rawvideoparse", "format=rgb", "width=%d" % w,
             "height=%d" % h, "framerate=%d/1" % FPS, "!", "videoconvert", "!",
             "video/x-raw,format=I420", "!", "x264enc", "speed-preset=faster", "quantizer=16",
             "pass=quant", "key-int-max=12", "!", "h264parse", "!", "mp4mux", "name=m", "!",
             "filesink", "location=" + path,
             "filesrc", "location=" + af, "!", "rawaudioparse", "format=pcm", "pcm-format=s16le",
             "sample-rate=%d" % SAMPLE_RATE, "num-channels=1", "!", "audioconvert", "!",
             "avenc_aac", "bitrate=96000", "!", "aacparse", "!", "m.")


# mp4mux writes no edit list for the AAC encoder's priming, so decoded audio starts late by the
# encoder delay: 1024 samples for avenc_aac (what Reel's pipeline prefers; voaacenc: ~1609).
AAC_DELAY_SAMPLES = 1024


def read_mp4(path, frames=None, samples=SAMPLES, aac_delay=AAC_DELAY_SAMPLES):
    """MP4 -> (frames uint8 [F,128,128,3], audio float32 [samples]); pads or trims to length and
    drops `aac_delay` priming samples from the start of the audio."""
    with tempfile.TemporaryDirectory() as d:
        vf, af = os.path.join(d, "v.rgb"), os.path.join(d, "a.raw")
        _gst("filesrc", "location=" + path, "!", "qtdemux", "name=q",
             "q.video_0", "!", "queue", "!", "decodebin", "!", "videoconvert", "!", "videoscale", "!",
             "video/x-raw,format=RGB,width=%d,height=%d" % (WIDTH, HEIGHT), "!", "filesink",
             "location=" + vf,
             "q.audio_0", "!", "queue", "!", "decodebin", "!", "audioconvert", "!", "audioresample",
             "!", "audio/x-raw,format=S16LE,rate=%d,channels=1" % SAMPLE_RATE, "!", "filesink",
             "location=" + af)
        v = np.fromfile(vf, np.uint8)
        v = v[: v.size // (HEIGHT * WIDTH * 3) * HEIGHT * WIDTH * 3].reshape(-1, HEIGHT, WIDTH, 3)
        a = np.fromfile(af, "<i2").astype(np.float32) / 32767 if os.path.exists(af) else np.zeros(0)
    a = a[aac_delay:]
    if frames is not None:
        v = v[:frames] if len(v) >= frames else np.concatenate([v, np.repeat(v[-1:], frames - len(v), 0)])
    a = a[:samples] if a.size >= samples else np.concatenate([a, np.zeros(samples - a.size, np.float32)])
    return v, a
