"""D1: Strata against datatrove on the corpus bench/d1.sh built, as Markdown for bench/RESULTS.md.

Reads WORK/timings.jsonl, the per-stage verdicts of both sides (WORK/strata-verdicts.jsonl,
WORK/dt-verdicts.jsonl), the kept documents of the timed filter chain (WORK/out-filters,
WORK/dt-filters) and of MinHash (WORK/out-minhash with its report.json, WORK/dt-minhash).
Throughput is the JSONL corpus size over CPU seconds (user + system) of the whole run, the median
of the repeats: on a shared machine CPU time moves less than wall time, which is shown beside it.
"""

import collections
import glob
import json
import statistics
import sys

STAGES = ("language", "gopher_repetition", "gopher_quality")
LISTED = 12  # disagreeing ids listed per stage; the rest are counted


def jsonl(pattern):
    for path in sorted(glob.glob(pattern)):
        with open(path) as f:
            yield from (json.loads(line) for line in f if line.strip())


def ids(pattern):
    return {d["id"] for d in jsonl(pattern)}


def throughput(work):
    runs = collections.defaultdict(list)
    for t in jsonl(f"{work}/timings.jsonl"):
        runs[(t["run"], t["tool"])].append(t)
    print("| run | Strata MB/s per core | datatrove MB/s per core | ratio | Strata wall MB/s | datatrove wall MB/s |")
    print("| --- | --- | --- | --- | --- | --- |")
    for run in ("filters", "minhash"):
        rate = {}
        for tool in ("strata", "datatrove"):
            ts = runs[(run, tool)]
            rate[tool] = (
                statistics.median(t["mb"] / t["cpu_s"] for t in ts),
                statistics.median(t["mb"] / t["wall_s"] for t in ts),
            )
        s, d = rate["strata"], rate["datatrove"]
        n = len(runs[(run, "strata")])
        print(f"| {run} (median of {n}) | {s[0]:.1f} | {d[0]:.2f} | {s[0] / d[0]:.0f}× | {s[1]:.1f} | {d[1]:.2f} |")
    print()


def stage_agreement(work):
    strata = {r["id"]: r for r in jsonl(f"{work}/strata-verdicts.jsonl")}
    dt = {r["id"]: r for r in jsonl(f"{work}/dt-verdicts.jsonl")}
    assert strata.keys() == dt.keys(), "the two sides saw different documents"
    print("| stage | documents | kept by both | removed by both | kept by Strata only | kept by datatrove only | same verdict | same reason |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    diffs = {}
    for stage in STAGES:
        count = collections.Counter()
        diffs[stage] = []
        for i, s in strata.items():
            sk, dk = s[stage] == "kept", dt[i][stage] == "kept"
            count[(sk, dk)] += 1
            count["reason"] += s[stage] == dt[i][stage]
            if sk != dk:
                diffs[stage].append((i, s[stage], dt[i][stage], s.get("whatlang"), dt[i].get("fasttext")))
        n = len(strata)
        same = count[(True, True)] + count[(False, False)]
        print(
            f"| {stage} | {n} | {count[(True, True)]} | {count[(False, False)]} | {count[(True, False)]} "
            f"| {count[(False, True)]} | {same / n:.2%} | {count['reason'] / n:.2%} |"
        )
    print()
    for stage, rows in diffs.items():
        if not rows:
            continue
        print(f"{stage}: {len(rows)} different verdicts (Strata / datatrove):")
        why = collections.Counter((s, d) for _, s, d, _, _ in rows)
        for (s, d), k in why.most_common():
            print(f"- {k} × Strata `{s}`, datatrove `{d}`")
        for i, s, d, wl, ft in rows[:LISTED]:
            extra = f" whatlang {wl}, fastText {ft}" if stage == "language" else ""
            print(f"  - {i}: {s} / {d}{extra}")
        print()
    return strata


def chain_agreement(work):
    strata, dt = ids(f"{work}/out-filters/*.jsonl"), ids(f"{work}/dt-filters/*.jsonl")
    both = strata & dt
    print(
        f"Filter chain (language, repetition, quality): Strata kept {len(strata)}, datatrove {len(dt)}, "
        f"both {len(both)}; only Strata {sorted(strata - dt)[:LISTED]}, only datatrove {sorted(dt - strata)[:LISTED]}"
    )
    print()


def minhash_agreement(work, all_ids):
    report = json.load(open(f"{work}/out-minhash/report.json"))
    (mh,) = [s for s in report["stages"] if s["stage"] == "minhash_dedup"]
    s_removed = set(mh.get("duplicates", []))
    dt_removed = ids(f"{work}/dt-minhash/removed/*.jsonl")
    s_kept = ids(f"{work}/out-minhash/*.jsonl")
    dt_kept = ids(f"{work}/dt-minhash/kept/*.jsonl")
    assert s_kept | s_removed == all_ids and dt_kept | dt_removed == all_ids
    print("| MinHash | removed | injected exact found | injected near found | removed by both |")
    print("| --- | --- | --- | --- | --- |")
    injected = {k: {i for i in all_ids if i.startswith(f"dup-{k}-")} for k in ("exact", "near")}
    for name, removed in (("Strata", s_removed), ("datatrove", dt_removed)):
        found = {k: len(v & removed) for k, v in injected.items()}
        print(
            f"| {name} | {len(removed)} | {found['exact']}/{len(injected['exact'])} "
            f"| {found['near']}/{len(injected['near'])} | {len(s_removed & dt_removed)} |"
        )
    print()
    # Clusters as sets of ids: the same groups found, whichever member each side keeps.
    s_clusters = {frozenset([c["kept"], *c["removed"]]) for c in mh.get("clusters", [])}
    by_cluster = collections.defaultdict(set)
    for d in jsonl(f"{work}/dt-minhash/*/*.jsonl"):
        cid = d.get("metadata", {}).get("minhash_cluster_id", -1)
        if cid != -1:
            by_cluster[cid].add(d["id"])
    dt_clusters = {frozenset(c) for c in by_cluster.values()}
    print(
        f"Clusters: Strata {len(s_clusters)}, datatrove {len(dt_clusters)}, identical {len(s_clusters & dt_clusters)}; "
        f"removed by Strata only {sorted(s_removed - dt_removed)[:LISTED]} ({len(s_removed - dt_removed)}), "
        f"by datatrove only {sorted(dt_removed - s_removed)[:LISTED]} ({len(dt_removed - s_removed)})"
    )
    for c in sorted(s_clusters ^ dt_clusters, key=sorted)[:LISTED]:
        side = "Strata" if c in s_clusters else "datatrove"
        print(f"  - only {side}: {sorted(c)}")


if __name__ == "__main__":
    work = sys.argv[1]
    throughput(work)
    verdicts = stage_agreement(work)
    chain_agreement(work)
    minhash_agreement(work, set(verdicts))
