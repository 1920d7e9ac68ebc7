#!/bin/bash
# MGET of 10 keys of 8-byte values, server-bound, as reads-cpu.sh (BUILD_DIR or "redis", PORT).
BD=${1:?build dir}; PORT=${2:?port}; N=${N:-200000}; OUT=${OUT:-/tmp}
rm -rf /dev/shm/mget-$PORT; mkdir -p /dev/shm/mget-$PORT
if [ "$BD" = redis ]; then
  (cd /dev/shm/mget-$PORT && exec taskset -c 0 redis-server --port $PORT --save "" \
    --appendonly no > /dev/null 2>&1) &
else
  taskset -c 0 $BD/apps/pastel-kv/pastel-kv --pool /dev/shm/mget-$PORT/kv.pool \
    --listen 127.0.0.1:$PORT > /dev/null 2>&1 &
fi
PID=$!
sleep 1.5
keys=""
for i in $(seq 0 9); do
  redis-cli -p $PORT SET key:$i value-$i > /dev/null
  keys="$keys key:$i"
done
T0=$(awk '{print $14+$15}' /proc/$PID/stat)
taskset -c 1 redis-benchmark -p $PORT -n $N -c 50 -P 16 MGET $keys > $OUT/mget-$PORT.out 2>&1
T1=$(awk '{print $14+$15}' /proc/$PID/stat)
rate=$(grep 'throughput summary' $OUT/mget-$PORT.out | awk '{print $3}')
echo "MGET 10 keys: $rate req/s, $(echo "scale=3; ($T1-$T0)*10000/$N" | bc) us CPU/req"
kill $PID; wait $PID 2>/dev/null
rm -rf /dev/shm/mget-$PORT
