#!/usr/bin/env bash
# S4 end to end. Usage: bash bench/e2e.sh            (SQLite)
#                       DATABASE_URL=postgres://… bash bench/e2e.sh
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q -p strata -p strata-bench
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(date -u +%F)"
target/release/e2e
