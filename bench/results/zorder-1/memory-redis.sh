#!/bin/bash
# PORT N: redis-server's VmRSS per member after the ZADDs of memory.sh
P=$1; N=$2
D=$(mktemp -d); redis-server --port $P --save '' --appendonly no --dir $D > /dev/null 2>&1 & PID=$!; sleep 1
a0=$(grep VmRSS /proc/$PID/status | awk '{print $2}')
/usr/bin/python3 - $P $N <<'PY'
import socket, sys, random
port, n = int(sys.argv[1]), int(sys.argv[2])
s = socket.create_connection(("127.0.0.1", port))
rng = random.Random(1)
def enc(args):
    out = b"*%d\r\n" % len(args)
    for a in args:
        a = a.encode(); out += b"$%d\r\n%s\r\n" % (len(a), a)
    return out
for i in range(0, n, 200):
    args = ["ZADD", "big"]
    for j in range(i, min(n, i + 200)):
        args += [str(rng.randrange(1000000)), "member:%09d" % j]
    s.sendall(enc(args)); r = b""
    while not r.endswith(b"\r\n"): r += s.recv(100)
PY
a1=$(grep VmRSS /proc/$PID/status | awk '{print $2}')
echo "redis N=$N VmRSS before $a0 kB after $a1 kB: $(( (a1 - a0) * 1024 / N )) B/member; $(redis-cli -p $P info memory | grep '^used_memory:')"
kill $PID; wait $PID 2>/dev/null; rm -rf $D
