//! Greedy output through Strata's engine — prompts prefilled in small chunks, three sequences
//! batched together, a prompt that reuses another's cached prefix — equals llama.cpp's own greedy
//! decoding of the same prompt with the real SmolLM2.

use crate::harness::{smollm2_available, user_models_dir};
use std::collections::HashMap;
use strata_infer::{Backend, BatcherConfig, ChatMessage, Engine, Event, Request, SamplingParams};
use strata_infer_llama::{reference_greedy, LlamaConfig, LlamaCpp};

const MAX_TOKENS: usize = 24;

#[test]
fn greedy_through_the_engine_equals_llama_cpp() {
    if !smollm2_available("greedy parity") {
        return;
    }
    let path = strata_models::registry::resolve(&user_models_dir(), "smollm2").unwrap().path;
    // Small steps force chunked prefill; four slots let three sequences decode together.
    let config = LlamaConfig { threads: 2, slots: 4, context_tokens: 2048, batch_tokens: 16 };
    let (backend, _) = LlamaCpp::load(&path, config).unwrap();
    let system = "You are a geography teacher. Answer with the city's name and one fact about it.";
    let chats = [
        vec![("system", system), ("user", "What is the capital of France?")],
        vec![("user", "Write the first line of a poem about the sea.")],
        vec![("user", "List three colours.")],
        // Shares the first chat's system prompt: reuses its cached prefix.
        vec![("system", system), ("user", "What is the capital of Japan?")],
    ];
    let prompts: Vec<String> = chats
        .iter()
        .map(|c| {
            let messages: Vec<ChatMessage> = c
                .iter()
                .map(|(role, content)| ChatMessage { role: role.to_string(), content: content.to_string() })
                .collect();
            backend.chat_prompt(&messages).unwrap()
        })
        .collect();
    let expected: Vec<String> = prompts
        .iter()
        .map(|p| {
            let tokens = reference_greedy(&path, p, MAX_TOKENS, 2).unwrap();
            let bytes: Vec<u8> = tokens.iter().flat_map(|t| backend.token_bytes(*t)).collect();
            String::from_utf8_lossy(&bytes).into_owned()
        })
        .collect();

    let mut engine = Engine::new(
        backend,
        BatcherConfig { kv_budget_tokens: 2048, max_running: 4, max_waiting: 8, step_token_budget: 16 },
    );
    let request = |engine: &Engine<LlamaCpp>, prompt: &str| Request {
        prompt: engine.backend().tokenize(prompt).unwrap(),
        max_tokens: MAX_TOKENS,
        sampling: SamplingParams { temperature: 0.0, ..SamplingParams::default() },
        stop: Vec::new(),
        logprobs: None,
    };
    let mut texts: HashMap<u64, String> = HashMap::new();
    let mut run = |engine: &mut Engine<LlamaCpp>| {
        while !engine.is_idle() {
            for event in engine.step().unwrap() {
                if let Event::Text { seq, text } = event {
                    texts.entry(seq).or_default().push_str(&text);
                }
            }
        }
    };
    let batched: Vec<u64> = prompts[..3].iter().map(|p| engine.submit(request(&engine, p)).unwrap()).collect();
    run(&mut engine);
    let reuse = engine.submit(request(&engine, &prompts[3])).unwrap();
    run(&mut engine);
    assert!(engine.stats().reused_tokens > 10, "the fourth prompt reused the first one's system prompt");
    assert!(expected[0].contains("Paris") && expected[3].contains("Tokyo"), "{expected:?}");
    for (i, id) in batched.iter().chain([&reuse]).enumerate() {
        assert_eq!(texts.get(id).cloned().unwrap_or_default(), expected[i], "prompt {i}: {:?}", prompts[i]);
    }
}
