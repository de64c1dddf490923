#!/usr/bin/env bash
# Mini-session: the figures issue 3 targets, interleaved, on a private no-persistence Redis.
set -u
PORT=${PORT:-6391}
export BENCH_REDIS_PORT=$PORT NODE_PATH=${PEERBENCH_DIR:-/tmp/peerbench}/node/node_modules
redis-cli -p $PORT ping >/dev/null 2>&1 || redis-server --port $PORT --save '' --appendonly no --daemonize yes --logfile /tmp/r$PORT.log
sleep 0.3
SB=${SB:-target/release/snapsync-bench}
RS=${PEERBENCH_DIR:-/tmp/peerbench}/bullmq_rs_target/release/bullmq_rs_bench
PEERS=${PEERBENCH_DIR:-/tmp/peerbench}/peers-run
run() { redis-cli -p $PORT flushall >/dev/null; echo "# load $(cut -d' ' -f1 /proc/loadavg) :: $*"; "$@" 2>&1 | grep RESULT; }
for r in 1 2 3; do
  run node $PEERS/bullmq_bench.cjs process --concurrency 50
  run $RS process --concurrency 50
  run $SB queue --redis-url redis://127.0.0.1:$PORT --jobs 20000 --concurrency 50 --mode drain
  run node $PEERS/bullmq_bench.cjs process --concurrency 1
  run $SB queue --redis-url redis://127.0.0.1:$PORT --jobs 20000 --concurrency 1 --mode drain
  run node $PEERS/bullmq_bench.cjs enqueue-bulk --chunk 1000
  run $RS enqueue-bulk --chunk 1000
  run $SB queue --redis-url redis://127.0.0.1:$PORT --jobs 20000 --concurrency 50 --mode enqueue-batch
done
run $SB queue --redis-url redis://127.0.0.1:$PORT --jobs 20000 --concurrency 50 --mode drain --backlog 1000000
redis-cli -p $PORT shutdown nosave >/dev/null 2>&1
