#!/bin/bash
# BUILD PORT N: pastel-kv's anonymous memory (RssAnon) per member after ZADDs of N members
# (random scores, 200 a command) into one sorted set; memory-redis.sh PORT N: redis-server's VmRSS.
B=$1; P=$2; N=$3
rm -f /dev/shm/zmem-$P.pool*
$B/apps/pastel-kv/pastel-kv --listen 127.0.0.1:$P --pool /dev/shm/zmem-$P.pool --pool-size 1G > /tmp/zmem-$P.log 2>&1 &
PID=$!; sleep 1
a0=$(grep RssAnon /proc/$PID/status | awk '{print $2}')
/usr/bin/python3 - $P $N <<'PY'
import socket, sys, random
port, n = int(sys.argv[1]), int(sys.argv[2])
s = socket.create_connection(("127.0.0.1", port))
rng = random.Random(1)
def enc(args):
    out = b"*%d\r\n" % len(args)
    for a in args:
        a = a.encode()
        out += b"$%d\r\n%s\r\n" % (len(a), a)
    return out
batch = 200
buf = b""
sent = 0
for i in range(0, n, batch):
    args = ["ZADD", "big"]
    for j in range(i, min(n, i + batch)):
        args += [str(rng.randrange(1000000)), "member:%09d" % j]
    s.sendall(enc(args))
    # read one reply
    r = b""
    while not r.endswith(b"\r\n"):
        r += s.recv(100)
PY
sleep 1
a1=$(grep RssAnon /proc/$PID/status | awk '{print $2}')
echo "$B N=$N RssAnon before ${a0} kB after ${a1} kB: $(( (a1 - a0) * 1024 / N )) B/member"
kill $PID; wait $PID 2>/dev/null; rm -f /dev/shm/zmem-$P.pool*
