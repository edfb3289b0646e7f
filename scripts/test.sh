#!/usr/bin/env bash
# Every test, twice: on SQLite (the embedded default), then on a real PostgreSQL (started here,
# installed from Debian's packages if missing). The same suites run against both; the store and
# the integration tests read DATABASE_URL to pick the database.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"

# llama.cpp (crates/infer-llama) is built from source with cmake; bindgen needs libclang.
if ! command -v cmake >/dev/null || ! ls /usr/lib/llvm-*/lib/libclang*.so* >/dev/null 2>&1; then
    echo "== installing cmake and libclang-dev from Debian's packages"
    sudo_cmd=""; [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
    $sudo_cmd apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq cmake libclang-dev >/dev/null
fi

echo "== tidy: formatting and lints"
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --quiet -- -D warnings

log=$(mktemp)
trap 'rm -f "$log"' EXIT

echo "== tests on SQLite"
env -u DATABASE_URL cargo test --workspace 2>&1 | tee -a "$log"

# shellcheck source=scripts/pg.sh
source scripts/pg.sh
trap 'stop_pg; rm -f "$log"' EXIT
echo "== tests on PostgreSQL"
cargo test --workspace 2>&1 | tee -a "$log"

# One closing line for both runs together.
awk '/^test result:/ { p += $4; f += $6 } END { printf "tests: %d passed, %d failed\n", p, f }' "$log"
