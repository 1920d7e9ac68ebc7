"""pastel-kv through redis-py (Debian's python3-redis): the commands a Python application uses,
pipelines and transactions, binary values, hashes and errors.

  /usr/bin/python3 tests/integration/kv_python_client.py PORT

Prints "all checks passed" and exits 0, or raises (exit 1) at the first check that fails.
"""

import os
import sys

import redis


def main():
    port = int(sys.argv[1])
    r = redis.Redis(host="127.0.0.1", port=port, socket_timeout=10)
    assert r.ping() is True
    assert r.set("py:a", b"alpha") is True
    assert r.get("py:a") == b"alpha"
    assert r.set("py:a", b"x", nx=True) is None
    assert r.set("py:missing", b"x", xx=True) is None
    binary = bytes(range(256)) * 40  # every byte value, 10 KiB: spans several buffers
    assert r.set("py:bin", binary) is True
    assert r.get("py:bin") == binary
    assert r.strlen("py:bin") == len(binary)
    assert r.append("py:bin", b"\r\n") == len(binary) + 2
    assert r.get("py:bin") == binary + b"\r\n"
    assert r.mset({"py:m1": "1", "py:m2": "2"}) is True
    assert r.mget(["py:m1", "py:nope", "py:m2"]) == [b"1", None, b"2"]
    assert r.incr("py:n") == 1
    assert r.incrby("py:n", 99) == 100
    assert r.decr("py:n") == 99
    assert r.exists("py:a", "py:nope") == 1
    assert sorted(r.keys("py:m*")) == [b"py:m1", b"py:m2"]
    assert sorted(r.scan_iter(match="py:m*")) == [b"py:m1", b"py:m2"]
    assert r.dbsize() == 5
    assert r.delete("py:a", "py:nope") == 1
    info = r.info()
    assert info["pastel_persist"] in ("inplace", "copy", "none"), info
    assert "used_memory" in r.info("memory")

    # A pipeline of 200 commands: sent together, answered in order.
    pipe = r.pipeline(transaction=False)
    for i in range(100):
        pipe.set(f"py:p{i}", os.urandom(100 + i))
        pipe.get(f"py:p{i}")
    out = pipe.execute()
    assert all(out[i] is True for i in range(0, 200, 2))
    assert all(len(out[i]) == 100 + i // 2 for i in range(1, 200, 2))

    try:
        r.incr("py:bin")
        raise AssertionError("INCR of a non-integer must fail")
    except redis.ResponseError as e:
        assert "not an integer" in str(e), e
    try:
        r.execute_command("NOSUCHCOMMAND")
        raise AssertionError("an unknown command must fail")
    except redis.ResponseError as e:
        assert "unknown command" in str(e), e
    # Connection and server introspection (CLIENT, COMMAND GETKEYS, INFO sections).
    assert r.client_setname("py-client") is True
    assert r.client_getname() == "py-client"
    me = r.client_id()
    listed = {int(c["id"]): c for c in r.client_list()}
    assert listed[me]["name"] == "py-client", listed
    assert listed[me]["cmd"] == "client|list", listed
    other = redis.Redis(host="127.0.0.1", port=port, socket_timeout=10)
    other.ping()
    other_id = other.client_id()
    assert other_id in {int(c["id"]) for c in r.client_list()}
    assert r.client_kill_filter(_id=other_id) == 1
    assert other_id not in {int(c["id"]) for c in r.client_list()}  # (closed by its loop)
    assert r.command_getkeys("MSET", "a", "1", "b", "2") == ["a", "b"]
    stats = r.info("commandstats")
    assert stats["cmdstat_client|list"]["calls"] >= 2, stats
    assert r.info("cpu")["used_cpu_user"] >= 0
    assert r.info("stats")["total_connections_received"] >= 2
    # Transactions: a pipeline(transaction=True) is one MULTI ... EXEC, answered as a list.
    pipe = r.pipeline(transaction=True)
    pipe.set("py:t", "1").incr("py:t").get("py:t").incr("py:bin")
    out = pipe.execute(raise_on_error=False)
    assert out[:3] == [True, 2, b"2"], out
    assert isinstance(out[3], redis.ResponseError), out  # a runtime error, in its place
    try:
        r.pipeline(transaction=True).set("py:t", "9").execute_command("NOSUCH").execute()
        raise AssertionError("a transaction with an unknown command must be discarded")
    except redis.ResponseError as e:
        assert "EXECABORT" in str(e) or "unknown command" in str(e), e
    assert r.get("py:t") == b"2"
    # WATCH and optimistic retries: several clients increment one counter through transactions;
    # every increment that EXEC acknowledged is there, and at least one retry was needed.
    r.set("py:counter", 0)
    clients = [redis.Redis(host="127.0.0.1", port=port, socket_timeout=10) for _ in range(4)]
    pipes = [c.pipeline(transaction=True) for c in clients]
    done, retries = 0, 0
    for step in range(200):
        # Every client WATCHes and reads before any of them executes: all but one must retry.
        for p in pipes:
            p.watch("py:counter")
        values = [int(p.get("py:counter")) for p in pipes]
        for p, v in zip(pipes, values):
            p.multi()
            p.set("py:counter", v + 1)
            try:
                p.execute()
                done += 1
            except redis.WatchError:
                retries += 1
            finally:
                p.reset()
    assert int(r.get("py:counter")) == done == 200, (r.get("py:counter"), done)
    assert retries == 600, retries
    # transaction() retries until EXEC succeeds.
    def incr(pipe):
        v = int(pipe.get("py:counter"))
        pipe.multi()
        pipe.set("py:counter", v + 1)
    for c in clients:
        c.transaction(incr, "py:counter")
    assert int(r.get("py:counter")) == 204
    stats = r.info("commandstats")
    assert stats["cmdstat_exec"]["calls"] >= 200, stats
    # Hashes as a session store uses them: fields, counters, expiry, a scan, and a transaction.
    assert r.hset("py:session:1", mapping={"user": "alice", "visits": 0, "blob": binary}) == 3
    assert r.hget("py:session:1", "user") == b"alice"
    assert r.hget("py:session:1", "blob") == binary
    assert r.hincrby("py:session:1", "visits", 5) == 5
    assert r.hincrbyfloat("py:session:1", "score", 1.25) == 1.25
    assert r.hgetall("py:session:1") == {b"user": b"alice", b"visits": b"5", b"blob": binary,
                                         b"score": b"1.25"}
    assert r.hlen("py:session:1") == 4
    assert sorted(r.hkeys("py:session:1")) == [b"blob", b"score", b"user", b"visits"]
    assert r.hmget("py:session:1", ["user", "nope"]) == [b"alice", None]
    assert r.hexists("py:session:1", "user") is True
    assert r.hsetnx("py:session:1", "user", "bob") == 0
    assert r.expire("py:session:1", 60) is True
    assert 0 < r.ttl("py:session:1") <= 60
    assert dict(r.hscan_iter("py:session:1", match="u*")) == {b"user": b"alice"}
    assert r.hrandfield("py:session:1") in (b"user", b"visits", b"blob", b"score")
    assert r.type("py:session:1") == b"hash"
    assert r.hdel("py:session:1", "blob", "nope") == 1
    try:
        r.get("py:session:1")
        raise AssertionError("GET of a hash must fail")
    except redis.ResponseError as e:
        assert "WRONGTYPE" in str(e), e
    pipe = r.pipeline(transaction=True)
    pipe.hset("py:session:2", "user", "carol").hincrby("py:session:2", "visits", 1)
    pipe.hgetall("py:session:2")
    assert pipe.execute() == [1, 1, {b"user": b"carol", b"visits": b"1"}]
    assert r.delete("py:session:1") == 1
    assert r.hgetall("py:session:1") == {}
    assert r.flushall() is True
    assert r.dbsize() == 0
    print("all checks passed")


if __name__ == "__main__":
    main()
