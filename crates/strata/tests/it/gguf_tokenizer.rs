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

#[test]
fn the_models_own_chat_template_renders_with_minijinja_like_llama_cpp() {
    if !smollm2_available("chat template") {
        return;
    }
    let model = strata_models::registry::resolve(&user_models_dir(), "smollm2").unwrap().path;
    let header = strata_models::read_header(std::io::BufReader::new(std::fs::File::open(&model).unwrap())).unwrap();
    let template = strata_models::template::from_header(&header).expect("SmolLM2 carries a template");
    let config = LlamaConfig { threads: 1, slots: 1, context_tokens: 256, batch_tokens: 64 };
    let (llama, _) = LlamaCpp::load(&model, config).unwrap();
    let chats: [&[(&str, &str)]; 3] = [
        &[("user", "Hello!")],
        &[("system", "Be brief."), ("user", "What is 2+2?")],
        &[("system", "Be kind."), ("user", "Hi"), ("assistant", "Hello, how can I help?"), ("user", "A joke.")],
    ];
    let render = |chat: &[(&str, &str)]| {
        let ours: Vec<strata_models::template::Message> =
            chat.iter().map(|(role, content)| strata_models::template::Message { role, content }).collect();
        template.render(&ours, true).unwrap()
    };
    // The template itself adds SmolLM's default system prompt when a chat has none, as Hugging
    // Face's apply_chat_template does; llama.cpp's pattern-matched ChatML renderer leaves it out.
    assert_eq!(
        render(chats[0]),
        "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n\
         <|im_start|>user\nHello!<|im_end|>\n<|im_start|>assistant\n"
    );
    for chat in &chats[1..] {
        let messages: Vec<strata_infer::ChatMessage> = chat
            .iter()
            .map(|(r, c)| strata_infer::ChatMessage { role: r.to_string(), content: c.to_string() })
            .collect();
        let with_system = if chat[0].0 == "system" { messages } else { continue };
        assert_eq!(render(chat), llama.chat_prompt(&with_system).unwrap(), "{chat:?}");
    }
}
