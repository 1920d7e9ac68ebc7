#!/bin/bash
# interleaved before/after seed_figure file wal-1k inplace-uring
cd "$(dirname "$0")/../../.."
for i in 1 2 3 4 5 6; do
  for b in before after; do
    if [ $b = before ]; then BD=${BEFORE:?build dir of the before binaries}; else BD=${AFTER:?build dir of the after binaries}; fi
    bench/macro/seed_figure --build-dir $BD --configs inplace-uring --workloads wal-1k --connections 50 --rounds 1 --duration 5 --warmup 1 --medium file --out ${OUT:-/tmp/sf}/$b-$i > ${OUT:-/tmp/sf}/$b-$i.log 2>&1
  done
done
echo DONE
