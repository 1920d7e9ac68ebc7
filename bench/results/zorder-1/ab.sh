#!/bin/bash
# Interleaved rounds of kv_figure (pastel-kv inplace only, /dev/shm, -P 16, 50 connections) over
# builds named SIDES ("name=build-dir ..."): ROUNDS=n TESTS=... SIDES="base=DIR a=DIR" ./ab.sh OUT
# (ab/ab3: base = fcdc7c2, A = 3b8867a, B = e00eb0e; ab/ab2: A and B only, 5 rounds.)
OUT=${1:?out dir}; mkdir -p "$OUT"; ROUNDS=${ROUNDS:-3}
TESTS=${TESTS:-ZADD,ZPOPMIN,SADD,SPOP,HSET,SET,GET,INCR}
cd "$(git rev-parse --show-toplevel)"
for r in $(seq 1 "$ROUNDS"); do
  for side in ${SIDES:?name=build-dir ...}; do
    name=${side%%=*}; bd=${side#*=}
    bench/macro/kv_figure --build-dir "$bd" --configs pastel-kv-inplace --tests "$TESTS" \
      --connections 50 --pipeline 16 --rounds 1 --requests 200000 --medium shm \
      --out "$OUT/$name-$r" > "$OUT/$name-$r.log" 2>&1
    grep "round 0" "$OUT/$name-$r.log" | sed "s/^/$name $r /"
  done
done
