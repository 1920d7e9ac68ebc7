#!/bin/bash
# Whole-set and whole-hash reads, server-bound: pastel-kv --persist inplace on /dev/shm (server on
# CPU 0, redis-benchmark on CPU 1, 50 connections, -P 16). A set s1 of 20 members (24 bytes each),
# s2 sharing half of them, a hash h of 20 fields; then N of each read, and the server's CPU time
# (utime + stime from /proc) over each read's run.
# Usage: reads-cpu.sh BUILD_DIR PORT   (prints one line per command: rate and us of CPU per request)
# BUILD_DIR "redis": redis-server 7.0 without persistence instead, the same way.
BD=${1:?build dir}; PORT=${2:?port}; N=${N:-200000}; OUT=${OUT:-/tmp}
. "$(dirname "$0")/server.sh"
StartServer $BD $PORT
for i in $(seq 10 29); do
  m=$(printf "member-of-the-sets-%05d" $i)
  redis-cli -p $PORT SADD s1 $m > /dev/null
  [ $i -ge 20 ] && redis-cli -p $PORT SADD s2 $m > /dev/null
  [ $i -ge 20 ] && redis-cli -p $PORT SADD s2 "x$m" > /dev/null
  redis-cli -p $PORT HSET h $m "value-$i" > /dev/null
done
for cmd in "SMEMBERS s1" "SINTER s1 s2" "SUNION s1 s2" "HGETALL h"; do
  T0=$(CpuTicks)
  taskset -c 1 redis-benchmark -p $PORT -n $N -c 50 -P 16 $cmd > $OUT/reads-$PORT.out 2>&1
  T1=$(CpuTicks)
  rate=$(grep 'throughput summary' $OUT/reads-$PORT.out | awk '{print $3}')
  echo "$cmd: $rate req/s, $(echo "scale=3; ($T1-$T0)*10000/$N" | bc) us CPU/req"
done
StopServer
