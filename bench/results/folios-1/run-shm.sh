#!/bin/bash
# Interleaved before (0cd124f^: the release build in /work/wt-base) / after on /dev/shm: kv_figure
# durable SET of 1 KiB, 50 connections, -P 16 and -P 1; seed_figure wal-1k inplace-uring.
out=${1:-/tmp/folios-1-shm}
mkdir -p $out
cd /work/main
for r in 1 2 3; do
  for p in 16 1; do
    for side in before after; do
      bd=/work/main/build/release; [ $side = before ] && bd=/work/wt-base/build/release
      extra=""; [ $p = 1 ] && extra="--requests 50000"
      bench/macro/kv_figure --build-dir $bd --configs pastel-kv-inplace --tests SET --connections 50 \
        --pipeline $p --rounds 1 --medium shm $extra --out $out/kv-p$p-$side-r$r \
        > $out/kv-p$p-$side-r$r.log 2>&1
    done
  done
  for side in before after; do
    bd=/work/main/build/release; [ $side = before ] && bd=/work/wt-base/build/release
    bench/macro/seed_figure --build-dir $bd --workloads wal-1k --configs inplace-uring \
      --connections 50 --rounds 1 --duration 3 --medium shm --out $out/seed-$side-r$r \
      > $out/seed-$side-r$r.log 2>&1
  done
done
echo done
