# coldstart.sh BIN label : fill 300k keys (file), clean stop, drop caches, restart: time to first PING; kill -9 variant too
# (run as root: it drops the page cache before each start; bench/results/folios-1/coldstart.txt)
BIN=$1; label=$2
rm -rf /var/tmp/kvc && mkdir -p /var/tmp/kvc
start() { (cd /work/main; taskset -c 0 $BIN/apps/pastel-kv/pastel-kv --pool /var/tmp/kvc/kv.pool --pool-size 1G --listen 127.0.0.1:17602 > /tmp/kvc.log 2>&1 &); }
start; sleep 2
taskset -c 1 redis-benchmark -p 17602 -t set -d 1024 -c 50 -P 16 -n 300000 -r 150000 -q >/dev/null 2>&1
keys=$(redis-cli -p 17602 dbsize)
for how in term kill; do
  PID=$(pgrep -f "pastel-kv --pool /var/tmp/kvc")
  if [ $how = term ]; then kill -TERM $PID; else taskset -c 1 redis-benchmark -p 17602 -t set -d 1024 -c 50 -P 16 -n 50000 -r 150000 -q >/dev/null 2>&1; kill -9 $PID; fi
  while kill -0 $PID 2>/dev/null; do sleep 0.05; done
  sync; echo 3 > /proc/sys/vm/drop_caches
  t0=$(date +%s%N); start
  until redis-cli -p 17602 ping 2>/dev/null | grep -q PONG; do sleep 0.002; done
  t1=$(date +%s%N)
  until grep -q "counted in the background" /tmp/kvc.log; do sleep 0.01; done
  t2=$(date +%s%N)
  a=($(cat /sys/block/vda/stat)); taskset -c 1 redis-benchmark -p 17602 -t set -d 1024 -c 50 -P 16 -n 100000 -r 150000 -q >/dev/null 2>&1; b=($(cat /sys/block/vda/stat)); echo "  100k SETs after the start: disk MB $(( (b[6]-a[6])/2000 ))"
  echo "$label $how keys=$keys first PING $(( (t1-t0)/1000000 )) ms, warm-up done $(( (t2-t0)/1000000 )) ms; $(grep -o 'recovered.*in [0-9.]* ms' /tmp/kvc.log | head -1)"
done
pkill -9 -f "pastel-kv --pool /var/tmp/kvc"; sleep 0.5; rm -rf /var/tmp/kvc
