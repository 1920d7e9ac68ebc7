#!/bin/bash
# GET of 64-byte values (redis-benchmark -t set then -t get, -d 64, 1,000 keys), server-bound, as
# reads-cpu.sh (BUILD_DIR or "redis", PORT): the GETs' rate and server CPU per GET.
BD=${1:?build dir}; PORT=${2:?port}; N=${N:-400000}; D=${D:-64}; OUT=${OUT:-/tmp}
. "$(dirname "$0")/server.sh"
StartServer $BD $PORT
taskset -c 1 redis-benchmark -p $PORT -t set -n 20000 -c 50 -P 16 -d $D -r 1000 > /dev/null 2>&1
T0=$(CpuTicks)
taskset -c 1 redis-benchmark -p $PORT -t get -n $N -c 50 -P 16 -d $D -r 1000 > $OUT/get-$PORT.out 2>&1
T1=$(CpuTicks)
rate=$(grep 'throughput summary' $OUT/get-$PORT.out | awk '{print $3}')
echo "GET ${D} B: $rate req/s, $(echo "scale=3; ($T1-$T0)*10000/$N" | bc) us CPU/req"
StopServer
