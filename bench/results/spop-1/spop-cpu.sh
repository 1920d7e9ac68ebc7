#!/bin/bash
# SADD then SPOP, -P 16, 50 conns, /dev/shm, pastel-kv inplace: server on CPU 0, client on CPU 1
BD=${1:?build dir}; PORT=${2:?port}; OUT=${OUT:-/tmp}
rm -rf /dev/shm/spop-$PORT; mkdir -p /dev/shm/spop-$PORT
taskset -c 0 $BD/apps/pastel-kv/pastel-kv --pool /dev/shm/spop-$PORT/kv.pool --listen 127.0.0.1:$PORT > /dev/null 2>&1 &
PID=$!
sleep 1.5
taskset -c 1 redis-benchmark -p $PORT -t sadd -n 200000 -c 50 -P 16 -r 100000 > $OUT/sadd-$PORT.out 2>&1
T0=$(awk '{print $14+$15}' /proc/$PID/stat)
taskset -c 1 redis-benchmark -p $PORT -t spop -n 200000 -c 50 -P 16 > $OUT/spop-$PORT.out 2>&1
T1=$(awk '{print $14+$15}' /proc/$PID/stat)
echo "$(grep 'throughput summary' $OUT/spop-$PORT.out | awk '{print $3}') req/s SPOP, server CPU $(( (T1-T0)*10 )) ms for 200000"
kill $PID; wait $PID 2>/dev/null
rm -rf /dev/shm/spop-$PORT
