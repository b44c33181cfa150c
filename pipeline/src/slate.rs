//! The "generating…" slate, drawn in Rust straight into RGB: a line of text, a progress bar
//! with its percentage, and a small marker that moves every frame so viewers can tell the
//! stream is alive. No text plugin is needed (Debian's `textoverlay` lives in an extra
//! package), and a slate is ready in the same tick it is asked for.

/// 5×7 glyphs, one byte per row, bit 4 = leftmost column.
const GLYPHS: &[(char, [u8; 7])] = &[
    ('A', [0x0E, 0x11, 0x11, 0x1F, 0x11, 0x11, 0x11]),
    ('B', [0x1E, 0x11, 0x11, 0x1E, 0x11, 0x11, 0x1E]),
    ('C', [0x0E, 0x11, 0x10, 0x10, 0x10, 0x11, 0x0E]),
    ('D', [0x1C, 0x12, 0x11, 0x11, 0x11, 0x12, 0x1C]),
    ('E', [0x1F, 0x10, 0x10, 0x1E, 0x10, 0x10, 0x1F]),
    ('F', [0x1F, 0x10, 0x10, 0x1E, 0x10, 0x10, 0x10]),
    ('G', [0x0E, 0x11, 0x10, 0x17, 0x11, 0x11, 0x0F]),
    ('H', [0x11, 0x11, 0x11, 0x1F, 0x11, 0x11, 0x11]),
    ('I', [0x0E, 0x04, 0x04, 0x04, 0x04, 0x04, 0x0E]),
    ('J', [0x07, 0x02, 0x02, 0x02, 0x02, 0x12, 0x0C]),
    ('K', [0x11, 0x12, 0x14, 0x18, 0x14, 0x12, 0x11]),
    ('L', [0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x1F]),
    ('M', [0x11, 0x1B, 0x15, 0x15, 0x11, 0x11, 0x11]),
    ('N', [0x11, 0x11, 0x19, 0x15, 0x13, 0x11, 0x11]),
    ('O', [0x0E, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0E]),
    ('P', [0x1E, 0x11, 0x11, 0x1E, 0x10, 0x10, 0x10]),
    ('Q', [0x0E, 0x11, 0x11, 0x11, 0x15, 0x12, 0x0D]),
    ('R', [0x1E, 0x11, 0x11, 0x1E, 0x14, 0x12, 0x11]),
    ('S', [0x0F, 0x10, 0x10, 0x0E, 0x01, 0x01, 0x1E]),
    ('T', [0x1F, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04]),
    ('U', [0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0E]),
    ('V', [0x11, 0x11, 0x11, 0x11, 0x11, 0x0A, 0x04]),
    ('W', [0x11, 0x11, 0x11, 0x15, 0x15, 0x15, 0x0A]),
    ('X', [0x11, 0x11, 0x0A, 0x04, 0x0A, 0x11, 0x11]),
    ('Y', [0x11, 0x11, 0x0A, 0x04, 0x04, 0x04, 0x04]),
    ('Z', [0x1F, 0x01, 0x02, 0x04, 0x08, 0x10, 0x1F]),
    ('0', [0x0E, 0x11, 0x13, 0x15, 0x19, 0x11, 0x0E]),
    ('1', [0x04, 0x0C, 0x04, 0x04, 0x04, 0x04, 0x0E]),
    ('2', [0x0E, 0x11, 0x01, 0x02, 0x04, 0x08, 0x1F]),
    ('3', [0x1F, 0x02, 0x04, 0x02, 0x01, 0x11, 0x0E]),
    ('4', [0x02, 0x06, 0x0A, 0x12, 0x1F, 0x02, 0x02]),
    ('5', [0x1F, 0x10, 0x1E, 0x01, 0x01, 0x11, 0x0E]),
    ('6', [0x06, 0x08, 0x10, 0x1E, 0x11, 0x11, 0x0E]),
    ('7', [0x1F, 0x01, 0x02, 0x04, 0x08, 0x08, 0x08]),
    ('8', [0x0E, 0x11, 0x11, 0x0E, 0x11, 0x11, 0x0E]),
    ('9', [0x0E, 0x11, 0x11, 0x0F, 0x01, 0x02, 0x0C]),
    (' ', [0; 7]),
    ('.', [0x00, 0x00, 0x00, 0x00, 0x00, 0x0C, 0x0C]),
    (',', [0x00, 0x00, 0x00, 0x00, 0x0C, 0x04, 0x08]),
    ('%', [0x18, 0x19, 0x02, 0x04, 0x08, 0x13, 0x03]),
    ('-', [0x00, 0x00, 0x00, 0x1F, 0x00, 0x00, 0x00]),
    (':', [0x00, 0x0C, 0x0C, 0x00, 0x0C, 0x0C, 0x00]),
    ('!', [0x04, 0x04, 0x04, 0x04, 0x04, 0x00, 0x04]),
    ('?', [0x0E, 0x11, 0x01, 0x02, 0x04, 0x00, 0x04]),
    ('/', [0x00, 0x01, 0x02, 0x04, 0x08, 0x10, 0x00]),
];

const BACKGROUND: [u8; 3] = [16, 24, 40];
const FOREGROUND: [u8; 3] = [230, 230, 235];
const ACCENT: [u8; 3] = [90, 160, 255];

/// What the slate says.
#[derive(Debug, Clone, PartialEq)]
pub struct SlateInfo {
    /// Overall progress in [0, 1], or `None` for no bar.
    pub progress: Option<f64>,
    /// One line of text, e.g. "Generating…". Letters, digits and `.,%-:!?/` are drawn; other
    /// characters show as `?`.
    pub text: String,
}

impl Default for SlateInfo {
    fn default() -> Self {
        SlateInfo {
            progress: None,
            text: "Reel".into(),
        }
    }
}

/// Draws slates of one size; the static part is drawn once per change.
#[derive(Debug)]
pub(crate) struct Slate {
    width: usize,
    height: usize,
    info: SlateInfo,
    still: Vec<u8>,
}

impl Slate {
    pub(crate) fn new(width: u32, height: u32) -> Slate {
        let mut slate = Slate {
            width: width as usize,
            height: height as usize,
            info: SlateInfo::default(),
            still: Vec::new(),
        };
        slate.redraw();
        slate
    }

    pub(crate) fn set(&mut self, info: SlateInfo) {
        if info != self.info {
            self.info = info;
            self.redraw();
        }
    }

    /// The frame for program tick `tick`.
    pub(crate) fn frame(&self, tick: u64) -> Vec<u8> {
        let mut rgb = self.still.clone();
        let size = (self.height / 30).max(2);
        let span = self.width.saturating_sub(size).max(1);
        // A marker sweeping across the bottom once every 100 frames.
        let x = (tick % 100) as usize * span / 100;
        self.fill(
            &mut rgb,
            x,
            self.height.saturating_sub(2 * size),
            size,
            size,
            ACCENT,
        );
        rgb
    }

    fn redraw(&mut self) {
        let mut rgb = BACKGROUND.repeat(self.width * self.height);
        let scale = (self.height / 90).max(1);
        let text = self.info.text.replace('…', "...");
        self.text(&mut rgb, &text, self.height * 2 / 5, scale);
        if let Some(progress) = self.info.progress {
            let progress = if progress.is_finite() {
                progress.clamp(0.0, 1.0)
            } else {
                0.0
            };
            let bar_w = self.width * 3 / 5;
            let bar_h = (self.height / 24).max(4);
            let (x, y) = ((self.width - bar_w) / 2, self.height * 3 / 5);
            self.fill(&mut rgb, x, y, bar_w, bar_h, FOREGROUND);
            let (inner_w, inner_h) = (bar_w.saturating_sub(2), bar_h - 2);
            self.fill(&mut rgb, x + 1, y + 1, inner_w, inner_h, BACKGROUND);
            let done = (inner_w as f64 * progress) as usize;
            self.fill(&mut rgb, x + 1, y + 1, done, inner_h, ACCENT);
            let percent = format!("{}%", (progress * 100.0).round() as u32);
            self.text(&mut rgb, &percent, y + bar_h + 4 * scale, scale);
        }
        self.still = rgb;
    }

    /// Draws one centred line with its top at `top`, cut to the frame's width.
    fn text(&self, rgb: &mut [u8], text: &str, top: usize, scale: usize) {
        let cell = 6 * scale;
        let fits = (self.width / cell).max(1);
        let chars: Vec<char> = text.chars().take(fits).collect();
        let left = (self.width.saturating_sub(chars.len() * cell)) / 2;
        for (i, c) in chars.iter().enumerate() {
            let upper = c.to_ascii_uppercase();
            let glyph = GLYPHS
                .iter()
                .find(|(g, _)| *g == upper)
                .or_else(|| GLYPHS.iter().find(|(g, _)| *g == '?'))
                .map_or([0; 7], |(_, rows)| *rows);
            for (row, bits) in glyph.iter().enumerate() {
                for col in 0..5 {
                    if bits & (0x10 >> col) != 0 {
                        let x = left + i * cell + col * scale;
                        self.fill(rgb, x, top + row * scale, scale, scale, FOREGROUND);
                    }
                }
            }
        }
    }

    /// Fills a rectangle, clipped to the frame.
    fn fill(&self, rgb: &mut [u8], x: usize, y: usize, w: usize, h: usize, color: [u8; 3]) {
        for row in y..(y + h).min(self.height) {
            let start = (row * self.width + x.min(self.width)) * 3;
            let end = (row * self.width + (x + w).min(self.width)) * 3;
            for pixel in rgb[start..end].chunks_exact_mut(3) {
                pixel.copy_from_slice(&color);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_bar_fills_with_progress() {
        let mut slate = Slate::new(320, 180);
        let accent = |rgb: &[u8]| rgb.chunks_exact(3).filter(|p| *p == ACCENT).count();
        slate.set(SlateInfo {
            progress: Some(0.1),
            text: "Generating…".into(),
        });
        let low = accent(&slate.frame(0));
        slate.set(SlateInfo {
            progress: Some(0.9),
            text: "Generating…".into(),
        });
        let high = accent(&slate.frame(0));
        assert!(high > low, "{high} <= {low}");
        assert_eq!(slate.frame(0).len(), 320 * 180 * 3);
        assert_ne!(slate.frame(0), slate.frame(50), "the marker moves");
    }

    #[test]
    fn tiny_frames_do_not_panic() {
        let mut slate = Slate::new(2, 2);
        slate.set(SlateInfo {
            progress: Some(2.0),
            text: "x".repeat(100),
        });
        assert_eq!(slate.frame(7).len(), 12);
    }
}
