#!/bin/bash
# The server's memory per member after ZADDs of N members (random scores, 200 a command) into one
# sorted set: ./memory.sh pastel BUILD PORT N (pastel-kv's RssAnon: its pool is a mapped file) or
# ./memory.sh redis PORT N (redis-server 7.0 without persistence: VmRSS).
KIND=$1; shift
if [ "$KIND" = pastel ]; then
  B=$1; P=$2; N=$3; FIELD=RssAnon
  rm -f /dev/shm/zmem-$P.pool*
  $B/apps/pastel-kv/pastel-kv --listen 127.0.0.1:$P --pool /dev/shm/zmem-$P.pool --pool-size 1G \
    > /tmp/zmem-$P.log 2>&1 &
else
  B=redis; P=$1; N=$2; FIELD=VmRSS
  D=$(mktemp -d)
  redis-server --port $P --save '' --appendonly no --dir $D > /dev/null 2>&1 &
fi
PID=$!; sleep 1
a0=$(grep $FIELD /proc/$PID/status | awk '{print $2}')
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
for i in range(0, n, 200):
    args = ["ZADD", "big"]
    for j in range(i, min(n, i + 200)):
        args += [str(rng.randrange(1000000)), "member:%09d" % j]
    s.sendall(enc(args))
    r = b""
    while not r.endswith(b"\r\n"):
        r += s.recv(100)
PY
sleep 1
a1=$(grep $FIELD /proc/$PID/status | awk '{print $2}')
echo "$B N=$N $FIELD before ${a0} kB after ${a1} kB: $(( (a1 - a0) * 1024 / N )) B/member"
kill $PID; wait $PID 2>/dev/null
rm -f /dev/shm/zmem-$P.pool*; [ -n "$D" ] && rm -rf "$D"
