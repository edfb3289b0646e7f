#!/usr/bin/env bash
# D1 (BENCHMARKS.md): data cleaning throughput per core on real text from installed registry
# packages (reStructuredText and plain-text docs shipped in PyPI packages and Debian's /usr/share/doc),
# with injected exact and near duplicates whose ids are known (dup-exact-N, dup-near-N).
# Usage: bench/d1.sh [TARGET_MB]   (default 30). datatrove side by side is not run yet.
set -euo pipefail
cd "$(dirname "$0")/.."
TARGET_MB=${1:-30}
WORK=${D1_WORK:-/tmp/strata-d1}
rm -rf "$WORK" && mkdir -p "$WORK"
cargo build --release -q -p strata
BIN=target/release/strata

python3 - "$WORK/corpus.jsonl" "$TARGET_MB" <<'PY'
import json, os, random, sys, glob
out, target = sys.argv[1], int(sys.argv[2]) * 1_000_000
roots = glob.glob("/root/.pyenv/versions/*/lib/python3*/site-packages") + glob.glob("/usr/lib/python3*/") + ["/usr/share/doc"]
paths = []
for root in roots:
    for dirpath, _, files in os.walk(root):
        for f in files:
            if f.endswith((".rst", ".txt", ".md")) or f in ("README", "copyright"):
                paths.append(os.path.join(dirpath, f))
paths.sort()
rng = random.Random(1)
docs, size, seen = [], 0, set()
for p in paths:
    try:
        text = open(p, encoding="utf-8").read()
    except (UnicodeDecodeError, OSError):
        continue
    chunk = []
    for para in text.split("\n\n"):
        chunk.append(para)
        if sum(map(len, chunk)) > 2500:
            t = "\n\n".join(chunk).strip()
            chunk = []
            if t in seen:
                continue
            seen.add(t)
            docs.append(t); size += len(t)
    if size > target:
        break
with open(out, "w") as f:
    n_exact = n_near = 0
    for i, t in enumerate(docs):
        f.write(json.dumps({"id": f"doc-{i:07d}", "text": t}) + "\n")
        if i % 100 == 7:
            f.write(json.dumps({"id": f"dup-exact-{n_exact}", "text": t}) + "\n"); n_exact += 1
        if i % 100 == 57:
            words = t.split(" ")
            words[rng.randrange(len(words))] = "changed"
            f.write(json.dumps({"id": f"dup-near-{n_near}", "text": " ".join(words)}) + "\n"); n_near += 1
print(f"corpus: {len(docs)} documents, {size/1e6:.1f} MB of text, {n_exact} exact and {n_near} near duplicates injected", file=sys.stderr)
PY

cat > "$WORK/filters.toml" <<'TOML'
[input]
paths = ["corpus.jsonl"]
[output]
compression = "none"
[[stages]]
type = "gopher_quality"
[[stages]]
type = "gopher_repetition"
TOML
cat > "$WORK/minhash.toml" <<'TOML'
[input]
paths = ["corpus.jsonl"]
[output]
compression = "none"
[[stages]]
type = "exact_dedup"
[[stages]]
type = "minhash_dedup"
TOML

MB=$(python3 -c "import os; print(os.path.getsize('$WORK/corpus.jsonl')/1e6)")
for p in filters minhash; do
    start=$(date +%s.%N)
    "$BIN" data run "$WORK/$p.toml" --output "$WORK/out-$p" --threads 1 --no-progress > "$WORK/$p.summary"
    end=$(date +%s.%N)
    python3 - "$p" "$MB" "$start" "$end" "$WORK/out-$p/report.json" <<'PY'
import json, sys
name, mb, start, end, report = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4]), sys.argv[5]
secs = end - start
r = json.load(open(report))
line = f"{name}: {mb:.1f} MB in {secs:.2f} s on 1 thread = {mb/secs:.1f} MB/s per core; kept {r['output']['documents']} of {r['input']['documents']}"
for s in r["stages"]:
    if s["stage"].endswith("dedup"):
        dups = s.get("duplicates", [])
        exact = sum(d.startswith("dup-exact-") for d in dups)
        near = sum(d.startswith("dup-near-") for d in dups)
        line += f"; {s['stage']}: {len(dups)} removed ({exact} injected exact, {near} injected near)"
print(line)
PY
done
