#!/bin/bash
# MGET of 10 keys of 8-byte values, server-bound, as reads-cpu.sh (BUILD_DIR or "redis", PORT).
BD=${1:?build dir}; PORT=${2:?port}; N=${N:-200000}; OUT=${OUT:-/tmp}
. "$(dirname "$0")/server.sh"
StartServer $BD $PORT
keys=""
for i in $(seq 0 9); do
  redis-cli -p $PORT SET key:$i value-$i > /dev/null
  keys="$keys key:$i"
done
T0=$(CpuTicks)
taskset -c 1 redis-benchmark -p $PORT -n $N -c 50 -P 16 MGET $keys > $OUT/mget-$PORT.out 2>&1
T1=$(CpuTicks)
rate=$(grep 'throughput summary' $OUT/mget-$PORT.out | awk '{print $3}')
echo "MGET 10 keys: $rate req/s, $(echo "scale=3; ($T1-$T0)*10000/$N" | bc) us CPU/req"
StopServer
