//! One generation job of the joint audio+video pipeline: encode text, denoise from seeded noise,
//! decode in temporal chunks and hand out timed media as soon as it exists.

use std::time::{Duration, Instant};

use ort::session::RunOptions;
use reel_clip::{Chunk, ClipFormat, Progress, Stage};

use crate::cancel::CancelToken;
use crate::components::{Input, JointComponents, Output};
use crate::error::EngineError;
use crate::manifest::Manifest;
use crate::media::{audio_chunks, interleave_audio, latent_frames, video_frames};
use crate::rng::NoiseRng;
use crate::scheduler::{apply_guidance, euler_step, flow_match_sigmas, timestep_for};
use crate::text::EncodedPrompt;

/// Overall progress at the start of each stage; denoising dominates the run time.
const TEXT_START: f64 = 0.02;
const DENOISE_START: f64 = 0.05;
const DECODE_START: f64 = 0.85;

/// Audio is handed out in chunks of at most this many seconds.
const AUDIO_CHUNK_SECONDS: f64 = 0.5;

/// Sizes of one job, derived from the request and the manifest.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct JobPlan {
    pub frames: u64,
    pub samples: u64,
    pub video_latent_shape: [usize; 5],
    pub audio_latent_shape: [usize; 3],
    pub steps: u32,
    pub shift: f64,
    pub guidance: f32,
    pub seed: u64,
}

impl JobPlan {
    pub fn new(
        manifest: &Manifest,
        format: &ClipFormat,
        frames: u64,
        steps: u32,
        guidance: f32,
        seed: u64,
    ) -> Self {
        let latent = &manifest.latent;
        let samples = format.samples_for_frames(frames);
        let latent_frames = frames.div_ceil(latent.temporal_compression.into()) as usize;
        let audio_steps = samples.div_ceil(latent.audio_hop.into()) as usize;
        let side = |pixels: u32| (pixels / latent.spatial_compression) as usize;
        JobPlan {
            frames,
            samples,
            video_latent_shape: [
                1,
                latent.video_channels as usize,
                latent_frames,
                side(format.height),
                side(format.width),
            ],
            audio_latent_shape: [1, latent.audio_channels as usize, audio_steps],
            steps,
            shift: manifest.scheduler.shift,
            guidance,
            seed,
        }
    }
}

/// Wall time per stage.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct StageTimings {
    /// Loading sessions (zero when already loaded).
    pub loading: Duration,
    /// Text encoder.
    pub encoding_text: Duration,
    /// The denoising loop.
    pub denoising: Duration,
    /// Decoding and handing out media.
    pub decoding: Duration,
}

/// Everything a running job borrows.
pub(crate) struct Job<'a> {
    pub components: &'a mut JointComponents,
    pub manifest: &'a Manifest,
    pub format: ClipFormat,
    pub plan: JobPlan,
    pub run_options: &'a RunOptions,
    pub cancel: &'a CancelToken,
    pub on_progress: &'a mut dyn FnMut(Progress),
    pub on_chunk: &'a mut dyn FnMut(Chunk) -> Result<(), String>,
    pub timings: StageTimings,
}

impl Job<'_> {
    /// Runs the job to the end: text encoding, denoising, decoding.
    pub fn run(
        &mut self,
        prompt: &EncodedPrompt,
        unconditional: Option<&EncodedPrompt>,
    ) -> Result<(), EngineError> {
        let started = Instant::now();
        self.progress(Stage::EncodingText, 1, 1, TEXT_START);
        let text = self.encode_text(prompt)?;
        let uncond_text = unconditional.map(|u| self.encode_text(u)).transpose()?;
        self.timings.encoding_text = started.elapsed();

        let started = Instant::now();
        let (video, audio) = self.denoise(&text, uncond_text.as_ref())?;
        self.timings.denoising = started.elapsed();

        let started = Instant::now();
        self.decode(&video, &audio)?;
        self.timings.decoding = started.elapsed();
        Ok(())
    }

    fn progress(&mut self, stage: Stage, step: u32, steps: u32, fraction: f64) {
        (self.on_progress)(Progress {
            stage,
            step,
            steps,
            fraction: fraction.clamp(0.0, 1.0),
        });
    }

    fn check_cancel(&self) -> Result<(), EngineError> {
        if self.cancel.is_cancelled() {
            Err(EngineError::Cancelled)
        } else {
            Ok(())
        }
    }

    /// A failed run after cancel() is the terminate flag at work, not a model problem.
    fn run_result<T>(&self, result: Result<T, EngineError>) -> Result<T, EngineError> {
        self.check_cancel()?;
        result
    }

    fn encode_text(&mut self, prompt: &EncodedPrompt) -> Result<Output, EngineError> {
        self.check_cancel()?;
        let shape = [1, prompt.ids.len()];
        let inputs = [
            Input::I64(&shape, &prompt.ids),
            Input::I64(&shape, &prompt.mask),
        ];
        let result = self.components.text_encoder.run(&inputs, self.run_options);
        let mut outputs = self.run_result(result)?;
        Ok(outputs.remove(0))
    }

    fn denoise(
        &mut self,
        text: &Output,
        uncond: Option<&Output>,
    ) -> Result<(Vec<f32>, Vec<f32>), EngineError> {
        let plan = self.plan.clone();
        let mut rng = NoiseRng::new(plan.seed);
        let mut video = rng.gaussian_vec(plan.video_latent_shape.iter().product());
        let mut audio = rng.gaussian_vec(plan.audio_latent_shape.iter().product());
        let sigmas = flow_match_sigmas(plan.steps, plan.shift);
        let span = DECODE_START - DENOISE_START;
        self.progress(Stage::Denoising, 0, plan.steps, DENOISE_START);
        for (index, pair) in sigmas.windows(2).enumerate() {
            self.check_cancel()?;
            let timestep = [timestep_for(
                pair[0],
                self.manifest.scheduler.num_train_timesteps,
            )];
            let (mut video_v, mut audio_v) = self.velocity(&video, &audio, &timestep, text)?;
            if let Some(uncond) = uncond {
                let (video_u, audio_u) = self.velocity(&video, &audio, &timestep, uncond)?;
                apply_guidance(&mut video_v, &video_u, plan.guidance);
                apply_guidance(&mut audio_v, &audio_u, plan.guidance);
            }
            euler_step(&mut video, &video_v, pair[0], pair[1]);
            euler_step(&mut audio, &audio_v, pair[0], pair[1]);
            let done = index as u32 + 1;
            self.progress(
                Stage::Denoising,
                done,
                plan.steps,
                DENOISE_START + span * f64::from(done) / f64::from(plan.steps),
            );
        }
        Ok((video, audio))
    }

    fn velocity(
        &mut self,
        video: &[f32],
        audio: &[f32],
        timestep: &[f32; 1],
        text: &Output,
    ) -> Result<(Vec<f32>, Vec<f32>), EngineError> {
        let inputs = [
            Input::F32(&self.plan.video_latent_shape, video),
            Input::F32(&self.plan.audio_latent_shape, audio),
            Input::F32(&[1], timestep),
            Input::F32(&text.shape, &text.data),
        ];
        let result = self.components.denoiser.run(&inputs, self.run_options);
        let mut outputs = self.run_result(result)?;
        let (audio_v, video_v) = (outputs.remove(1), outputs.remove(0));
        if video_v.shape != self.plan.video_latent_shape
            || audio_v.shape != self.plan.audio_latent_shape
        {
            return Err(EngineError::Inference {
                component: "denoiser".to_owned(),
                reason: format!(
                    "velocities have shapes {:?} and {:?}, the latents {:?} and {:?}",
                    video_v.shape,
                    audio_v.shape,
                    self.plan.video_latent_shape,
                    self.plan.audio_latent_shape
                ),
            });
        }
        Ok((video_v.data, audio_v.data))
    }

    /// Decodes audio (one cheap call) first, then video chunk by chunk; after each video chunk
    /// the audio up to the same time goes out too, so both streams advance together.
    fn decode(&mut self, video: &[f32], audio: &[f32]) -> Result<(), EngineError> {
        let plan = self.plan.clone();
        let latent_frames_total = plan.video_latent_shape[2];
        let per_chunk = (self.manifest.latent.decode_chunk_latent_frames as usize).max(1);
        let chunks = latent_frames_total.div_ceil(per_chunk) as u32;
        let fraction = |done: u32| {
            DECODE_START + (1.0 - DECODE_START) * f64::from(done) / f64::from(chunks + 1)
        };
        self.progress(Stage::Decoding, 0, chunks + 1, fraction(0));

        self.check_cancel()?;
        let result = self.components.audio_decoder.run(
            &[Input::F32(&plan.audio_latent_shape, audio)],
            self.run_options,
        );
        let wave = self.run_result(result)?.remove(0);
        let pcm = interleave_audio(&self.format, &wave.shape, &wave.data, plan.samples as usize)
            .map_err(|reason| EngineError::Inference {
                component: "audio_decoder".to_owned(),
                reason,
            })?;
        let audio_chunk = ((self.format.sample_rate as f64 * AUDIO_CHUNK_SECONDS) as u64).max(1);
        self.progress(Stage::Decoding, 1, chunks + 1, fraction(1));

        let (mut frames_sent, mut samples_sent) = (0u64, 0u64);
        for chunk in 0..chunks {
            self.check_cancel()?;
            let start = chunk as usize * per_chunk;
            let range = start..(start + per_chunk).min(latent_frames_total);
            let mut shape = plan.video_latent_shape;
            shape[2] = range.len();
            let latent = latent_frames(plan.video_latent_shape, video, range)
                .map_err(|reason| EngineError::Internal(format!("latent slicing: {reason}")))?;
            let result = self
                .components
                .video_decoder
                .run(&[Input::F32(&shape, &latent)], self.run_options);
            let decoded = self.run_result(result)?.remove(0);
            let frames = video_frames(
                &self.format,
                &decoded.shape,
                &decoded.data,
                frames_sent,
                plan.frames - frames_sent,
            )
            .map_err(|reason| EngineError::Inference {
                component: "video_decoder".to_owned(),
                reason,
            })?;
            for frame in frames {
                frames_sent += 1;
                (self.on_chunk)(Chunk::Video(frame)).map_err(EngineError::Consumer)?;
            }
            let audio_until = self
                .format
                .samples_for_frames(frames_sent)
                .min(plan.samples);
            self.send_audio(&pcm, samples_sent, audio_until, audio_chunk)?;
            samples_sent = audio_until;
            self.progress(Stage::Decoding, chunk + 2, chunks + 1, fraction(chunk + 2));
        }
        if frames_sent != plan.frames {
            return Err(EngineError::Inference {
                component: "video_decoder".to_owned(),
                reason: format!(
                    "decoded {frames_sent} frames, expected {}; check latent.temporal_compression",
                    plan.frames
                ),
            });
        }
        self.send_audio(&pcm, samples_sent, plan.samples, audio_chunk)
    }

    fn send_audio(
        &mut self,
        pcm: &[f32],
        from: u64,
        to: u64,
        chunk: u64,
    ) -> Result<(), EngineError> {
        for audio in audio_chunks(&self.format, pcm, from, to, chunk) {
            (self.on_chunk)(Chunk::Audio(audio)).map_err(EngineError::Consumer)?;
        }
        Ok(())
    }
}
