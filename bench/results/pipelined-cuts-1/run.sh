#!/bin/bash
# interleaved before/after: kv_figure (SET 1 KiB, 50 conns) shm -P16, file -P1; seed_figure wal-1k inplace-uring shm, file
cd "$(dirname "$0")/../../.."
OUT=${OUT:-/tmp/pc}
for i in 1 2 3; do
  for b in before after; do
    if [ $b = before ]; then BD=$BEFORE; else BD=$AFTER; fi
    bench/macro/kv_figure --build-dir $BD --configs pastel-kv-inplace --medium shm --pipeline 16 --requests 200000 --rounds 1 --out $OUT/kvshm-$b-$i > $OUT/kvshm-$b-$i.log 2>&1
    bench/macro/kv_figure --build-dir $BD --configs pastel-kv-inplace --medium file --pipeline 1 --requests 30000 --rounds 1 --out $OUT/kvfile-$b-$i > $OUT/kvfile-$b-$i.log 2>&1
    bench/macro/seed_figure --build-dir $BD --configs inplace-uring --workloads wal-1k --connections 50 --rounds 1 --duration 5 --warmup 1 --medium shm --out $OUT/sfshm-$b-$i > $OUT/sfshm-$b-$i.log 2>&1
    bench/macro/seed_figure --build-dir $BD --configs inplace-uring --workloads wal-1k --connections 50 --rounds 1 --duration 5 --warmup 1 --medium file --out $OUT/sffile-$b-$i > $OUT/sffile-$b-$i.log 2>&1
  done
done
echo DONE
