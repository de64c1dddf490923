#!/usr/bin/env bash
# snapsync-bench interleaved with the peer queues of bench/peers/, in one session on
# one Redis (port 6390), in the peers' format: raw RESULT log + a RESULTS.md with medians.
#
# Usage: bench/compare_peers.sh [ROUNDS]          (default 3; peers' setup.sh must have run once)
# Env:   PEERS_DIR (bench/peers)          read only: copied to $PEERBENCH_DIR/peers-run first,
#                                           because run_all/summarize write beside themselves
#        PEERBENCH_DIR (/tmp/peerbench)     where the peers are installed and results go
#        BENCH_REDIS_PORT (6390)            never 6379: every run starts with FLUSHALL
#        ONLY="limits bullmq bullmq_rs snapsync backlog celery sidekiq"   subset to run
#        ROC=1                              also BullMQ's remove-on-complete variants
#        BACKLOG (1000000)                  jobs filled before the backlog drain
#        QUIET_MAX_WAIT (60)                seconds to wait for <20% CPU busy before each run
# Each figure runs for BullMQ (Node), bullmq-official (Rust), then snapsync, back to back.
set -uo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
REPO="$(cd "$HERE/.." && pwd)"
PEERS_SRC="${PEERS_DIR:-$HERE/peers}"
DIR="${PEERBENCH_DIR:-/tmp/peerbench}"
export PEERBENCH_DIR="$DIR"
export BENCH_REDIS_PORT="${BENCH_REDIS_PORT:-6390}"
export BENCH_REDIS_URL="redis://127.0.0.1:$BENCH_REDIS_PORT"
ROUNDS="${1:-3}"
ONLY="${ONLY:-limits bullmq bullmq_rs snapsync backlog celery sidekiq}"
QUIET_MAX_WAIT="${QUIET_MAX_WAIT:-60}"
BACKLOG="${BACKLOG:-1000000}"
[[ "$BENCH_REDIS_PORT" == 6379 ]] && { echo "refusing to FLUSHALL port 6379" >&2; exit 1; }

# A writable copy of the peers, with snapsync's section added to the summary.
PEERS="$DIR/peers-run"
rm -rf "$PEERS" && cp -r "$PEERS_SRC" "$PEERS" && chmod -R u+w "$PEERS"
python3 - "$PEERS/summarize.py" <<'PY'
import sys
p = sys.argv[1]; s = open(p).read()
s = s.replace('("4. Sidekiq (20,000 jobs)", "sidekiq.")',
              '("4. Sidekiq (20,000 jobs)", "sidekiq."),\n                ("5. snapsync (this repository)", "snapsync.")')
s = s.replace('WHAT = {', '''WHAT = {
    "snapsync.enqueue.single": "Queue::enqueue one by one, each awaited",
    "snapsync.enqueue.batch1000": "Queue::enqueue_batch in sequential chunks of 1000",
    "snapsync.drain.c1": "one apalis worker pool (RedisBackend), concurrency 1",
    "snapsync.drain.c50": "one apalis worker pool (RedisBackend), concurrency 50",
    "snapsync.drain_storage.c1": "Queue::reserve/ack directly (storage only, not apalis), concurrency 1",
    "snapsync.drain_storage.c50": "Queue::reserve/ack directly (storage only, not apalis), concurrency 50",
    "snapsync.drain.c1.prefetch16": "one apalis worker pool, concurrency 1, prefetch 16 (default: = concurrency)",
    "snapsync.drain.c50.backlog1000000": "apalis pool, concurrency 50: first 20,000 of a 1,000,000-job backlog",''', 1)
s = s.replace('REPO = os.path.dirname(os.path.dirname(HERE))', 'REPO = os.environ["SNAPSYNC_REPO"]')
open(p, "w").write(s)
PY

"$PEERS/redis_server.sh" start
mkdir -p "$DIR/results"
RAW="$DIR/results/raw-$(date -u +%Y%m%dT%H%M%SZ).txt"
RS="$DIR/bullmq_rs_target/release/bullmq_rs_bench"
if [[ " $ONLY " == *" bullmq_rs "* ]]; then
  CARGO_TARGET_DIR="$DIR/bullmq_rs_target" cargo build --release --quiet --manifest-path "$PEERS/bullmq_rs/Cargo.toml" \
    || { echo "cannot build bullmq_rs; skipping it" >&2; ONLY="${ONLY//bullmq_rs/}"; }
fi
(cd "$REPO" && cargo build --release --quiet -p snapsync-bench) || { echo "cannot build snapsync-bench" >&2; exit 1; }
SB="$REPO/target/release/snapsync-bench"
# Which drain paths this build of snapsync-bench offers (it lists them in its --help).
PATHS="$("$SB" queue --help | grep -q -- '- apalis' && echo "apalis storage" || echo storage)"

busy_pct() { # whole-machine CPU busy % over 1 s
  local a b; a=($(head -1 /proc/stat)); sleep 1; b=($(head -1 /proc/stat))
  local ta=0 tb=0 i
  for i in 1 2 3 4 5 6 7 8; do ta=$((ta + a[i])); tb=$((tb + b[i])); done
  local idle=$(( (b[4] + b[5]) - (a[4] + a[5]) )) tot=$((tb - ta))
  echo $(( tot > 0 ? 100 * (tot - idle) / tot : 0 ))
}
wait_quiet() {
  local waited=0 b; b=$(busy_pct)
  while (( b > 20 && waited < QUIET_MAX_WAIT )); do sleep 2; waited=$((waited + 3)); b=$(busy_pct); done
  echo "$b"
}
bench() { # round, command...
  local round="$1"; shift
  redis-cli -p "$BENCH_REDIS_PORT" flushall >/dev/null
  local b; b=$(wait_quiet)
  echo "RUN round=$round busy_before_pct=$b load=$(cut -d' ' -f1 /proc/loadavg) cmd=$*" | tee -a "$RAW"
  local out; out=$("$@" 2>>"$DIR/results/stderr.log"); local rc=$?
  echo "$out" | grep '^RESULT' | tee -a "$RAW"
  (( rc == 0 )) || echo "FAILED rc=$rc cmd=$*" | tee -a "$RAW"
}
has() { [[ " $ONLY " == *" $1 "* ]]; }
peers() { # BullMQ for Node, then its Rust port, with the same arguments
  has bullmq && bench "$round" node "$PEERS/bullmq_bench.cjs" "$@"
  has bullmq_rs && bench "$round" "$RS" "$@"
}
drains() { # concurrency: one run per drain path of this build
  local p; for p in $PATHS; do bench "$round" "$SB" queue --mode drain --concurrency "$1" --path "$p"; done
}

for round in $(seq "$ROUNDS"); do
  if has limits; then
    for t in lpush rpop evalsha; do bench "$round" "$PEERS/redis_limits.sh" "$t" 50 1; done
    for t in lpush rpop evalsha; do bench "$round" "$PEERS/redis_limits.sh" "$t" 50 16; done
    for t in ping evalsha; do bench "$round" "$PEERS/redis_limits.sh" "$t" 1 1; done
  fi
  peers enqueue-single
  has snapsync && bench "$round" "$SB" queue --mode enqueue-single
  peers enqueue-bulk --chunk 1000
  has snapsync && bench "$round" "$SB" queue --mode enqueue-batch --chunk 1000
  peers process --concurrency 1
  has snapsync && drains 1
  # The worker's default prefetch is its concurrency; at concurrency 1 that is one reserve
  # round trip per job. This figure shows what a deeper prefetch buys.
  has snapsync && bench "$round" "$SB" queue --mode drain --concurrency 1 --prefetch 16 --path "${PATHS%% *}"
  peers process --concurrency 50
  has snapsync && drains 50
  if [[ "${ROC:-0}" == 1 ]]; then
    peers process --concurrency 1 --remove-on-complete
    peers process --concurrency 50 --remove-on-complete
  fi
  if has backlog; then
    # The first path of this build only (apalis when built): the figure the target is about.
    bench "$round" "$SB" queue --mode drain --concurrency 50 --path "${PATHS%% *}" --backlog "$BACKLOG"
  fi
  if has celery; then
    bench "$round" "$DIR/venv/bin/python" "$PEERS/celery_bench.py" enqueue
    bench "$round" "$DIR/venv/bin/python" "$PEERS/celery_bench.py" process
  fi
  if has sidekiq && command -v sidekiq >/dev/null; then
    bench "$round" ruby "$PEERS/sidekiq_bench.rb" enqueue
    bench "$round" ruby "$PEERS/sidekiq_bench.rb" process
  fi
done
redis-cli -p "$BENCH_REDIS_PORT" flushall >/dev/null
echo "raw results: $RAW"
SNAPSYNC_REPO="$REPO" "$DIR/venv/bin/python" "$PEERS/summarize.py" "$RAW" | sed 's#\$PEERBENCH_DIR/peers-run/#bench/peers/#g' > "$DIR/results/RESULTS-$(basename "$RAW" .txt).md" \
  && echo "summary: $DIR/results/RESULTS-$(basename "$RAW" .txt).md"
