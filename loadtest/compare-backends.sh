#!/usr/bin/env bash
# io_uring vs epoll in one run: the same release binary, one shard pinned to core 0, the UDP
# driver (loadtest/src/bin/udp-options.rs) pinned to core 1, rounds interleaved so drift on a
# shared machine hits both backends alike. A bare UDP responder (udp-reflector: blocking
# recvfrom/sendto, no parsing) runs the same load in each round as the floor: what the kernel's
# UDP path alone costs. Loopback only; each round is bounded by a request count and a time limit.
#
#   loadtest/compare-backends.sh [ROUNDS] [REQUESTS]
#   RATE=50000 loadtest/compare-backends.sh 3 200000   # open loop: a fixed request rate
#
# Prints one JSON line per round, then the medians and the uring/epoll ratio of answers per
# second and of proxy CPU-µs per answer.
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-3}
REQUESTS=${2:-400000}
PORT=${PORT:-25060}
RATE=${RATE:-0}

cargo build --release -q -p sipedge -p sipedge-loadtest
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
cat > "$dir/bench.toml" <<TOML
[general]
shards = 1
pin_cores = true
log_level = "warn"
drain_timeout_ms = 2000

[[listen]]
transport = "udp"
address = "127.0.0.1:$PORT"
TOML

for round in $(seq 1 "$ROUNDS"); do
  for backend in uring epoll; do
    target/release/sipedge run --config "$dir/bench.toml" --io-backend "$backend" >"$dir/summary.json" 2>"$dir/err.log" &
    pid=$!
    sleep 0.3
    line=$(taskset -c 1 target/release/udp-options --target "127.0.0.1:$PORT" \
      --requests "$REQUESTS" --seconds 20 --sockets 64 --window 8 --rate "$RATE" --pid "$pid")
    kill -TERM "$pid"
    wait "$pid"
    echo "{\"round\":$round,\"backend\":\"$backend\",\"result\":$line}" | tee -a "$dir/results.jsonl"
  done
  taskset -c 0 target/release/udp-reflector --listen "127.0.0.1:$((PORT + 10))" --seconds 2 >/dev/null &
  pid=$!
  sleep 0.2
  line=$(taskset -c 1 target/release/udp-options --target "127.0.0.1:$((PORT + 10))" \
    --requests "$REQUESTS" --seconds 20 --sockets 64 --window 8 --rate "$RATE" --pid "$pid")
  wait "$pid"
  echo "{\"round\":$round,\"backend\":\"reflector\",\"result\":$line}" | tee -a "$dir/results.jsonl"
done

python3 - "$dir/results.jsonl" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
med = {}
for b in ("uring", "epoll", "reflector"):
    rs = [r["result"] for r in rows if r["backend"] == b]
    med[b] = (statistics.median(r["answered_per_sec"] for r in rs),
              statistics.median(r["proxy_cpu_us_per_answer"] for r in rs))
    print(f"{b:6} median answers/s {med[b][0]:>9.0f}   proxy CPU-us/answer {med[b][1]:.3f}")
print(f"ratio uring/epoll: answers/s {med['uring'][0]/med['epoll'][0]:.2f}x, "
      f"CPU per answer {med['epoll'][1]/med['uring'][1]:.2f}x less on uring")
for b in ("uring", "epoll"):
    print(f"{b} vs bare reflector: answers/s {med[b][0]/med['reflector'][0]:.2f}x, "
          f"CPU per answer {med[b][1]/med['reflector'][1]:.2f}x the reflector's")
PY
