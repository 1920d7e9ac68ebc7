# sustained.sh LABEL pastel|redis [ENV=..]: a fresh server on /var/tmp (CPU 0), redis-benchmark SET of 1 KiB
# on CPU 1, 50 connections, -P ${P:-1}: 40,000 SETs, then 30,000 twice (the sustained state); the
# disk sectors written during each phase (/sys/block/vda/stat). BIN: the build to run.
# seqrun.sh label kind [env...] : 40k warm-up + 2 x 30k measured, -P ${P:-1}
label=$1; kind=$2; shift 2; P=${P:-1}
if [ $kind = pastel ]; then
  rm -rf /var/tmp/kvp && mkdir -p /var/tmp/kvp
  (cd /work/main; env "$@" taskset -c 0 ${BIN:-build/release}/apps/pastel-kv/pastel-kv --pool /var/tmp/kvp/kv.pool --listen 127.0.0.1:17600 > /tmp/kvp.log 2>&1 &)
  port=17600; sleep 2
else
  rm -rf /var/tmp/rds && mkdir -p /var/tmp/rds
  (cd /var/tmp/rds; taskset -c 0 redis-server --port 17601 --appendonly yes --appendfsync always --save "" --dir /var/tmp/rds > /tmp/rds.log 2>&1 &)
  port=17601; sleep 1
fi
out="$label:"
for n in 40000 30000 30000; do
  a=($(cat /sys/block/vda/stat))
  r=$(taskset -c 1 redis-benchmark -p $port -t set -d 1024 -c 50 -P $P -n $((n*P/4>n?n*P/4:n)) -r 100000 -q 2>&1 | tr '\r' '\n' | tail -2 | head -1 | sed -E 's/SET: ([0-9.]+) requests per second, p50=([0-9.]+) msec/\1 p50=\2/')
  b=($(cat /sys/block/vda/stat))
  out="$out  $r ($(( (b[6]-a[6])/2000 ))MB)"
done
echo "$out"
if [ $kind = pastel ]; then pkill -9 -f "pastel-kv --pool /var/tmp/kvp"; else redis-cli -p 17601 shutdown nosave >/dev/null 2>&1; pkill -9 -f "redis-server.*17601"; fi; sleep 1
