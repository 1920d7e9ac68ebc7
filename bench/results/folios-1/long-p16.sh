#!/bin/bash
# long-p16.sh LABEL BIN: a fresh pastel-kv on /var/tmp (CPU 0), 8 phases of 120,000 SETs of 1 KiB
# (-P 16, 50 connections, 100,000 keys: the 256 MiB pool wraps several times); per phase the
# throughput, the server's CPU per request (utime+stime) and the disk's sectors written.
label=$1; BIN=$2
rm -rf /var/tmp/kvl && mkdir -p /var/tmp/kvl
(cd /work/main; taskset -c 0 $BIN/apps/pastel-kv/pastel-kv --pool /var/tmp/kvl/kv.pool --listen 127.0.0.1:17603 > /tmp/kvl.log 2>&1 &)
sleep 2; PID=$(pgrep -f "pastel-kv --pool /var/tmp/kvl"); tck=$(getconf CLK_TCK)
out="$label:"
for ph in 1 2 3 4 5 6 7 8; do
  a=($(cat /sys/block/vda/stat)); c0=$(awk '{print $14+$15}' /proc/$PID/stat)
  r=$(taskset -c 1 redis-benchmark -p 17603 -t set -d 1024 -c 50 -P 16 -n 120000 -r 100000 -q 2>&1 | tr '\r' '\n' | tail -2 | head -1 | sed -E 's/SET: ([0-9.]+) requests per second.*/\1/')
  b=($(cat /sys/block/vda/stat)); c1=$(awk '{print $14+$15}' /proc/$PID/stat)
  out="$out $(printf '%.0fk/%.1fus/%dMB' $(echo "$r/1000" | bc -l) $(echo "($c1-$c0)*1000000/$tck/120000" | bc -l) $(( (b[6]-a[6])/2000 )))"
done
echo "$out"
pkill -9 -f "pastel-kv --pool /var/tmp/kvl"; sleep 1; rm -rf /var/tmp/kvl
