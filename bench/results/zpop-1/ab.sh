#!/bin/bash
# Interleaved rounds of kv_figure (pastel-kv inplace only, /dev/shm, -P 16, 50 connections) over
# two builds: BEFORE=dir AFTER=dir ROUNDS=n TESTS=... ./ab.sh OUTDIR
OUT=${1:?out dir}; mkdir -p "$OUT"; ROUNDS=${ROUNDS:-3}; TESTS=${TESTS:-SADD,SPOP,ZADD,ZPOPMIN}
cd "$(git rev-parse --show-toplevel)"
for r in $(seq 1 "$ROUNDS"); do
  for side in before after; do
    bd=$BEFORE; [ $side = after ] && bd=$AFTER
    bench/macro/kv_figure --build-dir "$bd" --configs pastel-kv-inplace --tests "$TESTS" \
      --connections 50 --pipeline 16 --rounds 1 --requests 200000 --medium shm \
      --out "$OUT/$side-$r" > "$OUT/$side-$r.log" 2>&1
    grep "round 0" "$OUT/$side-$r.log" | sed "s/^/$side $r /"
  done
done
