//! A tiny model with random weights and a byte-level BPE vocabulary, written as a real GGUF file
//! in the llama, qwen2 or gemma3 architecture: what tests load into llama.cpp when they need the
//! real engine path but not a real model's answers. Deterministic for a seed.
//!
//! They differ where the real families do: qwen2 has biases on the query, key and value
//! projections, ties its output projection to the token embeddings (no `output.weight`), uses
//! Qwen's pre-tokenizer and a larger RoPE base; gemma3 also ties its output, normalises queries
//! and keys and both sublayers' outputs, and attends over a sliding window ([`GEMMA3_WINDOW`]
//! positions; llama.cpp makes every layer of a model this shallow a windowed one), whose cache
//! forgets what falls out of the window.

use crate::gguf::Value;
use crate::gguf_write::{write, Tensor};
use std::path::Path;

pub const N_EMBD: u64 = 64;
pub const N_LAYERS: u32 = 2;
pub const N_HEAD: u32 = 4;
pub const N_HEAD_KV: u32 = 2;
pub const N_FF: u64 = 128;
pub const CONTEXT: u32 = 2048;
/// The tiny gemma3's attention window, small so that tests can outgrow it.
pub const GEMMA3_WINDOW: u32 = 8;

/// GPT-2's map from bytes to printable characters, which byte-level BPE vocabularies use.
fn byte_chars() -> Vec<char> {
    let mut printable: Vec<u32> = (b'!' as u32..=b'~' as u32).chain(0xA1..=0xAC).chain(0xAE..=0xFF).collect();
    let mut chars: Vec<u32> = printable.clone();
    let mut extra = 0;
    for b in 0..256u32 {
        if !printable.contains(&b) {
            printable.push(b);
            chars.push(256 + extra);
            extra += 1;
        }
    }
    let mut by_byte = vec!['\0'; 256];
    for (b, c) in printable.iter().zip(chars) {
        by_byte[*b as usize] = char::from_u32(c).unwrap_or('?');
    }
    by_byte
}

/// A splitmix64 stream of weights in (-scale, scale).
struct Weights(u64);

impl Weights {
    fn next(&mut self, scale: f32) -> f32 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        ((z >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0) * scale
    }

    fn tensor(&mut self, name: &str, dims: &[u64], scale: f32) -> Tensor {
        let n = dims.iter().product::<u64>() as usize;
        Tensor { name: name.to_string(), dims: dims.to_vec(), data: (0..n).map(|_| self.next(scale)).collect() }
    }

    fn ones(name: &str, n: u64) -> Tensor {
        Tensor { name: name.to_string(), dims: vec![n], data: vec![1.0; n as usize] }
    }
}

/// Which family the tiny model is written as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TinyArch {
    Llama,
    Qwen2,
    Gemma3,
}

impl TinyArch {
    /// `general.architecture`, and the prefix of the architecture's own keys.
    pub fn name(self) -> &'static str {
        match self {
            TinyArch::Llama => "llama",
            TinyArch::Qwen2 => "qwen2",
            TinyArch::Gemma3 => "gemma3",
        }
    }
}

/// Writes the tiny llama model to `path`.
pub fn write_tiny_llama(path: &Path, seed: u64) -> std::io::Result<()> {
    write_tiny(path, seed, TinyArch::Llama)
}

/// Writes the tiny model of family `arch` to `path`.
pub fn write_tiny(path: &Path, seed: u64, arch: TinyArch) -> std::io::Result<()> {
    let specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"];
    let mut tokens: Vec<Value> = byte_chars().into_iter().map(|c| Value::String(c.to_string())).collect();
    let mut types: Vec<Value> = vec![Value::I32(1); tokens.len()];
    for s in specials {
        tokens.push(Value::String(s.to_string()));
        types.push(Value::I32(3));
    }
    let vocab = tokens.len() as u64;
    let eos = 256 + 2; // <|im_end|> ends a turn
    let template = "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}\
                    {% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}";
    let a = arch.name();
    let key = |suffix: &str| format!("{a}.{suffix}");
    let (pre, rope_base) = match arch {
        TinyArch::Llama => ("gpt-2", 10_000.0),
        TinyArch::Qwen2 => ("qwen2", 1_000_000.0),
        TinyArch::Gemma3 => ("gpt-2", 10_000.0),
    };
    let mut metadata: Vec<(String, Value)> = vec![
        ("general.architecture".into(), Value::String(a.into())),
        ("general.name".into(), Value::String(format!("strata-tiny-{a}"))),
        ("general.file_type".into(), Value::U32(0)),
        (key("context_length"), Value::U32(CONTEXT)),
        (key("embedding_length"), Value::U32(N_EMBD as u32)),
        (key("block_count"), Value::U32(N_LAYERS)),
        (key("feed_forward_length"), Value::U32(N_FF as u32)),
        (key("attention.head_count"), Value::U32(N_HEAD)),
        (key("attention.head_count_kv"), Value::U32(N_HEAD_KV)),
        (key("attention.layer_norm_rms_epsilon"), Value::F32(1e-5)),
        (key("rope.dimension_count"), Value::U32((N_EMBD / u64::from(N_HEAD)) as u32)),
        (key("rope.freq_base"), Value::F32(rope_base)),
        (key("vocab_size"), Value::U32(vocab as u32)),
        ("tokenizer.ggml.model".into(), Value::String("gpt2".into())),
        ("tokenizer.ggml.pre".into(), Value::String(pre.into())),
        ("tokenizer.ggml.tokens".into(), Value::Array(tokens)),
        ("tokenizer.ggml.token_type".into(), Value::Array(types)),
        ("tokenizer.ggml.merges".into(), Value::Array(Vec::new())),
        ("tokenizer.ggml.bos_token_id".into(), Value::U32(256)),
        ("tokenizer.ggml.eos_token_id".into(), Value::U32(eos)),
        ("tokenizer.ggml.add_bos_token".into(), Value::Bool(false)),
        ("tokenizer.chat_template".into(), Value::String(template.into())),
    ];
    if arch == TinyArch::Gemma3 {
        metadata.push((key("attention.sliding_window"), Value::U32(GEMMA3_WINDOW)));
    }
    let kv = N_EMBD / u64::from(N_HEAD) * u64::from(N_HEAD_KV);
    let mut w = Weights(seed);
    let mut tensors =
        vec![w.tensor("token_embd.weight", &[N_EMBD, vocab], 0.5), Weights::ones("output_norm.weight", N_EMBD)];
    if arch == TinyArch::Llama {
        tensors.push(w.tensor("output.weight", &[N_EMBD, vocab], 0.5));
    }
    for i in 0..N_LAYERS {
        let b = |t: &str| format!("blk.{i}.{t}.weight");
        tensors.push(Weights::ones(&b("attn_norm"), N_EMBD));
        tensors.push(w.tensor(&b("attn_q"), &[N_EMBD, N_EMBD], 0.2));
        tensors.push(w.tensor(&b("attn_k"), &[N_EMBD, kv], 0.2));
        tensors.push(w.tensor(&b("attn_v"), &[N_EMBD, kv], 0.2));
        if arch == TinyArch::Qwen2 {
            let bias = |t: &str| format!("blk.{i}.{t}.bias");
            tensors.push(w.tensor(&bias("attn_q"), &[N_EMBD], 0.1));
            tensors.push(w.tensor(&bias("attn_k"), &[kv], 0.1));
            tensors.push(w.tensor(&bias("attn_v"), &[kv], 0.1));
        }
        tensors.push(w.tensor(&b("attn_output"), &[N_EMBD, N_EMBD], 0.2));
        tensors.push(Weights::ones(&b("ffn_norm"), N_EMBD));
        tensors.push(w.tensor(&b("ffn_gate"), &[N_EMBD, N_FF], 0.2));
        tensors.push(w.tensor(&b("ffn_up"), &[N_EMBD, N_FF], 0.2));
        tensors.push(w.tensor(&b("ffn_down"), &[N_FF, N_EMBD], 0.2));
        if arch == TinyArch::Gemma3 {
            let head = N_EMBD / u64::from(N_HEAD);
            tensors.push(Weights::ones(&b("attn_q_norm"), head));
            tensors.push(Weights::ones(&b("attn_k_norm"), head));
            tensors.push(Weights::ones(&b("post_attention_norm"), N_EMBD));
            tensors.push(Weights::ones(&b("post_ffw_norm"), N_EMBD));
        }
    }
    write(path, &metadata, &tensors)
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_tiny_model_reads_back_as_a_llama_with_its_vocabulary() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("tiny.gguf");
        super::write_tiny_llama(&path, 7).unwrap_or_else(|e| panic!("{e}"));
        let info = crate::inspect(&path).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(info.architecture, "llama");
        assert_eq!(info.layers, u64::from(super::N_LAYERS));
        assert!(info.has_chat_template);
    }

    #[test]
    fn the_tiny_qwen2_has_biases_and_no_output_projection() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("tiny.gguf");
        super::write_tiny(&path, 7, super::TinyArch::Qwen2).unwrap_or_else(|e| panic!("{e}"));
        let info = crate::inspect(&path).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(info.architecture, "qwen2");
        let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{e}"));
        let header = crate::gguf::read_header(bytes.as_slice()).unwrap_or_else(|e| panic!("{e}"));
        let names: Vec<&str> = header.tensors.iter().map(|t| t.name.as_str()).collect();
        assert!(names.contains(&"blk.1.attn_k.bias"), "{names:?}");
        assert!(!names.contains(&"output.weight"));
    }

    #[test]
    fn the_tiny_gemma3_has_its_window_and_norms() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("tiny.gguf");
        super::write_tiny(&path, 7, super::TinyArch::Gemma3).unwrap_or_else(|e| panic!("{e}"));
        let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{e}"));
        let header = crate::gguf::read_header(bytes.as_slice()).unwrap_or_else(|e| panic!("{e}"));
        let window = header.metadata.get("gemma3.attention.sliding_window");
        assert!(matches!(window, Some(crate::gguf::Value::U32(super::GEMMA3_WINDOW))), "{window:?}");
        let names: Vec<&str> = header.tensors.iter().map(|t| t.name.as_str()).collect();
        assert!(names.contains(&"blk.0.attn_q_norm.weight") && names.contains(&"blk.1.post_ffw_norm.weight"));
        assert!(!names.contains(&"output.weight"));
    }
}
