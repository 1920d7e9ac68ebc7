#!/bin/bash
# A fill then its pops (zadd then zpopmin by default), -P 16, 50 conns, /dev/shm, pastel-kv
# inplace: server on CPU 0, client on CPU 1; prints the pops' rate and the server's CPU over them.
# Usage: pops-cpu.sh BUILD_DIR PORT [FILL POP]
BD=${1:?build dir}; PORT=${2:?port}; FILL=${3:-zadd}; POP=${4:-zpopmin}; OUT=${OUT:-/tmp}
rm -rf /dev/shm/pops-$PORT; mkdir -p /dev/shm/pops-$PORT
taskset -c 0 $BD/apps/pastel-kv/pastel-kv --pool /dev/shm/pops-$PORT/kv.pool --listen 127.0.0.1:$PORT > /dev/null 2>&1 &
PID=$!
sleep 1.5
taskset -c 1 redis-benchmark -p $PORT -t $FILL -n 200000 -c 50 -P 16 -r 100000 > $OUT/$FILL-$PORT.out 2>&1
T0=$(awk '{print $14+$15}' /proc/$PID/stat)
taskset -c 1 redis-benchmark -p $PORT -t $POP -n 200000 -c 50 -P 16 > $OUT/$POP-$PORT.out 2>&1
T1=$(awk '{print $14+$15}' /proc/$PID/stat)
echo "$(grep 'throughput summary' $OUT/$POP-$PORT.out | awk '{print $3}') req/s $POP, server CPU $(( (T1-T0)*10 )) ms for 200000"
kill $PID; wait $PID 2>/dev/null
rm -rf /dev/shm/pops-$PORT
