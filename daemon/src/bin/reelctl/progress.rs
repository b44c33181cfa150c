//! Progress on the terminal: a bar with stage, step and ETA when stderr is a terminal, plain
//! lines otherwise (logs, CI, pipes).

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};
use reel_clip::{Progress, Stage};

const BAR_LENGTH: u64 = 1000;

/// Shows progress of one generation.
#[derive(Debug)]
pub enum ProgressView {
    /// An indicatif bar.
    Bar(ProgressBar),
    /// One line per stage or step change.
    Lines {
        started: Instant,
        last: Option<(Stage, u32)>,
    },
}

impl ProgressView {
    /// A bar on a terminal, lines elsewhere.
    pub fn new() -> ProgressView {
        if std::io::stderr().is_terminal() {
            let bar = ProgressBar::new(BAR_LENGTH);
            let style = ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] {bar:30} {percent:>3}% {msg} (eta {eta})",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar());
            bar.set_style(style);
            bar.enable_steady_tick(Duration::from_millis(120));
            ProgressView::Bar(bar)
        } else {
            ProgressView::Lines {
                started: Instant::now(),
                last: None,
            }
        }
    }

    /// Shows a new progress report.
    pub fn update(&mut self, p: &Progress) {
        match self {
            ProgressView::Bar(bar) => {
                bar.set_position((p.fraction.clamp(0.0, 1.0) * BAR_LENGTH as f64) as u64);
                bar.set_message(describe(p));
            }
            ProgressView::Lines { started, last } => {
                if *last == Some((p.stage, p.step)) {
                    return;
                }
                *last = Some((p.stage, p.step));
                let elapsed = started.elapsed().as_secs_f64();
                let eta = if p.fraction > 0.01 {
                    format!("{:.0}s", elapsed * (1.0 - p.fraction) / p.fraction)
                } else {
                    "?".into()
                };
                eprintln!("{:>3.0}% {} (eta {eta})", p.fraction * 100.0, describe(p));
            }
        }
    }

    /// Removes the bar.
    pub fn finish(&self) {
        if let ProgressView::Bar(bar) = self {
            bar.finish_and_clear();
        }
    }
}

fn describe(p: &Progress) -> String {
    let stage = p.stage.as_str().replace('_', " ");
    if p.steps > 1 {
        format!("{stage} {}/{}", p.step, p.steps)
    } else {
        stage
    }
}
