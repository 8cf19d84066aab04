#!/usr/bin/env bash
# Instructions per message for sip-wire and rsip on the benchmark messages, counted by
# callgrind (repeatable regardless of machine load). Prints a table and the ratios.
# Usage: benches/callgrind.sh [iterations]     (needs valgrind: apt-get install valgrind)
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-20000}
cargo build --release --example parse_loop >/dev/null 2>&1
bin=target/release/examples/parse_loop
count() { # parser what message -> instructions per iteration, minus the process's fixed cost
  local base full
  base=$(valgrind --tool=callgrind --callgrind-out-file=/dev/null "$bin" "$1" "$2" "$3" 1 2>&1 | awk '/refs:/ {gsub(",","",$4); print $4}')
  full=$(valgrind --tool=callgrind --callgrind-out-file=/dev/null "$bin" "$1" "$2" "$3" "$n" 2>&1 | awk '/refs:/ {gsub(",","",$4); print $4}')
  echo $(( (full - base) / (n - 1) ))
}
printf '%-22s %-9s %12s %12s %7s\n' message what sip-wire rsip ratio
for what in parse hot-path; do
  for msg in register-outbound invite-1k 200-ok-record-route 100-trying; do
    [ "$what" = hot-path ] && [ "$msg" != invite-1k ] && continue
    a=$(count sip-wire "$what" "$msg"); b=$(count rsip "$what" "$msg")
    printf '%-22s %-9s %12d %12d %6.1fx\n' "$msg" "$what" "$a" "$b" "$(echo "$b / $a" | bc -l)"
  done
done
