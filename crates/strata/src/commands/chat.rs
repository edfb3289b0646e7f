//! `strata chat`: a terminal chat against a model server, streaming its answers.

use crate::cli::ChatArgs;
use anyhow::{bail, Context};
use futures::StreamExt;
use serde_json::{json, Value};
use std::io::{BufRead, Write};

/// Where to chat: the flag, else the gateway `strata up` recorded (with its admin token), else
/// a `strata serve` on its default port.
fn target(args: &ChatArgs) -> (String, Option<String>) {
    let dir = super::data_dir(&args.data.data_dir);
    let recorded = || std::fs::read_to_string(dir.join(super::SERVER_URL_FILE)).ok().map(|s| s.trim().to_string());
    let admin = || std::fs::read_to_string(dir.join("admin.token")).ok().map(|s| s.trim().to_string());
    match &args.server {
        Some(s) => (s.trim_end_matches('/').to_string(), args.token.clone()),
        None => match recorded() {
            Some(url) => (url, args.token.clone().or_else(admin)),
            None => ("http://127.0.0.1:8080".to_string(), args.token.clone()),
        },
    }
}

pub async fn run(args: ChatArgs) -> anyhow::Result<()> {
    let (base, token) = target(&args);
    let mut headers = reqwest::header::HeaderMap::new();
    if let Some(t) = &token {
        headers.insert(reqwest::header::AUTHORIZATION, format!("Bearer {t}").parse()?);
    }
    let http = reqwest::Client::builder().default_headers(headers).build()?;
    let model = match &args.model {
        Some(m) => m.clone(),
        None => {
            let models: Value = http
                .get(format!("{base}/v1/models"))
                .send()
                .await
                .with_context(|| format!("cannot reach {base}; start Strata with `strata up` (or a model server with `strata serve smollm2`)"))?
                .json()
                .await?;
            match models["data"][0]["id"].as_str() {
                Some(id) => id.to_string(),
                None => bail!("{base} serves no model"),
            }
        }
    };
    let mut messages = Vec::new();
    if let Some(system) = &args.system {
        messages.push(json!({ "role": "system", "content": system }));
    }
    eprintln!("chatting with {model} at {base}; an empty line or Ctrl-D ends");
    let (lines_tx, mut lines) = tokio::sync::mpsc::channel::<String>(1);
    // Reading the terminal blocks: a thread of its own feeds the lines in.
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines().map_while(Result::ok) {
            if lines_tx.blocking_send(line).is_err() {
                break;
            }
        }
    });
    loop {
        eprint!("> ");
        let Some(line) = lines.recv().await else { break };
        if line.trim().is_empty() {
            break;
        }
        messages.push(json!({ "role": "user", "content": line }));
        let body = json!({ "model": model, "messages": messages, "stream": true, "temperature": args.temperature });
        let response = http.post(format!("{base}/v1/chat/completions")).json(&body).send().await?;
        if !response.status().is_success() {
            let status = response.status();
            let text = response.text().await.unwrap_or_default();
            bail!("the server answered {status}: {text}");
        }
        let answer = print_stream(response).await?;
        messages.push(json!({ "role": "assistant", "content": answer }));
    }
    Ok(())
}

/// Prints the `content` deltas of an SSE response as they come; returns the whole answer.
async fn print_stream(response: reqwest::Response) -> anyhow::Result<String> {
    let mut answer = String::new();
    let mut pending = String::new();
    let mut body = response.bytes_stream();
    let mut stdout = std::io::stdout();
    while let Some(chunk) = body.next().await {
        pending += &String::from_utf8_lossy(&chunk?);
        while let Some(end) = pending.find("\n\n") {
            let event: String = pending.drain(..end + 2).collect();
            for data in event.lines().filter_map(|l| l.strip_prefix("data: ")) {
                if data == "[DONE]" {
                    println!();
                    return Ok(answer);
                }
                let value: Value = serde_json::from_str(data).context("a malformed event from the server")?;
                if let Some(err) = value.get("error") {
                    bail!("the server failed: {}", err["message"]);
                }
                if let Some(text) = value["choices"][0]["delta"]["content"].as_str() {
                    answer += text;
                    print!("{text}");
                    stdout.flush()?;
                }
            }
        }
    }
    println!();
    Ok(answer)
}
