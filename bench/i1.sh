#!/usr/bin/env bash
# I1 (BENCHMARKS.md): Strata's model server against llama.cpp's server from `llama-cpp-python`,
# same GGUF file (SmolLM2-135M Q4_1 from the model cache), same thread count, streamed chat over
# the OpenAI API: time to first token and aggregate tokens/s at concurrency 1, 4, 8, 16, with and
# without a shared ~500-token system prompt; single-stream prompt and generation speed.
#
#   bash bench/i1.sh                               # THREADS=2 REQUESTS=32 MAX_TOKENS=64 MODEL=smollm2
#   MODEL=gemma3-270m LLAMA_SERVER=… bash bench/i1.sh  # Gemma 3 270M (base model: Gemma's turn format)
#   LLAMA_SERVER=/tmp/llsrc/.../build/bin/llama-server bash bench/i1.sh   # the fair peer
#   LLAMA_PY=/tmp/llcpp-venv/bin/python bash bench/i1.sh                  # llama-cpp-python's server
#   ROUNDS=3 …                 # every cell three times, servers interleaved; the table shows medians
#   STRATA_ARGS="--step-order mixed" …   # extra `strata serve` flags
#
# The fair peer is llama.cpp's own C++ `llama-server` (continuous batching over `--parallel`
# slots), built from the llama.cpp tree inside the llama-cpp-python sdist:
#   pip download --no-binary :all: --no-deps llama-cpp-python && tar xzf llama_cpp_python-*.tar.gz
#   cd llama_cpp_python-*/vendor/llama.cpp && cmake -B build -DCMAKE_BUILD_TYPE=Release \
#     -DGGML_NATIVE=OFF -DGGML_OPENMP=OFF -DLLAMA_CURL=OFF && cmake --build build -j2 --target llama-server
# (GGML_NATIVE=OFF and no OpenMP: the instruction set and thread pool Strata's llama.cpp is built
# with, AVX2/FMA/F16C.) It runs with BENCHMARKS.md's best setting for 2 cores, `--poll 0`, and one
# slot per concurrent stream over a unified KV cache, as Strata's `--slots 16`.
# llama-cpp-python: python3 -m venv /tmp/llcpp-venv && /tmp/llcpp-venv/bin/pip install 'llama-cpp-python[server]'
set -euo pipefail
cd "$(dirname "$0")/.."
THREADS=${THREADS:-2}
REQUESTS=${REQUESTS:-32}
MAX_TOKENS=${MAX_TOKENS:-64}
CONC=${CONC:-"1 4 8 16"}
ROUNDS=${ROUNDS:-1}
LLAMA_PY=${LLAMA_PY:-/tmp/llcpp-venv/bin/python}
LLAMA_SERVER=${LLAMA_SERVER:-}
# Extra llama-server flags, e.g. PEER_ARGS=--swa-full (Gemma's sliding-window cache kept whole,
# which its prompt cache needs to reuse a prefix).
read -r -a peer_args <<< "${PEER_ARGS:-}"
MODEL=${MODEL:-smollm2}
# A model without a chat template in its file gets Gemma's turn format on both servers.
# (llama-server renders Jinja by default and would take `gemma` as a literal one-word template:
# --no-jinja makes it its built-in Gemma format, as Strata's.)
template=(); peer_template=()
[ "$MODEL" = gemma3-270m ] && template=(--chat-template gemma) && peer_template=(--no-jinja --chat-template gemma)
cargo build --release --quiet -p strata -p strata-bench --bin strata --bin i1
bin=target/release
model=$("$bin/strata" model ls -o json | python3 -c 'import json,sys,os; m=[x for x in json.load(sys.stdin) if x["name"]==sys.argv[1]]; print(m[0]["file"] if m else "")' "$MODEL")
[ -n "$model" ] || { echo "pull the model first: strata model pull $MODEL" >&2; exit 1; }
models_dir=${STRATA_MODELS:-$HOME/.strata/models}
gguf="$models_dir/$model"
work=$(mktemp -d /tmp/strata-i1.XXXXXX)
cleanup() { kill $(jobs -p) 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
# -f: a server still loading its model answers 503 (llama-server does), which is not ready.
wait_http() { for _ in $(seq 1 600); do curl -sf -o /dev/null "$1" && return 0; sleep 0.2; done; echo "no answer from $1" >&2; exit 1; }

run_cell() { # name url model concurrency system-words
    echo "{\"server\":\"$1\",$("$bin/i1" "$2" "$3" "$4" "$REQUESTS" "$5" "$MAX_TOKENS" | cut -c2-)" >> "$work/results.jsonl"
}
run_single() { # name url model: a different ~500-token prompt each time (raw prompt and generation speed)
    echo "{\"server\":\"$1\",\"single\":true,$(I1_UNIQUE=1 "$bin/i1" "$2" "$3" 1 8 400 128 | cut -c2-)" >> "$work/results.jsonl"
}

# Both servers run side by side (an idle one sleeps) and every cell is measured on one, then at
# once on the other, alternating which goes first each round: on a shared machine the load drifts
# over minutes, and interleaving makes both sides of a ratio see the same drift. ROUNDS > 1
# repeats every cell; the table shows each cell's median.
servers=()
s_port=$(free_port)
# shellcheck disable=SC2086
STRATA_LOG=warn "$bin/strata" serve "$gguf" --name "$MODEL" "${template[@]}" --port "$s_port" --threads "$THREADS" --slots 16 --context 16384 \
    ${STRATA_ARGS:-} > "$work/strata.log" 2>&1 &
wait_http "http://127.0.0.1:$s_port/healthz"
servers+=("strata http://127.0.0.1:$s_port")

if [ -n "$LLAMA_SERVER" ]; then
    [ -x "$LLAMA_SERVER" ] || { echo "LLAMA_SERVER=$LLAMA_SERVER is not an executable" >&2; exit 1; }
    l_port=$(free_port)
    "$LLAMA_SERVER" -m "$gguf" --alias "$MODEL" "${peer_template[@]}" "${peer_args[@]}" -t "$THREADS" -tb "$THREADS" -c 16384 -np 16 -kvu \
        --poll 0 --host 127.0.0.1 --port "$l_port" > "$work/llama.log" 2>&1 &
    wait_http "http://127.0.0.1:$l_port/v1/models"
    servers+=("llama.cpp http://127.0.0.1:$l_port")
elif [ -x "$LLAMA_PY" ] && "$LLAMA_PY" -c 'import llama_cpp.server' 2>/dev/null; then
    l_port=$(free_port)
    "$LLAMA_PY" -m llama_cpp.server --model "$gguf" --model_alias "$MODEL" --n_threads "$THREADS" \
        --n_threads_batch "$THREADS" --n_ctx 16384 --host 127.0.0.1 --port "$l_port" > "$work/llama.log" 2>&1 &
    wait_http "http://127.0.0.1:$l_port/v1/models"
    servers+=("llama.cpp http://127.0.0.1:$l_port")
else
    echo "no peer: set LLAMA_SERVER (or install llama-cpp-python at $LLAMA_PY); only Strata is measured" >&2
fi

for round in $(seq 1 "$ROUNDS"); do
    order=("${servers[@]}")
    if [ $((round % 2)) -eq 0 ] && [ ${#servers[@]} -eq 2 ]; then order=("${servers[1]}" "${servers[0]}"); fi
    for words in 0 400; do
        for c in $CONC; do
            for s in "${order[@]}"; do read -r name url <<< "$s"; run_cell "$name" "$url" "$MODEL" "$c" "$words"; done
        done
    done
    for s in "${order[@]}"; do read -r name url <<< "$s"; run_single "$name" "$url" "$MODEL"; done
done

python3 - "$work/results.jsonl" <<'PY'
import json, sys
from statistics import median
rows = [json.loads(l) for l in open(sys.argv[1])]
def medians(group):
    """One row per key: the median of each number over the rounds (errors summed)."""
    out = {}
    for key, rs in group.items():
        m = {k: median(r[k] for r in rs) for k, v in rs[0].items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
        m["errors"] = sum(r["errors"] for r in rs)
        m["rounds"] = len(rs)
        out[key] = m
    return out
cells, singles = {}, {}
for r in rows:
    if r.get("single"):
        singles.setdefault(r["server"], []).append(r)
    else:
        cells.setdefault((r["server"], r["system_words"], r["concurrency"]), []).append(r)
by, single = medians(cells), medians(singles)
print(f"median of {max((m['rounds'] for m in by.values()), default=0)} round(s) per cell")
print("| system prompt | concurrency | Strata TTFT p50 ms | llama.cpp TTFT p50 ms | TTFT ratio | Strata tok/s | llama.cpp tok/s | tok/s ratio |")
print("| --- | --- | --- | --- | --- | --- | --- | --- |")
for (server, words, c), s in sorted(by.items(), key=lambda kv: (kv[0][1], kv[0][2])):
    if server != "strata":
        continue
    l = by.get(("llama.cpp", words, c))
    f = lambda r, k, d=0: f"{r[k]:.{d}f}" if r else "-"
    print(f"| {'~500 tokens' if words else 'none'} | {c} | {f(s,'ttft_p50_ms')} | {f(l,'ttft_p50_ms')} | "
          f"{(s['ttft_p50_ms']/l['ttft_p50_ms']) if l else 0:.2f} | {f(s,'completion_tokens_per_s')} | {f(l,'completion_tokens_per_s')} | "
          f"{(s['completion_tokens_per_s']/l['completion_tokens_per_s']) if l else 0:.2f}× |"
          + (f" errors: Strata {s['errors']}, llama.cpp {l['errors'] if l else '-'}" if s["errors"] or (l and l["errors"]) else ""))
for server, r in single.items():
    runs = ", ".join(f"{x['stream_gen_tokens_per_s_p50']:.1f}" for x in singles[server])
    print(f"{server} single stream, generation tok/s per round: {runs}")
    print(f"{server} single stream, unique ~{r['mean_prompt_tokens']:.0f}-token prompts: prompt {r['prompt_tokens_per_s_p50']:.0f} tok/s, "
          f"generation {r['stream_gen_tokens_per_s_p50']:.1f} tok/s, TTFT p50 {r['ttft_p50_ms']:.0f} ms")
PY
