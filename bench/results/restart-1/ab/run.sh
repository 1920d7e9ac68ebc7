#!/bin/bash
# Interleaved before (a1d723d) / after (this change) on one quiet host: kv_figure durable SET of
# 1 KiB values, 50 connections, -P 16 and -P 1 on /dev/shm, -P 16 on a regular file (/var/tmp).
out=${1:-/tmp/ab-restart}
mkdir -p $out
cd /work/main
for r in 1 2 3; do
  for cell in shm-p16 shm-p1 file-p16; do
    for side in before after; do
      bd=/work/main/build/release; [ $side = before ] && bd=/work/wt-base/build/release
      medium=${cell%%-*}; p=${cell##*-p}
      extra=""; [ $medium = file ] && extra="--requests 50000"
      [ $p = 1 ] && extra="--requests 50000"
      bench/macro/kv_figure --build-dir $bd --configs pastel-kv-inplace --tests SET --connections 50 \
        --pipeline $p --rounds 1 --medium $medium $extra --out $out/$cell-$side-r$r \
        > $out/$cell-$side-r$r.log 2>&1
    done
  done
done
echo done
