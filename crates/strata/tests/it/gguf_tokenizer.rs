//! The data pipeline's tokenizer built from a GGUF file's vocabulary splits text exactly as
//! llama.cpp does for the same model, so token shards match what the model reads.

use crate::harness::{smollm2_available, user_models_dir};
use strata_infer::Backend;
use strata_infer_llama::{LlamaConfig, LlamaCpp};

#[test]
fn gguf_vocabulary_tokenizes_like_llama_cpp() {
    if !smollm2_available("GGUF tokenizer") {
        return;
    }
    let model = strata_models::registry::resolve(&user_models_dir(), "smollm2").unwrap().path;
    let ours = strata_dataprep::tokenizer_from_gguf(&model).unwrap();
    let config = LlamaConfig { threads: 1, slots: 1, context_tokens: 256, batch_tokens: 64 };
    let (llama, _) = LlamaCpp::load(&model, config).unwrap();
    let texts = [
        "The quick brown fox jumps over the lazy dog.",
        "Numbers: 1234567890, 3.14159 and 2026-12-01.",
        "  leading spaces,\ttabs\nand new lines\n\n",
        "Unicode: café naïve 東京 — “quotes” 🙂",
        "fn main() { println!(\"{}\", x[0] + 1); }",
        "<|im_start|>user\nHello<|im_end|>",
    ];
    for text in texts {
        let expected = llama.tokenize(text).unwrap();
        let got: Vec<u32> = ours.encode(text, false).unwrap().get_ids().to_vec();
        assert_eq!(got, expected, "{text:?}");
    }
}
