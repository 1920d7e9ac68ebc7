#!/bin/bash
# Interleaved runs of bench/micro/index_bench's checkpointed writes over two builds (the same
# index_bench.cc in both): BEFORE=dir AFTER=dir ROUNDS=n ./micro.sh
for r in $(seq 1 "${ROUNDS:-5}"); do
  for side in before after; do
    bd=$BEFORE; [ $side = after ] && bd=$AFTER
    taskset -c 0 "$bd/bench/micro/index_bench" \
      --benchmark_filter='BM_Index_Write/(checkpoint|checkpoint_counter_keys)/' 2>/dev/null |
      grep "_median" | awk -v s=$side -v r="$r" '{print s, r, $1, $2, $3}'
  done
done
