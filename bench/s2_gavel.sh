#!/usr/bin/env bash
# S2 (BENCHMARKS.md): Gavel's heterogeneity-aware experiment — 36 K80 + 36 P100 + 36 V100, 6-minute
# rounds, Gavel's synthetic single-GPU continuous trace at 2.0/4.0/4.8/5.6 jobs/hour, mean JCT of
# jobs 4000–5000 — for Gavel's baselines (FIFO, FIFO-het, LAS, LAS-het) and Strata's policies, beside
# Gavel's published numbers; then the msr trace (each Philly VC a tenant) for per-tenant shares.
#
#   bash bench/s2_gavel.sh                 # all loads, seed 0
#   LOADS="4.8 5.6" SEEDS="0 1 2" bash bench/s2_gavel.sh
set -euo pipefail
cd "$(dirname "$0")/.."

TRACES=${TRACES:-../shared/traces}
G=$TRACES/gavel_osdi20
OUT=${OUT:-target/s2}
LOADS=${LOADS:-"2.0 4.0 4.8 5.6"}
SEEDS=${SEEDS:-0}
JOBS=${JOBS:-$(nproc)}
POLICIES=${POLICIES:-fifo,fifo-het,las,las-het,strata,strata-cost}
MSR=${MSR:-$G/traces/msr/seed=0}

cargo build --release -q -p strata-sim
SIM=(./target/release/strata-sim)

echo "# S2 Gavel — $(date -u +%Y-%m-%d), nproc $(nproc), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
start=$(date +%s)
for s in $SEEDS; do
  for r in $LOADS; do
    "${SIM[@]}" gavel --throughputs "$G/simulation_throughputs.json" --policy "$POLICIES" \
      --jobs-per-hour "$r" --seed "$s" --jobs "$JOBS" --out "$OUT/rate$r/seed$s" >/dev/null
  done
done
echo "synthetic runs: $(( $(date +%s) - start )) s" >&2

# Mean JCT (h) of jobs 4000–5000, averaged over seeds; Gavel's number and our/Gavel ratio beside.
echo
echo "Mean JCT (hours) of jobs 4000–5000, ours / Gavel's (ratio), seeds: $SEEDS"
echo
for r in $LOADS; do cat "$OUT/rate$r"/seed*/summary.csv | grep -v '^policy'; done | awk -F, '
  { key=$2","$1; n[key]++; jct[key]+=$6; q[key]+=$9; pre[key]+=$13; usd[key]+=$15; g[key]=$17
    if (!($1 in seenp)) { seenp[$1]=1; pols[++np]=$1 } if (!($2 in seenl)) { seenl[$2]=1; loads[++nl]=$2 } }
  END {
    printf "| jobs/hour |"; for (i=1;i<=np;i++) printf " %s |", pols[i]; print ""
    printf "| --- |"; for (i=1;i<=np;i++) printf " --- |"; print ""
    for (l=1;l<=nl;l++) { printf "| %s |", loads[l]
      for (i=1;i<=np;i++) { k=loads[l]","pols[i]; m=jct[k]/n[k]
        if (g[k]=="unstable") printf " %.2f / unstable |", m
        else if (g[k]!="") printf " %.2f / %s (%.2f) |", m, g[k], m/g[k]
        else printf " %.2f |", m }
      print "" }
    print ""; print "Mean queueing delay (h), preemptions in the window, $ per completed job:"; print ""
    printf "| jobs/hour |"; for (i=1;i<=np;i++) printf " %s |", pols[i]; print ""
    printf "| --- |"; for (i=1;i<=np;i++) printf " --- |"; print ""
    for (l=1;l<=nl;l++) { printf "| %s |", loads[l]
      for (i=1;i<=np;i++) { k=loads[l]","pols[i]; printf " %.2f h, %d, $%.2f |", q[k]/n[k], pre[k]/n[k], usd[k]/n[k] }
      print "" }
  }'

if [ -d "$MSR" ]; then
  t0=$(date +%s)
  "${SIM[@]}" gavel --throughputs "$G/simulation_throughputs.json" --policy "${MSR_POLICIES:-las-het,strata}" \
    --trace "$MSR" --jobs "$JOBS" --out "$OUT/msr" >/dev/null
  echo "msr run: $(( $(date +%s) - t0 )) s" >&2
  echo
  cat "$OUT/msr/summary.md"
fi
