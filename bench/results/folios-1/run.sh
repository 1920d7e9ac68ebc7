#!/bin/bash
# Interleaved before (0cd124f, release build in /work/wt-base) / after (this change) on one quiet
# host, pools and AOF on a regular file (ext4 under /var/tmp): kv_figure durable SET of 1 KiB,
# 50 connections, -P 1 (100,000 SETs) and -P 16 (300,000), with redis-server appendfsync always
# in the same rounds; then seed_figure wal-1k (pastel-httpd inplace, io_uring, 50 connections).
out=${1:-/tmp/folios-1}
mkdir -p $out
cd /work/main
for r in 1 2 3; do
  for p in 1 16; do
    n=100000; [ $p = 16 ] && n=300000
    for side in before after redis; do
      bd=/work/main/build/release; [ $side = before ] && bd=/work/wt-base/build/release
      cfg=pastel-kv-inplace; [ $side = redis ] && cfg=redis-aof-always
      bench/macro/kv_figure --build-dir $bd --configs $cfg --tests SET --connections 50 \
        --pipeline $p --rounds 1 --medium file --requests $n --out $out/kv-p$p-$side-r$r \
        > $out/kv-p$p-$side-r$r.log 2>&1
    done
  done
  for side in before after; do
    bd=/work/main/build/release; [ $side = before ] && bd=/work/wt-base/build/release
    bench/macro/seed_figure --build-dir $bd --workloads wal-1k --configs inplace-uring \
      --connections 50 --rounds 1 --duration 3 --medium file --out $out/seed-$side-r$r \
      > $out/seed-$side-r$r.log 2>&1
  done
done
echo done
