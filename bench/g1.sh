#!/usr/bin/env bash
# G1 (BENCHMARKS.md): the latency a gateway adds, Strata's against LiteLLM's proxy, both in front of
# the same instant OpenAI-compatible upstream on 127.0.0.1, at concurrency 1, 8 and 32, streaming
# and not. Strata runs with a tenant key that has rpm, tpm and budget limits, and metering on (every
# request journaled and inserted into SQLite). LiteLLM runs from PyPI with one worker and a master
# key (its virtual keys and spend tracking need a Prisma database, which cannot be set up offline).
#
#   bash bench/g1.sh                      # N=2000 requests per point (LiteLLM: N_LITELLM=300)
#   LITELLM=/path/to/venv/bin/litellm bash bench/g1.sh
#   SOAK_S=600 bash bench/g1.sh           # also: Strata's resident memory over a 10-minute soak
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-2000}
N_LITELLM=${N_LITELLM:-300}
CONC=${CONC:-"1 8 32"}
SOAK_S=${SOAK_S:-0}
LITELLM=${LITELLM:-$(command -v litellm || echo /tmp/litellm-venv/bin/litellm)}

cargo build --release --quiet -p strata -p strata-bench --bin strata --bin g1
bin=target/release
work=$(mktemp -d /tmp/strata-g1.XXXXXX)
cleanup() { kill $(jobs -p) 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_http() { for _ in $(seq 1 300); do curl -s -o /dev/null "$1" && return 0; sleep 0.1; done; echo "no answer from $1" >&2; exit 1; }

up_port=$(free_port)
"$bin/g1" upstream "$up_port" & wait_http "http://127.0.0.1:$up_port/healthz"

s_port=$(free_port)
STRATA_LOG=warn "$bin/strata" server --data-dir "$work/strata" --listen "127.0.0.1:$s_port" > "$work/strata.log" 2>&1 &
strata_pid=$!
wait_http "http://127.0.0.1:$s_port/healthz"
export STRATA_DATA_DIR="$work/strata"
"$bin/strata" deploy instant --endpoint "http://127.0.0.1:$up_port" --price-input 0.10 --price-output 0.20 > /dev/null
"$bin/strata" tenant create bench --rpm 100000000 --tpm 10000000000 --budget-usd 1000000 > /dev/null
key=$("$bin/strata" key create --tenant bench --models instant --rpm 100000000 --tpm 10000000000 --budget-usd 1000000 -o json \
      | python3 -c 'import json,sys; print(json.load(sys.stdin)["key"])')

have_litellm=false
if [ -x "$LITELLM" ]; then
    l_port=$(free_port)
    cat > "$work/litellm.yaml" <<YAML
model_list:
  - model_name: instant
    litellm_params:
      model: openai/instant
      api_base: http://127.0.0.1:$up_port/v1
      api_key: none
      rpm: 100000000
general_settings:
  master_key: sk-bench-master
litellm_settings:
  set_verbose: false
YAML
    "$LITELLM" --config "$work/litellm.yaml" --host 127.0.0.1 --port "$l_port" --num_workers 1 > "$work/litellm.log" 2>&1 &
    for _ in $(seq 1 600); do curl -s -o /dev/null "http://127.0.0.1:$l_port/health/liveliness" && break; sleep 0.2; done
    have_litellm=true
else
    echo "LiteLLM not found ($LITELLM): python3 -m venv /tmp/litellm-venv && /tmp/litellm-venv/bin/pip install 'litellm[proxy]'" >&2
fi

rss() { ps -o rss= -p "$strata_pid" | tr -d ' '; }
rss_start=$(rss)
results="$work/results.jsonl"
for c in $CONC; do
    for stream in false true; do
        echo "{\"target\":\"direct\",$("$bin/g1" load "http://127.0.0.1:$up_port" none "$c" "$N" "$stream" | cut -c2-)" >> "$results"
        echo "{\"target\":\"strata\",$("$bin/g1" load "http://127.0.0.1:$s_port" "$key" "$c" "$N" "$stream" | cut -c2-)" >> "$results"
        if $have_litellm; then
            echo "{\"target\":\"litellm\",$("$bin/g1" load "http://127.0.0.1:$l_port" sk-bench-master "$c" "$N_LITELLM" "$stream" | cut -c2-)" >> "$results"
        fi
    done
done
rss_end=$(rss)
sleep 1
metered=$("$bin/strata" usage --tenant bench -o json | python3 -c 'import json,sys; print(json.load(sys.stdin)["total"]["requests"])')

python3 - "$results" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
by = {(r["target"], r["concurrency"], r["stream"]): r for r in rows}
print("| concurrency | stream | direct p50 / p99 µs | Strata added p50 / p99 µs | Strata req/s | LiteLLM added p50 / p99 µs | LiteLLM req/s | Strata ÷ LiteLLM req/s |")
print("| --- | --- | --- | --- | --- | --- | --- | --- |")
for (target, c, stream), d in sorted(by.items(), key=lambda kv: (kv[0][1], kv[0][2])):
    if target != "direct":
        continue
    s, l = by.get(("strata", c, stream)), by.get(("litellm", c, stream))
    added = lambda r: f"{r['p50_us'] - d['p50_us']} / {r['p99_us'] - d['p99_us']}" if r else "-"
    rps = lambda r: f"{r['rps']:.0f}" if r else "-"
    ratio = f"{s['rps'] / l['rps']:.1f}×" if s and l else "-"
    errors = sum(r["errors"] for r in (s, l) if r)
    note = f" (errors: {errors})" if errors else ""
    print(f"| {c} | {stream} | {d['p50_us']} / {d['p99_us']} | {added(s)} | {rps(s)} | {added(l)} | {rps(l)} | {ratio}{note} |")
PY
echo "Strata resident memory: ${rss_start} KiB before the load, ${rss_end} KiB after; usage records metered: $metered"

if [ "$SOAK_S" -gt 0 ]; then
    echo "soak: $SOAK_S s at concurrency 8; every 30 s: resident memory (KiB), usage records not yet stored, requests refused for that backlog:"
    gauge() { curl -s "http://127.0.0.1:$s_port/metrics" | awk -v m="$1" '$1 == m { print $2 }'; }
    end=$((SECONDS + SOAK_S))
    ( while [ $SECONDS -lt $end ]; do "$bin/g1" load "http://127.0.0.1:$s_port" "$key" 8 20000 false > /dev/null; done ) &
    while [ $SECONDS -lt $end ]; do sleep 30; echo "  $((SOAK_S - (end - SECONDS))) s: $(rss) KiB, unstored $(gauge strata_gateway_usage_unflushed), refused $(gauge strata_gateway_usage_backlog_refusals_total)"; done
    wait %% 2>/dev/null || true
    sleep 1
    soaked=$("$bin/strata" usage --tenant bench -o json | python3 -c 'import json,sys; print(json.load(sys.stdin)["total"]["requests"])')
    echo "usage records stored after the soak: $soaked"
fi
