//! The offline text encoder: a word vocabulary built from the training captions and a small
//! transformer over it, trained with the DiT.
//!
//! The DiT only sees `[batch, tokens, width]` embeddings and a padding mask (`true` = padding), so
//! a pretrained encoder (T5 or MiniLM weights loaded from safetensors through burn-store) can
//! replace this one by producing the same two tensors.

use std::collections::BTreeMap;

use burn::nn::{Embedding, EmbeddingConfig};
use burn::prelude::*;
use serde::{Deserialize, Serialize};

use super::layers::{norm3, Attention, Mlp};

pub const PAD: usize = 0;
pub const UNK: usize = 1;

/// Lower-case words and numbers of a caption, in order.
pub fn words(caption: &str) -> Vec<String> {
    caption.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).map(|w| w.to_lowercase()).collect()
}

/// A word vocabulary: index 0 is padding, 1 unknown, then words by decreasing frequency (ties
/// alphabetically), so the same captions always give the same vocabulary.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CaptionVocab {
    pub words: Vec<String>,
    pub max_tokens: usize,
}

impl CaptionVocab {
    pub fn build<'a>(captions: impl IntoIterator<Item = &'a str>, max_size: usize, max_tokens: usize) -> Self {
        let mut counts: BTreeMap<String, usize> = BTreeMap::new();
        for c in captions {
            for w in words(c) {
                *counts.entry(w).or_default() += 1;
            }
        }
        let mut v: Vec<(String, usize)> = counts.into_iter().collect();
        v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        let mut words = vec!["<pad>".to_string(), "<unk>".to_string()];
        words.extend(v.into_iter().take(max_size.saturating_sub(2)).map(|(w, _)| w));
        Self { words, max_tokens }
    }

    pub fn len(&self) -> usize {
        self.words.len()
    }

    pub fn is_empty(&self) -> bool {
        self.words.is_empty()
    }

    /// Token ids of a caption, truncated to `max_tokens` (an empty caption is one `<unk>`).
    pub fn ids(&self, caption: &str) -> Vec<usize> {
        let index: BTreeMap<&str, usize> = self.words.iter().enumerate().map(|(i, w)| (w.as_str(), i)).collect();
        let mut ids: Vec<usize> = words(caption).iter().map(|w| index.get(w.as_str()).copied().unwrap_or(UNK)).take(self.max_tokens).collect();
        if ids.is_empty() {
            ids.push(UNK);
        }
        ids
    }

    /// `[batch, tokens]` ids padded to the longest caption, and the padding mask.
    pub fn batch(&self, captions: &[String], device: &Device) -> (Tensor<2, Int>, Tensor<2, Bool>) {
        let ids: Vec<Vec<usize>> = captions.iter().map(|c| self.ids(c)).collect();
        let n = ids.iter().map(Vec::len).max().unwrap_or(1).max(1);
        let mut flat = vec![PAD as i64; captions.len() * n];
        let mut pad = vec![true; captions.len() * n];
        for (b, row) in ids.iter().enumerate() {
            for (j, &id) in row.iter().enumerate() {
                flat[b * n + j] = id as i64;
                pad[b * n + j] = false;
            }
        }
        (
            Tensor::from_data(TensorData::new(flat, [captions.len(), n]), device),
            Tensor::from_data(TensorData::new(pad, [captions.len(), n]), device),
        )
    }
}

#[derive(Module, Debug)]
pub struct TextLayer {
    pub attn: Attention,
    pub mlp: Mlp,
}

/// A small pre-norm transformer encoder over caption tokens with learned positions.
#[derive(Module, Debug)]
pub struct CaptionEncoder {
    pub tokens: Embedding,
    pub positions: Embedding,
    pub layers: Vec<TextLayer>,
}

impl CaptionEncoder {
    pub fn new(vocab: usize, max_tokens: usize, width: usize, layers: usize, heads: usize, device: &Device) -> Self {
        Self {
            tokens: EmbeddingConfig::new(vocab, width).init(device),
            positions: EmbeddingConfig::new(max_tokens, width).init(device),
            layers: (0..layers).map(|_| TextLayer { attn: Attention::new(width, width, heads, device), mlp: Mlp::new(width, 4 * width, device) }).collect(),
        }
    }

    /// `[batch, tokens]` ids and padding mask to `[batch, tokens, width]` embeddings.
    pub fn forward(&self, ids: Tensor<2, Int>, pad: Tensor<2, Bool>) -> Tensor<3> {
        let [b, n] = ids.dims();
        let pos: Tensor<2, Int> = Tensor::arange(0..n as i64, &ids.device()).reshape([1, n]).expand([b, n]);
        let mut x = self.tokens.forward(ids) + self.positions.forward(pos);
        for l in &self.layers {
            x = x.clone() + l.attn.forward(norm3(x.clone()), None, None, Some(pad.clone()));
            x = x.clone() + l.mlp.forward(norm3(x));
        }
        norm3(x)
    }
}
