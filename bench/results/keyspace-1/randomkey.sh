#!/bin/bash
# BUILD PORT: 200,000 random 16-byte keys, then 20 RANDOMKEYs one after another; wall time each
B=$1; P=$2
rm -f /dev/shm/rk-$P.pool*
taskset -c 0 $B/apps/pastel-kv/pastel-kv --listen 127.0.0.1:$P --pool /dev/shm/rk-$P.pool --pool-size 1G > /dev/null 2>&1 & PID=$!
sleep 1
taskset -c 1 redis-benchmark -p $P -t set -r 200000 -n 600000 -d 16 -P 16 -q > /dev/null 2>&1
/usr/bin/python3 - $P <<'PY'
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
def rd(n):
    buf = b""
    while buf.count(b"\r\n") < n:
        buf += s.recv(65536)
    return buf
t = time.time()
for i in range(20):
    s.sendall(b"*1\r\n$9\r\nRANDOMKEY\r\n"); rd(2)
dt = time.time() - t
print("20 RANDOMKEY in %.3f s, %.2f ms each" % (dt, dt * 50))
PY
kill $PID; wait $PID 2>/dev/null; rm -f /dev/shm/rk-$P.pool*
