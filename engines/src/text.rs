//! Prompt tokenisation to the fixed-length ids and mask a text encoder takes.

use std::path::Path;

use tokenizers::Tokenizer;

use crate::error::{BundleError, EngineError};
use crate::manifest::TokenizerSection;

/// A loaded tokenizer with the manifest's length and padding rules.
#[derive(Debug)]
pub(crate) struct PromptTokenizer {
    tokenizer: Tokenizer,
    max_length: usize,
    pad_id: i64,
}

/// Token ids and attention mask, both `max_length` long.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct EncodedPrompt {
    pub ids: Vec<i64>,
    pub mask: Vec<i64>,
    /// Tokens kept (before padding).
    pub tokens: usize,
    /// Whether tokens were dropped to fit `max_length`.
    pub truncated: bool,
}

impl PromptTokenizer {
    pub fn load(path: &Path, section: &TokenizerSection) -> Result<Self, BundleError> {
        let error = |reason: String| BundleError::Tokenizer {
            path: path.to_owned(),
            reason,
        };
        let mut tokenizer = Tokenizer::from_file(path).map_err(|e| error(e.to_string()))?;
        // Length and padding are the manifest's business; a tokenizer.json from a model hub may
        // carry its own settings.
        tokenizer
            .with_truncation(None)
            .map_err(|e| error(e.to_string()))?;
        tokenizer.with_padding(None);
        let pad_id = tokenizer.token_to_id(&section.pad_token).ok_or_else(|| {
            error(format!(
                "pad token `{}` is not in the vocabulary",
                section.pad_token
            ))
        })?;
        Ok(PromptTokenizer {
            tokenizer,
            max_length: section.max_length as usize,
            pad_id: pad_id.into(),
        })
    }

    /// Tokenises `prompt`, truncating to `max_length` (with a warning) and padding. An empty
    /// prompt gives all padding and an all-zero mask: the unconditional input for guidance.
    pub fn encode(&self, prompt: &str) -> Result<EncodedPrompt, EngineError> {
        let encoding = self
            .tokenizer
            .encode(prompt, false)
            .map_err(|e| EngineError::Tokenize(e.to_string()))?;
        let mut ids: Vec<i64> = encoding.get_ids().iter().map(|&id| id.into()).collect();
        let truncated = ids.len() > self.max_length;
        if truncated {
            tracing::warn!(
                tokens = ids.len(),
                max_length = self.max_length,
                "prompt is longer than the text encoder takes; keeping the first tokens"
            );
            ids.truncate(self.max_length);
        }
        let tokens = ids.len();
        let mut mask = vec![1; tokens];
        ids.resize(self.max_length, self.pad_id);
        mask.resize(self.max_length, 0);
        Ok(EncodedPrompt {
            ids,
            mask,
            tokens,
            truncated,
        })
    }
}
