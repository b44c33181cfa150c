//! End-to-end generation with the tiny bundle on real ONNX Runtime sessions.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, mpsc};

use common::runtime_config;
use reel_clip::{Chunk, Progress, Stage};
use reel_engines::{
    Bundle, CancelToken, Engine, EngineError, GenerateRequest, GenerateSummary, tiny_bundle_dir,
};

fn engine() -> Engine {
    let bundle = Bundle::open(tiny_bundle_dir()).expect("tiny bundle opens");
    Engine::load(bundle, &runtime_config()).expect("engine loads")
}

fn request(seconds: f64, seed: u64) -> GenerateRequest {
    GenerateRequest {
        prompt: "A red paper boat floating on a dark lake, cinematic".into(),
        seconds: Some(seconds),
        seed,
        steps: Some(4),
        guidance: None,
    }
}

struct Clip {
    chunks: Vec<Chunk>,
    progress: Vec<Progress>,
    summary: GenerateSummary,
}

fn generate(engine: &mut Engine, request: &GenerateRequest) -> Clip {
    let (mut chunks, mut progress) = (Vec::new(), Vec::new());
    let summary = engine
        .generate(
            request,
            &CancelToken::new(),
            &mut |p| progress.push(p),
            &mut |c| {
                chunks.push(c);
                Ok(())
            },
        )
        .expect("generation succeeds");
    Clip {
        chunks,
        progress,
        summary,
    }
}

fn video(clip: &Clip) -> Vec<&reel_clip::VideoFrame> {
    clip.chunks
        .iter()
        .filter_map(|c| {
            if let Chunk::Video(v) = c {
                Some(v)
            } else {
                None
            }
        })
        .collect()
}

fn audio(clip: &Clip) -> Vec<&reel_clip::AudioChunk> {
    clip.chunks
        .iter()
        .filter_map(|c| {
            if let Chunk::Audio(a) = c {
                Some(a)
            } else {
                None
            }
        })
        .collect()
}

#[test]
fn engine_and_token_can_move_to_worker_threads() {
    fn assert_send<T: Send>() {}
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send::<Engine>();
    assert_send_sync::<CancelToken>();
}

#[test]
fn one_second_clip_has_exact_frames_audio_and_timing() {
    let mut engine = engine();
    let format = engine.clip_format();
    let clip = generate(&mut engine, &request(1.0, 7));

    let frames = video(&clip);
    assert_eq!(frames.len(), 12);
    for (i, frame) in frames.iter().enumerate() {
        assert_eq!(frame.index, i as u64);
        assert_eq!(frame.pts_ns, format.frame_pts(i as u64));
        assert_eq!(
            frame.duration_ns,
            format.frame_pts(i as u64 + 1) - format.frame_pts(i as u64)
        );
        assert_eq!(frame.rgb.len(), 128 * 128 * 3);
    }
    // Random weights still give a picture, not a flat field.
    let first = &frames[0].rgb;
    assert!(first.iter().any(|&b| b != first[0]));
    assert_ne!(frames[0].rgb, frames[11].rgb, "frames change over time");

    let chunks = audio(&clip);
    let mut next = 0;
    for chunk in &chunks {
        assert_eq!(chunk.first_sample, next, "audio chunks are contiguous");
        assert_eq!(chunk.pts_ns, format.sample_pts(next));
        assert!(chunk.samples.len() <= 8000 && !chunk.samples.is_empty());
        assert!(chunk.samples.iter().all(|s| s.abs() <= 1.0));
        next += chunk.samples.len() as u64;
    }
    assert_eq!(next, 16_000);
    assert!(
        chunks
            .iter()
            .flat_map(|c| &c.samples)
            .any(|&s| s.abs() > 0.01),
        "audio is not silent"
    );

    // Audio arrives alongside video, not all after it.
    let first_audio = clip
        .chunks
        .iter()
        .position(|c| matches!(c, Chunk::Audio(_)))
        .expect("audio");
    let last_video = clip
        .chunks
        .iter()
        .rposition(|c| matches!(c, Chunk::Video(_)))
        .expect("video");
    assert!(first_audio < last_video);

    let summary = &clip.summary;
    assert_eq!(
        (summary.frames, summary.audio_samples, summary.steps),
        (12, 16_000, 4)
    );
    assert_eq!(summary.duration_ns, 1_000_000_000);
    assert!(!summary.prompt_truncated && summary.prompt_tokens > 5);

    let stages: Vec<Stage> = clip.progress.iter().map(|p| p.stage).collect();
    for stage in [
        Stage::Loading,
        Stage::EncodingText,
        Stage::Denoising,
        Stage::Decoding,
    ] {
        assert!(stages.contains(&stage), "{stage:?} missing from {stages:?}");
    }
    assert!(
        clip.progress
            .windows(2)
            .all(|w| w[0].fraction <= w[1].fraction),
        "progress never goes back"
    );
    assert_eq!(clip.progress.last().map(|p| p.fraction), Some(1.0));
    assert!(
        clip.progress
            .iter()
            .any(|p| p.stage == Stage::Denoising && p.step == 4 && p.steps == 4)
    );
}

#[test]
fn clip_lengths_that_are_not_whole_latent_frames_are_trimmed() {
    let mut engine = engine();
    let clip = generate(&mut engine, &request(0.75, 1));
    assert_eq!(video(&clip).len(), 9);
    assert_eq!(
        audio(&clip).iter().map(|c| c.samples.len()).sum::<usize>(),
        12_000
    );
}

#[test]
fn same_seed_gives_identical_bytes_and_another_seed_differs() {
    let mut engine = engine();
    let a = generate(&mut engine, &request(1.0, 42));
    let b = generate(&mut engine, &request(1.0, 42));
    let c = generate(&mut engine, &request(1.0, 43));
    assert_eq!(a.chunks, b.chunks);
    let bits = |clip: &Clip| {
        audio(clip)
            .iter()
            .flat_map(|a| a.samples.iter().map(|s| s.to_bits()))
            .collect::<Vec<_>>()
    };
    assert_eq!(bits(&a), bits(&b));
    assert_ne!(video(&a)[0].rgb, video(&c)[0].rgb);
    assert_ne!(bits(&a), bits(&c));
}

#[test]
fn guidance_runs_and_changes_the_result() {
    let mut engine = engine();
    let plain = generate(&mut engine, &request(1.0, 5));
    let guided = generate(
        &mut engine,
        &GenerateRequest {
            guidance: Some(3.0),
            ..request(1.0, 5)
        },
    );
    assert_eq!(guided.summary.guidance, 3.0);
    assert_eq!(video(&guided).len(), 12);
    assert_ne!(video(&plain)[0].rgb, video(&guided)[0].rgb);
}

#[test]
fn cancel_from_another_thread_stops_denoising_and_the_engine_recovers() {
    let mut engine = engine();
    let token = CancelToken::new();
    let cancelled = Arc::new(AtomicBool::new(false));
    let (step_tx, step_rx) = mpsc::channel::<u32>();
    let canceller = {
        let (token, cancelled) = (token.clone(), Arc::clone(&cancelled));
        std::thread::spawn(move || {
            // Cancel once denoising has really started.
            while let Ok(step) = step_rx.recv() {
                if step >= 2 {
                    token.cancel();
                    cancelled.store(true, Ordering::SeqCst);
                    break;
                }
            }
        })
    };
    let long = GenerateRequest {
        steps: Some(1000),
        ..request(10.0, 9)
    };
    let (mut steps_after_cancel, mut chunks) = (0, 0);
    let result = engine.generate(
        &long,
        &token,
        &mut |p| {
            if p.stage == Stage::Denoising {
                if cancelled.load(Ordering::SeqCst) {
                    steps_after_cancel += 1;
                }
                // The canceller may have exited; a failed send only means it already cancelled.
                step_tx.send(p.step).ok();
            }
        },
        &mut |_| {
            chunks += 1;
            Ok(())
        },
    );
    canceller.join().expect("canceller thread");
    assert!(matches!(result, Err(EngineError::Cancelled)), "{result:?}");
    assert!(
        steps_after_cancel <= 1,
        "{steps_after_cancel} steps ran after cancel()"
    );
    assert_eq!(chunks, 0, "nothing is decoded after a cancel mid-denoise");

    let clip = generate(&mut engine, &request(1.0, 7));
    assert_eq!(video(&clip).len(), 12);
}

#[test]
fn a_cancelled_token_stops_the_job_before_any_model_runs() {
    let mut engine = engine();
    let token = CancelToken::new();
    token.cancel();
    let result = engine.generate(&request(1.0, 1), &token, &mut |_| {}, &mut |_| Ok(()));
    assert!(matches!(result, Err(EngineError::Cancelled)), "{result:?}");
}

#[test]
fn a_consumer_error_ends_the_job_and_the_next_one_runs() {
    let mut engine = engine();
    let result = engine.generate(
        &request(1.0, 1),
        &CancelToken::new(),
        &mut |_| {},
        &mut |_| Err("encoder stopped".into()),
    );
    assert!(
        matches!(&result, Err(EngineError::Consumer(m)) if m == "encoder stopped"),
        "{result:?}"
    );
    assert_eq!(video(&generate(&mut engine, &request(1.0, 1))).len(), 12);
}

#[test]
fn a_panicking_consumer_becomes_an_internal_error_and_the_engine_recovers() {
    let mut engine = engine();
    let result = engine.generate(
        &request(1.0, 1),
        &CancelToken::new(),
        &mut |_| {},
        &mut |_| panic!("consumer bug"),
    );
    assert!(
        matches!(&result, Err(EngineError::Internal(m)) if m.contains("consumer bug")),
        "{result:?}"
    );
    assert_eq!(video(&generate(&mut engine, &request(1.0, 1))).len(), 12);
}

#[test]
fn invalid_requests_are_rejected_before_any_work() {
    let mut engine = engine();
    let invalid = |engine: &mut Engine, request: GenerateRequest| {
        let result = engine.generate(&request, &CancelToken::new(), &mut |_| {}, &mut |_| Ok(()));
        assert!(
            matches!(result, Err(EngineError::InvalidRequest(_))),
            "{request:?}: {result:?}"
        );
    };
    invalid(
        &mut engine,
        GenerateRequest {
            prompt: "  ".into(),
            ..request(1.0, 1)
        },
    );
    invalid(
        &mut engine,
        GenerateRequest {
            prompt: "a".repeat(4001),
            ..request(1.0, 1)
        },
    );
    invalid(&mut engine, request(0.0, 1));
    invalid(&mut engine, request(10.5, 1));
    invalid(&mut engine, request(f64::NAN, 1));
    invalid(&mut engine, request(0.01, 1));
    invalid(
        &mut engine,
        GenerateRequest {
            steps: Some(0),
            ..request(1.0, 1)
        },
    );
    invalid(
        &mut engine,
        GenerateRequest {
            guidance: Some(0.5),
            ..request(1.0, 1)
        },
    );
}

#[test]
fn long_prompts_are_truncated_and_reported() {
    let mut engine = engine();
    let prompt = "red cat jumps over a blue wooden bridge ".repeat(10);
    let clip = generate(
        &mut engine,
        &GenerateRequest {
            prompt,
            ..request(1.0, 3)
        },
    );
    assert!(clip.summary.prompt_truncated);
    assert_eq!(clip.summary.prompt_tokens, 32);
    assert!(
        clip.summary
            .providers
            .iter()
            .all(|p| p.provider == reel_engines::ProviderKind::Cpu)
    );
}
