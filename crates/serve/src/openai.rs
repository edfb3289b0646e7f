//! OpenAI's request bodies, parsed and validated in one step into what the engine needs.
//!
//! Unknown fields are refused (`deny_unknown_fields`), and every error names the field, as
//! OpenAI does in `error.param`. Besides OpenAI's fields the requests accept `top_k`, `min_p` and
//! `repetition_penalty`, as llama.cpp's and vLLM's servers do.

use crate::error::ApiError;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use strata_infer::{ChatMessage, SamplingParams};

/// `"stop": "x"` or `"stop": ["x", "y"]`.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct StreamOptions {
    #[serde(default)]
    include_usage: bool,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Content {
    Text(String),
    Parts(Vec<ContentPart>),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ContentPart {
    #[serde(rename = "type")]
    kind: String,
    text: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Message {
    role: String,
    content: Option<Content>,
    #[allow(dead_code)]
    name: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ChatBody {
    model: String,
    messages: Vec<Message>,
    max_tokens: Option<u64>,
    max_completion_tokens: Option<u64>,
    temperature: Option<f32>,
    top_p: Option<f32>,
    top_k: Option<u64>,
    min_p: Option<f32>,
    repetition_penalty: Option<f32>,
    frequency_penalty: Option<f32>,
    presence_penalty: Option<f32>,
    seed: Option<i64>,
    stop: Option<OneOrMany>,
    n: Option<u64>,
    #[serde(default)]
    stream: bool,
    stream_options: Option<StreamOptions>,
    logprobs: Option<bool>,
    top_logprobs: Option<u64>,
    #[allow(dead_code)]
    user: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CompletionBody {
    model: String,
    prompt: OneOrMany,
    max_tokens: Option<u64>,
    temperature: Option<f32>,
    top_p: Option<f32>,
    top_k: Option<u64>,
    min_p: Option<f32>,
    repetition_penalty: Option<f32>,
    frequency_penalty: Option<f32>,
    presence_penalty: Option<f32>,
    seed: Option<i64>,
    stop: Option<OneOrMany>,
    n: Option<u64>,
    #[serde(default)]
    stream: bool,
    stream_options: Option<StreamOptions>,
    logprobs: Option<u64>,
    echo: Option<bool>,
    #[allow(dead_code)]
    user: Option<String>,
}

/// What the prompt is made of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Prompt {
    Text(String),
    Chat(Vec<ChatMessage>),
}

/// A validated request.
#[derive(Debug, Clone, PartialEq)]
pub struct Generation {
    pub model: String,
    pub prompt: Prompt,
    /// `None`: as many as the context allows, up to the server's default.
    pub max_tokens: Option<usize>,
    pub sampling: SamplingParams,
    pub stop: Vec<String>,
    pub stream: bool,
    pub include_usage: bool,
    /// Log-probabilities with this many alternatives per token, when asked for.
    pub logprobs: Option<usize>,
}

/// Shared by both endpoints: the sampling fields, checked against OpenAI's ranges.
struct Knobs {
    temperature: Option<f32>,
    top_p: Option<f32>,
    top_k: Option<u64>,
    min_p: Option<f32>,
    repetition_penalty: Option<f32>,
    frequency_penalty: Option<f32>,
    presence_penalty: Option<f32>,
    seed: Option<i64>,
    n: Option<u64>,
    stop: Option<OneOrMany>,
}

fn parse_json<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    let de = &mut serde_json::Deserializer::from_slice(body);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        let message = inner.to_string();
        // An unknown field at the top level has the path "."; the message names the field.
        let param = match message.strip_prefix("unknown field `").and_then(|rest| rest.split('`').next()) {
            Some(field) if path == "." => field.to_string(),
            _ => path,
        };
        ApiError::Invalid { message: format!("invalid request body: {message}"), param: Some(param) }
    })
}

fn range(param: &str, value: Option<f32>, lo: f32, hi: f32) -> Result<Option<f32>, ApiError> {
    match value {
        Some(v) if !(lo..=hi).contains(&v) => Err(ApiError::invalid(param, format!("{param} must be in [{lo}, {hi}]"))),
        other => Ok(other),
    }
}

impl Knobs {
    fn into_sampling(self, default_seed: u64) -> Result<(SamplingParams, Vec<String>), ApiError> {
        if self.n.is_some_and(|n| n != 1) {
            return Err(ApiError::invalid("n", "only n = 1 is supported"));
        }
        let top_p = range("top_p", self.top_p, 0.0, 1.0)?;
        if top_p == Some(0.0) {
            return Err(ApiError::invalid("top_p", "top_p must be greater than 0"));
        }
        let repetition_penalty = range("repetition_penalty", self.repetition_penalty, 0.0, 10.0)?;
        if repetition_penalty == Some(0.0) {
            return Err(ApiError::invalid("repetition_penalty", "repetition_penalty must be greater than 0"));
        }
        let sampling = SamplingParams {
            temperature: range("temperature", self.temperature, 0.0, 2.0)?.unwrap_or(1.0),
            top_p: top_p.unwrap_or(1.0),
            top_k: self.top_k.unwrap_or(0) as usize,
            min_p: range("min_p", self.min_p, 0.0, 1.0)?.unwrap_or(0.0),
            repetition_penalty: repetition_penalty.unwrap_or(1.0),
            frequency_penalty: range("frequency_penalty", self.frequency_penalty, -2.0, 2.0)?.unwrap_or(0.0),
            presence_penalty: range("presence_penalty", self.presence_penalty, -2.0, 2.0)?.unwrap_or(0.0),
            seed: self.seed.map_or(default_seed, |s| s as u64),
        };
        let stop = match self.stop {
            None => Vec::new(),
            Some(OneOrMany::One(s)) => vec![s],
            Some(OneOrMany::Many(v)) => v,
        };
        if stop.len() > 4 {
            return Err(ApiError::invalid("stop", "at most 4 stop sequences"));
        }
        Ok((sampling, stop))
    }
}

fn max_tokens(param: &str, value: Option<u64>) -> Result<Option<usize>, ApiError> {
    match value {
        Some(0) => Err(ApiError::invalid(param, format!("{param} must be at least 1"))),
        other => Ok(other.map(|v| v as usize)),
    }
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum EmbeddingInput {
    One(String),
    Many(Vec<String>),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct EmbeddingBody {
    model: String,
    input: EmbeddingInput,
    encoding_format: Option<String>,
    dimensions: Option<u64>,
    #[allow(dead_code)]
    user: Option<String>,
}

/// An embeddings request, checked.
#[derive(Debug, Clone, PartialEq)]
pub struct EmbeddingRequest {
    pub model: String,
    pub inputs: Vec<String>,
    /// Vectors as base64 of little-endian f32 (what OpenAI's Python client asks for) or floats.
    pub base64: bool,
}

/// Most inputs in one embeddings request (OpenAI's limit).
pub const MAX_EMBEDDING_INPUTS: usize = 2048;

/// `POST /v1/embeddings`.
pub fn parse_embeddings(body: &[u8]) -> Result<EmbeddingRequest, ApiError> {
    let b: EmbeddingBody = parse_json(body)?;
    let inputs = match b.input {
        EmbeddingInput::One(s) => vec![s],
        EmbeddingInput::Many(v) => v,
    };
    if inputs.is_empty() || inputs.len() > MAX_EMBEDDING_INPUTS {
        return Err(ApiError::invalid("input", format!("input must hold 1..{MAX_EMBEDDING_INPUTS} strings")));
    }
    if let Some(i) = inputs.iter().position(String::is_empty) {
        return Err(ApiError::invalid(&format!("input[{i}]"), "an input must not be empty"));
    }
    let base64 = match b.encoding_format.as_deref() {
        None | Some("float") => false,
        Some("base64") => true,
        Some(other) => return Err(ApiError::invalid("encoding_format", format!("{other:?} is not float or base64"))),
    };
    if b.dimensions.is_some() {
        return Err(ApiError::invalid("dimensions", "this model's embeddings have one size; leave dimensions out"));
    }
    Ok(EmbeddingRequest { model: b.model, inputs, base64 })
}

/// `POST /v1/chat/completions`. `default_seed` is used when the request has none.
pub fn parse_chat(body: &[u8], default_seed: u64) -> Result<Generation, ApiError> {
    let b: ChatBody = parse_json(body)?;
    let logprobs = match (b.logprobs, b.top_logprobs) {
        (Some(true), top) => Some(top_logprobs("top_logprobs", top.unwrap_or(0))?),
        (_, Some(_)) => return Err(ApiError::invalid("top_logprobs", "top_logprobs needs logprobs: true")),
        _ => None,
    };
    if b.messages.is_empty() {
        return Err(ApiError::invalid("messages", "messages must not be empty"));
    }
    let mut messages = Vec::with_capacity(b.messages.len());
    for (i, m) in b.messages.into_iter().enumerate() {
        let role = match m.role.as_str() {
            "developer" => "system".to_string(),
            "system" | "user" | "assistant" | "tool" => m.role,
            other => {
                return Err(ApiError::invalid(&format!("messages[{i}].role"), format!("unknown role {other:?}")));
            }
        };
        let content = match m.content {
            None => String::new(),
            Some(Content::Text(t)) => t,
            Some(Content::Parts(parts)) => {
                let mut text = String::new();
                for (j, p) in parts.into_iter().enumerate() {
                    match (p.kind.as_str(), p.text) {
                        ("text", Some(t)) => text += &t,
                        _ => {
                            return Err(ApiError::invalid(
                                &format!("messages[{i}].content[{j}]"),
                                "only text content parts are supported",
                            ));
                        }
                    }
                }
                text
            }
        };
        messages.push(ChatMessage { role, content });
    }
    let knobs = Knobs {
        temperature: b.temperature,
        top_p: b.top_p,
        top_k: b.top_k,
        min_p: b.min_p,
        repetition_penalty: b.repetition_penalty,
        frequency_penalty: b.frequency_penalty,
        presence_penalty: b.presence_penalty,
        seed: b.seed,
        n: b.n,
        stop: b.stop,
    };
    let (sampling, stop) = knobs.into_sampling(default_seed)?;
    let max = match b.max_completion_tokens {
        Some(_) => max_tokens("max_completion_tokens", b.max_completion_tokens)?,
        None => max_tokens("max_tokens", b.max_tokens)?,
    };
    Ok(Generation {
        model: b.model,
        prompt: Prompt::Chat(messages),
        max_tokens: max,
        sampling,
        stop,
        stream: b.stream,
        include_usage: b.stream_options.is_some_and(|o| o.include_usage),
        logprobs,
    })
}

fn top_logprobs(param: &str, n: u64) -> Result<usize, ApiError> {
    let max = strata_infer::MAX_TOP_LOGPROBS as u64;
    if n > max {
        return Err(ApiError::invalid(param, format!("{param} must be between 0 and {max}")));
    }
    Ok(n as usize)
}

/// OpenAI's default `max_tokens` for `/v1/completions`.
const COMPLETION_DEFAULT_MAX_TOKENS: usize = 16;

/// `POST /v1/completions`.
pub fn parse_completion(body: &[u8], default_seed: u64) -> Result<Generation, ApiError> {
    let b: CompletionBody = parse_json(body)?;
    let logprobs = b.logprobs.map(|n| top_logprobs("logprobs", n)).transpose()?;
    if b.echo == Some(true) {
        return Err(ApiError::invalid("echo", "echo is not supported"));
    }
    let prompt = match b.prompt {
        OneOrMany::One(p) => p,
        OneOrMany::Many(mut v) if v.len() == 1 => v.remove(0),
        OneOrMany::Many(_) => return Err(ApiError::invalid("prompt", "exactly one prompt per request is supported")),
    };
    let knobs = Knobs {
        temperature: b.temperature,
        top_p: b.top_p,
        top_k: b.top_k,
        min_p: b.min_p,
        repetition_penalty: b.repetition_penalty,
        frequency_penalty: b.frequency_penalty,
        presence_penalty: b.presence_penalty,
        seed: b.seed,
        n: b.n,
        stop: b.stop,
    };
    let (sampling, stop) = knobs.into_sampling(default_seed)?;
    Ok(Generation {
        model: b.model,
        prompt: Prompt::Text(prompt),
        max_tokens: Some(max_tokens("max_tokens", b.max_tokens)?.unwrap_or(COMPLETION_DEFAULT_MAX_TOKENS)),
        sampling,
        stop,
        stream: b.stream,
        include_usage: b.stream_options.is_some_and(|o| o.include_usage),
        logprobs,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn param_of(body: &str) -> Option<String> {
        match parse_chat(body.as_bytes(), 0) {
            Err(ApiError::Invalid { param, .. }) => param,
            other => panic!("expected a 400, got {other:?}"),
        }
    }

    #[test]
    fn bad_requests_name_the_field() {
        let msg = r#""messages":[{"role":"user","content":"hi"}]"#;
        assert_eq!(param_of(&format!(r#"{{"model":"m",{msg},"bogus":1}}"#)).as_deref(), Some("bogus"));
        assert_eq!(param_of(&format!(r#"{{"model":"m",{msg},"temperature":"hot"}}"#)).as_deref(), Some("temperature"));
        assert_eq!(param_of(&format!(r#"{{"model":"m",{msg},"temperature":3}}"#)).as_deref(), Some("temperature"));
        assert_eq!(param_of(&format!(r#"{{"model":"m",{msg},"max_tokens":0}}"#)).as_deref(), Some("max_tokens"));
        assert_eq!(param_of(&format!(r#"{{"model":"m",{msg},"n":2}}"#)).as_deref(), Some("n"));
        assert_eq!(param_of(r#"{"model":"m","messages":[]}"#).as_deref(), Some("messages"));
        assert_eq!(
            param_of(r#"{"model":"m","messages":[{"role":"robot","content":"x"}]}"#).as_deref(),
            Some("messages[0].role")
        );
        assert_eq!(
            param_of(r#"{"model":"m","messages":[{"role":"user","content":"x","x":1}]}"#).as_deref(),
            Some("messages[0].x")
        );
        assert_eq!(param_of(r#"{"messages":[]}"#).as_deref(), Some("."));
    }

    #[test]
    fn a_good_chat_request_becomes_a_generation() {
        let g = parse_chat(
            br#"{"model":"m","messages":[{"role":"developer","content":[{"type":"text","text":"be brief"}]},{"role":"user","content":"hi"}],"temperature":0,"stop":"\n","seed":7,"stream":true,"stream_options":{"include_usage":true},"max_tokens":5}"#,
            1,
        )
        .unwrap();
        assert_eq!(
            g.prompt,
            Prompt::Chat(vec![
                ChatMessage { role: "system".into(), content: "be brief".into() },
                ChatMessage { role: "user".into(), content: "hi".into() },
            ])
        );
        assert_eq!((g.sampling.temperature, g.sampling.seed, g.max_tokens), (0.0, 7, Some(5)));
        assert_eq!(g.stop, vec!["\n".to_string()]);
        assert!(g.stream && g.include_usage);
    }

    #[test]
    fn completions_default_to_16_tokens_and_one_prompt() {
        let g = parse_completion(br#"{"model":"m","prompt":["once upon"]}"#, 0).unwrap();
        assert_eq!((g.prompt, g.max_tokens), (Prompt::Text("once upon".into()), Some(16)));
        assert!(parse_completion(br#"{"model":"m","prompt":["a","b"]}"#, 0).is_err());
    }
}
