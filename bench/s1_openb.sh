#!/usr/bin/env bash
# S1 (BENCHMARKS.md): FGD's inflation experiment on every openb workload the authors published,
# seeds 42–51, for Random, BestFit, GpuPacking, FGD and Strata's policy; then the table of GPU
# allocation at 130 % arrived demand beside the authors' numbers, and the replay of their FGD run.
#
#   bash bench/s1_openb.sh            # all workloads
#   WORKLOADS="default cpu200" POLICIES="fgd strata" bash bench/s1_openb.sh
set -euo pipefail
cd "$(dirname "$0")/.."

TRACES=${TRACES:-../shared/traces}
CSV=$TRACES/alibaba_openb_gpu_v2023/csv
BASE=$TRACES/fgd_atc23_expected_results
OUT=${OUT:-target/s1}
SEEDS=${SEEDS:-42-51}
JOBS=${JOBS:-$(nproc)}
WORKLOADS=${WORKLOADS:-"default cpu050 cpu200 gpushare40 gpushare80 gpuspec10 gpuspec33 multigpu20 multigpu50"}
POLICIES=${POLICIES:-"random bestfit gpupacking fgd strata"}
REPLAY=${REPLAY:-1}
[[ -d $CSV ]] || { echo "no openb traces at $CSV; set TRACES" >&2; exit 1; }

# `strata-sim` runs the same `SimCommand` as `strata sim` without linking llama.cpp, so it builds
# in seconds; SIM overrides it (e.g. SIM="./target/release/strata sim").
if [[ -z ${SIM:-} ]]; then
  cargo build --release -q -p strata-sim --jobs "$JOBS"
  SIM=./target/release/strata-sim
fi
read -r -a SIM <<<"$SIM"

echo "# S1 openb — $(date -u +%Y-%m-%d), nproc $(nproc), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
start=$(date +%s)
for w in $WORKLOADS; do
  for p in $POLICIES; do
    t0=$(date +%s.%N)
    "${SIM[@]}" openb --nodes "$CSV/openb_node_list_gpu_node.csv" --pods "$CSV/openb_pod_list_$w.csv" \
      --policy "$p" --seeds "$SEEDS" --jobs "$JOBS" --baseline "$BASE" \
      --out "$OUT/openb_pod_list_$w/$p" >/dev/null
    printf '%-11s %-10s %6.1f s\n' "$w" "$p" "$(echo "$(date +%s.%N) - $t0" | bc)" >&2
  done
done
echo "total $(( $(date +%s) - start )) s for $(echo $WORKLOADS | wc -w) workloads × $(echo $POLICIES | wc -w) policies × seeds $SEEDS" >&2
echo
"${SIM[@]}" openb-table --results "$OUT" --baseline "$BASE" --at 130
[[ $REPLAY == 1 ]] || exit 0
echo
"${SIM[@]}" openb-replay --nodes "$CSV/openb_node_list_gpu_node.csv" --pods "$CSV/openb_pod_list_default.csv" \
  --placements "$BASE/kss_rerun_default_FGD_tune1.3_seed42_placements.csv" --policy fgd
