//! `strata serve MODEL`: load a GGUF model into llama.cpp and serve it over the OpenAI API.

use super::data_dir;
use crate::cli::{ServeArgs, StepOrder};
use anyhow::{bail, Context};
use std::net::SocketAddr;
use strata_infer::{BatcherConfig, Engine, StepPolicy};
use strata_infer_llama::{LlamaConfig, LlamaCpp};
use strata_models::{models_dir, registry};
use strata_serve::ServeConfig;
use tokio_util::sync::CancellationToken;

/// Requests allowed to wait for KV-cache space before new ones are answered 503.
const MAX_WAITING: usize = 256;
/// `max_tokens` for a chat request that gives none.
const DEFAULT_MAX_TOKENS: usize = 512;

pub async fn run(args: ServeArgs) -> anyhow::Result<()> {
    if args.slots == 0 || args.context == 0 || args.step_tokens < args.slots {
        bail!("--slots and --context must be positive and --step-tokens at least --slots");
    }
    let dir = models_dir(&data_dir(&args.data.data_dir));
    let mut model = match registry::resolve(&dir, &args.model) {
        Ok(m) => m,
        // A catalogued model this node has not cached yet (a fresh node given a replica).
        Err(registry::RegistryError::Unknown { .. }) if strata_models::catalog::find(&args.model).is_some() => {
            super::model::pull_blocking(&dir, &args.model).await?;
            registry::resolve(&dir, &args.model)?
        }
        Err(e) => return Err(e.into()),
    };
    if let Some(name) = &args.name {
        model.name = name.clone();
    }
    // Our own bounded reader first: a bad file gets a clear error, not a crash inside llama.cpp.
    let info = strata_models::inspect(&model.path)?;
    let threads = args.threads.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let llama_config =
        LlamaConfig { threads, slots: args.slots, context_tokens: args.context, batch_tokens: args.step_tokens };
    let path = model.path.clone();
    let (backend, loaded) =
        tokio::task::spawn_blocking(move || LlamaCpp::load(&path, llama_config)).await?.with_context(|| {
            format!(
                "loading {} ({} architecture): Strata runs llama, gemma3 and qwen2 models and the other \
                 architectures its llama.cpp knows; a newer architecture or an incomplete file is refused here \
                 (llama.cpp's reason is in the log above)",
                model.path.display(),
                info.architecture
            )
        })?;
    tracing::info!(
        model = %model.name, arch = %info.architecture, quant = %info.quantization,
        parameters = loaded.parameters, threads, context = args.context, slots = args.slots, "model loaded"
    );
    let mut engine = Engine::new(
        backend,
        BatcherConfig {
            kv_budget_tokens: args.context as usize,
            max_running: args.slots as usize,
            max_waiting: MAX_WAITING,
            step_token_budget: args.step_tokens as usize,
        },
    );
    engine.set_step_policy(match args.step_order {
        StepOrder::PrefillFirst => StepPolicy::PrefillFirst,
        StepOrder::Mixed => StepPolicy::Mixed,
    });
    if let Some(tokens) = args.prefix_cache_tokens {
        engine.set_prefix_cache_tokens(tokens);
    }
    engine.set_prefix_save_bytes(args.prefix_save_mib.saturating_mul(1 << 20));
    let chat_template = chat_template(&model.path, args.chat_template.as_deref())?;
    let config = ServeConfig {
        listen: SocketAddr::new(args.host, args.port),
        model: model.name.clone(),
        job_queue: MAX_WAITING,
        default_max_tokens: DEFAULT_MAX_TOKENS,
        chat_template,
    };
    let (state, engine_thread) = strata_serve::start(engine, &config)?;
    let stop = CancellationToken::new();
    super::run::stop_on_signals(stop.clone());
    eprintln!("serving {} on http://{} (OpenAI API under /v1)", model.name, config.listen);
    strata_serve::serve(state, &config, async move { stop.cancelled().await }).await?;
    // The router (and with it the job sender) is gone: the engine thread ends after its work.
    tokio::task::spawn_blocking(move || engine_thread.join()).await?.ok();
    Ok(())
}

/// The chat template: the one named on the command line, else the model file's own.
fn chat_template(path: &std::path::Path, named: Option<&str>) -> anyhow::Result<Option<strata_models::ChatTemplate>> {
    let file = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let header = strata_models::read_header(std::io::BufReader::new(file))?;
    match named {
        Some(name) => {
            let (bos, eos) = strata_models::template::special_tokens(&header);
            Ok(Some(strata_models::ChatTemplate::named(name, &bos, &eos)?))
        }
        None => Ok(strata_models::template::from_header(&header)),
    }
}
