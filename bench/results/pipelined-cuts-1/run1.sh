#!/bin/bash
cd "$(dirname "$0")/../../.."
OUT=${OUT:-/tmp/pc}
for i in 1 2 3 4; do
  for b in after before; do
    if [ $b = before ]; then BD=$BEFORE; else BD=$AFTER; fi
    bench/macro/kv_figure --build-dir $BD --configs pastel-kv-inplace --medium shm --pipeline 16 --connections 1 --requests 200000 --rounds 1 --out $OUT/kv1-$b-$i > $OUT/kv1-$b-$i.log 2>&1
  done
done
echo DONE
