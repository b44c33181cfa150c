//! Turning decoder tensors into timed frames and audio chunks.

use ndarray::{ArrayView3, ArrayView5, s};
use reel_clip::{AudioChunk, ClipFormat, VideoFrame};

/// Maps a decoder value in [-1, 1] to a byte.
fn to_byte(value: f32) -> u8 {
    ((value.clamp(-1.0, 1.0) + 1.0) * 127.5).round() as u8
}

/// Converts a decoded video tensor `[1, 3, frames, height, width]` into packed RGB frames
/// numbered from `first_index`, keeping at most `limit` frames.
pub(crate) fn video_frames(
    format: &ClipFormat,
    shape: &[usize],
    data: &[f32],
    first_index: u64,
    limit: u64,
) -> Result<Vec<VideoFrame>, String> {
    let expected = [
        1,
        3,
        shape.get(2).copied().unwrap_or(0),
        format.height as usize,
        format.width as usize,
    ];
    if shape != expected {
        return Err(format!(
            "video decoder returned shape {shape:?}, expected {expected:?} (frames may vary)"
        ));
    }
    let video = ArrayView5::from_shape(expected, data).map_err(|e| e.to_string())?;
    let frames = (shape[2] as u64).min(limit);
    Ok((0..frames)
        .map(|i| {
            // [3, H, W] -> [H, W, 3]: iterating the permuted view yields packed RGB order.
            let planar = video.slice(s![0, .., i as usize, .., ..]);
            let rgb = planar
                .permuted_axes([1, 2, 0])
                .iter()
                .map(|&v| to_byte(v))
                .collect();
            format.video_frame(first_index + i, rgb)
        })
        .collect())
}

/// Interleaves a planar waveform `[1, channels, samples]` and fits it to exactly `samples`
/// per channel (decoders work in whole hops, so the tail is cut; a short output is padded with
/// silence, though a correct bundle never needs that).
pub(crate) fn interleave_audio(
    format: &ClipFormat,
    shape: &[usize],
    data: &[f32],
    samples: usize,
) -> Result<Vec<f32>, String> {
    let channels = format.channels as usize;
    if shape.len() != 3 || shape[0] != 1 || shape[1] != channels {
        return Err(format!(
            "audio decoder returned shape {shape:?}, expected [1, {channels}, samples]"
        ));
    }
    let wave = ArrayView3::from_shape((1, channels, shape[2]), data).map_err(|e| e.to_string())?;
    let available = shape[2].min(samples);
    let mut out = Vec::with_capacity(samples * channels);
    for i in 0..available {
        out.extend((0..channels).map(|c| wave[[0, c, i]].clamp(-1.0, 1.0)));
    }
    out.resize(samples * channels, 0.0);
    Ok(out)
}

/// Cuts interleaved audio into chunks of at most `chunk_samples` per channel, in order, starting
/// at sample `from` and ending before `to` (both per channel).
pub(crate) fn audio_chunks(
    format: &ClipFormat,
    interleaved: &[f32],
    from: u64,
    to: u64,
    chunk_samples: u64,
) -> Vec<AudioChunk> {
    let channels = format.channels as usize;
    let mut chunks = Vec::new();
    let mut start = from;
    while start < to {
        let end = (start + chunk_samples.max(1)).min(to);
        let samples = interleaved[start as usize * channels..end as usize * channels].to_vec();
        chunks.push(format.audio_chunk(start, samples));
        start = end;
    }
    chunks
}

/// Copies latent frames `range` out of a `[1, channels, frames, h, w]` latent.
pub(crate) fn latent_frames(
    shape: [usize; 5],
    data: &[f32],
    range: std::ops::Range<usize>,
) -> Result<Vec<f32>, String> {
    let latent = ArrayView5::from_shape(shape, data).map_err(|e| e.to_string())?;
    Ok(latent
        .slice(s![.., .., range, .., ..])
        .iter()
        .copied()
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn format() -> ClipFormat {
        ClipFormat {
            width: 2,
            height: 1,
            fps_num: 12,
            fps_den: 1,
            sample_rate: 8,
            channels: 2,
        }
    }

    #[test]
    fn frames_are_packed_rgb_with_exact_timing() {
        // [1, 3, 2 frames, 1, 2]: channel-major planes.
        let data = [
            -1.0, 1.0, -1.0, 1.0, 0.0, 0.0, 0.0, 0.0, 1.0, -1.0, 1.0, -1.0,
        ];
        let frames = video_frames(&format(), &[1, 3, 2, 1, 2], &data, 10, 1).unwrap();
        assert_eq!(frames.len(), 1);
        assert_eq!(frames[0].rgb, vec![0, 128, 255, 255, 128, 0]);
        assert_eq!(frames[0].index, 10);
        assert_eq!(frames[0].pts_ns, format().frame_pts(10));
        assert!(video_frames(&format(), &[1, 3, 2, 2, 2], &[0.0; 24], 0, 9).is_err());
    }

    #[test]
    fn audio_is_interleaved_trimmed_and_chunked() {
        let data = [0.1, 0.2, 0.3, -0.1, -0.2, -0.3];
        let pcm = interleave_audio(&format(), &[1, 2, 3], &data, 2).unwrap();
        assert_eq!(pcm, vec![0.1, -0.1, 0.2, -0.2]);
        let chunks = audio_chunks(&format(), &pcm, 0, 2, 1);
        assert_eq!(chunks.len(), 2);
        assert_eq!(chunks[1].first_sample, 1);
        assert_eq!(chunks[1].samples, vec![0.2, -0.2]);
    }

    #[test]
    fn latent_frames_slice_the_time_axis() {
        // [1, 2 channels, 3 frames, 1, 1]
        let data = [0.0, 1.0, 2.0, 10.0, 11.0, 12.0];
        assert_eq!(
            latent_frames([1, 2, 3, 1, 1], &data, 1..3).unwrap(),
            vec![1.0, 2.0, 11.0, 12.0]
        );
    }
}
