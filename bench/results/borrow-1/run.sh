#!/bin/bash
# Pool borrowing (2026-12-07): durable SET of 1 KiB values on /dev/shm, before (BEFORE: a
# pastel-kv built from the commit before) and after (AFTER), interleaved rounds, server on CPU 0,
# redis-benchmark on CPU 1. Prints one line per run: label threads pipeline requests/s.
# Usage: run.sh BEFORE_BIN AFTER_BIN [ROUNDS]
set -u
BEFORE=$1 AFTER=$2 ROUNDS=${3:-3}
PORT=17650
for round in $(seq 1 "$ROUNDS"); do
  for threads in 1 2; do
    for p in 1 16; do
      for label in before after; do
        bin=$BEFORE; [ "$label" = after ] && bin=$AFTER
        rm -f /dev/shm/borrow.pool*
        taskset -c 0 "$bin" --listen 127.0.0.1:$PORT --pool /dev/shm/borrow.pool --pool-size 1G \
          --threads "$threads" > /dev/null 2>&1 &
        pid=$!
        for _ in $(seq 50); do redis-cli -p $PORT ping > /dev/null 2>&1 && break; sleep 0.1; done
        n=100000; [ "$p" = 16 ] && n=300000
        rps=$(taskset -c 1 redis-benchmark -p $PORT -c 50 -P "$p" -t set -d 1024 -r 1000000 \
          -n $n -q 2>/dev/null | tr '\r' '\n' | grep -o 'SET: [0-9.]* requests' | awk '{print $2}')
        echo "$label threads=$threads P=$p $rps"
        kill "$pid"; wait "$pid" 2>/dev/null
        rm -f /dev/shm/borrow.pool*
      done
    done
  done
done
