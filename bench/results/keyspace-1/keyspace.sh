#!/bin/bash
# ./keyspace.sh dbsize|randomkey BUILD PORT: pastel-kv with 200,000 random 16-byte keys (about
# 190,000 distinct; /dev/shm, server on CPU 0), then, one after another, 50 sends of "SET w 1"
# and "DBSIZE" together (each DBSIZE in the batch of a write), or 20 RANDOMKEYs; the wall time.
WHAT=$1; B=$2; P=$3
rm -f /dev/shm/ks-$P.pool*
taskset -c 0 $B/apps/pastel-kv/pastel-kv --listen 127.0.0.1:$P --pool /dev/shm/ks-$P.pool \
  --pool-size 1G > /dev/null 2>&1 &
PID=$!
sleep 1
taskset -c 1 redis-benchmark -p $P -t set -r 200000 -n 600000 -d 16 -P 16 -q > /dev/null 2>&1
/usr/bin/python3 - $P $WHAT <<'PY'
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
def rd(n):
    buf = b""
    while buf.count(b"\r\n") < n:
        buf += s.recv(65536)
    return buf
s.sendall(b"*1\r\n$6\r\nDBSIZE\r\n")
keys = rd(1).strip().decode()
if sys.argv[2] == "dbsize":
    t = time.time()
    for i in range(50):
        s.sendall(b"*3\r\n$3\r\nSET\r\n$1\r\nw\r\n$1\r\n1\r\n*1\r\n$6\r\nDBSIZE\r\n")
        rd(2)
    dt = time.time() - t
    print("keys %s: 50 x (SET; DBSIZE) in %.3f s, %.2f ms each" % (keys, dt, dt * 20))
else:
    t = time.time()
    for i in range(20):
        s.sendall(b"*1\r\n$9\r\nRANDOMKEY\r\n")
        rd(2)
    dt = time.time() - t
    print("keys %s: 20 RANDOMKEY in %.3f s, %.2f ms each" % (keys, dt, dt * 50))
PY
kill $PID; wait $PID 2>/dev/null; rm -f /dev/shm/ks-$P.pool*
