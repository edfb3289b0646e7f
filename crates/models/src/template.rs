//! Chat templates: the Jinja template a model file carries (`tokenizer.chat_template`), or a
//! built-in one for models that carry none, rendered with minijinja the way Hugging Face's
//! `apply_chat_template` does (`trim_blocks`, `lstrip_blocks`, Python string methods,
//! `raise_exception`). llama.cpp's own renderer only knows templates it recognises by pattern;
//! a Jinja engine renders any of them.

use minijinja::{context, Environment, Error, ErrorKind};
use serde::Serialize;

/// Turn formats for models that ship no template, by name (`--chat-template gemma`).
const BUILTIN: &[(&str, &str)] = &[
    (
        "chatml",
        "{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endfor %}\
         {% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}",
    ),
    (
        // Gemma folds a system message into the first user turn and calls the assistant "model".
        "gemma",
        "{{ bos_token }}{% if messages and messages[0].role == 'system' %}{% set system = messages[0].content ~ '\n\n' %}\
         {% set turns = messages[1:] %}{% else %}{% set system = '' %}{% set turns = messages %}{% endif %}\
         {% for m in turns %}<start_of_turn>{{ 'model' if m.role == 'assistant' else m.role }}\n\
         {% if loop.first %}{{ system }}{% endif %}{{ m.content | trim }}<end_of_turn>\n{% endfor %}\
         {% if add_generation_prompt %}<start_of_turn>model\n{% endif %}",
    ),
];

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    #[error("chat template {0:?} is neither a built-in ({builtins}) nor a readable file", builtins = builtin_names().join(", "))]
    Unknown(String),
    #[error("the chat template does not parse: {0}")]
    Syntax(String),
    #[error("the chat template refused the messages: {0}")]
    Render(String),
}

pub fn builtin_names() -> Vec<&'static str> {
    BUILTIN.iter().map(|(n, _)| *n).collect()
}

#[derive(Debug, Clone, Serialize)]
pub struct Message<'a> {
    pub role: &'a str,
    pub content: &'a str,
}

/// A template ready to render, with the special tokens templates refer to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatTemplate {
    pub source: String,
    pub bos_token: String,
    pub eos_token: String,
}

fn raise_exception(message: String) -> Result<String, Error> {
    Err(Error::new(ErrorKind::InvalidOperation, message))
}

impl ChatTemplate {
    /// A built-in by name, or a template file's contents.
    pub fn named(name_or_path: &str, bos_token: &str, eos_token: &str) -> Result<ChatTemplate, TemplateError> {
        let source = match BUILTIN.iter().find(|(n, _)| *n == name_or_path) {
            Some((_, s)) => s.to_string(),
            None => std::fs::read_to_string(name_or_path).map_err(|_| TemplateError::Unknown(name_or_path.into()))?,
        };
        let t = ChatTemplate { source, bos_token: bos_token.into(), eos_token: eos_token.into() };
        t.environment()?;
        Ok(t)
    }

    fn environment(&self) -> Result<Environment<'_>, TemplateError> {
        let mut env = Environment::new();
        env.set_trim_blocks(true);
        env.set_lstrip_blocks(true);
        env.set_unknown_method_callback(minijinja_contrib::pycompat::unknown_method_callback);
        env.add_function("raise_exception", raise_exception);
        env.add_template("chat", &self.source).map_err(|e| TemplateError::Syntax(e.to_string()))?;
        Ok(env)
    }

    /// The prompt for `messages`, ending with the assistant's turn opened when
    /// `add_generation_prompt`.
    pub fn render(&self, messages: &[Message<'_>], add_generation_prompt: bool) -> Result<String, TemplateError> {
        let env = self.environment()?;
        let template = env.get_template("chat").map_err(|e| TemplateError::Syntax(e.to_string()))?;
        template
            .render(context! {
                messages => messages,
                add_generation_prompt => add_generation_prompt,
                bos_token => &self.bos_token,
                eos_token => &self.eos_token,
            })
            .map_err(|e| TemplateError::Render(e.to_string()))
    }
}

/// The text of a special token whose id is stored under `key`.
fn token(header: &crate::GgufHeader, key: &str) -> String {
    let id = header.get(key).and_then(crate::gguf::Value::as_u64);
    match (id, header.get("tokenizer.ggml.tokens")) {
        (Some(id), Some(crate::gguf::Value::Array(tokens))) => {
            tokens.get(id as usize).and_then(|t| t.as_str()).unwrap_or_default().to_string()
        }
        _ => String::new(),
    }
}

/// The BOS and EOS token strings of a GGUF file, which templates refer to.
pub fn special_tokens(header: &crate::GgufHeader) -> (String, String) {
    (token(header, "tokenizer.ggml.bos_token_id"), token(header, "tokenizer.ggml.eos_token_id"))
}

/// The template a GGUF file carries.
pub fn from_header(header: &crate::GgufHeader) -> Option<ChatTemplate> {
    let source = header.get("tokenizer.chat_template")?.as_str()?.to_string();
    let (bos_token, eos_token) = special_tokens(header);
    Some(ChatTemplate { source, bos_token, eos_token })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msgs<'a>(pairs: &[(&'a str, &'a str)]) -> Vec<Message<'a>> {
        pairs.iter().map(|(role, content)| Message { role, content }).collect()
    }

    #[test]
    fn chatml_renders_turns_and_opens_the_assistant() {
        let t = ChatTemplate::named("chatml", "", "").unwrap();
        let out = t.render(&msgs(&[("system", "Be brief."), ("user", "Hi")]), true).unwrap();
        assert_eq!(
            out,
            "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n"
        );
    }

    #[test]
    fn gemma_folds_the_system_prompt_into_the_first_user_turn() {
        let t = ChatTemplate::named("gemma", "<bos>", "<eos>").unwrap();
        let out = t
            .render(&msgs(&[("system", "Be brief."), ("user", "Hi"), ("assistant", "Hello"), ("user", "Bye")]), true)
            .unwrap();
        assert_eq!(
            out,
            "<bos><start_of_turn>user\nBe brief.\n\nHi<end_of_turn>\n<start_of_turn>model\nHello<end_of_turn>\n\
             <start_of_turn>user\nBye<end_of_turn>\n<start_of_turn>model\n"
        );
    }

    #[test]
    fn hugging_face_idioms_work_and_raise_exception_is_an_error() {
        let source =
            "{% if messages[0]['role'] == 'assistant' %}{{ raise_exception('must start with user') }}{% endif %}\
                      {% for m in messages %}{{ m['content'].strip() | upper }}{% endfor %}";
        let t = ChatTemplate { source: source.into(), bos_token: String::new(), eos_token: String::new() };
        assert_eq!(t.render(&msgs(&[("user", "  hi  ")]), false).unwrap(), "HI");
        let err = t.render(&msgs(&[("assistant", "x")]), false).unwrap_err();
        assert!(err.to_string().contains("must start with user"), "{err}");
        assert!(matches!(ChatTemplate::named("no-such-template", "", ""), Err(TemplateError::Unknown(_))));
    }
}
