"""pastel-kv against a real redis-server: the same commands sent to both, every reply compared
byte for byte (issue 20's differential test).

  /usr/bin/python3 tests/integration/kv_redis_diff.py REDIS_PORT PASTEL_PORT [SEED [STEPS
      [REDIS_AUTH_PORT PASTEL_AUTH_PORT]]]

(the AUTH pair: both servers started with the password "sekret"). First scripted cases of every
command pastel-kv shares with redis-server (errors, wrong arguments, edge values, inline commands
with quotes, negative multibulk counts, protocol errors), transactions over three connections,
blocking list and zset pops over several (BLOCKING: clients served in the order they blocked, by
pushes, moves, ZADD, ZINCRBY, the STORE forms, RENAME, COPY and transactions; timeouts; CLIENT
UNBLOCK), publish/subscribe over several (PUBSUB: confirmations and their counts, messages and
pmessages as each subscriber reads them, PUBLISH's receivers, glob patterns, subscribed mode's
refusals and PING, UNSUBSCRIBE of all, RESET, QUIT, MULTI, closes and CLIENT KILL TYPE pubsub),
then STEPS random commands (2000 by default) over a few keys, strings, hashes, lists, sets and
sorted sets, the key space compared after each hundred (a set's and a zset's OBJECT ENCODING too).
A reply that may differ by design is not compared (see docs/kv.md, "What differs from Redis"):
TIME, HELLO's id and version, CONFIG GET maxmemory, RANDOMKEY over several keys, OBJECT ENCODING
(but a set's and a zset's) and REFCOUNT of a value changed in place; CLIENT ID and INFO clients
are only read (a connection's id for CLIENT UNBLOCK, blocked_clients to know a client is
blocked), CLIENT LIST, INFO, COMMAND LIST and INFO are not sent (kv_server_test's KvClientTest
checks them). Expiry times are absolute (far ahead or already past), so no reply depends on when
a server read its clock; TTL and PTTL of a relative time are compared within a second. Replies in
a server's own order (HGETALL HKEYS HVALS HSCAN KEYS SCAN SMEMBERS SINTER SUNION SDIFF SSCAN
ZSCAN: redis-server answers a small hash in insertion order, a set in its dict's, a skiplist
zset's ZSCAN in its dict's, pastel-kv promises no order) are compared as sorted multisets, a
SCAN, HSCAN, SSCAN or ZSCAN from cursor 0 as the whole iteration (redis-server answers a big
hash, set or zset in pages), HRANDFIELD and SRANDMEMBER by their shape and their members'
membership, SPOP by its shape and by what each server popped and kept (then both are given the
same set again). Every other zset reply is compared exactly; a random lex range over a zset whose
scores differ keeps bounds that redis-server answers alike whatever its skiplist (lex_fix).
Prints "all replies identical" and exits 0, or prints the first difference and exits 1.
"""

import random
import re
import socket
import sys
import time


def enc(args):
    out = b"*%d\r\n" % len(args)
    for a in args:
        a = a if isinstance(a, bytes) else str(a).encode()
        out += b"$%d\r\n%s\r\n" % (len(a), a)
    return out


class Conn:
    """A raw connection: sends bytes, reads exactly one RESP2 reply (or up to a close)."""

    def __init__(self, port):
        self.s = socket.create_connection(("127.0.0.1", port))
        self.s.settimeout(10)
        self.buf = b""
        self.closed = False

    def fill(self):
        d = self.s.recv(65536)
        if not d:
            self.closed = True
            raise EOFError
        self.buf += d

    def line(self):
        while b"\r\n" not in self.buf:
            self.fill()
        i = self.buf.index(b"\r\n")
        ln, self.buf = self.buf[: i + 2], self.buf[i + 2:]
        return ln

    def reply(self):
        """The raw bytes of one reply; b"<closed>" when the peer closed first."""
        try:
            ln = self.line()
            t = ln[:1]
            if t == b"$":
                n = int(ln[1:-2])
                if n < 0:
                    return ln
                while len(self.buf) < n + 2:
                    self.fill()
                body, self.buf = self.buf[: n + 2], self.buf[n + 2:]
                return ln + body
            if t == b"*":
                n = int(ln[1:-2])
                return ln + b"".join(self.reply() for _ in range(max(n, 0)))
            return ln
        except EOFError:
            return b"<closed>"

    def closes(self):
        try:
            self.s.settimeout(2)
            self.fill()
            return False
        except (EOFError, ConnectionResetError):
            return True


def parse(raw, i=0):
    """One RESP2 reply at raw[i:], and where it ends: a bulk is bytes, an array a list, a nil
    (b"$", None) or (b"*", None), any other line (its type byte, its text)."""
    j = raw.index(b"\r\n", i)
    t, head = raw[i:i + 1], raw[i + 1:j]
    if t in (b"$", b"*") and int(head) < 0:
        return (t, None), j + 2
    if t == b"$":
        n = int(head)
        return raw[j + 2:j + 2 + n], j + 4 + n
    if t == b"*":
        out, k = [], j + 2
        for _ in range(int(head)):
            v, k = parse(raw, k)
            out.append(v)
        return out, k
    return (t, head), j + 2


def pairs(v):
    return sorted(zip(v[0::2], v[1::2]))


# Commands whose arrays come in the server's own order (redis-server: a small hash's insertion
# order, a dict's bucket order, an intset's ascending order; pastel-kv promises none), HRANDFIELD's
# SRANDMEMBER's and SPOP's at random, and EXEC, whose array holds such replies. (A zset's replies
# are in its order, compared exactly, but ZSCAN's: a skiplist's dict order.)
SET_ORDER_FREE = {"SMEMBERS", "SINTER", "SUNION", "SDIFF"}
RANDOM = {"HRANDFIELD", "SRANDMEMBER", "SPOP"}
SCANS = {"SCAN": 1, "HSCAN": 2, "SSCAN": 2, "ZSCAN": 2}  # where the cursor is
PAIRED = {"HSCAN", "ZSCAN"}  # their arrays: field-value or member-score pairs
ORDER_FREE = {"HGETALL", "HKEYS", "HVALS", "HSCAN", "KEYS", "SCAN", "SSCAN", "ZSCAN", "EXEC"} | \
    SET_ORDER_FREE | RANDOM


def shape(cmd, v, queued=None):
    """What of cmd's parsed reply v both servers must answer alike."""
    name = str(cmd[0]).upper()
    if not isinstance(v, list):  # errors, nils, integers, statuses; a bulk but a random one
        return ("bulk",) if name in RANDOM and isinstance(v, bytes) else v
    if name == "EXEC":
        return [len(v)] + [shape(q, x) for q, x in zip(queued or [], v)]
    if name in ("HKEYS", "HVALS", "KEYS") or name in SET_ORDER_FREE:
        return sorted(v)
    if name == "HGETALL":
        return pairs(v)
    if name in SCANS and len(v) == 2 and isinstance(v[1], list):
        return [v[0], pairs(v[1]) if name in PAIRED else sorted(v[1])]
    if name in RANDOM:  # the fields or members: Diff.check_random, check_srandmember, check_spop
        return ("array", len(v))
    return v


def intset_member(m):
    """Whether redis-server 7.0 keeps member m in an intset: an integer's canonical text
    (string2ll), in 64 bits."""
    return re.fullmatch(rb"0|-?[1-9][0-9]*", m) is not None and -2**63 <= int(m) < 2**63


PAGED = [0, 0]  # HSCAN SSCAN ZSCAN calls after an iteration's first, per server (each a hit)


class Diff:
    def __init__(self, redis_port, pastel_port):
        self.ports = (redis_port, pastel_port)
        self.reconnect()
        self.compared = 0

    def reconnect(self):
        self.r, self.p = Conn(self.ports[0]), Conn(self.ports[1])
        self.queued = None  # inside MULTI: the commands queued, which EXEC answers

    def differ(self, what, a, b):
        print("DIFFERENT replies (seed %s) to %r:\n  redis-server: %r\n  pastel-kv:    %r"
              % (SEED, what, a[:500], b[:500]))
        sys.exit(1)

    def send(self, raw, replies=1, compare=True, what=None):
        self.r.s.sendall(raw)
        self.p.s.sendall(raw)
        for _ in range(replies):
            a, b = self.r.reply(), self.p.reply()
            if compare and a != b:
                self.differ(what or raw[:200], a, b)
            self.compared += 1
        return a, b

    def same(self, cmd, a, b, queued):
        if a == b:
            return True
        name = str(cmd[0]).upper()
        if name in ("TTL", "PTTL") and queued is None:
            # A remaining time: each server counts it from its own clock, so within a second.
            return a[:1] == b[:1] == b":" and abs(int(a[1:-2]) - int(b[1:-2])) <= (
                1 if name == "TTL" else 1000) and (int(a[1:-2]) < 0) == (int(b[1:-2]) < 0)
        if name not in ORDER_FREE or (name == "EXEC" and queued is None):
            return False
        try:
            return shape(cmd, parse(a)[0], queued) == shape(cmd, parse(b)[0], queued)
        except (ValueError, IndexError):  # (a closed connection)
            return False

    def call(self, *args, compare=True):
        cmd = list(args)
        name = str(args[0]).upper()
        queued = self.queued
        if queued is None and name in SCANS and cmd[SCANS[name]:][:1] == ["0"]:
            return self.scan(cmd, compare)
        # SPOP takes members at random: the set before it, to check what each server popped.
        before = self.call("SMEMBERS", cmd[1]) if name == "SPOP" and queued is None and \
            len(cmd) in (2, 3) else None
        a, b = self.send(enc(args), compare=False, what=cmd)
        if name == "MULTI" and a == b"+OK\r\n":
            self.queued = []
        elif name in ("EXEC", "DISCARD") and len(cmd) == 1:
            self.queued = None
        elif queued is not None and a == b"+QUEUED\r\n":
            queued.append(cmd)
        if compare and not self.same(cmd, a, b, queued):
            self.differ(cmd, a, b)
        if name == "HRANDFIELD" and queued is None:
            self.check_random(cmd, a, b)
        if name == "SRANDMEMBER" and queued is None:
            self.check_srandmember(cmd, a, b)
        if before is not None:
            self.check_spop(cmd, a, b, before)
        return a, b

    def scan(self, cmd, compare):
        """SCAN, HSCAN, SSCAN or ZSCAN from cursor 0, on each server until its cursor is 0 again:
        the same error, or the same keys (field-value pairs, members, member-score pairs).
        redis-server answers a big hash, set or zset (or key space) in pages, pastel-kv may answer
        in one."""
        got = []
        name = str(cmd[0]).upper()
        at = SCANS[name]
        for i, c in enumerate((self.r, self.p)):
            args, seen = list(cmd), set()
            for _ in range(100000):
                c.s.sendall(enc(args))
                raw = c.reply()
                if raw[:1] != b"*":
                    seen = raw
                    break
                v = parse(raw)[0]
                seen.update(zip(v[1][0::2], v[1][1::2]) if name in PAIRED else v[1])
                if v[0] == b"0":
                    break
                args[at] = v[0]
                if at == 2:
                    PAGED[i] += 1
            got.append(seen if isinstance(seen, bytes) else sorted(seen))
        self.compared += 1
        if compare and got[0] != got[1]:
            self.differ(cmd, repr(got[0]), repr(got[1]))
        return got

    def check_random(self, cmd, a, b):
        """HRANDFIELD's fields are random: each must be one of the hash's (with its value,
        WITHVALUES), as many as asked (a positive count: distinct, at most the hash's size)."""
        if a[:1] not in (b"$", b"*") or a in (b"$-1\r\n", b"*0\r\n"):
            return
        h = self.call("HGETALL", cmd[1])  # (the same hash on both: compared)
        for who, raw, hraw in (("redis-server", a, h[0]), ("pastel-kv", b, h[1])):
            v, fields = parse(raw)[0], dict(pairs(parse(hraw)[0]))
            if isinstance(v, bytes):
                ok = v in fields
            else:
                values = len(cmd) > 3
                picked, n = v[0::2] if values else v, int(cmd[2])
                ok = all(f in fields for f in picked) and (
                    not values or all(fields[f] == x for f, x in pairs(v))) and (
                    len(picked) == -n if n < 0 else
                    len(picked) == min(n, len(fields)) == len(set(picked)))
            if not ok:
                print("WRONG HRANDFIELD reply (seed %s) from %s to %r: %r; the hash: %r"
                      % (SEED, who, cmd, raw[:500], hraw[:500]))
                sys.exit(1)

    def wrong(self, what, who, cmd, raw, members):
        print("WRONG %s reply (seed %s) from %s to %r: %r; the set: %r"
              % (what, SEED, who, cmd, raw[:500], sorted(members)[:50]))
        sys.exit(1)

    def check_srandmember(self, cmd, a, b):
        """SRANDMEMBER's members are random: each must be one of the set's, as many as asked (a
        positive count: distinct, at most the set's size; a negative one: exactly that many)."""
        if a[:1] not in (b"$", b"*") or a in (b"$-1\r\n", b"*0\r\n"):
            return
        s = self.call("SMEMBERS", cmd[1])  # (the same set on both: compared)
        for who, raw, sraw in (("redis-server", a, s[0]), ("pastel-kv", b, s[1])):
            v, members = parse(raw)[0], set(parse(sraw)[0])
            if isinstance(v, bytes):
                ok = v in members
            else:
                n = int(cmd[2])
                ok = all(m in members for m in v) and (
                    len(v) == -n if n < 0 else len(v) == min(n, len(members)) == len(set(v)))
            if not ok:
                self.wrong("SRANDMEMBER", who, cmd, raw, members)

    def check_spop(self, cmd, a, b, before):
        """SPOP's members are random: on each server they must be distinct members of the set it
        had before (the same on both: compared), as many as asked (at most all), and what is left
        the rest. What is left has the same encoding on both where it is integers on both or on
        neither (redis-server 7.0 copies what an SPOP of most of a set leaves into a new set,
        an intset if it can). Then each server removes what the other kept and it did not (SREM,
        its reply not compared), so that both hold the same set again: the members both kept. (A
        set that SPOP changed was marked changed for WATCH on both; SREM keeps its encoding and its
        time.)"""
        if a[:1] not in (b"$", b"*") or a in (b"$-1\r\n", b"*0\r\n") or \
                before[0][:1] != b"*":
            return
        members = set(parse(before[0])[0])
        left = []
        for who, raw, c in (("redis-server", a, self.r), ("pastel-kv", b, self.p)):
            c.s.sendall(enc(["SMEMBERS", cmd[1]]))
            after = parse(c.reply())[0]
            v = parse(raw)[0]
            v = [v] if isinstance(v, bytes) else v
            n = 1 if len(cmd) == 2 else int(cmd[2])
            if not (set(v) <= members and len(v) == len(set(v)) == min(n, len(members)) and
                    isinstance(after, list) and sorted(after) == sorted(members - set(v))):
                self.wrong("SPOP", who, cmd, raw + b"; left: %r" % (after,), members)
            left.append(set(after))
        if left[0] and left[1] and all(map(intset_member, left[0])) == all(
                map(intset_member, left[1])):
            self.send(enc(["OBJECT", "ENCODING", cmd[1]]), what=["OBJECT", "ENCODING", cmd[1],
                                                                 "after", cmd])
        both = left[0] & left[1]
        for c, kept in zip((self.r, self.p), left):
            if kept - both:
                c.s.sendall(enc(["SREM", cmd[1]] + sorted(kept - both)))
                c.reply()


SCRIPT = [
    ["FLUSHALL"],
    # GETRANGE SETRANGE GETSET SETNX MSETNX
    ["SET", "s", "Hello World"], ["GETRANGE", "s", "0", "4"], ["GETRANGE", "s", "-5", "-1"],
    ["GETRANGE", "s", "-1", "-5"], ["GETRANGE", "s", "5", "1"], ["GETRANGE", "s", "x", "1"],
    ["GETRANGE", "nokey", "x", "1"], ["GETRANGE", "nokey", "0", "1"],
    ["GETRANGE", "s", "0", "100"], ["GETRANGE", "s", "-100", "100"], ["GETRANGE", "s"],
    ["SETRANGE", "s", "-1", "x"], ["SETRANGE", "s", "536870912", "x"], ["SETRANGE", "s", "x", "x"],
    ["SETRANGE", "nk", "0", ""], ["SETRANGE", "nk", "5", ""], ["SETRANGE", "s", "5", ""],
    ["SETRANGE", "nk", "3", "ab"], ["GET", "nk"], ["SETRANGE", "s", "6", "there"], ["GET", "s"],
    ["SETRANGE", "s", "20", "far"], ["GET", "s"], ["STRLEN", "s"],
    ["GETSET", "nk", "v"], ["GETSET", "nk2", "v"], ["GETSET", "nk2"], ["GET", "nk2"],
    ["SETNX", "nk2", "z"], ["SETNX", "nk3", "z"], ["SETNX", "nk3"], ["GET", "nk3"],
    ["MSETNX", "a", "1", "nk3", "2"], ["EXISTS", "a"], ["MSETNX", "a", "1", "b", "2"],
    ["MSETNX", "a", "1", "b"], ["MSETNX", "c", "1", "c", "2"], ["MGET", "a", "b", "c"],
    # INCRBYFLOAT
    ["INCRBYFLOAT", "f", "1.5"], ["INCRBYFLOAT", "f", "0.1"], ["INCRBYFLOAT", "f", "x"],
    ["INCRBYFLOAT", "s", "1"], ["INCRBYFLOAT", "f", "inf"], ["INCRBYFLOAT", "f", "-inf"],
    ["INCRBYFLOAT", "f", "nan"], ["INCRBYFLOAT", "f", " 1"], ["INCRBYFLOAT", "f", "1 "],
    ["INCRBYFLOAT", "f", ""], ["INCRBYFLOAT", "f", "0x10"], ["INCRBYFLOAT", "g", "5.0e3"],
    ["INCRBYFLOAT", "h", "1e20"], ["INCRBYFLOAT", "h2", "-0.0"],
    ["INCRBYFLOAT", "h3", "3.0000000000000000001"], ["INCRBYFLOAT", "h4", "1e-400"],
    ["INCRBYFLOAT", "h5", "-1.23456789012345678"], ["INCRBYFLOAT", "h5", "10.5"],
    ["INCRBYFLOAT", "h6", "1e400"], ["GET", "h6"], ["SET", "i", "10"],
    ["INCRBYFLOAT", "i", "0.5"], ["INCRBYFLOAT", "i", "-0.5"], ["GET", "i"], ["INCR", "i"],
    # SETBIT GETBIT BITCOUNT
    ["SETBIT", "b", "7", "1"], ["SETBIT", "b", "7", "0"], ["SETBIT", "b", "-1", "1"],
    ["SETBIT", "b", "4294967296", "1"], ["SETBIT", "b", "x", "1"], ["SETBIT", "b", "1", "2"],
    ["SETBIT", "b", "1", "x"], ["SETBIT", "b", "01", "1"], ["SETBIT", "b", "100", "1"],
    ["GET", "b"], ["GETBIT", "b", "1"], ["GETBIT", "b", "100"], ["GETBIT", "b", "1000"],
    ["GETBIT", "nokey", "100"], ["GETBIT", "b", "-1"], ["GETBIT", "nokey", "x"],
    ["SET", "bc", "foobar"], ["BITCOUNT", "bc"], ["BITCOUNT", "bc", "0", "0"],
    ["BITCOUNT", "bc", "1", "1"], ["BITCOUNT", "bc", "1", "1", "BYTE"],
    ["BITCOUNT", "bc", "5", "30", "BIT"], ["BITCOUNT", "bc", "5", "5", "BIT"],
    ["BITCOUNT", "bc", "-5", "-1", "bit"], ["BITCOUNT", "bc", "1"], ["BITCOUNT", "nokey", "1"],
    ["BITCOUNT", "nokey", "a", "b"], ["BITCOUNT", "bc", "a", "b"],
    ["BITCOUNT", "bc", "0", "1", "XX"], ["BITCOUNT", "bc", "0", "1", "BIT", "x"],
    ["BITCOUNT", "bc", "-1", "-3"], ["BITCOUNT", "bc", "-100", "100"], ["BITCOUNT", "nokey"],
    # RENAME RENAMENX COPY
    ["RENAME", "nokey", "x"], ["RENAME", "bc", "bc"], ["RENAME", "bc", "bc2"], ["GET", "bc2"],
    ["EXISTS", "bc"], ["RENAMENX", "bc2", "b"], ["RENAMENX", "bc2", "bc3"],
    ["RENAMENX", "bc3", "bc3"], ["RENAMENX", "nokey", "bc3"], ["RENAME", "bc3"],
    ["RENAME", "bc3", "s"], ["GET", "s"], ["GET", "bc3"], ["SET", "bc3", "foobar"],
    ["COPY", "bc3", "bc3"], ["COPY", "bc3", "b"], ["COPY", "bc3", "b", "REPLACE"], ["GET", "b"],
    ["COPY", "nokey", "zz"], ["COPY", "bc3", "zz", "DB", "0"], ["GET", "zz"],
    ["COPY", "bc3", "zz3", "DB", "x"], ["COPY", "bc3", "zz3", "DB"], ["COPY", "bc3", "zz3", "FOO"],
    ["COPY", "bc3", "zz3", "REPLACE", "REPLACE"], ["GET", "zz3"], ["APPEND", "zz3", "!"],
    ["GET", "zz3"], ["GET", "bc3"],
    # RANDOMKEY TOUCH UNLINK TIME
    ["FLUSHALL"], ["RANDOMKEY"], ["SET", "only", "1"], ["RANDOMKEY"], ["RANDOMKEY", "x"],
    ["TOUCH", "a", "b", "a"], ["SET", "a", "1"], ["TOUCH", "a", "b", "a"], ["TOUCH"],
    ["UNLINK", "a", "b", "a"], ["UNLINK"], ["TIME", "x"],
    # OBJECT
    ["SET", "i", "123"], ["SET", "i2", "12345"], ["SET", "e", "hello"], ["SET", "r", "x" * 45],
    ["SET", "r44", "x" * 44], ["SET", "neg", "-5"], ["SET", "big", "99999999999999999999"],
    ["SET", "lead", "007"], ["SET", "m0", "-0"], ["SET", "sp", " 5"],
    ["OBJECT", "ENCODING", "i"], ["OBJECT", "ENCODING", "i2"], ["OBJECT", "ENCODING", "e"],
    ["OBJECT", "ENCODING", "r"], ["OBJECT", "ENCODING", "r44"], ["OBJECT", "ENCODING", "neg"],
    ["OBJECT", "ENCODING", "big"], ["OBJECT", "ENCODING", "lead"], ["OBJECT", "ENCODING", "m0"],
    ["OBJECT", "ENCODING", "sp"], ["OBJECT", "ENCODING", "nokey"], ["OBJECT", "ENCODING"],
    ["OBJECT", "ENCODING", "a", "b"], ["OBJECT", "REFCOUNT", "i"], ["OBJECT", "REFCOUNT", "i2"],
    ["OBJECT", "REFCOUNT", "neg"], ["OBJECT", "REFCOUNT", "nokey"], ["OBJECT", "FREQ", "e"],
    ["OBJECT", "IDLETIME", "nokey"], ["OBJECT", "FOO", "e"], ["OBJECT"], ["OBJECT", "HELP"],
    ["OBJECT", "help", "x"], ["INCR", "i2"], ["OBJECT", "ENCODING", "i2"],
    ["SETNX", "sn", "5"], ["OBJECT", "ENCODING", "sn"], ["COPY", "sn", "sn2"],
    ["OBJECT", "ENCODING", "sn2"], ["GETSET", "sn2", "abc"], ["OBJECT", "ENCODING", "sn2"],
    # AUTH HELLO CONFIG (no password configured)
    ["AUTH", "x"], ["AUTH", "default", "x"], ["AUTH", "bob", "x"], ["AUTH", "a", "b", "c"],
    ["AUTH"], ["HELLO", "x"], ["HELLO", "1"], ["HELLO", "4"], ["HELLO", "2", "FOO"],
    ["HELLO", "2", "AUTH", "default"], ["HELLO", "2", "SETNAME", "a b"],
    ["CONFIG", "GET", "requirepass"], ["CONFIG", "GET", "save"], ["CONFIG", "GET", "nosuch*"],
    ["CONFIG", "GET"], ["CONFIG"], ["CONFIG", "FOO"], ["CONFIG", "SET", "requirepass"],
    ["CONFIG", "SET", "nosuch", "1"], ["CONFIG", "SET", "databases", "3"],
    ["CONFIG", "SET", "save", "900"], ["CONFIG", "SET", "save", "abc def"],
    ["CONFIG", "SET", "save", "900 1"], ["CONFIG", "GET", "save"], ["CONFIG", "SET", "save", ""],
    ["CONFIG", "SET", "appendonly", "maybe"], ["CONFIG", "SET", "appendfsync", "sometimes"],
    ["CONFIG", "SET", "appendfsync", "always"], ["CONFIG", "GET", "appendfsync"],
    ["CONFIG", "SET", "save", "", "save", ""], ["CONFIG", "SET", "save", "", "appendonly", "yes"],
    ["CONFIG", "GET", "appendonly"], ["CONFIG", "SET", "save", "", "nosuch", "x"],
    ["CONFIG", "SET", "save", "", "appendonly"], ["CONFIG", "REWRITE"],
    ["CONFIG", "SET", "appendfsync", "always", "requirepass", "pw", "requirepass", "x"],
    ["CONFIG", "GET", "requirepass"],
    # Expiry: SET's options, SETEX PSETEX GETEX GETDEL, EXPIRE and its flags, TTL and times, PERSIST.
    # Times are absolute (or in the past, or relative and compared as TTL within a second), so the
    # replies do not depend on when each server read its clock.
    ["SET", "a", "1"], ["SET", "a", "2", "NX", "GET"], ["SET", "b", "1", "GET", "NX"],
    ["SET", "a", "3", "EX", "0"], ["SET", "a", "3", "EX", "-1"], ["SET", "a", "3", "EX", "abc"],
    ["SET", "a", "3", "EX", "10", "PX", "10"], ["SET", "a", "3", "KEEPTTL", "EX", "10"],
    ["SET", "a", "3", "EX"], ["SET", "a", "3", "EX", "10", "EX", "20", "XX", "NX"],
    ["SET", "a", "3", "PXAT", "4000000000000", "PXAT", "4000000000001"], ["PEXPIRETIME", "a"],
    ["SET", "a", "3", "EXAT", "1"], ["EXISTS", "a"], ["GET", "a"],
    ["SET", "a", "3", "EX", "9223372036854775"], ["SET", "a", "3", "EX", "9223372036854776"],
    ["SET", "a", "4", "PX", "9223372036854775807"], ["SET", "a", "4", "PXAT", "9223372036854775807"],
    ["PEXPIRETIME", "a"], ["EXPIRETIME", "a"], ["PTTL", "nokey"], ["PEXPIRETIME", "nokey"],
    ["SET", "a", "5", "EXAT", "2000000000"], ["EXPIRETIME", "a"], ["PEXPIRETIME", "a"],
    ["SET", "a", "6", "KEEPTTL"], ["PEXPIRETIME", "a"], ["SET", "a", "7", "GET"],
    ["PEXPIRETIME", "a"], ["SET", "a", "8", "XX", "PXAT", "3000000000123"], ["EXPIRETIME", "a"],
    ["EXPIRE", "a", "10", "NX", "XX"], ["EXPIRE", "a", "10", "GT", "LT"],
    ["EXPIRE", "a", "10", "foo"], ["EXPIRE", "a", "foo", "NX", "XX"], ["EXPIRE", "a", "foo"],
    ["EXPIRE", "a", "9223372036854775807"], ["EXPIRE", "a", "-9223372036854775808"],
    ["PEXPIRE", "a", "9223372036854775807"], ["EXPIREAT", "a", "9223372036854775807"],
    ["EXPIRE", "nokey", "10"], ["EXPIRE", "a"], ["EXPIREAT", "a", "3000000000", "GT"],
    ["PEXPIRETIME", "a"], ["EXPIREAT", "a", "2000000000", "GT"], ["EXPIREAT", "a", "2000000000", "LT"],
    ["PEXPIRETIME", "a"], ["EXPIREAT", "a", "3000000000", "NX"], ["EXPIREAT", "a", "3000000000", "XX"],
    ["PERSIST", "a"], ["PERSIST", "a"], ["PERSIST", "nokey"], ["TTL", "a"], ["PTTL", "a"],
    ["EXPIRETIME", "a"], ["EXPIREAT", "a", "3000000000", "XX"], ["EXPIREAT", "a", "3000000000", "LT"],
    ["PEXPIREAT", "a", "4000000000000", "GT"], ["PEXPIREAT", "a", "4000000000000", "LT"],
    ["PEXPIRETIME", "a"], ["EXPIREAT", "a", "3000000000", "NX"], ["PEXPIRETIME", "a"],
    ["GETEX", "a"], ["GETEX", "a", "PERSIST", "EX", "10"], ["GETEX", "a", "EX", "0"],
    ["GETEX", "nokey", "EX", "0"], ["GETEX", "nokey", "EX", "x"], ["GETEX", "a", "EX", "x"],
    ["GETEX", "a", "EX"], ["GETEX", "a", "FOO"], ["GETEX", "a", "PXAT", "4000000000000"],
    ["PEXPIRETIME", "a"], ["GETEX", "a", "PERSIST"], ["PEXPIRETIME", "a"],
    ["GETEX", "a", "PERSIST", "PERSIST"], ["GETEX", "a", "EXAT", "1"], ["EXISTS", "a"],
    ["SETEX", "a", "0", "v"], ["SETEX", "a", "x", "v"], ["PSETEX", "a", "-1", "v"],
    ["SETEX", "a", "10", "v"], ["TTL", "a"], ["GETDEL", "a"], ["GETDEL", "a"], ["TTL", "a"],
    ["PSETEX", "a", "100000", "v"], ["GET", "a"], ["SETEX", "a", "100"],
    ["SET", "c", "5", "PXAT", "3000000000000"], ["INCR", "c"], ["PEXPIRETIME", "c"],
    ["APPEND", "c", "x"], ["PEXPIRETIME", "c"], ["SETRANGE", "c", "0", "z"], ["PEXPIRETIME", "c"],
    ["SETBIT", "c", "3", "1"], ["PEXPIRETIME", "c"], ["SET", "n", "1.5", "PXAT", "3000000000000"],
    ["INCRBYFLOAT", "n", "1"], ["PEXPIRETIME", "n"], ["GETSET", "n", "2"], ["PEXPIRETIME", "n"],
    ["RENAME", "c", "d"], ["PEXPIRETIME", "d"], ["COPY", "d", "e"], ["PEXPIRETIME", "e"],
    ["SET", "e", "1", "KEEPTTL"], ["PEXPIRETIME", "e"], ["SET", "e", "2"], ["PEXPIRETIME", "e"],
    ["MSET", "d", "1", "e", "2"], ["PEXPIRETIME", "d"], ["EXPIREAT", "d", "100"], ["EXISTS", "d"],
    ["PEXPIRE", "e", "-1"], ["GET", "e"], ["EXPIRE", "e", "0"], ["EXISTS", "e", "d"],
    ["SET", "t", "x", "PXAT", "4000000000000"], ["EXISTS", "t"], ["DBSIZE"],
]

# Hashes: every H command, its wrong arities and edge values; hashes under the generic commands
# (TYPE, EXISTS, DEL, expiry, RENAME, COPY, KEYS, SCAN, DBSIZE, FLUSHALL, OBJECT ENCODING);
# WRONGTYPE both ways; hash commands inside MULTI. A command's arguments are checked before its
# key is read where redis-server does so (HINCRBY's increment, HRANDFIELD's count, HSCAN's cursor).
BIG = [x for n in range(600) for x in ("f%d" % n, "v%d" % n)]
HASH_SCRIPT = [
    ["FLUSHALL"],
    # Wrong arities (HSET and HMSET take pairs).
    ["HSET", "h"], ["HSET", "h", "f"], ["HSET", "h", "f", "v", "g"], ["HMSET", "h", "f"],
    ["HMSET", "h", "f", "v", "g"], ["HGET", "h"], ["HGET", "h", "f", "g"], ["HMGET", "h"],
    ["HSETNX", "h", "f"], ["HSETNX", "h", "f", "v", "w"], ["HDEL", "h"], ["HLEN"],
    ["HLEN", "h", "x"], ["HEXISTS", "h"], ["HEXISTS", "h", "f", "g"], ["HSTRLEN", "h"],
    ["HGETALL"], ["HGETALL", "h", "x"], ["HKEYS"], ["HKEYS", "h", "x"], ["HVALS"],
    ["HVALS", "h", "x"], ["HINCRBY", "h", "f"], ["HINCRBY", "h", "f", "1", "2"],
    ["HINCRBYFLOAT", "h", "f"], ["HINCRBYFLOAT", "h", "f", "1", "2"], ["HRANDFIELD"],
    ["HSCAN", "h"], ["HSCAN"], ["KEYS"], ["KEYS", "*", "x"], ["EXISTS", "h"],
    # A missing key.
    ["HGET", "h", "f"], ["HMGET", "h", "f", "g"], ["HGETALL", "h"], ["HKEYS", "h"], ["HVALS", "h"],
    ["HLEN", "h"], ["HEXISTS", "h", "f"], ["HSTRLEN", "h", "f"], ["HDEL", "h", "f", "g"],
    ["HRANDFIELD", "h"], ["HRANDFIELD", "h", "3"], ["HRANDFIELD", "h", "-3", "WITHVALUES"],
    ["HRANDFIELD", "h", "0"], ["HRANDFIELD", "h", "-9223372036854775807"],
    ["HRANDFIELD", "h", "9223372036854775807", "WITHVALUES"], ["HSCAN", "h", "0"],
    ["HSCAN", "h", "0", "COUNT", "0"], ["HSCAN", "h", "0", "FOO"], ["HSCAN", "h", "5"],
    ["HSCAN", "h", "x"], ["TYPE", "h"], ["OBJECT", "ENCODING", "h"], ["DBSIZE"],
    # HSET HMSET HSETNX: the fields added are counted; of a field given twice the last value wins.
    ["HSET", "h", "f", "v"], ["HSET", "h", "f", "v2", "g", "w"], ["HSET", "h", "x", "1", "x", "2"],
    ["HGET", "h", "x"], ["HMSET", "h", "f", "v3", "y", "3"], ["HSETNX", "h", "f", "no"],
    ["HSETNX", "h", "z", "yes"], ["HGET", "h", "f"], ["HGET", "h", "z"], ["HGET", "h", "nof"],
    ["HGETALL", "h"], ["HLEN", "h"], ["HMGET", "h", "f", "nof", "f", "z"], ["HKEYS", "h"],
    ["HVALS", "h"], ["HEXISTS", "h", "f"], ["HEXISTS", "h", "F"], ["HSTRLEN", "h", "f"],
    ["HSTRLEN", "h", "nof"], ["TYPE", "h"], ["EXISTS", "h", "h", "nokey"], ["TOUCH", "h"],
    ["DBSIZE"], ["KEYS", "*"], ["KEYS", "h"], ["KEYS", "?"], ["KEYS", "[gh]"], ["KEYS", "x*"],
    # Empty fields and values, spaces, binary bytes (CR LF and NUL inside).
    ["HSET", "e", "", "", "sp ace", "a b c", b"\x00\xff\r\n", b"\r\n\x00", "empty", ""],
    ["HGET", "e", ""], ["HSTRLEN", "e", ""], ["HEXISTS", "e", ""], ["HGET", "e", b"\x00\xff\r\n"],
    ["HSTRLEN", "e", b"\x00\xff\r\n"], ["HGET", "e", "sp ace"], ["HGET", "e", "sp"],
    ["HGETALL", "e"], ["HKEYS", "e"], ["HVALS", "e"], ["HMGET", "e", "", "sp ace", "nof", ""],
    ["HSTRLEN", "e", "empty"], ["HSETNX", "e", "", "x"], ["HSET", "e", "", ""],
    ["HSCAN", "e", "0"], ["HSCAN", "e", "0", "MATCH", "*"], ["HSCAN", "e", "0", "MATCH", "sp*"],
    ["HSCAN", "e", "0", "MATCH", "* *"], ["HSCAN", "e", "0", "MATCH", ""],
    ["HSCAN", "e", "0", "MATCH", "[e]mpty"], ["HSCAN", "e", "0", "MATCH", "x"],
    ["HSCAN", "e", "0", "MATCH", "\\*"], ["HSCAN", "e", "0", "count", "1", "match", "e*"],
    ["HSCAN", "e", "0", "MATCH", "sp*", "MATCH", "e*"],
    # HDEL counts each field it deleted (once); deleting the last field deletes the key.
    ["HDEL", "e", "nof"], ["HDEL", "e", "", "", "nof"], ["HLEN", "e"],
    ["HDEL", "e", "sp ace", b"\x00\xff\r\n", "empty", "nof"], ["HLEN", "e"], ["EXISTS", "e"],
    ["TYPE", "e"], ["HGETALL", "e"], ["HDEL", "e", "x"], ["HSET", "d", "a", "1"],
    ["HDEL", "d", "a", "a"], ["EXISTS", "d"], ["DBSIZE"], ["KEYS", "*"],
    # HINCRBY: a signed 64-bit integer, overflow refused; the field's value must be an integer's
    # canonical text.
    ["HINCRBY", "i", "a", "5"], ["HINCRBY", "i", "a", "-7"], ["HGET", "i", "a"],
    ["HINCRBY", "i", "a", "0"], ["HINCRBY", "i", "a", "x"], ["HINCRBY", "i", "a", ""],
    ["HINCRBY", "i", "a", "1.5"], ["HINCRBY", "i", "a", "01"], ["HINCRBY", "i", "a", " 1"],
    ["HINCRBY", "i", "a", "+1"], ["HINCRBY", "i", "a", "9223372036854775808"],
    ["HINCRBY", "i", "max", "9223372036854775807"], ["HINCRBY", "i", "max", "1"],
    ["HINCRBY", "i", "max", "0"], ["HINCRBY", "i", "max", "-9223372036854775808"],
    ["HINCRBY", "i", "min", "-9223372036854775808"], ["HINCRBY", "i", "min", "-1"],
    ["HGET", "i", "min"], ["HSTRLEN", "i", "min"], ["HINCRBY", "i", "min", "9223372036854775807"],
    ["HSET", "i", "s", "abc", "sp", " 5", "z", "-0", "lead", "007", "fl", "1.5", "e", "",
     "big", "9223372036854775808", "ok", "-12", "exp", "1e5"],
    ["HINCRBY", "i", "s", "1"], ["HINCRBY", "i", "sp", "1"], ["HINCRBY", "i", "z", "0"],
    ["HINCRBY", "i", "lead", "1"], ["HINCRBY", "i", "fl", "1"], ["HINCRBY", "i", "e", "1"],
    ["HINCRBY", "i", "big", "0"], ["HINCRBY", "i", "exp", "1"], ["HINCRBY", "i", "ok", "12"],
    ["HGET", "i", "ok"], ["HGET", "i", "s"], ["HLEN", "i"], ["HGETALL", "i"],
    # HINCRBYFLOAT: long double, formatted as INCRBYFLOAT's; a result that is not finite refused.
    ["HINCRBYFLOAT", "g", "a", "1.5"], ["HINCRBYFLOAT", "g", "a", "0.1"],
    ["HINCRBYFLOAT", "g", "a", "x"], ["HINCRBYFLOAT", "g", "a", "nan"],
    ["HINCRBYFLOAT", "g", "a", "inf"], ["HINCRBYFLOAT", "g", "a", "-inf"],
    ["HINCRBYFLOAT", "g", "a", ""], ["HINCRBYFLOAT", "g", "a", " 1"],
    ["HINCRBYFLOAT", "g", "a", "1 "], ["HGET", "g", "a"], ["HINCRBYFLOAT", "g", "b", "0x10"],
    ["HINCRBYFLOAT", "g", "c", "5.0e3"], ["HINCRBYFLOAT", "g", "d", "-0.0"],
    ["HINCRBYFLOAT", "g", "e", "1e-400"], ["HINCRBYFLOAT", "g", "f", "3.0000000000000000001"],
    ["HINCRBYFLOAT", "g", "h", "-1.23456789012345678"], ["HINCRBYFLOAT", "g", "h", "10.5"],
    ["HSET", "g", "s", "abc", "sp", " 1", "lead", "007", "dec", "1.50", "inf", "inf", "nan", "nan",
     "e", "", "exp", "1e5", "huge", "1e4932", "int", "41"],
    ["HINCRBYFLOAT", "g", "s", "1"], ["HINCRBYFLOAT", "g", "sp", "1"],
    ["HINCRBYFLOAT", "g", "lead", "0"], ["HINCRBYFLOAT", "g", "dec", "0"],
    ["HINCRBYFLOAT", "g", "inf", "1"], ["HINCRBYFLOAT", "g", "nan", "1"],
    ["HINCRBYFLOAT", "g", "e", "1"], ["HINCRBYFLOAT", "g", "exp", "1"],
    ["HINCRBYFLOAT", "g", "huge", "1e4932"], ["HGET", "g", "huge"],
    ["HINCRBYFLOAT", "g", "int", "1"], ["HINCRBY", "g", "int", "1"], ["HINCRBY", "g", "exp", "1"],
    ["HGETALL", "g"],
    ["HINCRBYFLOAT", "g2", "a", "1e400"], ["HSTRLEN", "g2", "a"], ["HGET", "g2", "a"],
    # HRANDFIELD: a count (positive: distinct fields, at most all; negative: exactly that many,
    # repeated), WITHVALUES; the count checked before the key is read.
    ["HSET", "r", "a", "1", "b", "2", "c", "3"], ["HRANDFIELD", "r"], ["HRANDFIELD", "r", "0"],
    ["HRANDFIELD", "r", "1"], ["HRANDFIELD", "r", "2"], ["HRANDFIELD", "r", "3"],
    ["HRANDFIELD", "r", "4"], ["HRANDFIELD", "r", "100"],
    ["HRANDFIELD", "r", "9223372036854775807"],
    ["HRANDFIELD", "r", "-1"], ["HRANDFIELD", "r", "-2"], ["HRANDFIELD", "r", "-5"],
    ["HRANDFIELD", "r", "-100"], ["HRANDFIELD", "r", "2", "WITHVALUES"],
    ["HRANDFIELD", "r", "-5", "WITHVALUES"], ["HRANDFIELD", "r", "100", "withvalues"],
    ["HRANDFIELD", "r", "0", "WITHVALUES"], ["HRANDFIELD", "r", "-1", "withvalues"],
    ["HRANDFIELD", "r", "4611686018427387903", "WITHVALUES"],
    ["HRANDFIELD", "r", "4611686018427387904", "WITHVALUES"],
    ["HRANDFIELD", "r", "-4611686018427387904", "WITHVALUES"],
    ["HRANDFIELD", "r", "-9223372036854775808"], ["HRANDFIELD", "r", "9223372036854775808"],
    ["HRANDFIELD", "r", "x"], ["HRANDFIELD", "r", "1.5"], ["HRANDFIELD", "r", ""],
    ["HRANDFIELD", "r", "1", "FOO"], ["HRANDFIELD", "r", "1", "WITHVALUES", "x"],
    ["HRANDFIELD", "r", "-1", "WITHVALUES", "WITHVALUES"], ["HRANDFIELD", "nokey", "x"],
    ["HRANDFIELD", "nokey", "-9223372036854775808"], ["HRANDFIELD", "nokey", "1", "FOO"],
    ["HRANDFIELD", "nokey", "4611686018427387904", "WITHVALUES"],
    ["HSET", "r1", "only", "v"], ["HRANDFIELD", "r1"], ["HRANDFIELD", "r1", "-3", "WITHVALUES"],
    ["HRANDFIELD", "r1", "5"], ["HRANDFIELD", "r1", "1", "WITHVALUES"],
    # HSCAN: the cursor is an unsigned long (strtoul: "-1", "" and "+5" are cursors), checked
    # before the key is read, the options after it; a small hash comes whole, whatever the cursor.
    ["HSCAN", "r", "0"], ["HSCAN", "r", "0", "COUNT", "1"], ["HSCAN", "r", "0", "MATCH", "a"],
    ["HSCAN", "r", "0", "MATCH", "[ab]", "COUNT", "100"],
    ["HSCAN", "r", "0", "MATCH", "*", "COUNT", "1"],
    ["HSCAN", "r", "5"], ["HSCAN", "r", "-1"], ["HSCAN", "r", ""], ["HSCAN", "r", "+5"],
    ["HSCAN", "r", "18446744073709551615"], ["HSCAN", "r", "18446744073709551616"],
    ["HSCAN", "r", " 1"], ["HSCAN", "r", "1 "], ["HSCAN", "r", "x"], ["HSCAN", "r", "1.5"],
    ["HSCAN", "r", "0", "COUNT", "0"], ["HSCAN", "r", "0", "COUNT", "-1"],
    ["HSCAN", "r", "0", "COUNT", "x"], ["HSCAN", "r", "0", "COUNT"], ["HSCAN", "r", "0", "MATCH"],
    ["HSCAN", "r", "0", "TYPE", "string"], ["HSCAN", "r", "0", "FOO", "x"],
    ["HSCAN", "nokey", "x"], ["HSCAN", "nokey", "0", "COUNT", "0"],
    # A big hash (600 fields: a hashtable in redis-server, scanned in pages), written in three
    # HSETs (a command has at most 1024 arguments in pastel-kv).
    ["HSET", "big"] + BIG[:400], ["HSET", "big"] + BIG[400:800], ["HSET", "big"] + BIG[800:],
    ["HLEN", "big"], ["OBJECT", "ENCODING", "big"],
    ["HSCAN", "big", "0"], ["HSCAN", "big", "0", "COUNT", "7"],
    ["HSCAN", "big", "0", "MATCH", "f1*"],
    ["HSCAN", "big", "0", "MATCH", "*9", "COUNT", "1000"], ["HGETALL", "big"], ["HKEYS", "big"],
    ["HVALS", "big"], ["HMGET", "big", "f0", "f599", "f600"], ["HRANDFIELD", "big"],
    ["HRANDFIELD", "big", "5"], ["HRANDFIELD", "big", "-5", "WITHVALUES"],
    ["HRANDFIELD", "big", "450", "WITHVALUES"], ["HRANDFIELD", "big", "1000"],
    ["HRANDFIELD", "big", "-1000"], ["HDEL", "big"] + BIG[0:800:2], ["HLEN", "big"],
    ["HSCAN", "big", "0", "COUNT", "3"], ["HDEL", "big"] + BIG[0::2][200:] + ["nof", "f0"],
    ["EXISTS", "big"],
    # OBJECT ENCODING: listpack while every field and value is at most 64 bytes and there are at
    # most 512 fields, hashtable once one write went past that.
    ["HSET", "o", "a", "1"], ["OBJECT", "ENCODING", "o"], ["HSET", "o", "b", "x" * 64],
    ["OBJECT", "ENCODING", "o"], ["HSETNX", "o", "b", "x" * 65], ["OBJECT", "ENCODING", "o"],
    ["HSET", "o", "c", "x" * 65], ["OBJECT", "ENCODING", "o"], ["HSET", "o2", "k" * 65, "v"],
    ["OBJECT", "ENCODING", "o2"], ["HSET", "o3"] + BIG[:512], ["HSET", "o3"] + BIG[512:1024],
    ["OBJECT", "ENCODING", "o3"],
    ["HSET", "o3", "one", "more"], ["OBJECT", "ENCODING", "o3"],
    ["HINCRBYFLOAT", "o4", "a", "1e100"], ["OBJECT", "ENCODING", "o4"], ["COPY", "o", "o5"],
    ["OBJECT", "ENCODING", "o5"], ["OBJECT", "ENCODING", "g2"],
    # Hashes and expiry, RENAME, RENAMENX, COPY (a copy is a hash of its own).
    ["HSET", "gh", "a", "1", "b", "2"], ["EXPIREAT", "gh", "3000000000"], ["EXPIRETIME", "gh"],
    ["TTL", "gh"], ["HSET", "gh", "c", "3"], ["HINCRBY", "gh", "c", "1"], ["HDEL", "gh", "c"],
    ["EXPIRETIME", "gh"], ["PERSIST", "gh"], ["TTL", "gh"], ["EXPIRE", "gh", "100"], ["TTL", "gh"],
    ["PEXPIREAT", "gh", "4000000000000"], ["RENAME", "gh", "gh"], ["RENAME", "gh", "gh2"],
    ["PEXPIRETIME", "gh2"], ["TYPE", "gh"], ["HGETALL", "gh2"], ["COPY", "gh2", "gh2"],
    ["COPY", "gh2", "gh3"], ["PEXPIRETIME", "gh3"], ["HSET", "gh3", "a", "changed"],
    ["HGET", "gh2", "a"], ["HGET", "gh3", "a"], ["RENAMENX", "gh2", "gh3"], ["SET", "str", "v"],
    ["RENAMENX", "gh2", "str"], ["COPY", "gh2", "str"], ["COPY", "gh2", "str", "REPLACE"],
    ["TYPE", "str"], ["HGETALL", "str"], ["PEXPIRETIME", "str"], ["RENAME", "str", "gh3"],
    ["HGETALL", "gh3"], ["SET", "s2", "x"], ["RENAME", "s2", "gh3"], ["TYPE", "gh3"],
    ["GET", "gh3"], ["COPY", "gh3", "gh2", "REPLACE"], ["TYPE", "gh2"], ["HSET", "gh4", "a", "1"],
    ["RENAMENX", "gh4", "gh5"], ["HGETALL", "gh5"], ["EXPIREAT", "gh5", "1"], ["EXISTS", "gh5"],
    ["HGET", "gh5", "a"], ["HSET", "gh6", "a", "1"], ["PEXPIRE", "gh6", "-1"], ["TYPE", "gh6"],
    ["HSET", "gh7", "a", "1"], ["DEL", "gh7", "gh7", "nokey"], ["HSET", "gh8", "a", "1"],
    ["UNLINK", "gh8"], ["EXISTS", "gh7", "gh8"],
    # SET and its kin over a hash replace it (SET ... GET refuses); SETNX and MSETNX find it.
    ["HSET", "sh", "a", "1"], ["SET", "sh", "v", "NX"], ["SET", "sh", "v", "XX", "GET"],
    ["SET", "sh", "v", "GET"], ["HGET", "sh", "a"], ["SET", "sh", "v", "XX"], ["TYPE", "sh"],
    ["GET", "sh"], ["HSET", "sh2", "a", "1"], ["EXPIREAT", "sh2", "3000000000"],
    ["SET", "sh2", "v", "KEEPTTL"], ["EXPIRETIME", "sh2"], ["TYPE", "sh2"],
    ["HSET", "sh3", "a", "1"], ["MSET", "sh3", "v", "other", "w"], ["GET", "sh3"],
    ["HSET", "sh4", "a", "1"], ["SETEX", "sh4", "100", "v"], ["TTL", "sh4"], ["GET", "sh4"],
    ["HSET", "sh5", "a", "1"], ["PSETEX", "sh5", "100000", "v"], ["GET", "sh5"],
    ["HSET", "sh6", "a", "1"], ["SETNX", "sh6", "v"], ["MSETNX", "sh6", "v", "other2", "w"],
    ["EXISTS", "other2"], ["HGET", "sh6", "a"],
    # WRONGTYPE: string commands on a hash (an argument error first, where redis-server checks
    # the argument before the key); MGET answers nil for it.
    ["HSET", "wt", "a", "1"], ["GET", "wt"], ["MGET", "wt", "sh", "nokey"], ["APPEND", "wt", "x"],
    ["APPEND", "wt", ""], ["INCR", "wt"], ["DECR", "wt"], ["INCRBY", "wt", "1"],
    ["DECRBY", "wt", "1"], ["INCRBY", "wt", "x"], ["DECRBY", "wt", "x"],
    ["INCRBYFLOAT", "wt", "1"], ["INCRBYFLOAT", "wt", "x"], ["STRLEN", "wt"],
    ["GETRANGE", "wt", "0", "1"], ["GETRANGE", "wt", "x", "1"], ["SETRANGE", "wt", "0", "x"],
    ["SETRANGE", "wt", "0", ""], ["SETRANGE", "wt", "-1", "x"], ["GETSET", "wt", "x"],
    ["GETDEL", "wt"], ["GETEX", "wt"], ["GETEX", "wt", "PERSIST"], ["GETEX", "wt", "EX", "x"],
    ["GETEX", "wt", "FOO"], ["SETBIT", "wt", "0", "1"], ["SETBIT", "wt", "x", "1"],
    ["SETBIT", "wt", "0", "2"], ["GETBIT", "wt", "0"], ["GETBIT", "wt", "x"], ["BITCOUNT", "wt"],
    ["BITCOUNT", "wt", "0", "1"], ["BITCOUNT", "wt", "0", "1", "BIT"], ["BITCOUNT", "wt", "a", "b"],
    ["BITCOUNT", "wt", "0", "1", "XX"], ["HGETALL", "wt"], ["TYPE", "wt"],
    ["OBJECT", "ENCODING", "wt"],
    # WRONGTYPE: hash commands on a string (the same order of checks).
    ["SET", "ws", "v"], ["HGET", "ws", "a"], ["HMGET", "ws", "a"], ["HSET", "ws", "a", "1"],
    ["HMSET", "ws", "a", "1"], ["HSETNX", "ws", "a", "1"], ["HDEL", "ws", "a"], ["HGETALL", "ws"],
    ["HKEYS", "ws"], ["HVALS", "ws"], ["HLEN", "ws"], ["HEXISTS", "ws", "a"],
    ["HSTRLEN", "ws", "a"], ["HINCRBY", "ws", "a", "1"], ["HINCRBY", "ws", "a", "x"],
    ["HINCRBYFLOAT", "ws", "a", "1"], ["HINCRBYFLOAT", "ws", "a", "x"], ["HRANDFIELD", "ws"],
    ["HRANDFIELD", "ws", "1"], ["HRANDFIELD", "ws", "-1", "WITHVALUES"], ["HRANDFIELD", "ws", "x"],
    ["HRANDFIELD", "ws", "1", "FOO"], ["HSCAN", "ws", "0"], ["HSCAN", "ws", "x"],
    ["HSCAN", "ws", "0", "COUNT", "x"], ["HSET", "ws", "a"], ["GET", "ws"], ["TYPE", "ws"],
    # The key space with both types: KEYS, SCAN (TYPE hash, string), DBSIZE, FLUSHALL.
    ["KEYS", "*"], ["KEYS", "g*"], ["KEYS", "?"], ["KEYS", "gh[0-9]"], ["SCAN", "0"],
    ["SCAN", "0", "TYPE", "hash"], ["SCAN", "0", "TYPE", "string"], ["SCAN", "0", "TYPE", "HASH"],
    ["SCAN", "0", "TYPE", "none"], ["SCAN", "0", "TYPE", "foo"],
    ["SCAN", "0", "MATCH", "g*", "TYPE", "hash"],
    ["SCAN", "0", "COUNT", "2", "TYPE", "hash"], ["SCAN", "0", "MATCH", "s*", "COUNT", "3"],
    ["SCAN", "0", "TYPE", "string", "TYPE", "hash"], ["SCAN", "0", "TYPE"],
    ["SCAN", "0", "COUNT", "0"], ["SCAN", "x"], ["SCAN", "18446744073709551616"], ["SCAN", " 1"],
    ["DBSIZE"], ["FLUSHALL"], ["DBSIZE"], ["HGETALL", "r"], ["KEYS", "*"],
    ["SCAN", "0", "TYPE", "hash"],
    # Queued in a transaction, answered by EXEC (errors at run time do not stop it); a wrong
    # arity while queuing aborts it.
    ["MULTI"], ["HSET", "t", "a", "1", "b", "2", "c", "3"], ["HGETALL", "t"], ["HKEYS", "t"],
    ["HVALS", "t"], ["HSCAN", "t", "0"], ["HRANDFIELD", "t"],
    ["HRANDFIELD", "t", "-4", "WITHVALUES"],
    ["HRANDFIELD", "t", "2"], ["HINCRBY", "t", "a", "x"], ["HINCRBY", "t", "a", "5"],
    ["HINCRBYFLOAT", "t", "b", "0.5"], ["HDEL", "t", "c", "nof"], ["HMGET", "t", "a", "b", "c"],
    ["GET", "t"], ["HLEN", "t"], ["KEYS", "*"], ["SCAN", "0", "TYPE", "hash"], ["SET", "t", "v"],
    ["HGET", "t", "a"], ["TYPE", "t"], ["HSET", "t2", "x", "y"], ["EXEC"],
    ["MULTI"], ["HSET", "t", "a"], ["HGET", "t", "a"], ["HRANDFIELD"], ["EXEC"], ["GET", "t"],
    ["MULTI"], ["HSET", "t3", "f", "v"], ["DISCARD"], ["EXISTS", "t3"], ["HGETALL", "t2"],
]

# Lists: every L command and its blocking forms, their wrong arities, argument errors (checked
# before the key is read where redis-server does so: LRANGE's and LREM's integers, LPOP's count,
# LPOS's options, LINSERT's and LMOVE's direction words; LINDEX and LSET read the key first),
# negative and out-of-range indexes, counts 0, negative and huge; lists under the generic commands
# (TYPE, EXISTS, DEL, expiry, RENAME, COPY, KEYS, SCAN TYPE list, DBSIZE, OBJECT ENCODING, which
# redis-server 7.0 answers "quicklist" for every list); WRONGTYPE both ways; a list emptied by any
# command is gone; binary and empty elements, 3000-byte ones, a list of 600; the blocking commands
# where they do not block (a list with elements, or inside MULTI, where an empty one answers nil
# at once: BLPOP and BRPOP *-1, BLMOVE and BRPOPLPUSH $-1) or block for 0.01 s (then *-1, BLMOVE's
# too).
BIGL = ["e%d" % n for n in range(600)]
LARGE = ["x" * 3000, "y" * 3000 + "\x00", "z" * 2999]
LIST_SCRIPT = [
    ["FLUSHALL"],
    # Wrong arities.
    ["LPUSH"], ["LPUSH", "l"], ["RPUSH", "l"], ["LPUSHX", "l"], ["RPUSHX"], ["LPOP"],
    ["LPOP", "l", "1", "2"], ["RPOP"], ["RPOP", "l", "1", "2"], ["LRANGE", "l", "0"],
    ["LRANGE", "l", "0", "1", "2"], ["LLEN"], ["LLEN", "l", "x"], ["LINDEX", "l"],
    ["LINDEX", "l", "0", "1"], ["LSET", "l", "0"], ["LSET", "l", "0", "v", "w"],
    ["LINSERT", "l", "BEFORE", "a"], ["LINSERT", "l", "BEFORE", "a", "b", "c"], ["LREM", "l", "0"],
    ["LREM", "l", "0", "a", "b"], ["LTRIM", "l", "0"], ["LTRIM", "l", "0", "1", "2"], ["LPOS", "l"],
    ["LMOVE", "l"], ["LMOVE", "l", "m", "LEFT"], ["LMOVE", "l", "m", "LEFT", "LEFT", "x"],
    ["RPOPLPUSH", "l"], ["RPOPLPUSH", "l", "m", "x"], ["BLPOP"], ["BLPOP", "l"], ["BRPOP", "l"],
    ["BLMOVE", "l", "m", "LEFT", "LEFT"], ["BLMOVE", "l", "m", "LEFT", "LEFT", "0", "x"],
    ["BRPOPLPUSH", "l", "m"], ["BRPOPLPUSH", "l", "m", "0", "x"],
    # A missing key.
    ["LLEN", "l"], ["LRANGE", "l", "0", "-1"], ["LINDEX", "l", "0"], ["LINDEX", "l", "x"],
    ["LPOP", "l"], ["RPOP", "l"], ["LPOP", "l", "1"], ["LPOP", "l", "2"], ["LPOP", "l", "0"],
    ["RPOP", "l", "0"], ["LPOP", "l", "-1"], ["RPOP", "l", "x"], ["LSET", "l", "0", "v"],
    ["LSET", "l", "x", "v"], ["LREM", "l", "0", "a"], ["LREM", "l", "x", "a"],
    ["LTRIM", "l", "0", "1"], ["LTRIM", "l", "x", "1"], ["LINSERT", "l", "BEFORE", "a", "b"],
    ["LINSERT", "l", "MIDDLE", "a", "b"], ["LPOS", "l", "a"], ["LPOS", "l", "a", "COUNT", "0"],
    ["LPOS", "l", "a", "RANK", "0"], ["LPUSHX", "l", "a"], ["RPUSHX", "l", "a", "b"],
    ["LMOVE", "l", "m", "LEFT", "RIGHT"], ["LMOVE", "l", "m", "UP", "LEFT"],
    ["LMOVE", "l", "m", "LEFT", "DOWN"], ["RPOPLPUSH", "l", "m"], ["TYPE", "l"],
    ["OBJECT", "ENCODING", "l"], ["EXISTS", "l", "m"], ["DBSIZE"],
    # LPUSH and RPUSH answer the length; LPUSH of several puts the last first; the X forms only
    # push onto a list that is there.
    ["RPUSH", "l", "a", "b", "c"], ["LPUSH", "l", "z", "y"], ["LRANGE", "l", "0", "-1"],
    ["LPUSHX", "l", "x"], ["RPUSHX", "l", "d", "e"], ["LRANGE", "l", "0", "-1"], ["LLEN", "l"],
    ["TYPE", "l"], ["OBJECT", "ENCODING", "l"], ["OBJECT", "REFCOUNT", "l"], ["EXISTS", "l"],
    ["DBSIZE"], ["KEYS", "*"],
    # LRANGE: negative indexes from the end, out of range clamped, an empty range.
    ["LRANGE", "l", "0", "0"], ["LRANGE", "l", "-1", "-1"], ["LRANGE", "l", "-3", "-1"],
    ["LRANGE", "l", "2", "4"], ["LRANGE", "l", "-100", "100"], ["LRANGE", "l", "5", "100"],
    ["LRANGE", "l", "8", "9"], ["LRANGE", "l", "100", "200"], ["LRANGE", "l", "3", "2"],
    ["LRANGE", "l", "-1", "-2"], ["LRANGE", "l", "-100", "-50"], ["LRANGE", "l", "0", "-100"],
    ["LRANGE", "l", "0", "9223372036854775807"], ["LRANGE", "l", "-9223372036854775808", "0"],
    ["LRANGE", "l", "9223372036854775807", "-9223372036854775808"],
    ["LRANGE", "l", "0", "9223372036854775808"], ["LRANGE", "l", "x", "1"],
    ["LRANGE", "l", "0", "1.5"], ["LRANGE", "l", " 1", "2"], ["LRANGE", "l", "", "2"],
    ["LRANGE", "l", "01", "02"], ["LRANGE", "l", "+1", "2"], ["LRANGE", "l", "-0", "0"],
    # LINDEX
    ["LINDEX", "l", "0"], ["LINDEX", "l", "3"], ["LINDEX", "l", "-1"], ["LINDEX", "l", "-8"],
    ["LINDEX", "l", "-9"], ["LINDEX", "l", "8"], ["LINDEX", "l", "100"], ["LINDEX", "l", "x"],
    ["LINDEX", "l", "1.5"], ["LINDEX", "l", "9223372036854775807"],
    ["LINDEX", "l", "-9223372036854775808"], ["LINDEX", "l", "9223372036854775808"],
    # LSET: in range (negative too), out of range, not an integer; on a missing key "no such key"
    # whatever the index.
    ["LSET", "l", "0", "A"], ["LSET", "l", "-1", "E"], ["LSET", "l", "-8", "Z"],
    ["LSET", "l", "3", ""], ["LSET", "l", "8", "v"], ["LSET", "l", "-9", "v"],
    ["LSET", "l", "100", "v"], ["LSET", "l", "x", "v"], ["LSET", "l", "9223372036854775808", "v"],
    ["LSET", "nolist", "5", "v"], ["LRANGE", "l", "0", "-1"],
    # LINSERT: BEFORE and AFTER (any case) the first match; a missing pivot -1, a missing key 0.
    ["DEL", "l"], ["RPUSH", "l", "a", "b", "a", "c"], ["LINSERT", "l", "BEFORE", "a", "x"],
    ["LINSERT", "l", "after", "a", "y"], ["LINSERT", "l", "After", "c", "z"],
    ["LINSERT", "l", "before", "c", ""], ["LINSERT", "l", "BEFORE", "", "e"],
    ["LINSERT", "l", "BEFORE", "nope", "v"], ["LINSERT", "l", "MIDDLE", "a", "v"],
    ["LINSERT", "l", "BEFOREX", "a", "v"], ["LINSERT", "nolist", "AFTER", "a", "v"],
    ["EXISTS", "nolist"], ["LRANGE", "l", "0", "-1"], ["LLEN", "l"],
    # LREM: count > 0 from the head, < 0 from the tail, 0 all; what is left.
    ["DEL", "l"], ["RPUSH", "l", "a", "b", "a", "c", "a", "b", "a"], ["LREM", "l", "2", "a"],
    ["LRANGE", "l", "0", "-1"], ["LREM", "l", "-1", "a"], ["LRANGE", "l", "0", "-1"],
    ["LREM", "l", "0", "b"], ["LRANGE", "l", "0", "-1"], ["LREM", "l", "0", "nope"],
    ["LREM", "l", "9223372036854775807", "zz"], ["LREM", "l", "-9223372036854775808", "a"],
    ["LREM", "l", "x", "c"], ["LREM", "l", "1.0", "c"], ["LREM", "l", "9223372036854775808", "c"],
    ["LRANGE", "l", "0", "-1"], ["LREM", "l", "1", "c"], ["EXISTS", "l"], ["LLEN", "l"],
    ["TYPE", "l"],
    # LTRIM: keeps a range; one that keeps nothing deletes the key.
    ["RPUSH", "l", "a", "b", "c", "d", "e"], ["LTRIM", "l", "1", "-2"], ["LRANGE", "l", "0", "-1"],
    ["LTRIM", "l", "-100", "100"], ["LRANGE", "l", "0", "-1"], ["LTRIM", "l", "0", "0"],
    ["LRANGE", "l", "0", "-1"], ["LTRIM", "l", "x", "0"], ["LTRIM", "l", "0", "x"],
    ["LTRIM", "l", "1", "0"], ["EXISTS", "l"], ["RPUSH", "l", "a", "b"], ["LTRIM", "l", "5", "10"],
    ["EXISTS", "l"], ["RPUSH", "l", "a", "b"], ["LTRIM", "l", "-1", "-2"], ["EXISTS", "l"],
    ["RPUSH", "l", "a", "b", "c"], ["LTRIM", "l", "-2", "100"], ["LRANGE", "l", "0", "-1"],
    ["LTRIM", "l", "-9223372036854775808", "9223372036854775807"], ["LRANGE", "l", "0", "-1"],
    # LPOP and RPOP: without a count a bulk (nil when missing); with one an array (*-1 when
    # missing, even with count 0), at most the list; count 0 on a list *0; the count must be a
    # non-negative integer.
    ["DEL", "l"], ["RPUSH", "l", "a", "b", "c", "d", "e", "f"], ["LPOP", "l"], ["RPOP", "l"],
    ["LPOP", "l", "0"], ["RPOP", "l", "0"], ["LPOP", "l", "1"], ["RPOP", "l", "1"],
    ["LPOP", "l", "-1"], ["RPOP", "l", "x"], ["LPOP", "l", "1.5"], ["LPOP", "l", ""],
    ["LPOP", "l", "9223372036854775808"], ["LPOP", "l", "-9223372036854775808"],
    ["LRANGE", "l", "0", "-1"], ["RPOP", "l", "5"], ["EXISTS", "l"], ["LPOP", "l"],
    ["LPOP", "l", "2"], ["RPOP", "l", "0"], ["RPUSH", "l", "a", "b", "c"],
    ["LPOP", "l", "9223372036854775807"], ["EXISTS", "l"], ["RPUSH", "l", "a"], ["RPOP", "l"],
    ["EXISTS", "l"], ["TYPE", "l"], ["RPUSH", "l", "a", "b"], ["LPOP", "l", "2"], ["DBSIZE"],
    # LPOS: RANK (not 0; negative from the tail), COUNT (0: all), MAXLEN (0: no limit), options
    # in any order, any case, the last of a repeated one; the options checked before the key.
    ["RPUSH", "l", "a", "b", "c", "a", "b", "a"], ["LPOS", "l", "a"], ["LPOS", "l", "b"],
    ["LPOS", "l", "nope"], ["LPOS", "l", "a", "RANK", "1"], ["LPOS", "l", "a", "RANK", "2"],
    ["LPOS", "l", "a", "RANK", "3"], ["LPOS", "l", "a", "RANK", "4"],
    ["LPOS", "l", "a", "RANK", "-1"],
    ["LPOS", "l", "a", "RANK", "-3"], ["LPOS", "l", "a", "RANK", "-4"],
    ["LPOS", "l", "a", "RANK", "0"],
    ["LPOS", "l", "a", "RANK", "x"], ["LPOS", "l", "a", "RANK", "9223372036854775807"],
    ["LPOS", "l", "a", "RANK", "-9223372036854775807"],
    ["LPOS", "l", "a", "RANK", "9223372036854775808"], ["LPOS", "l", "a", "COUNT", "0"],
    ["LPOS", "l", "a", "COUNT", "1"], ["LPOS", "l", "a", "COUNT", "2"],
    ["LPOS", "l", "a", "COUNT", "100"], ["LPOS", "l", "nope", "COUNT", "1"],
    ["LPOS", "l", "nope", "COUNT", "0"], ["LPOS", "l", "a", "COUNT", "-1"],
    ["LPOS", "l", "a", "COUNT", "x"], ["LPOS", "l", "a", "RANK", "2", "COUNT", "0"],
    ["LPOS", "l", "a", "RANK", "-1", "COUNT", "2"], ["LPOS", "l", "a", "COUNT", "0", "MAXLEN", "3"],
    ["LPOS", "l", "a", "MAXLEN", "1"], ["LPOS", "l", "a", "MAXLEN", "0"],
    ["LPOS", "l", "b", "MAXLEN", "1"],
    ["LPOS", "l", "a", "RANK", "-2", "COUNT", "2", "MAXLEN", "4"],
    ["LPOS", "l", "a", "RANK", "-1", "MAXLEN", "1"], ["LPOS", "l", "a", "MAXLEN", "-1"],
    ["LPOS", "l", "a", "MAXLEN", "x"], ["LPOS", "l", "a", "rank", "1", "count", "2", "maxlen", "0"],
    ["LPOS", "l", "a", "COUNT", "1", "RANK", "1", "COUNT", "2"], ["LPOS", "l", "a", "RANK"],
    ["LPOS", "l", "a", "COUNT"], ["LPOS", "l", "a", "MAXLEN"], ["LPOS", "l", "a", "FOO", "1"],
    ["LPOS", "l", "a", "RANK", "1", "extra"], ["LPOS", "nolist", "a", "RANK", "-1"],
    ["LPOS", "nolist", "a", "COUNT", "-1"], ["LPOS", "nolist", "a", "FOO"],
    # LMOVE and RPOPLPUSH: every pair of directions, to another list (created), to itself (a
    # rotation), from a missing list (nil, the destination not read); the directions checked
    # before the keys; the source emptied is gone.
    ["DEL", "l"], ["RPUSH", "l", "a", "b", "c"], ["LMOVE", "l", "m", "LEFT", "LEFT"],
    ["LMOVE", "l", "m", "LEFT", "RIGHT"], ["LMOVE", "m", "l", "RIGHT", "LEFT"],
    ["LMOVE", "m", "l", "RIGHT", "RIGHT"], ["LRANGE", "l", "0", "-1"], ["LRANGE", "m", "0", "-1"],
    ["EXISTS", "m"], ["LMOVE", "l", "l", "LEFT", "RIGHT"], ["LRANGE", "l", "0", "-1"],
    ["LMOVE", "l", "l", "RIGHT", "LEFT"], ["LRANGE", "l", "0", "-1"],
    ["LMOVE", "l", "l", "left", "left"], ["LMOVE", "l", "l", "Right", "Right"],
    ["LRANGE", "l", "0", "-1"], ["RPOPLPUSH", "l", "l"], ["LRANGE", "l", "0", "-1"],
    ["RPOPLPUSH", "l", "m"], ["RPOPLPUSH", "l", "m"], ["LRANGE", "m", "0", "-1"],
    ["LMOVE", "nolist", "m", "LEFT", "LEFT"], ["RPOPLPUSH", "nolist", "m"],
    ["LMOVE", "l", "m", "UP", "LEFT"], ["LMOVE", "l", "m", "LEFT", "UP"],
    ["LMOVE", "l", "m", "", "LEFT"], ["RPOPLPUSH", "l", "m"], ["EXISTS", "l"],
    ["LMOVE", "m", "m", "LEFT", "LEFT"], ["RPUSH", "one", "x"],
    ["LMOVE", "one", "one", "LEFT", "RIGHT"],
    ["LRANGE", "one", "0", "-1"], ["RPOPLPUSH", "one", "two"], ["EXISTS", "one", "two"],
    # Blocking forms where a list has elements (served at once, the key named first that has
    # some; a key named twice), their errors: the timeout a float in seconds, not negative (nor
    # too large, which redis-server 7.0 calls negative), WRONGTYPE of the first key that is not a
    # list met before one with elements.
    ["RPUSH", "b1", "a", "b", "c", "d"], ["RPUSH", "b2", "x"], ["BLPOP", "b1", "0"],
    ["BRPOP", "b1", "0"],
    ["BLPOP", "nolist", "b2", "b1", "0"], ["BRPOP", "b2", "b1", "1.5"], ["EXISTS", "b2"],
    ["BLPOP", "b1", "b1", "0"], ["EXISTS", "b1"], ["RPUSH", "b1", "a", "b", "c", "d", "e"],
    ["BLPOP", "b1", "x"], ["BLPOP", "nolist", "x"], ["BLPOP", "b1", "-1"], ["BRPOP", "b1", "-0.5"],
    ["BLPOP", "b1", "nan"], ["BLPOP", "b1", "inf"], ["BLPOP", "b1", "-inf"],
    ["BLPOP", "b1", "1e20"],
    ["BLPOP", "b1", "9223372036854775807"], ["BLPOP", "b1", ""], ["BLPOP", "b1", " 1"],
    ["BLPOP", "b1", "1 "], ["BLPOP", "b1", "1x"], ["BLPOP", "nolist", "-1"],
    ["BLPOP", "b1", "0.001"], ["BLPOP", "b1", "-0.0001"], ["BLPOP", "b1", "0x10"],
    ["BLPOP", "b1", "1e3"], ["BLPOP", "b1", "-0"], ["RPUSH", "b1", "a", "b", "c", "d"],
    ["BRPOP", "b1", "9223372036854"], ["BLMOVE", "b1", "b3", "RIGHT", "LEFT", "0"],
    ["BLMOVE", "b1", "b3", "LEFT", "LEFT", "0.5"], ["BRPOPLPUSH", "b1", "b3", "0"],
    ["LRANGE", "b3", "0", "-1"], ["EXISTS", "b1"], ["BLMOVE", "b3", "b3", "LEFT", "RIGHT", "0"],
    ["LRANGE", "b3", "0", "-1"], ["BLMOVE", "b3", "b4", "UP", "LEFT", "0"],
    ["BLMOVE", "b3", "b4", "LEFT", "LEFT", "x"], ["BLMOVE", "b3", "b4", "LEFT", "LEFT", "-1"],
    ["BRPOPLPUSH", "b3", "b4", "x"], ["BRPOPLPUSH", "b3", "b4", "-1"],
    ["BLPOP", "nolist", "0.01"], ["BRPOP", "nolist", "nolist2", "0.01"],
    ["BLMOVE", "nolist", "b4", "LEFT", "LEFT", "0.01"], ["BRPOPLPUSH", "nolist", "b4", "0.01"],
    ["EXISTS", "nolist", "b4"],
    # Inside MULTI the blocking forms never block: an empty list answers nil.
    ["MULTI"], ["BLPOP", "nolist", "0"], ["BRPOP", "nolist", "b3", "0"],
    ["BLMOVE", "nolist", "x", "LEFT", "LEFT", "0"], ["BRPOPLPUSH", "nolist", "x", "0"],
    ["BLPOP", "nolist", "9223372036854"], ["BLPOP", "nolist", "-1"],
    ["BLMOVE", "b3", "b4", "RIGHT", "RIGHT", "0"], ["BLPOP", "b3", "0"], ["BLPOP", "b3", "0"],
    ["EXEC"], ["LRANGE", "b4", "0", "-1"], ["EXISTS", "b3"],
    # Binary and empty elements, CR LF inside.
    ["FLUSHALL"], ["RPUSH", "bin", "", b"\x00\xff\r\n", "sp ace", b"\r\n", ""],
    ["LRANGE", "bin", "0", "-1"], ["LPOS", "bin", "", "COUNT", "0"], ["LPOS", "bin", b"\r\n"],
    ["LREM", "bin", "0", ""], ["LINSERT", "bin", "AFTER", b"\x00\xff\r\n", b"\x00"],
    ["LSET", "bin", "0", b"\xff" * 3], ["LINDEX", "bin", "1"], ["LRANGE", "bin", "0", "-1"],
    ["LPOP", "bin", "2"], ["RPOP", "bin"], ["LLEN", "bin"],
    # Large elements and a list of 600 (pushed in two commands).
    ["RPUSH", "lg"] + LARGE, ["LRANGE", "lg", "0", "-1"], ["LINDEX", "lg", "1"],
    ["LPOS", "lg", LARGE[2]], ["LINSERT", "lg", "BEFORE", LARGE[1], "small"],
    ["LSET", "lg", "0", "x" * 3001], ["LREM", "lg", "1", LARGE[2]], ["LRANGE", "lg", "0", "-1"],
    ["LMOVE", "lg", "lg", "LEFT", "RIGHT"], ["RPOP", "lg", "2"], ["LLEN", "lg"],
    ["RPUSH", "big"] + BIGL[:400], ["RPUSH", "big"] + BIGL[400:], ["LLEN", "big"],
    ["LRANGE", "big", "0", "-1"], ["LRANGE", "big", "290", "310"],
    ["LRANGE", "big", "-310", "-290"],
    ["LINDEX", "big", "300"], ["LINDEX", "big", "-300"], ["LPOS", "big", "e450"],
    ["LPOS", "big", "e450", "MAXLEN", "450"], ["LPOS", "big", "e450", "MAXLEN", "451"],
    ["LPOS", "big", "e150", "RANK", "-1", "MAXLEN", "449"], ["LSET", "big", "300", "mid"],
    ["LINSERT", "big", "BEFORE", "mid", "before"], ["LINSERT", "big", "AFTER", "mid", "after"],
    ["LINSERT", "big", "AFTER", "e599", "last"], ["LRANGE", "big", "298", "304"],
    ["LREM", "big", "0", "mid"], ["LREM", "big", "-1", "e299"], ["LREM", "big", "1", "e0"],
    ["LRANGE", "big", "0", "2"], ["LRANGE", "big", "296", "302"], ["LLEN", "big"],
    ["LPUSH", "big", "mid", "x", "mid"], ["LPOS", "big", "mid", "COUNT", "0"],
    ["LPOS", "big", "mid", "RANK", "-2"], ["LREM", "big", "-2", "mid"],
    ["LPOS", "big", "mid", "COUNT", "0"], ["LMOVE", "big", "big", "RIGHT", "LEFT"],
    ["LRANGE", "big", "0", "3"], ["LTRIM", "big", "100", "-100"], ["LLEN", "big"],
    ["LRANGE", "big", "0", "-1"], ["LPOP", "big", "250"], ["RPOP", "big", "300"],
    ["LLEN", "big"], ["OBJECT", "ENCODING", "big"], ["LPOP", "big", "1000"], ["EXISTS", "big"],
    # WRONGTYPE: list commands on a string and on a hash (an argument error first where
    # redis-server checks the argument before the key).
    ["SET", "s", "v"], ["HSET", "h", "f", "v"], ["LPUSH", "s", "x"], ["RPUSH", "h", "x"],
    ["LPUSHX", "s", "x"], ["RPUSHX", "h", "x"], ["LPOP", "s"], ["RPOP", "h"], ["LPOP", "s", "2"],
    ["RPOP", "s", "0"], ["LPOP", "s", "x"], ["LLEN", "s"], ["LLEN", "h"],
    ["LRANGE", "s", "0", "-1"],
    ["LRANGE", "h", "x", "1"], ["LINDEX", "s", "0"], ["LINDEX", "h", "x"], ["LSET", "s", "0", "x"],
    ["LSET", "h", "x", "x"], ["LINSERT", "s", "BEFORE", "a", "b"],
    ["LINSERT", "h", "MIDDLE", "a", "b"],
    ["LREM", "s", "0", "a"], ["LREM", "h", "x", "a"], ["LTRIM", "s", "0", "1"],
    ["LTRIM", "h", "x", "1"],
    ["LPOS", "s", "a"], ["LPOS", "h", "a", "RANK", "0"], ["LPOS", "h", "a", "COUNT", "1"],
    ["RPUSH", "l", "a", "b"], ["LMOVE", "s", "l", "LEFT", "LEFT"],
    ["LMOVE", "l", "s", "LEFT", "LEFT"],
    ["LMOVE", "l", "h", "RIGHT", "LEFT"], ["LMOVE", "nolist", "s", "LEFT", "LEFT"],
    ["LMOVE", "s", "l", "UP", "LEFT"], ["RPOPLPUSH", "h", "l"], ["RPOPLPUSH", "l", "s"],
    ["LRANGE", "l", "0", "-1"], ["BLPOP", "s", "0"], ["BLPOP", "s", "l", "0"],
    ["BLPOP", "l", "s", "0"],
    ["BRPOP", "nolist", "h", "0"], ["BLPOP", "s", "x"], ["BLMOVE", "s", "l", "LEFT", "LEFT", "0"],
    ["BLMOVE", "l", "s", "LEFT", "LEFT", "0"], ["BRPOPLPUSH", "l", "h", "0"],
    ["BLMOVE", "nolist", "s", "LEFT", "LEFT", "0.01"], ["LRANGE", "l", "0", "-1"], ["GET", "s"],
    ["HGETALL", "h"],
    # WRONGTYPE: string and hash commands on a list; MGET answers nil for it; SET replaces it.
    ["RPUSH", "wl", "a", "b"], ["GET", "wl"], ["MGET", "wl", "s", "nokey"], ["APPEND", "wl", "x"],
    ["INCR", "wl"], ["INCRBY", "wl", "x"], ["INCRBYFLOAT", "wl", "1"], ["STRLEN", "wl"],
    ["GETRANGE", "wl", "0", "1"], ["SETRANGE", "wl", "0", "x"], ["GETSET", "wl", "x"],
    ["GETDEL", "wl"], ["GETEX", "wl"], ["SETBIT", "wl", "0", "1"], ["GETBIT", "wl", "0"],
    ["BITCOUNT", "wl"], ["SET", "wl", "v", "GET"], ["SET", "wl", "v", "NX"], ["SETNX", "wl", "v"],
    ["MSETNX", "wl", "v", "other", "w"], ["EXISTS", "other"], ["HGET", "wl", "a"],
    ["HSET", "wl", "a", "1"], ["HGETALL", "wl"], ["HLEN", "wl"], ["HDEL", "wl", "a"],
    ["HINCRBY", "wl", "a", "1"], ["HRANDFIELD", "wl"], ["HSCAN", "wl", "0"], ["HKEYS", "wl"],
    ["LRANGE", "wl", "0", "-1"], ["TYPE", "wl"], ["OBJECT", "ENCODING", "wl"],
    ["SET", "wl", "v", "XX"], ["TYPE", "wl"], ["GET", "wl"], ["RPUSH", "wl2", "a"],
    ["MSET", "wl2", "v"], ["GET", "wl2"], ["RPUSH", "wl3", "a"], ["SETEX", "wl3", "100", "v"],
    ["GET", "wl3"], ["RPUSH", "wl4", "a"], ["SET", "wl4", "v", "GET"], ["LLEN", "wl4"],
    # Lists and expiry (pushes and pops keep it; the last pop takes it with the key), RENAME,
    # RENAMENX, COPY (a copy is a list of its own, with the time).
    ["FLUSHALL"], ["RPUSH", "el", "a", "b"], ["EXPIREAT", "el", "3000000000"],
    ["EXPIRETIME", "el"], ["TTL", "el"], ["LPUSH", "el", "c"], ["RPOP", "el"],
    ["LSET", "el", "0", "x"],
    ["LINSERT", "el", "AFTER", "x", "y"], ["LREM", "el", "0", "y"], ["LTRIM", "el", "0", "-1"],
    ["LMOVE", "el", "el", "LEFT", "RIGHT"], ["EXPIRETIME", "el"], ["PERSIST", "el"],
    ["TTL", "el"], ["EXPIRE", "el", "100"], ["TTL", "el"], ["PEXPIREAT", "el", "4000000000000"],
    ["LPOP", "el", "5"], ["EXISTS", "el"], ["RPUSH", "el", "a"], ["PEXPIRETIME", "el"],
    ["EXPIREAT", "el", "1"], ["EXISTS", "el"], ["LLEN", "el"], ["RPUSH", "el", "a"],
    ["PEXPIRE", "el", "-1"], ["TYPE", "el"], ["RPUSH", "el", "a", "b"],
    ["PEXPIREAT", "el", "3000000000000"], ["RENAME", "el", "el"], ["RENAME", "el", "el2"],
    ["PEXPIRETIME", "el2"], ["TYPE", "el"], ["LRANGE", "el2", "0", "-1"], ["COPY", "el2", "el2"],
    ["COPY", "el2", "el3"], ["PEXPIRETIME", "el3"], ["LPUSH", "el3", "changed"],
    ["LRANGE", "el2", "0", "-1"], ["LRANGE", "el3", "0", "-1"], ["RENAMENX", "el2", "el3"],
    ["SET", "str", "v"], ["RENAMENX", "el2", "str"], ["COPY", "el2", "str"],
    ["COPY", "el2", "str", "REPLACE"], ["TYPE", "str"], ["LRANGE", "str", "0", "-1"],
    ["PEXPIRETIME", "str"], ["RPOPLPUSH", "str", "el3"], ["LRANGE", "el3", "0", "-1"],
    ["RENAME", "str", "el3"], ["LRANGE", "el3", "0", "-1"], ["SET", "s2", "x"],
    ["RENAME", "s2", "el3"], ["TYPE", "el3"], ["GET", "el3"], ["HSET", "hh", "a", "1"],
    ["COPY", "hh", "el2", "REPLACE"], ["TYPE", "el2"], ["RPUSH", "el4", "a"],
    ["RENAMENX", "el4", "el5"], ["LRANGE", "el5", "0", "-1"], ["COPY", "el5", "el6"],
    ["OBJECT", "ENCODING", "el6"], ["RPUSH", "el7", "a"], ["DEL", "el7", "el7", "nokey"],
    ["RPUSH", "el8", "a"], ["UNLINK", "el8"], ["TOUCH", "el5", "el6"], ["EXISTS", "el7", "el8"],
    # The key space with lists: KEYS, SCAN (TYPE list, any case), DBSIZE, FLUSHALL.
    ["RPUSH", "l1", "a"], ["RPUSH", "l2", "b"], ["KEYS", "*"], ["KEYS", "l?"], ["SCAN", "0"],
    ["SCAN", "0", "TYPE", "list"], ["SCAN", "0", "TYPE", "LIST"], ["SCAN", "0", "TYPE", "string"],
    ["SCAN", "0", "TYPE", "hash"], ["SCAN", "0", "MATCH", "l*", "TYPE", "list"],
    ["SCAN", "0", "MATCH", "e*", "TYPE", "list"], ["SCAN", "0", "COUNT", "1", "TYPE", "list"],
    ["DBSIZE"], ["FLUSHALL"], ["DBSIZE"], ["LRANGE", "l1", "0", "-1"],
    ["SCAN", "0", "TYPE", "list"],
    # Queued in a transaction, answered by EXEC (WRONGTYPE at run time does not stop it); a wrong
    # arity while queuing aborts it.
    ["MULTI"], ["RPUSH", "t", "a", "b", "c"], ["LPUSH", "t", "z"], ["LRANGE", "t", "0", "-1"],
    ["LPOP", "t"], ["RPOP", "t", "2"], ["LLEN", "t"], ["LINDEX", "t", "0"], ["LSET", "t", "0", "A"],
    ["LSET", "t", "5", "A"], ["LINSERT", "t", "AFTER", "A", "B"], ["LREM", "t", "0", "B"],
    ["LPOS", "t", "A"], ["LMOVE", "t", "t2", "LEFT", "RIGHT"], ["EXISTS", "t"], ["GET", "t2"],
    ["SET", "t3", "v"], ["LPUSH", "t3", "x"], ["TYPE", "t2"], ["SCAN", "0", "TYPE", "list"],
    ["LPOP", "nolist", "0"], ["EXEC"],
    ["MULTI"], ["RPUSH", "t4", "a"], ["LPUSH", "t4"], ["LRANGE", "t4", "0", "-1"], ["EXEC"],
    ["EXISTS", "t4"], ["MULTI"], ["RPUSH", "t5", "x"], ["DISCARD"], ["EXISTS", "t5"],
    ["LRANGE", "t2", "0", "-1"],
]

# Sets: every S command, its wrong arities and argument errors (checked before the key is read
# where redis-server does so: SPOP's and SRANDMEMBER's counts, SINTERCARD's numkeys and LIMIT,
# SSCAN's cursor; SSCAN's options after it, and not at all for a missing key), duplicates, absent
# members, missing keys (empty sets), WRONGTYPE both ways (SINTER SUNION SDIFF and their STORE forms
# read every key in order up to the first that is not a set, a missing one included; SMOVE answers
# 0 for a missing source before it looks at the destination's type); the STORE forms replace a
# destination of any type (its time gone) or delete it when the result is empty; sets under the
# generic commands (TYPE, EXISTS, DEL, expiry, RENAME, COPY, SCAN TYPE set, DBSIZE); a set emptied
# by SREM, SPOP or SMOVE is gone; binary members and the empty one. Keyspace hits and misses (the
# end of main compares them): each key SMEMBERS SISMEMBER SMISMEMBER SCARD SRANDMEMBER SSCAN
# SINTER SUNION SDIFF SINTERCARD and the STORE forms' sources read (in order, up to the first that
# is not a set), and SPOP when it pops the whole set (redis-server 7.0 answers it by an SUNION of
# the one key), never SADD SREM SMOVE nor other SPOPs. OBJECT ENCODING: intset while every member
# is an integer's canonical text (string2ll: not "-0", "007", " 1", "+1" nor past 64 bits) and
# there are at most 512, hashtable once one write went past that; but a set written whole (the
# STORE forms, SMOVE's new destination) starts again as an intset, and so does what an SPOP leaves
# when it keeps at most a fifth of what it pops (redis-server 7.0's spop "case 3": the rest copied
# into a new set). SPOP and SRANDMEMBER are checked by check_spop and check_srandmember; SMEMBERS
# SINTER SUNION SDIFF SSCAN compared as sorted sets.
INTS = [str(n) for n in range(600)]
SET_SCRIPT = [
    ["FLUSHALL"],
    # Wrong arities; SPOP and SRANDMEMBER with more than a count: a syntax error.
    ["SADD"], ["SADD", "s"], ["SREM", "s"], ["SMEMBERS"], ["SMEMBERS", "s", "x"],
    ["SISMEMBER", "s"],
    ["SISMEMBER", "s", "a", "b"], ["SMISMEMBER", "s"], ["SCARD"], ["SCARD", "s", "x"], ["SPOP"],
    ["SPOP", "s", "1", "2"], ["SRANDMEMBER"], ["SRANDMEMBER", "s", "1", "2"], ["SMOVE", "s", "d"],
    ["SMOVE", "s", "d", "m", "x"], ["SINTER"], ["SUNION"], ["SDIFF"], ["SINTERSTORE", "d"],
    ["SUNIONSTORE", "d"], ["SDIFFSTORE", "d"], ["SINTERCARD"], ["SINTERCARD", "1"], ["SSCAN"],
    ["SSCAN", "s"],
    # A missing key: an empty set (SPOP and SRANDMEMBER: nil, or *0 with a count).
    ["SMEMBERS", "s"], ["SCARD", "s"], ["SISMEMBER", "s", "a"], ["SMISMEMBER", "s", "a", "b"],
    ["SREM", "s", "a"], ["SPOP", "s"], ["SPOP", "s", "0"], ["SPOP", "s", "3"], ["SRANDMEMBER", "s"],
    ["SRANDMEMBER", "s", "0"], ["SRANDMEMBER", "s", "5"], ["SRANDMEMBER", "s", "-5"],
    ["SMOVE", "s", "d", "a"], ["SINTER", "s"], ["SINTER", "s", "t"], ["SUNION", "s", "t"],
    ["SDIFF", "s", "t"], ["SINTERSTORE", "d", "s"], ["SUNIONSTORE", "d", "s", "t"],
    ["SDIFFSTORE", "d", "s"], ["SINTERCARD", "1", "s"], ["SINTERCARD", "2", "s", "t", "LIMIT", "1"],
    ["SSCAN", "s", "0"], ["SSCAN", "s", "7"], ["SSCAN", "s", "0", "COUNT", "0"],
    ["SSCAN", "s", "0", "FOO"], ["SSCAN", "s", "x"], ["TYPE", "s"], ["OBJECT", "ENCODING", "s"],
    ["EXISTS", "s", "d"], ["DBSIZE"],
    # Argument errors, checked before the key: SPOP's count (any error "out of range, must be
    # positive"), SRANDMEMBER's (-LONG_MAX..LONG_MAX), SINTERCARD's numkeys and LIMIT, SSCAN's
    # cursor (strtoul: "-1" and "+5" are cursors).
    ["SPOP", "s", "-1"], ["SPOP", "s", "x"], ["SPOP", "s", "1.5"], ["SPOP", "s", ""],
    ["SPOP", "s", "9223372036854775808"], ["SPOP", "s", "-9223372036854775808"],
    ["SPOP", "s", "01"], ["SRANDMEMBER", "s", "x"], ["SRANDMEMBER", "s", "1.5"],
    ["SRANDMEMBER", "s", ""], ["SRANDMEMBER", "s", "9223372036854775808"],
    ["SRANDMEMBER", "s", "-9223372036854775808"], ["SRANDMEMBER", "s", "-9223372036854775807"],
    ["SRANDMEMBER", "s", "9223372036854775807"], ["SINTERCARD", "0", "s"],
    ["SINTERCARD", "-1", "s"], ["SINTERCARD", "x", "s"], ["SINTERCARD", "1.0", "s"],
    ["SINTERCARD", "01", "s"], ["SINTERCARD", "+1", "s"], ["SINTERCARD", "", "s"],
    ["SINTERCARD", "2", "s"], ["SINTERCARD", "9223372036854775807", "s"],
    ["SINTERCARD", "9223372036854775808", "s"], ["SINTERCARD", "1", "s", "t"],
    ["SINTERCARD", "1", "s", "LIMIT"], ["SINTERCARD", "1", "s", "LIMIT", "-1"],
    ["SINTERCARD", "1", "s", "LIMIT", "x"],
    ["SINTERCARD", "1", "s", "LIMIT", "9223372036854775808"],
    ["SINTERCARD", "1", "s", "FOO", "1"], ["SINTERCARD", "1", "s", "LIMIT", "1", "LIMIT", "x"],
    ["SINTERCARD", "3", "s", "t", "LIMIT"], ["SINTERCARD", "2", "s", "t", "LIMIT", "1", "x"],
    ["SSCAN", "s", "-1"], ["SSCAN", "s", "+5"], ["SSCAN", "s", ""], ["SSCAN", "s", " 1"],
    ["SSCAN", "s", "18446744073709551615"], ["SSCAN", "s", "18446744073709551616"],
    ["SSCAN", "s", "1.5"],
    # SADD counts the members added (a duplicate once); SREM the members removed; SMISMEMBER
    # answers each asked, repeated ones too.
    ["SADD", "s", "a", "b", "c", "a", "a"], ["SADD", "s", "a", "d"], ["SADD", "s", "a", "a"],
    ["SREM", "s", "x", "y"], ["SREM", "s", "a", "a", "x"], ["SCARD", "s"], ["SMEMBERS", "s"],
    ["SISMEMBER", "s", "b"], ["SISMEMBER", "s", "a"], ["SISMEMBER", "s", "B"],
    ["SMISMEMBER", "s", "a", "b", "x", "b"], ["SMISMEMBER", "s", "d"], ["TYPE", "s"],
    ["OBJECT", "ENCODING", "s"], ["EXISTS", "s", "s", "nokey"], ["DBSIZE"], ["KEYS", "*"],
    # SRANDMEMBER: no count a bulk; a positive count distinct members, at most all; a negative one
    # exactly that many, repeated; 0 *0.
    ["SRANDMEMBER", "s"], ["SRANDMEMBER", "s", "0"], ["SRANDMEMBER", "s", "1"],
    ["SRANDMEMBER", "s", "2"], ["SRANDMEMBER", "s", "3"], ["SRANDMEMBER", "s", "4"],
    ["SRANDMEMBER", "s", "100"], ["SRANDMEMBER", "s", "9223372036854775807"],
    ["SRANDMEMBER", "s", "-1"], ["SRANDMEMBER", "s", "-2"], ["SRANDMEMBER", "s", "-3"],
    ["SRANDMEMBER", "s", "-10"], ["SRANDMEMBER", "s", "-1000"], ["SCARD", "s"],
    ["SADD", "one", "only"], ["SRANDMEMBER", "one"], ["SRANDMEMBER", "one", "-3"],
    ["SRANDMEMBER", "one", "5"],
    # SPOP: no count one member (a bulk); a count distinct members, at most all (the set is gone);
    # count 0 *0 and nothing changes.
    ["SPOP", "s"], ["SCARD", "s"], ["SPOP", "s", "0"], ["SPOP", "s", "1"], ["SCARD", "s"],
    ["SPOP", "s", "5"], ["EXISTS", "s"], ["TYPE", "s"], ["SADD", "s", "a", "b", "c"],
    ["SPOP", "s", "3"], ["EXISTS", "s"], ["SADD", "s", "a", "b", "c"],
    ["SPOP", "s", "9223372036854775807"], ["EXISTS", "s"], ["SADD", "s", "a"], ["SPOP", "s"],
    ["EXISTS", "s"], ["SPOP", "one", "1"], ["EXISTS", "one"],
    ["SADD", "p", "a", "b", "c", "d", "e", "f", "g", "h", "i", "j"], ["SPOP", "p", "2"],
    ["SPOP", "p", "6"], ["SCARD", "p"], ["SPOP", "p"], ["SPOP", "p", "1"], ["SMEMBERS", "p"],
    # A set emptied by SREM is gone.
    ["SADD", "e", "x", "y"], ["SREM", "e", "x", "y", "z"], ["EXISTS", "e"], ["SCARD", "e"],
    ["SREM", "e", "x"], ["DBSIZE"],
    # SINTER SUNION SDIFF: the first set's order is nobody's; a missing key is an empty set; a
    # key named twice.
    ["SADD", "s1", "a", "b", "c", "d", "1"], ["SADD", "s2", "c", "d", "e", "1", "2"],
    ["SADD", "s3", "a", "c", "e", "1"], ["SINTER", "s1"], ["SINTER", "s1", "s2"],
    ["SINTER", "s1", "s2", "s3"], ["SINTER", "s1", "s1"], ["SINTER", "s1", "nokey"],
    ["SINTER", "nokey", "s1"], ["SUNION", "s1"], ["SUNION", "s1", "s2"],
    ["SUNION", "s1", "s2", "s3"], ["SUNION", "s1", "nokey", "s1"], ["SUNION", "nokey", "nokey2"],
    ["SDIFF", "s1"], ["SDIFF", "s1", "s2"], ["SDIFF", "s1", "s2", "s3"], ["SDIFF", "s2", "s1"],
    ["SDIFF", "s1", "s1"], ["SDIFF", "s1", "nokey"], ["SDIFF", "nokey", "s1"],
    ["SDIFF", "s1", "s2", "nokey", "s2"],
    # The STORE forms: the result's size; an empty result deletes the destination; the
    # destination replaced whatever its type (a string, a hash, a list), its time gone; the
    # destination among the sources.
    ["SINTERSTORE", "d", "s1", "s2"], ["SMEMBERS", "d"], ["SUNIONSTORE", "d", "s1", "s2"],
    ["SMEMBERS", "d"], ["SDIFFSTORE", "d", "s1", "s2"], ["SMEMBERS", "d"],
    ["SINTERSTORE", "d", "s1", "nokey"], ["EXISTS", "d"], ["SINTERSTORE", "d", "s1", "nokey"],
    ["SUNIONSTORE", "d", "s1"], ["SDIFFSTORE", "d", "s1", "s1"], ["EXISTS", "d"],
    ["SUNIONSTORE", "d", "nokey"], ["EXISTS", "d"], ["SET", "ds", "v"],
    ["SINTERSTORE", "ds", "s1", "s3"], ["TYPE", "ds"], ["SMEMBERS", "ds"], ["HSET", "dh", "f", "v"],
    ["SUNIONSTORE", "dh", "s3"], ["TYPE", "dh"], ["SMEMBERS", "dh"], ["RPUSH", "dl", "x"],
    ["SDIFFSTORE", "dl", "s2", "s1"], ["TYPE", "dl"], ["SMEMBERS", "dl"], ["SET", "ds2", "v"],
    ["SDIFFSTORE", "ds2", "s1", "s1"], ["EXISTS", "ds2"], ["HSET", "dh2", "f", "v"],
    ["SINTERSTORE", "dh2", "nokey"], ["EXISTS", "dh2"], ["RPUSH", "dl2", "x"],
    ["SINTERSTORE", "dl2", "nokey", "s1"], ["EXISTS", "dl2"], ["SADD", "dt", "x"],
    ["PEXPIREAT", "dt", "4000000000000"], ["SUNIONSTORE", "dt", "dt", "s3"], ["PEXPIRETIME", "dt"],
    ["SMEMBERS", "dt"], ["PEXPIREAT", "dt", "4000000000000"], ["SINTERSTORE", "dt", "dt"],
    ["PEXPIRETIME", "dt"], ["SCARD", "dt"], ["SDIFFSTORE", "s3", "s3", "s1"], ["SMEMBERS", "s3"],
    ["SINTERSTORE", "s3", "s3", "s2"], ["SMEMBERS", "s3"], ["SUNIONSTORE", "s3", "s3", "s3"],
    ["SMEMBERS", "s3"],
    # SINTERCARD: the intersection's size, at most LIMIT (0: no limit; the last LIMIT counts);
    # numkeys keys, the rest options.
    ["SINTERCARD", "1", "s1"], ["SINTERCARD", "2", "s1", "s2"],
    ["SINTERCARD", "3", "s1", "s2", "s3"],
    ["SINTERCARD", "2", "s1", "s2", "LIMIT", "0"], ["SINTERCARD", "2", "s1", "s2", "LIMIT", "1"],
    ["SINTERCARD", "2", "s1", "s2", "limit", "2"], ["SINTERCARD", "2", "s1", "s2", "LIMIT", "3"],
    ["SINTERCARD", "2", "s1", "s2", "LIMIT", "100"],
    ["SINTERCARD", "2", "s1", "s2", "LIMIT", "9223372036854775807"],
    ["SINTERCARD", "2", "s1", "s2", "LIMIT", "5", "LIMIT", "1"], ["SINTERCARD", "2", "s1", "s1"],
    ["SINTERCARD", "2", "s1", "nokey"], ["SINTERCARD", "1", "nokey", "LIMIT", "3"],
    ["SINTERCARD", "3", "s1", "s2", "LIMIT"], ["SINTERCARD", "1", "LIMIT"],
    # SMOVE: 1 when moved (the destination created, or already holding it), 0 when the source
    # lacks it or is missing; a key onto itself moves nothing; the source emptied is gone.
    ["SADD", "m1", "a", "b"], ["SADD", "m2", "b", "c"], ["SMOVE", "m1", "m2", "a"],
    ["SMEMBERS", "m1"], ["SMEMBERS", "m2"], ["SMOVE", "m1", "m2", "b"], ["EXISTS", "m1"],
    ["SMEMBERS", "m2"], ["SMOVE", "m2", "m3", "zz"], ["EXISTS", "m3"],
    ["SMOVE", "nokey", "m2", "a"],
    ["SMOVE", "m2", "m2", "a"], ["SMOVE", "m2", "m2", "zz"], ["SMOVE", "nokey", "nokey", "a"],
    ["SMEMBERS", "m2"], ["SMOVE", "m2", "m3", "c"], ["SMEMBERS", "m3"], ["TYPE", "m3"],
    ["SMOVE", "m2", "m3", "a"], ["SMOVE", "m2", "m3", "b"], ["EXISTS", "m2"], ["SMEMBERS", "m3"],
    # Binary members, CR LF and NUL inside, the empty member, spaces.
    ["SADD", "bin", "", b"\x00\xff\r\n", "sp ace", b"\r\n", "", b"\x00"], ["SCARD", "bin"],
    ["SMEMBERS", "bin"], ["SISMEMBER", "bin", ""], ["SISMEMBER", "bin", b"\x00"],
    ["SISMEMBER", "bin", b"\x00\x00"], ["SMISMEMBER", "bin", "", "sp", "sp ace", b"\r\n"],
    ["OBJECT", "ENCODING", "bin"], ["SSCAN", "bin", "0"], ["SSCAN", "bin", "0", "MATCH", "sp*"],
    ["SSCAN", "bin", "0", "MATCH", ""], ["SSCAN", "bin", "0", "MATCH", "* *"],
    ["SINTER", "bin", "bin"], ["SMOVE", "bin", "bin2", ""], ["SMEMBERS", "bin2"],
    ["OBJECT", "ENCODING", "bin2"], ["SREM", "bin", "", b"\x00", "nope"], ["SMEMBERS", "bin"],
    ["SRANDMEMBER", "bin", "-5"],
    # (An empty key: pastel-kv refuses it for every command, docs/kv.md "What differs".)
    # SSCAN: an intset comes whole whatever the cursor; MATCH (the last counts) and COUNT (the
    # options are checked once the key is found: not at all for a missing one).
    ["SADD", "ss", "5", "3", "1", "-2", "10"], ["SSCAN", "ss", "0"],
    ["SSCAN", "ss", "0", "MATCH", "*1*"],
    ["SSCAN", "ss", "0", "MATCH", "-*"], ["SSCAN", "ss", "0", "COUNT", "1"],
    ["SSCAN", "ss", "0", "MATCH", "1", "MATCH", "3"], ["SSCAN", "ss", "12345"],
    ["SSCAN", "ss", "-1"], ["SSCAN", "ss", "18446744073709551615"],
    ["SSCAN", "ss", "0", "COUNT", "0"], ["SSCAN", "ss", "0", "COUNT", "-1"],
    ["SSCAN", "ss", "0", "COUNT", "x"], ["SSCAN", "ss", "0", "COUNT"],
    ["SSCAN", "ss", "0", "MATCH"],
    ["SSCAN", "ss", "0", "TYPE", "set"], ["SSCAN", "ss", "0", "NOVALUES"],
    ["SSCAN", "ss", "0", "FOO", "x"], ["SSCAN", "ss", "0", "COUNT", "1", "COUNT", "0"],
    ["SSCAN", "nokey", "0", "TYPE", "set"], ["SSCAN", "nokey", "5", "MATCH"],
    ["SSCAN", "s1", "0", "MATCH", "[ab]"], ["SSCAN", "s1", "0", "COUNT", "100"],
    # OBJECT ENCODING: intset while every member is an integer (canonical, 64 bits) and there are
    # at most 512; hashtable after; a set written whole starts again as an intset.
    ["SADD", "o", "1", "2", "-3"], ["OBJECT", "ENCODING", "o"],
    ["SADD", "o", "9223372036854775807", "-9223372036854775808"], ["OBJECT", "ENCODING", "o"],
    ["SMEMBERS", "o"], ["SADD", "o", "a"], ["OBJECT", "ENCODING", "o"], ["SREM", "o", "a"],
    ["OBJECT", "ENCODING", "o"], ["SADD", "o", "4"], ["OBJECT", "ENCODING", "o"],
    ["SADD", "o1", "-0"], ["SADD", "o2", "007"], ["SADD", "o3", " 1"], ["SADD", "o4", "1 "],
    ["SADD", "o5", "+1"], ["SADD", "o6", "9223372036854775808"],
    ["SADD", "o7", "-9223372036854775809"],
    ["SADD", "o8", ""], ["SADD", "o9", "1.0"], ["SADD", "o10", "0x1"], ["SADD", "o11", "0"],
    ["SADD", "o12", "-1"], ["SADD", "o13", "1e3"],
    ["OBJECT", "ENCODING", "o1"], ["OBJECT", "ENCODING", "o2"], ["OBJECT", "ENCODING", "o3"],
    ["OBJECT", "ENCODING", "o4"], ["OBJECT", "ENCODING", "o5"], ["OBJECT", "ENCODING", "o6"],
    ["OBJECT", "ENCODING", "o7"], ["OBJECT", "ENCODING", "o8"], ["OBJECT", "ENCODING", "o9"],
    ["OBJECT", "ENCODING", "o10"], ["OBJECT", "ENCODING", "o11"], ["OBJECT", "ENCODING", "o12"],
    ["OBJECT", "ENCODING", "o13"], ["SMEMBERS", "o1"], ["SISMEMBER", "o1", "0"],
    ["SISMEMBER", "o11", "-0"], ["SISMEMBER", "o11", "00"], ["SISMEMBER", "o12", "-1"],
    ["SADD", "o14", "5", "x"], ["OBJECT", "ENCODING", "o14"], ["SADD", "o15", "x", "5"],
    ["OBJECT", "ENCODING", "o15"],
    ["SADD", "i512"] + INTS[:512], ["OBJECT", "ENCODING", "i512"], ["SCARD", "i512"],
    ["SADD", "i512", "0", "511"], ["OBJECT", "ENCODING", "i512"], ["SADD", "i512", "512"],
    ["OBJECT", "ENCODING", "i512"], ["SREM", "i512"] + INTS[:510], ["OBJECT", "ENCODING", "i512"],
    ["SMEMBERS", "i512"], ["COPY", "i512", "i512c"], ["OBJECT", "ENCODING", "i512c"],
    ["RENAME", "i512c", "i512r"], ["OBJECT", "ENCODING", "i512r"],
    ["SUNIONSTORE", "u", "i512"], ["OBJECT", "ENCODING", "u"], ["SINTERSTORE", "u", "i512", "i512"],
    ["OBJECT", "ENCODING", "u"], ["SDIFFSTORE", "u", "i512", "nokey"], ["OBJECT", "ENCODING", "u"],
    ["SMOVE", "i512", "u2", "511"], ["OBJECT", "ENCODING", "u2"], ["OBJECT", "ENCODING", "i512"],
    ["SMOVE", "i512", "u2", "512"], ["OBJECT", "ENCODING", "u2"], ["SMOVE", "s1", "u2", "a"],
    ["OBJECT", "ENCODING", "u2"], ["SMOVE", "s1", "u3", "b"], ["OBJECT", "ENCODING", "u3"],
    ["SADD", "i513"] + INTS[:513], ["OBJECT", "ENCODING", "i513"], ["SUNIONSTORE", "u4", "i513"],
    ["OBJECT", "ENCODING", "u4"], ["SUNIONSTORE", "u5", "i513", "o1"], ["OBJECT", "ENCODING", "u5"],
    ["SADD", "mixed", "a", "1", "2"], ["SUNIONSTORE", "u6", "mixed"], ["OBJECT", "ENCODING", "u6"],
    ["SDIFFSTORE", "u6", "mixed", "s1"], ["OBJECT", "ENCODING", "u6"],
    ["SINTERSTORE", "u6", "mixed", "i513"], ["OBJECT", "ENCODING", "u6"],
    # SPOP of most of a set: what it leaves is a new set (intset if all integers), unlike SPOP of
    # a few, SREM and SRANDMEMBER.
    # (check_spop compares the encoding of what is left before it evens the sets out.)
    ["SADD", "sp1", "a"] + INTS[:10], ["SREM", "sp1", "a"], ["OBJECT", "ENCODING", "sp1"],
    ["SRANDMEMBER", "sp1", "-20"], ["SRANDMEMBER", "sp1", "9"], ["OBJECT", "ENCODING", "sp1"],
    ["SPOP", "sp1", "9"], ["OBJECT", "ENCODING", "sp1"], ["SADD", "sp2", "a"] + INTS[:7],
    ["SREM", "sp2", "a"], ["SPOP", "sp2", "5"], ["OBJECT", "ENCODING", "sp2"],
    ["SADD", "sp3", "a"] + INTS[:7], ["SREM", "sp3", "a"], ["SPOP", "sp3", "6"],
    ["OBJECT", "ENCODING", "sp3"], ["SADD", "sp4"] + ["m%d" % n for n in range(12)],
    ["SPOP", "sp4", "10"], ["OBJECT", "ENCODING", "sp4"], ["SADD", "sp5"] + INTS[:12],
    ["SPOP", "sp5", "11"], ["OBJECT", "ENCODING", "sp5"], ["SPOP", "sp5"],
    ["OBJECT", "ENCODING", "sp5"], ["SADD", "sp6", "a"] + INTS[:10], ["SPOP", "sp6", "10"],
    ["SADD", "sp7", "a"] + INTS[:10], ["SREM", "sp7", "a"], ["SPOP", "sp7", "3"],
    ["OBJECT", "ENCODING", "sp7"],
    # (At the edge: it keeps 2 of 12 after popping 10, 3 of 13 after popping 10.)
    ["SADD", "sp8", "a"] + INTS[:12], ["SREM", "sp8", "a"], ["SPOP", "sp8", "10"],
    ["SADD", "sp9", "a"] + INTS[:13], ["SREM", "sp9", "a"], ["SPOP", "sp9", "10"],
    # A big set (600: a hashtable, scanned in pages).
    ["SADD", "big"] + INTS, ["SCARD", "big"], ["OBJECT", "ENCODING", "big"], ["SSCAN", "big", "0"],
    ["SSCAN", "big", "0", "COUNT", "7"], ["SSCAN", "big", "0", "MATCH", "1*"],
    ["SSCAN", "big", "0", "MATCH", "*9", "COUNT", "1000"], ["SMEMBERS", "big"],
    ["SISMEMBER", "big", "599"], ["SMISMEMBER", "big", "0", "600", "-1", "300"],
    ["SRANDMEMBER", "big"], ["SRANDMEMBER", "big", "5"], ["SRANDMEMBER", "big", "-5"],
    ["SRANDMEMBER", "big", "450"], ["SRANDMEMBER", "big", "1000"], ["SRANDMEMBER", "big", "-700"],
    ["SINTER", "big", "i513"], ["SINTERCARD", "2", "big", "i513"],
    ["SINTERCARD", "2", "big", "i513", "LIMIT", "100"], ["SDIFF", "big", "i513"],
    ["SUNION", "big", "s1"], ["SPOP", "big"], ["SPOP", "big", "10"], ["SCARD", "big"],
    ["OBJECT", "ENCODING", "big"], ["SPOP", "big", "1000"], ["EXISTS", "big"],
    ["SADD", "big"] + INTS, ["SPOP", "big", "400"], ["SCARD", "big"],
    ["OBJECT", "ENCODING", "big"], ["DEL", "big"], ["SADD", "big"] + INTS,
    ["SPOP", "big", "590"], ["SCARD", "big"], ["OBJECT", "ENCODING", "big"],
    # Sets and expiry (writes keep the time; a set emptied takes it along), RENAME, RENAMENX,
    # COPY (a copy is a set of its own, with the time and the encoding).
    ["FLUSHALL"], ["SADD", "es", "a", "b"], ["EXPIREAT", "es", "3000000000"], ["EXPIRETIME", "es"],
    ["TTL", "es"], ["SADD", "es", "c"], ["SREM", "es", "c"], ["SMOVE", "es", "es", "a"],
    ["SMOVE", "other", "es", "a"], ["SADD", "src", "z"], ["SMOVE", "src", "es", "z"],
    ["EXPIRETIME", "es"], ["PERSIST", "es"], ["TTL", "es"], ["PERSIST", "es"],
    ["EXPIRE", "es", "100"],
    ["TTL", "es"], ["PEXPIREAT", "es", "4000000000000"], ["SPOP", "es", "0"],
    ["RENAME", "es", "es"], ["RENAME", "es", "es2"], ["PEXPIRETIME", "es2"], ["TYPE", "es"],
    ["SMEMBERS", "es2"], ["COPY", "es2", "es2"], ["COPY", "es2", "es3"], ["PEXPIRETIME", "es3"],
    ["SADD", "es3", "changed"], ["SMEMBERS", "es2"], ["SMEMBERS", "es3"],
    ["RENAMENX", "es2", "es3"], ["SET", "str", "v"], ["RENAMENX", "es2", "str"],
    ["COPY", "es2", "str"], ["COPY", "es2", "str", "REPLACE"], ["TYPE", "str"], ["SMEMBERS", "str"],
    ["PEXPIRETIME", "str"], ["RENAME", "str", "es3"], ["SMEMBERS", "es3"], ["SET", "s2", "x"],
    ["RENAME", "s2", "es3"], ["TYPE", "es3"], ["GET", "es3"], ["HSET", "hh", "a", "1"],
    ["COPY", "hh", "es2", "REPLACE"], ["TYPE", "es2"], ["SADD", "es4", "1"],
    ["RENAMENX", "es4", "es5"], ["SMEMBERS", "es5"], ["COPY", "es5", "es6"],
    ["OBJECT", "ENCODING", "es6"], ["SADD", "es6", "x"], ["COPY", "es6", "es7"],
    ["OBJECT", "ENCODING", "es7"], ["SREM", "es7", "x"], ["COPY", "es7", "es8"],
    ["OBJECT", "ENCODING", "es8"], ["EXPIREAT", "es5", "1"], ["EXISTS", "es5"],
    ["SMEMBERS", "es5"], ["SADD", "es9", "a"], ["PEXPIRE", "es9", "-1"], ["TYPE", "es9"],
    ["SADD", "es9", "a"], ["PEXPIREAT", "es9", "3000000000000"], ["SPOP", "es9"],
    ["SADD", "es9", "b"], ["PEXPIRETIME", "es9"], ["SADD", "es10", "a"],
    ["DEL", "es10", "es10", "nokey"],
    ["SADD", "es11", "a"], ["UNLINK", "es11"], ["TOUCH", "es6", "es7", "nokey"],
    ["EXISTS", "es10", "es11"],
    # WRONGTYPE: string, hash and list commands on a set (MGET answers nil for it; SET replaces
    # it, SET ... GET refuses, SETNX and MSETNX find it).
    ["SADD", "ws", "a", "b"], ["GET", "ws"], ["MGET", "ws", "nokey"], ["APPEND", "ws", "x"],
    ["INCR", "ws"], ["INCRBYFLOAT", "ws", "1"], ["STRLEN", "ws"], ["GETRANGE", "ws", "0", "1"],
    ["SETRANGE", "ws", "0", "x"], ["GETSET", "ws", "x"], ["GETDEL", "ws"], ["GETEX", "ws"],
    ["SETBIT", "ws", "0", "1"], ["GETBIT", "ws", "0"], ["BITCOUNT", "ws"], ["HGET", "ws", "a"],
    ["HSET", "ws", "a", "1"], ["HGETALL", "ws"], ["HLEN", "ws"], ["HSCAN", "ws", "0"],
    ["HRANDFIELD", "ws"], ["LPUSH", "ws", "a"], ["LRANGE", "ws", "0", "-1"], ["LLEN", "ws"],
    ["LPOP", "ws"], ["BLPOP", "ws", "0"], ["LMOVE", "ws", "l", "LEFT", "LEFT"],
    ["RPUSH", "l", "a"], ["LMOVE", "l", "ws", "LEFT", "LEFT"], ["RPOPLPUSH", "l", "ws"],
    ["BLMOVE", "l", "ws", "LEFT", "LEFT", "0"], ["LRANGE", "l", "0", "-1"],
    ["SET", "ws", "v", "GET"], ["SETNX", "ws", "v"], ["MSETNX", "ws", "v", "other", "w"],
    ["EXISTS", "other"], ["SET", "ws", "v", "NX"], ["SMEMBERS", "ws"], ["TYPE", "ws"],
    ["OBJECT", "ENCODING", "ws"], ["SET", "ws", "v", "XX"], ["TYPE", "ws"], ["GET", "ws"],
    ["SADD", "ws2", "a"], ["MSET", "ws2", "v"], ["GET", "ws2"], ["SADD", "ws3", "a"],
    ["SETEX", "ws3", "100", "v"], ["GET", "ws3"],
    # WRONGTYPE: set commands on a string, a hash, a list (an argument error first where
    # redis-server checks the argument before the key).
    ["SET", "st", "v"], ["HSET", "ht", "f", "v"], ["RPUSH", "lt", "x"], ["SADD", "st", "a"],
    ["SADD", "ht", "a"], ["SADD", "lt", "a"], ["SREM", "st", "a"], ["SMEMBERS", "ht"],
    ["SISMEMBER", "lt", "a"], ["SMISMEMBER", "st", "a"], ["SCARD", "ht"], ["SPOP", "lt"],
    ["SPOP", "st", "1"], ["SPOP", "st", "0"], ["SPOP", "st", "x"], ["SPOP", "ht", "-1"],
    ["SRANDMEMBER", "lt"], ["SRANDMEMBER", "st", "1"], ["SRANDMEMBER", "st", "0"],
    ["SRANDMEMBER", "st", "x"], ["SRANDMEMBER", "ht", "-1", "x"], ["SSCAN", "st", "0"],
    ["SSCAN", "ht", "x"], ["SSCAN", "lt", "0", "COUNT", "0"], ["SADD", "set", "a", "b"],
    ["SMOVE", "st", "set", "a"], ["SMOVE", "set", "st", "a"], ["SMOVE", "set", "ht", "zz"],
    ["SMOVE", "set", "lt", "b"], ["SMOVE", "nokey", "st", "a"], ["SMOVE", "st", "st", "a"],
    ["SMOVE", "st", "nokey", "a"], ["SMEMBERS", "set"], ["SINTER", "st"], ["SINTER", "set", "st"],
    ["SINTER", "nokey", "ht"], ["SINTER", "ht", "nokey"], ["SUNION", "set", "lt"],
    ["SUNION", "nokey", "st", "lt"], ["SDIFF", "nokey", "st"], ["SDIFF", "set", "ht"],
    ["SINTERSTORE", "d", "set", "st"], ["SUNIONSTORE", "d", "nokey", "ht"],
    ["SDIFFSTORE", "d", "lt"], ["EXISTS", "d"], ["SADD", "d", "keep"],
    ["SINTERSTORE", "d", "nokey", "st"], ["SMEMBERS", "d"], ["SINTERCARD", "1", "st"],
    ["SINTERCARD", "2", "nokey", "lt"], ["SINTERCARD", "2", "set", "ht", "LIMIT", "1"],
    ["SINTERCARD", "1", "st", "LIMIT", "-1"], ["SINTERCARD", "0", "st"], ["GET", "st"],
    ["HGETALL", "ht"], ["LRANGE", "lt", "0", "-1"],
    # The key space with sets: KEYS, SCAN (TYPE set, any case), DBSIZE, FLUSHALL.
    ["FLUSHALL"], ["SADD", "s1", "a"], ["SADD", "s2", "1"], ["SET", "k", "v"],
    ["HSET", "h", "f", "v"],
    ["RPUSH", "l", "x"], ["KEYS", "*"], ["KEYS", "s?"], ["SCAN", "0"], ["SCAN", "0", "TYPE", "set"],
    ["SCAN", "0", "TYPE", "SET"], ["SCAN", "0", "TYPE", "string"], ["SCAN", "0", "TYPE", "list"],
    ["SCAN", "0", "MATCH", "s*", "TYPE", "set"], ["SCAN", "0", "MATCH", "h*", "TYPE", "set"],
    ["SCAN", "0", "COUNT", "1", "TYPE", "set"], ["DBSIZE"], ["FLUSHALL"], ["DBSIZE"],
    ["SMEMBERS", "s1"], ["SCAN", "0", "TYPE", "set"],
    # Queued in a transaction, answered by EXEC (WRONGTYPE at run time does not stop it; random
    # replies compared by their size); a wrong arity while queuing aborts it.
    ["MULTI"], ["SADD", "t", "a", "b", "c", "1"], ["SADD", "t", "a"], ["SREM", "t", "1", "x"],
    ["SMEMBERS", "t"], ["SCARD", "t"], ["SISMEMBER", "t", "a"], ["SMISMEMBER", "t", "a", "z"],
    ["SRANDMEMBER", "t"], ["SRANDMEMBER", "t", "2"], ["SRANDMEMBER", "t", "-5"],
    ["SSCAN", "t", "0"], ["SMOVE", "t", "t2", "a"], ["SINTER", "t", "t2"], ["SUNION", "t", "t2"],
    ["SDIFF", "t", "t2"], ["SUNIONSTORE", "t3", "t", "t2"], ["SINTERCARD", "2", "t3", "t"],
    ["SET", "t4", "v"], ["SADD", "t4", "x"], ["SINTER", "t", "t4"], ["OBJECT", "ENCODING", "t2"],
    ["TYPE", "t3"], ["SCAN", "0", "TYPE", "set"], ["SPOP", "t", "0"], ["SPOP", "t2", "5"],
    ["SPOP", "nokey"], ["SPOP", "t", "x"], ["EXISTS", "t2"], ["EXEC"],
    ["SMEMBERS", "t"], ["SMEMBERS", "t3"],
    ["MULTI"], ["SADD", "t5", "a"], ["SADD", "t5"], ["SMEMBERS", "t5"], ["EXEC"], ["EXISTS", "t5"],
    ["MULTI"], ["SADD", "t6", "x"], ["DISCARD"], ["EXISTS", "t6"],
]

# Sorted sets: every Z command (ZRANDMEMBER, ZUNION ZINTER ZDIFF ZDIFFSTORE ZINTERCARD ZMPOP and
# BZMPOP aside), its wrong arities and argument errors, checked before the key is read where
# redis-server does so (every score, bound, index, count, numkeys, WEIGHTS, AGGREGATE and option
# word; ZSCAN's cursor; ZSCAN's options after it, and not at all for a missing key); ZADD's NX XX
# GT LT CH INCR and their refused combinations ("XX and NX options at the same time are not
# compatible", "GT, LT, and/or NX options at the same time are not compatible", "INCR option
# supports a single increment-element pair"), an odd pair ("syntax error"), scores that are not
# floats ("value is not a valid float": nan, "", " 1", "1 ", 1e400; but inf, -inf, +inf,
# "infinity", 0x10, 1e-320 are scores), an INCR or ZINCRBY whose result is NaN ("resulting score
# is not a number (NaN)"), an INCR that GT, LT, NX or XX refuse (nil); scores answered as
# redis-server's %.17g (1.1 is 1.1000000000000001, 1e20 1e+20, 1e17 1e+17, inf, -inf), but ZSCAN
# of a listpack answers an integral score in 64 bits in full (1e17 is 100000000000000000) and a
# listpack keeps no -0 (ZSCORE "0"), a skiplist does ("-0"); members of equal scores in byte
# order, the empty member, binary members; ranges by index (negative, out of range), by score
# ("(" exclusive, -inf +inf; a bound is strtod's: " 1", "(", "" and 1e400 are bounds, nan and
# "1x" not) and by lex ("[" "(" "-" "+"; only over members of one score, as redis-server
# documents), REV, LIMIT (a negative count: all the rest; a negative offset: nothing), LIMIT
# without BYSCORE or BYLEX and WITHSCORES with BYLEX refused; ZRANK has no WITHSCORE in 7.0 (a
# wrong arity); the STORE forms (ZRANGESTORE ZUNIONSTORE ZINTERSTORE) replace a destination of any
# type (its time gone) or delete it when the result is empty, take plain sets as inputs (each
# member scored 1), WEIGHTS (inf times 0 and inf minus inf are 0) and AGGREGATE SUM MIN MAX, the
# destination among the sources; a zset emptied by ZREM, ZPOPMIN, ZPOPMAX or a ZREMRANGEBY* is
# gone; zsets under the generic commands (TYPE zset, EXISTS, DEL, expiry, RENAME, COPY, SCAN TYPE
# zset, KEYS, DBSIZE); WRONGTYPE both ways; Z commands inside MULTI; BZPOPMIN and BZPOPMAX where
# they do not block (a zset with members, inside MULTI: *-1) or block for 0.01 s (then *-1).
# OBJECT ENCODING: listpack while there are at most 128 members, each at most 64 bytes; skiplist
# once a write went past that, for good (ZREM and ZPOP leave it a skiplist, COPY and RENAME keep
# it); a STORE form's result starts again as a listpack where it fits one. Keyspace hits and misses
# (the end of main compares them): ZSCORE ZMSCORE ZCARD ZCOUNT ZLEXCOUNT ZRANK ZREVRANK ZSCAN and
# the ZRANGE family read their key, ZRANGESTORE its source, ZUNIONSTORE and ZINTERSTORE each source
# in order up to the first that is neither a zset nor a set, that one included (a missing one a
# miss); ZADD ZINCRBY ZREM ZREMRANGEBY* ZPOPMIN ZPOPMAX and BZPOP* count nothing.
# ZSCAN is compared as the whole iteration, its member-score pairs sorted; everything else exactly.
ZBIG = [x for n in range(200) for x in (str(n), "m%03d" % n)]  # 200 members: a skiplist
ZLEX = [x for n in range(200) for x in ("0", "m%03d" % n)]  # 200 of score 0: lex ranges
Z65 = "y" * 65
ZSET_SCRIPT = [
    ["FLUSHALL"],
    # Wrong arities (ZRANK and ZREVRANK take no WITHSCORE in redis-server 7.0).
    ["ZADD"], ["ZADD", "z"], ["ZADD", "z", "1"], ["ZREM", "z"], ["ZSCORE", "z"],
    ["ZSCORE", "z", "a", "b"], ["ZMSCORE", "z"], ["ZINCRBY", "z", "1"],
    ["ZINCRBY", "z", "1", "a", "b"], ["ZCARD"], ["ZCARD", "z", "x"], ["ZCOUNT", "z", "0"],
    ["ZCOUNT", "z", "0", "1", "2"], ["ZLEXCOUNT", "z", "-"], ["ZRANK", "z"],
    ["ZRANK", "z", "a", "WITHSCORE"], ["ZREVRANK", "z", "a", "WITHSCORE"], ["ZREVRANK", "z"],
    ["ZRANGE", "z", "0"], ["ZRANGEBYSCORE", "z", "0"], ["ZREVRANGEBYSCORE", "z", "0"],
    ["ZRANGEBYLEX", "z", "-"], ["ZREVRANGEBYLEX", "z", "+"], ["ZREVRANGE", "z", "0"],
    ["ZREMRANGEBYSCORE", "z", "0"], ["ZREMRANGEBYRANK", "z", "0"], ["ZREMRANGEBYLEX", "z", "-"],
    ["ZREMRANGEBYSCORE", "z", "0", "1", "2"], ["ZPOPMIN"], ["ZPOPMAX"], ["ZRANGESTORE", "d", "z"],
    ["ZRANGESTORE", "d", "z", "0"], ["ZUNIONSTORE", "d"], ["ZUNIONSTORE", "d", "1"],
    ["ZINTERSTORE", "d", "1"], ["ZSCAN", "z"], ["ZSCAN"], ["BZPOPMIN", "z"], ["BZPOPMAX"],
    # A missing key: an empty zset (ZSCORE and the ranks nil, ZMSCORE nils, the pops *0).
    ["ZCARD", "z"], ["ZSCORE", "z", "a"], ["ZMSCORE", "z", "a", "b"], ["ZRANK", "z", "a"],
    ["ZREVRANK", "z", "a"], ["ZCOUNT", "z", "-inf", "+inf"], ["ZLEXCOUNT", "z", "-", "+"],
    ["ZRANGE", "z", "0", "-1"], ["ZRANGE", "z", "0", "-1", "WITHSCORES"],
    ["ZRANGE", "z", "-inf", "+inf", "BYSCORE"], ["ZRANGE", "z", "-", "+", "BYLEX"],
    ["ZRANGEBYSCORE", "z", "-inf", "+inf"], ["ZREVRANGEBYSCORE", "z", "+inf", "-inf"],
    ["ZRANGEBYLEX", "z", "-", "+"], ["ZREVRANGEBYLEX", "z", "+", "-"],
    ["ZREVRANGE", "z", "0", "-1"], ["ZREM", "z", "a"], ["ZREMRANGEBYSCORE", "z", "-inf", "+inf"],
    ["ZREMRANGEBYRANK", "z", "0", "-1"], ["ZREMRANGEBYLEX", "z", "-", "+"], ["ZPOPMIN", "z"],
    ["ZPOPMAX", "z"], ["ZPOPMIN", "z", "0"], ["ZPOPMAX", "z", "3"],
    ["ZRANGESTORE", "d", "z", "0", "-1"], ["ZUNIONSTORE", "d", "1", "z"],
    ["ZINTERSTORE", "d", "2", "z", "z2"], ["ZSCAN", "z", "0"], ["ZSCAN", "z", "5"],
    ["ZSCAN", "z", "0", "COUNT", "0"], ["ZSCAN", "z", "0", "FOO"], ["TYPE", "z"],
    ["OBJECT", "ENCODING", "z"], ["EXISTS", "z", "d"], ["DBSIZE"],
    # Argument errors, checked before the key (a missing one here): scores, bounds, indexes,
    # counts, numkeys, WEIGHTS, AGGREGATE, the option words; ZSCAN's cursor.
    ["ZADD", "z", "x", "a"], ["ZADD", "z", "nan", "a"], ["ZADD", "z", "", "a"],
    ["ZADD", "z", " 1", "a"], ["ZADD", "z", "1 ", "a"], ["ZADD", "z", "1e400", "a"],
    ["ZADD", "z", "-1e400", "a"], ["ZADD", "z", "1", "a", "2"], ["ZADD", "z", "1", "a", "x", "b"],
    ["ZADD", "z", "NX", "XX", "1", "a"], ["ZADD", "z", "GT", "LT", "1", "a"],
    ["ZADD", "z", "NX", "GT", "1", "a"], ["ZADD", "z", "LT", "NX", "1", "a"],
    ["ZADD", "z", "INCR", "1", "a", "2", "b"], ["ZADD", "z", "NX"], ["ZADD", "z", "NX", "1"],
    ["ZADD", "z", "CH", "INCR"], ["ZADD", "z", "FOO", "1", "a"], ["ZADD", "z", "1", "a", "NX"],
    ["ZADD", "z", "XX", "NX", "GT", "1", "a"], ["ZADD", "z", "INCR", "x", "a"],
    ["ZINCRBY", "z", "x", "a"], ["ZINCRBY", "z", "nan", "a"], ["ZINCRBY", "z", "", "a"],
    ["ZINCRBY", "z", "1e400", "a"], ["ZCOUNT", "z", "x", "1"], ["ZCOUNT", "z", "0", "nan"],
    ["ZCOUNT", "z", "(x", "1"], ["ZCOUNT", "z", "((1", "2"], ["ZCOUNT", "z", "[1", "2"],
    ["ZCOUNT", "z", "1x", "2"], ["ZCOUNT", "z", "(nan", "2"], ["ZLEXCOUNT", "z", "a", "+"],
    ["ZLEXCOUNT", "z", "-", "b"], ["ZLEXCOUNT", "z", "", "+"], ["ZLEXCOUNT", "z", "--", "+"],
    ["ZRANGE", "z", "x", "1"], ["ZRANGE", "z", "0", "1.5"], ["ZRANGE", "z", "0", ""],
    ["ZRANGE", "z", "0", "9223372036854775808"], ["ZRANGE", "z", "a", "b", "BYSCORE"],
    ["ZRANGE", "z", "a", "b", "BYLEX"], ["ZRANGE", "z", "0", "1", "LIMIT", "0", "1"],
    ["ZRANGE", "z", "-", "+", "BYLEX", "WITHSCORES"], ["ZRANGE", "z", "0", "1", "FOO"],
    ["ZRANGE", "z", "0", "1", "BYSCORE", "BYLEX"],
    ["ZRANGE", "z", "0", "1", "BYSCORE", "LIMIT", "0"],
    ["ZRANGE", "z", "0", "1", "BYSCORE", "LIMIT", "x", "1"],
    ["ZRANGE", "z", "0", "1", "BYSCORE", "LIMIT", "0", "x"],
    ["ZRANGE", "z", "0", "1", "REV", "REV"], ["ZRANGE", "z", "0", "1", "WITHSCORES", "WITHSCORES"],
    ["ZRANGE", "z", "0", "1", "BYSCORE", "LIMIT", "0", "1", "LIMIT", "1", "1"],
    ["ZRANGE", "z", "0", "1", "BYLEX"], ["ZRANGEBYSCORE", "z", "x", "1"],
    ["ZRANGEBYSCORE", "z", "0", "1", "LIMIT", "x", "1"], ["ZRANGEBYSCORE", "z", "0", "1", "LIMIT"],
    ["ZRANGEBYSCORE", "z", "0", "1", "WITHSCORES", "FOO"],
    ["ZRANGEBYSCORE", "z", "0", "1", "BYLEX"], ["ZRANGEBYSCORE", "z", "0", "1", "REV"],
    ["ZREVRANGEBYSCORE", "z", "1", "x"], ["ZRANGEBYLEX", "z", "a", "+"],
    ["ZRANGEBYLEX", "z", "-", "+", "WITHSCORES"], ["ZRANGEBYLEX", "z", "-", "+", "LIMIT", "0"],
    ["ZREVRANGEBYLEX", "z", "-", "+"], ["ZREVRANGEBYLEX", "z", "+", "a"],
    ["ZREVRANGE", "z", "0", "1", "LIMIT", "0", "1"], ["ZREVRANGE", "z", "0", "1", "REV"],
    ["ZREVRANGE", "z", "x", "1"], ["ZREVRANGE", "z", "0", "1", "WITHSCORES"],
    ["ZREMRANGEBYRANK", "z", "x", "1"], ["ZREMRANGEBYRANK", "z", "0", "1.0"],
    ["ZREMRANGEBYSCORE", "z", "x", "1"], ["ZREMRANGEBYLEX", "z", "x", "+"], ["ZPOPMIN", "z", "x"],
    ["ZPOPMIN", "z", "-1"], ["ZPOPMAX", "z", "1.5"], ["ZPOPMIN", "z", "1", "2"],
    ["ZPOPMAX", "z", ""], ["ZPOPMIN", "z", "9223372036854775808"],
    ["ZPOPMIN", "z", "9223372036854775807"], ["ZRANGESTORE", "d", "z", "0", "1", "WITHSCORES"],
    ["ZRANGESTORE", "d", "z", "x", "1"], ["ZRANGESTORE", "d", "z", "0", "1", "LIMIT", "0", "1"],
    ["ZRANGESTORE", "d", "z", "a", "b", "BYLEX"],
    ["ZRANGESTORE", "d", "z", "0", "1", "BYSCORE", "LIMIT", "0", "1"],
    ["ZUNIONSTORE", "d", "0", "z"], ["ZUNIONSTORE", "d", "-1", "z"], ["ZUNIONSTORE", "d", "x", "z"],
    ["ZUNIONSTORE", "d", "2", "z"], ["ZINTERSTORE", "d", "0", "z"],
    ["ZINTERSTORE", "d", "3", "z", "a"], ["ZUNIONSTORE", "d", "1", "z", "WEIGHTS"],
    ["ZUNIONSTORE", "d", "1", "z", "WEIGHTS", "1", "2"],
    ["ZUNIONSTORE", "d", "1", "z", "WEIGHTS", "x"],
    ["ZUNIONSTORE", "d", "1", "z", "WEIGHTS", "nan"],
    ["ZUNIONSTORE", "d", "2", "z", "z2", "WEIGHTS", "1"],
    ["ZUNIONSTORE", "d", "1", "z", "AGGREGATE"], ["ZUNIONSTORE", "d", "1", "z", "AGGREGATE", "foo"],
    ["ZINTERSTORE", "d", "1", "z", "FOO"], ["ZUNIONSTORE", "d", "1", "z", "WITHSCORES"],
    ["ZINTERSTORE", "d", "1", "z", "LIMIT", "1"], ["ZUNIONSTORE", "d", "9223372036854775807", "z"],
    ["ZUNIONSTORE", "d", "01", "z"], ["ZSCAN", "z", "x"], ["ZSCAN", "z", "-1"],
    ["ZSCAN", "z", "18446744073709551616"], ["EXISTS", "z", "d"],
    # ZADD counts the members added (a member twice: the last score); CH counts the changed too;
    # NX only adds, XX only updates, GT and LT update only upwards or downwards (and add); INCR
    # answers the new score, or nil when an option refused it.
    ["ZADD", "z", "1", "a", "2", "b", "3", "c", "4", "a"], ["ZRANGE", "z", "0", "-1", "WITHSCORES"],
    ["ZADD", "z", "1", "a"], ["ZADD", "z", "CH", "4", "a"], ["ZADD", "z", "CH", "1", "a", "5", "d"],
    ["ZADD", "z", "ch", "1", "a"], ["ZADD", "z", "NX", "9", "a", "6", "e"],
    ["ZADD", "z", "XX", "9", "b", "7", "f"], ["ZADD", "z", "XX", "CH", "10", "b", "7", "f"],
    ["ZADD", "z", "GT", "CH", "1", "c", "20", "d", "8", "g"], ["ZADD", "z", "LT", "CH", "30", "d"],
    ["ZADD", "z", "LT", "CH", "0", "d"], ["ZADD", "z", "gt", "lt", "1", "a"],
    ["ZADD", "z", "XX", "GT", "CH", "5", "a", "5", "zz"], ["ZADD", "z", "NX", "CH", "1", "a"],
    ["ZADD", "z", "XX", "5", "zz"], ["ZSCORE", "z", "zz"], ["ZRANGE", "z", "0", "-1", "WITHSCORES"],
    ["ZADD", "z", "INCR", "1", "a"], ["ZADD", "z", "INCR", "-1.5", "new"],
    ["ZADD", "z", "XX", "INCR", "1", "zz"], ["ZADD", "z", "NX", "INCR", "1", "a"],
    ["ZADD", "z", "NX", "INCR", "1", "zz"], ["ZADD", "z", "GT", "INCR", "-1", "a"],
    ["ZADD", "z", "GT", "INCR", "1", "a"], ["ZADD", "z", "LT", "INCR", "1", "a"],
    ["ZADD", "z", "LT", "INCR", "-10", "a"], ["ZADD", "z", "CH", "INCR", "0", "a"],
    ["ZADD", "z", "INCR", "CH", "XX", "2", "b"], ["ZADD", "z", "GT", "INCR", "1", "gtnew"],
    ["ZREM", "z", "zz", "gtnew"], ["ZCARD", "z"], ["TYPE", "z"], ["OBJECT", "ENCODING", "z"],
    ["EXISTS", "z"], ["KEYS", "*"], ["DBSIZE"],
    # Scores: floats as strtod reads them, answered as redis-server's %.17g; inf and -inf sort
    # first and last; members of one score in byte order.
    ["ZADD", "f", "inf", "pinf", "-inf", "ninf", "+inf", "pinf2", "Infinity", "pinf3",
     "-INF", "ninf2", "1.1", "a", "0.30000000000000004", "b", "1e20", "c", "1e-5", "d",
     "123456789012345678", "e", "1.5e300", "f", "1e3", "g", "0x10", "h", "+5", "i", ".5", "j",
     "5.", "k", "-.5", "l", "1E2", "m", "1e-320", "n", "3.0000000000000000001", "o",
     "-1.23456789012345678", "p", "1e17", "q", "0.1", "r", "4503599627370496", "s",
     "9007199254740993", "t", "9223372036854775807", "u", "1e19", "v"],
    ["ZRANGE", "f", "0", "-1", "WITHSCORES"], ["ZREVRANGE", "f", "0", "-1", "WITHSCORES"],
    ["ZSCORE", "f", "a"], ["ZSCORE", "f", "n"], ["ZSCORE", "f", "pinf"], ["ZSCORE", "f", "ninf"],
    ["ZMSCORE", "f", "a", "b", "nope", "c", "q", "u"], ["ZINCRBY", "f", "0.1", "r"],
    ["ZINCRBY", "f", "0.2", "r"], ["ZADD", "f", "INCR", "0.1", "r"], ["ZINCRBY", "f", "-0.4", "r"],
    ["ZINCRBY", "f", "1e308", "v"], ["ZINCRBY", "f", "1e308", "v"], ["ZINCRBY", "f", "1e308", "v"],
    ["ZRANK", "f", "v"], ["ZINCRBY", "f", "-inf", "pinf"], ["ZADD", "f", "INCR", "inf", "ninf"],
    ["ZINCRBY", "f", "inf", "pinf"], ["ZINCRBY", "f", "5", "pinf"],
    ["ZINCRBY", "f", "-inf", "ninf"],
    ["ZSCORE", "f", "pinf"], ["ZINCRBY", "f", "1", "fresh"], ["ZINCRBY", "f", "-1e-320", "n"],
    ["ZCOUNT", "f", "-inf", "+inf"], ["ZCOUNT", "f", "(-inf", "(+inf"],
    ["ZCOUNT", "f", "inf", "inf"],
    ["ZCOUNT", "f", "(inf", "+inf"], ["ZCOUNT", "f", "-inf", "(-inf"], ["ZCOUNT", "f", "0", "1"],
    ["ZCOUNT", "f", "(0.1", "1.1"], ["ZCOUNT", "f", "(0.1", "(1.1"], ["ZCOUNT", "f", "1.1", "0.1"],
    ["ZCOUNT", "f", "(5", "5"], ["ZCOUNT", "f", "5", "5"],
    # Score bounds are strtod's: leading spaces, "(" alone (0), "" (0), 1e400 (inf), hex.
    ["ZCOUNT", "f", " 1", "100"], ["ZCOUNT", "f", "(", "100"], ["ZCOUNT", "f", "", "100"],
    ["ZCOUNT", "f", "1e400", "+inf"], ["ZCOUNT", "f", "-1e400", "0x10"],
    ["ZCOUNT", "f", "-inf", "1 "], ["ZCOUNT", "f", "(1e-320", "1"],
    ["ZRANGEBYSCORE", "f", "( 5", "+inf"], ["ZRANGE", "f", "0", "-1", "WITHSCORES"],
    # A listpack keeps no -0 (ZSCORE "0"), a skiplist does ("-0"); -0 and 0 are the same score.
    ["ZADD", "nz", "-0", "a"], ["ZSCORE", "nz", "a"], ["ZADD", "nz", "CH", "0", "a"],
    ["ZINCRBY", "nz", "-0", "a"], ["ZRANGEBYSCORE", "nz", "-0", "0"],
    ["ZRANGEBYSCORE", "nz", "(-0", "0"], ["ZADD", "nz", "-0", Z65], ["OBJECT", "ENCODING", "nz"],
    ["ZSCORE", "nz", Z65], ["ZADD", "nz", "-0", "b"], ["ZSCORE", "nz", "b"],
    ["ZRANGE", "nz", "0", "-1", "WITHSCORES"], ["ZSCAN", "nz", "0"], ["ZINCRBY", "nz", "-0", "b"],
    ["ZPOPMIN", "nz"], ["ZADD", "nz2", "0.5", "a"], ["ZINCRBY", "nz2", "-0.5", "a"],
    ["ZSCORE", "nz2", "a"],
    # ZSCAN of a listpack answers an integral score in 64 bits in full; a skiplist's as ZSCORE.
    ["ZADD", "zs", "1e17", "a", "123456789012345678", "b", "1e18", "c", "-1e18", "d",
     "9223372036854775807", "e", "1e19", "f", "1.5", "g", "4503599627370497", "h"],
    ["ZSCAN", "zs", "0"], ["ZRANGE", "zs", "0", "-1", "WITHSCORES"], ["COPY", "zs", "zs2"],
    ["ZADD", "zs2", "0", Z65], ["ZSCAN", "zs2", "0"],
    # Equal scores: ordered by member bytes (the empty member first, \x00 before a, a before b).
    ["ZADD", "eq", "1", "b", "1", "a", "1", "", "1", b"\x00\xff", "1", "ab", "1", "B", "0", "z",
     "2", "\x00", "1", b"\xff"],
    ["ZRANGE", "eq", "0", "-1", "WITHSCORES"], ["ZREVRANGE", "eq", "0", "-1"], ["ZRANK", "eq", ""],
    ["ZRANK", "eq", b"\xff"], ["ZREVRANK", "eq", "ab"], ["ZSCORE", "eq", ""],
    ["ZMSCORE", "eq", "", b"\x00\xff", "\x00"], ["ZRANGEBYSCORE", "eq", "1", "1"],
    ["ZRANGEBYSCORE", "eq", "1", "1", "LIMIT", "2", "3"],
    ["ZREVRANGEBYSCORE", "eq", "1", "1", "LIMIT", "2", "3"],
    # ZRANK ZREVRANK ZCARD.
    ["ZRANK", "z", "a"], ["ZRANK", "z", "b"], ["ZRANK", "z", "nope"], ["ZREVRANK", "z", "a"],
    ["ZREVRANK", "z", "nope"], ["ZCARD", "z"], ["ZCARD", "eq"],
    # ZRANGE by index: negative from the end, out of range clamped, an empty range.
    ["ZADD", "r", "1", "a", "2", "b", "3", "c", "4", "d", "5", "e", "6", "f"],
    ["ZRANGE", "r", "0", "0"], ["ZRANGE", "r", "-1", "-1"], ["ZRANGE", "r", "-3", "-1"],
    ["ZRANGE", "r", "2", "4", "WITHSCORES"], ["ZRANGE", "r", "-100", "100"],
    ["ZRANGE", "r", "5", "100"], ["ZRANGE", "r", "6", "9"], ["ZRANGE", "r", "3", "2"],
    ["ZRANGE", "r", "-1", "-2"], ["ZRANGE", "r", "0", "-100"],
    ["ZRANGE", "r", "0", "9223372036854775807"], ["ZRANGE", "r", "-9223372036854775808", "0"],
    ["ZRANGE", "r", "0", "-1", "REV"], ["ZRANGE", "r", "0", "1", "REV", "WITHSCORES"],
    ["ZRANGE", "r", "-2", "-1", "rev"], ["ZRANGE", "r", "1", "3", "withscores", "rev"],
    ["ZREVRANGE", "r", "0", "1"], ["ZREVRANGE", "r", "-2", "-1", "WITHSCORES"],
    ["ZREVRANGE", "r", "4", "100"], ["ZREVRANGE", "r", "3", "1"],
    # ZRANGE BYSCORE (REV takes max first), LIMIT offset count (a negative count: the rest; a
    # negative offset: nothing), WITHSCORES; the old forms.
    ["ZRANGE", "r", "2", "4", "BYSCORE"], ["ZRANGE", "r", "(2", "(5", "BYSCORE"],
    ["ZRANGE", "r", "-inf", "+inf", "BYSCORE", "WITHSCORES"],
    ["ZRANGE", "r", "+inf", "-inf", "BYSCORE"], ["ZRANGE", "r", "+inf", "-inf", "BYSCORE", "REV"],
    ["ZRANGE", "r", "4", "2", "BYSCORE", "REV", "WITHSCORES"],
    ["ZRANGE", "r", "(4", "(2", "BYSCORE", "REV"], ["ZRANGE", "r", "2", "4", "BYSCORE", "REV"],
    ["ZRANGE", "r", "-inf", "+inf", "BYSCORE", "LIMIT", "1", "2"],
    ["ZRANGE", "r", "-inf", "+inf", "BYSCORE", "LIMIT", "1", "-1"],
    ["ZRANGE", "r", "-inf", "+inf", "BYSCORE", "LIMIT", "-1", "2"],
    ["ZRANGE", "r", "-inf", "+inf", "BYSCORE", "LIMIT", "0", "0"],
    ["ZRANGE", "r", "-inf", "+inf", "BYSCORE", "LIMIT", "5", "10", "WITHSCORES"],
    ["ZRANGE", "r", "-inf", "+inf", "BYSCORE", "LIMIT", "6", "1"],
    ["ZRANGE", "r", "+inf", "-inf", "BYSCORE", "REV", "LIMIT", "1", "2", "WITHSCORES"],
    ["ZRANGE", "r", "+inf", "-inf", "REV", "BYSCORE", "limit", "2", "-5"],
    ["ZRANGE", "r", "-inf", "+inf", "BYSCORE", "LIMIT", "0", "1", "LIMIT", "3", "1"],
    ["ZRANGE", "r", "-inf", "+inf", "BYSCORE", "LIMIT", "9223372036854775807", "1"],
    ["ZRANGEBYSCORE", "r", "2", "4"], ["ZRANGEBYSCORE", "r", "(2", "4", "WITHSCORES"],
    ["ZRANGEBYSCORE", "r", "-inf", "+inf", "LIMIT", "2", "2"],
    ["ZRANGEBYSCORE", "r", "-inf", "+inf", "WITHSCORES", "LIMIT", "0", "-1"],
    ["ZRANGEBYSCORE", "r", "-inf", "+inf", "LIMIT", "-1", "2"],
    ["ZRANGEBYSCORE", "r", "-inf", "+inf", "LIMIT", "1", "1", "WITHSCORES"],
    ["ZRANGEBYSCORE", "r", "4", "2"], ["ZREVRANGEBYSCORE", "r", "4", "2"],
    ["ZREVRANGEBYSCORE", "r", "2", "4"], ["ZREVRANGEBYSCORE", "r", "+inf", "(4", "WITHSCORES"],
    ["ZREVRANGEBYSCORE", "r", "+inf", "-inf", "LIMIT", "1", "3"],
    ["ZREVRANGEBYSCORE", "r", "+inf", "-inf", "WITHSCORES", "LIMIT", "4", "-1"],
    # Lex ranges (members of one score): [ inclusive, ( exclusive, - and +, "[" and "(" alone
    # (the empty member); REV takes max first; LIMIT.
    ["ZADD", "lx", "0", "a", "0", "b", "0", "c", "0", "d", "0", "e", "0", "", "0", "ab",
     "0", "\x00", "0", b"\xff"],
    ["ZRANGE", "lx", "-", "+", "BYLEX"], ["ZRANGE", "lx", "[b", "[d", "BYLEX"],
    ["ZRANGE", "lx", "(b", "(d", "BYLEX"], ["ZRANGE", "lx", "[a", "(b", "BYLEX"],
    ["ZRANGE", "lx", "-", "(c", "BYLEX"], ["ZRANGE", "lx", "(c", "+", "BYLEX"],
    ["ZRANGE", "lx", "[", "[a", "BYLEX"], ["ZRANGE", "lx", "(", "(a", "BYLEX"],
    ["ZRANGE", "lx", "+", "-", "BYLEX"], ["ZRANGE", "lx", "[d", "[b", "BYLEX"],
    ["ZRANGE", "lx", "+", "-", "BYLEX", "REV"], ["ZRANGE", "lx", "[d", "[b", "BYLEX", "REV"],
    ["ZRANGE", "lx", "-", "+", "BYLEX", "LIMIT", "2", "3"],
    ["ZRANGE", "lx", "+", "-", "BYLEX", "REV", "LIMIT", "1", "-1"],
    ["ZRANGE", "lx", "-", "+", "BYLEX", "LIMIT", "-1", "1"],
    ["ZRANGE", "lx", b"[\xff", "+", "BYLEX"],
    ["ZRANGE", "lx", "-", "[\x00", "BYLEX"], ["ZRANGE", "lx", "(\x00", "(a", "BYLEX"],
    ["ZRANGE", "lx", "[aa", "[b", "BYLEX"], ["ZRANGE", "lx", "-", "-", "BYLEX"],
    ["ZRANGE", "lx", "+", "+", "BYLEX"], ["ZRANGEBYLEX", "lx", "[b", "(e"],
    ["ZRANGEBYLEX", "lx", "-", "+", "LIMIT", "1", "2"], ["ZREVRANGEBYLEX", "lx", "(e", "[b"],
    ["ZREVRANGEBYLEX", "lx", "+", "-", "LIMIT", "0", "3"], ["ZREVRANGEBYLEX", "lx", "[b", "(e"],
    ["ZLEXCOUNT", "lx", "-", "+"], ["ZLEXCOUNT", "lx", "[b", "[d"], ["ZLEXCOUNT", "lx", "(b", "(d"],
    ["ZLEXCOUNT", "lx", "[d", "[b"], ["ZLEXCOUNT", "lx", "[", "("], ["ZLEXCOUNT", "lx", "+", "-"],
    # ZREMRANGEBYSCORE ZREMRANGEBYRANK ZREMRANGEBYLEX: how many removed; an emptied zset is gone.
    ["ZREMRANGEBYSCORE", "r", "(5", "+inf"], ["ZRANGE", "r", "0", "-1"],
    ["ZREMRANGEBYSCORE", "r", "10", "20"], ["ZREMRANGEBYSCORE", "r", "3", "1"],
    ["ZREMRANGEBYRANK", "r", "0", "0"], ["ZREMRANGEBYRANK", "r", "-1", "-1"],
    ["ZREMRANGEBYRANK", "r", "5", "10"], ["ZREMRANGEBYRANK", "r", "2", "1"],
    ["ZRANGE", "r", "0", "-1", "WITHSCORES"], ["ZREMRANGEBYRANK", "r", "-100", "100"],
    ["EXISTS", "r"], ["ZREMRANGEBYLEX", "lx", "[b", "[c"], ["ZREMRANGEBYLEX", "lx", "(x", "+"],
    ["ZREMRANGEBYLEX", "lx", "[d", "[b"], ["ZRANGE", "lx", "0", "-1"],
    ["ZREMRANGEBYLEX", "lx", "-", "+"], ["EXISTS", "lx"], ["ZADD", "r", "1", "a", "2", "b"],
    ["ZREMRANGEBYSCORE", "r", "-inf", "+inf"], ["EXISTS", "r"], ["TYPE", "r"],
    # ZPOPMIN ZPOPMAX: without a count one pair; with one at most that many (count 0: *0; the
    # zset emptied is gone); equal scores in member order.
    ["ZADD", "p", "1", "a", "2", "b", "3", "c", "3", "d", "5", "e", "0", "z"], ["ZPOPMIN", "p"],
    ["ZPOPMAX", "p"], ["ZPOPMIN", "p", "0"], ["ZPOPMAX", "p", "0"], ["ZPOPMIN", "p", "2"],
    ["ZPOPMAX", "p", "1"], ["ZRANGE", "p", "0", "-1", "WITHSCORES"], ["ZPOPMAX", "p", "10"],
    ["EXISTS", "p"], ["ZPOPMIN", "p"], ["ZPOPMIN", "p", "3"], ["ZADD", "p", "1", "x"],
    ["ZPOPMIN", "p", "9223372036854775807"], ["EXISTS", "p"], ["ZADD", "p", "1", "x"],
    ["ZPOPMAX", "p"], ["EXISTS", "p"],
    # ZRANGESTORE: by index, BYSCORE, BYLEX, REV, LIMIT; an empty result deletes the destination;
    # the destination replaced whatever its type, its time gone; the source as destination.
    ["ZADD", "src", "1", "a", "2", "b", "3", "c", "4", "d"],
    ["ZRANGESTORE", "dst", "src", "1", "2"], ["ZRANGE", "dst", "0", "-1", "WITHSCORES"],
    ["ZRANGESTORE", "dst", "src", "0", "-1", "REV"], ["ZRANGE", "dst", "0", "-1", "WITHSCORES"],
    ["ZRANGESTORE", "dst", "src", "(1", "+inf", "BYSCORE", "LIMIT", "1", "5"],
    ["ZRANGE", "dst", "0", "-1", "WITHSCORES"],
    ["ZRANGESTORE", "dst", "src", "+inf", "-inf", "BYSCORE", "REV", "LIMIT", "0", "2"],
    ["ZRANGE", "dst", "0", "-1", "WITHSCORES"], ["ZRANGESTORE", "dst", "src", "[b", "+", "BYLEX"],
    ["ZRANGE", "dst", "0", "-1", "WITHSCORES"], ["ZRANGESTORE", "dst", "src", "5", "10"],
    ["EXISTS", "dst"], ["SET", "dst", "v"], ["EXPIREAT", "dst", "4000000000"],
    ["ZRANGESTORE", "dst", "src", "0", "0"], ["TYPE", "dst"], ["TTL", "dst"],
    ["HSET", "dh", "f", "v"], ["ZRANGESTORE", "dh", "nokey", "0", "-1"], ["EXISTS", "dh"],
    ["ZRANGESTORE", "src2", "src", "0", "-1"], ["ZRANGESTORE", "src2", "src2", "1", "-1"],
    ["ZRANGE", "src2", "0", "-1", "WITHSCORES"], ["ZRANGESTORE", "src2", "src2", "9", "10"],
    ["EXISTS", "src2"],
    # ZUNIONSTORE ZINTERSTORE: the result's size; WEIGHTS, AGGREGATE SUM (default) MIN MAX; plain
    # sets as inputs (scores 1); inf times 0 and inf plus -inf are 0; a missing key is empty; the
    # destination among the sources; an empty result deletes the destination.
    ["ZADD", "u1", "1", "a", "2", "b", "3", "c"], ["ZADD", "u2", "10", "b", "20", "c", "30", "d"],
    ["SADD", "us", "a", "d", "e"], ["ZUNIONSTORE", "out", "2", "u1", "u2"],
    ["ZRANGE", "out", "0", "-1", "WITHSCORES"], ["ZINTERSTORE", "out", "2", "u1", "u2"],
    ["ZRANGE", "out", "0", "-1", "WITHSCORES"],
    ["ZUNIONSTORE", "out", "2", "u1", "u2", "WEIGHTS", "2", "0.5"],
    ["ZRANGE", "out", "0", "-1", "WITHSCORES"],
    ["ZUNIONSTORE", "out", "2", "u1", "u2", "AGGREGATE", "MIN"],
    ["ZRANGE", "out", "0", "-1", "WITHSCORES"],
    ["ZINTERSTORE", "out", "2", "u1", "u2", "aggregate", "max", "weights", "-1", "1"],
    ["ZRANGE", "out", "0", "-1", "WITHSCORES"], ["ZUNIONSTORE", "out", "3", "u1", "u2", "us"],
    ["ZRANGE", "out", "0", "-1", "WITHSCORES"], ["ZINTERSTORE", "out", "2", "us", "u1"],
    ["ZRANGE", "out", "0", "-1", "WITHSCORES"],
    ["ZINTERSTORE", "out", "2", "us", "u2", "WEIGHTS", "3", "1", "AGGREGATE", "SUM"],
    ["ZRANGE", "out", "0", "-1", "WITHSCORES"], ["ZUNIONSTORE", "out", "1", "us"],
    ["ZRANGE", "out", "0", "-1", "WITHSCORES"], ["OBJECT", "ENCODING", "out"],
    ["ZUNIONSTORE", "out", "2", "u1", "nokey"], ["ZRANGE", "out", "0", "-1", "WITHSCORES"],
    ["ZINTERSTORE", "out", "2", "u1", "nokey"], ["EXISTS", "out"],
    ["ZUNIONSTORE", "out", "2", "u1", "u1"], ["ZRANGE", "out", "0", "-1", "WITHSCORES"],
    ["ZUNIONSTORE", "out", "2", "u1", "u2", "WEIGHTS", "1", "2", "WEIGHTS", "3", "4"],
    ["ZRANGE", "out", "0", "-1", "WITHSCORES"],
    ["ZUNIONSTORE", "out", "2", "u1", "u2", "AGGREGATE", "MAX", "AGGREGATE", "MIN"],
    ["ZRANGE", "out", "0", "-1", "WITHSCORES"], ["ZADD", "ui", "inf", "a", "-inf", "b", "1", "c"],
    ["ZADD", "uj", "-inf", "a", "inf", "b"], ["ZUNIONSTORE", "out", "2", "ui", "uj"],
    ["ZRANGE", "out", "0", "-1", "WITHSCORES"], ["ZUNIONSTORE", "out", "1", "ui", "WEIGHTS", "0"],
    ["ZRANGE", "out", "0", "-1", "WITHSCORES"], ["ZUNIONSTORE", "out", "1", "u1", "WEIGHTS", "inf"],
    ["ZRANGE", "out", "0", "-1", "WITHSCORES"],
    ["ZUNIONSTORE", "out", "1", "u1", "WEIGHTS", "-inf"],
    ["ZRANGE", "out", "0", "-1", "WITHSCORES"],
    ["ZINTERSTORE", "out", "2", "ui", "uj", "AGGREGATE", "MIN"],
    ["ZRANGE", "out", "0", "-1", "WITHSCORES"], ["ZUNIONSTORE", "out", "1", "u1", "WEIGHTS", "0.1"],
    ["ZRANGE", "out", "0", "-1", "WITHSCORES"], ["ZUNIONSTORE", "u1", "2", "u1", "u2"],
    ["ZRANGE", "u1", "0", "-1", "WITHSCORES"], ["ZINTERSTORE", "u1", "2", "u1", "us"],
    ["ZRANGE", "u1", "0", "-1", "WITHSCORES"], ["ZINTERSTORE", "u1", "2", "u1", "nokey"],
    ["EXISTS", "u1"], ["SET", "ds", "v"], ["ZUNIONSTORE", "ds", "1", "u2"], ["TYPE", "ds"],
    ["RPUSH", "dl", "x"], ["ZINTERSTORE", "dl", "1", "nokey"], ["EXISTS", "dl"],
    ["ZADD", "dt", "1", "x"], ["PEXPIREAT", "dt", "4000000000000"],
    ["ZUNIONSTORE", "dt", "2", "dt", "u2"], ["PEXPIRETIME", "dt"],
    ["ZRANGE", "dt", "0", "-1", "WITHSCORES"], ["ZUNIONSTORE", "us", "1", "us"], ["TYPE", "us"],
    ["ZRANGE", "us", "0", "-1", "WITHSCORES"],
    # Binary members, CR LF and NUL inside, the empty member.
    ["ZADD", "bin", "1", "", "2", b"\x00\xff\r\n", "3", "sp ace", "4", "\r\n", "5", "\x00"],
    ["ZRANGE", "bin", "0", "-1", "WITHSCORES"], ["ZSCORE", "bin", ""], ["ZRANK", "bin", "\x00"],
    ["ZMSCORE", "bin", "", "\x00\x00", "sp ace"], ["ZSCAN", "bin", "0"],
    ["ZSCAN", "bin", "0", "MATCH", "sp*"], ["ZSCAN", "bin", "0", "MATCH", ""],
    ["ZINCRBY", "bin", "1", ""], ["ZREM", "bin", "", "\x00", "nope"],
    ["ZRANGE", "bin", "0", "-1", "WITHSCORES"], ["ZPOPMIN", "bin"], ["ZCARD", "bin"],
    # ZSCAN: a listpack comes whole whatever the cursor; MATCH (on members) and COUNT, checked
    # once the key is found.
    ["ZADD", "sc", "1", "a", "2", "b", "3", "ab", "4", "ba"], ["ZSCAN", "sc", "0"],
    ["ZSCAN", "sc", "0", "MATCH", "a*"], ["ZSCAN", "sc", "0", "MATCH", "*b"],
    ["ZSCAN", "sc", "0", "MATCH", "1"], ["ZSCAN", "sc", "0", "COUNT", "1"],
    ["ZSCAN", "sc", "12345"], ["ZSCAN", "sc", "0", "COUNT", "0"],
    ["ZSCAN", "sc", "0", "COUNT", "-1"], ["ZSCAN", "sc", "0", "COUNT", "x"],
    ["ZSCAN", "sc", "0", "COUNT"], ["ZSCAN", "sc", "0", "MATCH"],
    ["ZSCAN", "sc", "0", "TYPE", "zset"], ["ZSCAN", "sc", "0", "NOSCORES"],
    ["ZSCAN", "sc", "0", "FOO", "x"], ["ZSCAN", "sc", "0", "MATCH", "a*", "MATCH", "b*"],
    ["ZSCAN", "nokey", "0", "TYPE", "zset"],
    # OBJECT ENCODING: listpack while at most 128 members of at most 64 bytes; skiplist once a
    # write went past that, for good; a STORE form's result a listpack again where it fits.
    ["ZADD", "o", "1", "x" * 64], ["OBJECT", "ENCODING", "o"], ["ZADD", "o", "1", Z65],
    ["OBJECT", "ENCODING", "o"], ["ZREM", "o", Z65], ["OBJECT", "ENCODING", "o"],
    ["ZUNIONSTORE", "o2", "1", "o"], ["OBJECT", "ENCODING", "o2"], ["ZINCRBY", "o3", "1", Z65],
    ["OBJECT", "ENCODING", "o3"], ["ZADD", "o4", "INCR", "1", Z65], ["OBJECT", "ENCODING", "o4"],
    ["ZADD", "o5", "XX", "1", Z65], ["EXISTS", "o5"], ["ZADD", "o5", "NX", "1", Z65 + "z"],
    ["OBJECT", "ENCODING", "o5"], ["ZADD", "o6", "1", "a", "2", Z65],
    ["ZRANGESTORE", "o7", "o6", "0", "0"], ["OBJECT", "ENCODING", "o7"],
    ["ZRANGESTORE", "o7", "o6", "0", "-1"], ["OBJECT", "ENCODING", "o7"],
    ["ZUNIONSTORE", "o8", "1", "o6", "WEIGHTS", "0"], ["OBJECT", "ENCODING", "o8"],
    ["ZADD", "b128"] + ZBIG[:256], ["OBJECT", "ENCODING", "b128"], ["ZCARD", "b128"],
    ["ZADD", "b128", "5", "m000"], ["OBJECT", "ENCODING", "b128"], ["ZADD", "b128", "1", "one"],
    ["OBJECT", "ENCODING", "b128"], ["ZREM", "b128", "one", "m001", "m002"],
    ["OBJECT", "ENCODING", "b128"], ["COPY", "b128", "b128c"], ["OBJECT", "ENCODING", "b128c"],
    ["RENAME", "b128c", "b128r"], ["OBJECT", "ENCODING", "b128r"],
    ["ZUNIONSTORE", "b128u", "1", "b128"], ["OBJECT", "ENCODING", "b128u"],
    ["ZINTERSTORE", "b128i", "2", "b128", "b128"], ["OBJECT", "ENCODING", "b128i"],
    ["ZRANGESTORE", "b128s", "b128", "0", "-1"], ["OBJECT", "ENCODING", "b128s"],
    ["ZPOPMIN", "b128", "120"], ["OBJECT", "ENCODING", "b128"], ["ZCARD", "b128"],
    ["ZADD", "b129"] + ZBIG[:258], ["OBJECT", "ENCODING", "b129"],
    ["ZRANGESTORE", "b129s", "b129", "0", "127"], ["OBJECT", "ENCODING", "b129s"],
    ["ZRANGESTORE", "b129s", "b129", "0", "128"], ["OBJECT", "ENCODING", "b129s"],
    ["ZADD", "dup"] + [x for n in range(130) for x in (str(n), "ab"[n % 2])],
    ["OBJECT", "ENCODING", "dup"], ["ZRANGE", "dup", "0", "-1", "WITHSCORES"],
    # A big zset (200 members: a skiplist, scanned in pages); 200 of score 0 for lex ranges.
    ["ZADD", "big"] + ZBIG, ["ZCARD", "big"], ["OBJECT", "ENCODING", "big"],
    ["ZRANGE", "big", "95", "105", "WITHSCORES"], ["ZRANGE", "big", "-3", "-1"],
    ["ZRANGE", "big", "(99.5", "105", "BYSCORE", "LIMIT", "2", "3"],
    ["ZRANGE", "big", "150", "140", "BYSCORE", "REV", "WITHSCORES"], ["ZRANK", "big", "m150"],
    ["ZREVRANK", "big", "m150"], ["ZCOUNT", "big", "(10", "20"], ["ZSCORE", "big", "m199"],
    ["ZSCAN", "big", "0"], ["ZSCAN", "big", "0", "COUNT", "7"],
    ["ZSCAN", "big", "0", "MATCH", "m1*"], ["ZSCAN", "big", "0", "MATCH", "*9", "COUNT", "1000"],
    ["ZINCRBY", "big", "0.5", "m100"], ["ZRANGE", "big", "99", "102", "WITHSCORES"],
    ["ZADD", "big", "GT", "CH", "1", "m010", "500", "m011"],
    ["ZRANGE", "big", "-2", "-1", "WITHSCORES"], ["ZREMRANGEBYRANK", "big", "0", "9"],
    ["ZREMRANGEBYSCORE", "big", "(100", "150"], ["ZCARD", "big"], ["ZPOPMAX", "big", "3"],
    ["ZPOPMIN", "big", "2"], ["ZRANGE", "big", "0", "-1"],
    ["ZUNIONSTORE", "bigu", "2", "big", "u2"], ["ZRANGE", "bigu", "0", "-1", "WITHSCORES"],
    ["ZINTERSTORE", "bigi", "2", "big", "b129"], ["ZRANGE", "bigi", "0", "-1", "WITHSCORES"],
    ["OBJECT", "ENCODING", "bigi"], ["ZADD", "blex"] + ZLEX, ["OBJECT", "ENCODING", "blex"],
    ["ZRANGE", "blex", "[m100", "(m105", "BYLEX"], ["ZRANGE", "blex", "(m195", "+", "BYLEX"],
    ["ZRANGE", "blex", "[m010", "-", "BYLEX", "REV", "LIMIT", "1", "3"],
    ["ZLEXCOUNT", "blex", "[m050", "[m149"], ["ZREMRANGEBYLEX", "blex", "[m100", "+"],
    ["ZCARD", "blex"], ["ZRANGEBYLEX", "blex", "(m090", "+"],
    ["ZREVRANGEBYLEX", "blex", "+", "[m095", "LIMIT", "0", "2"],
    # Zsets and expiry (writes keep the time; a zset emptied takes it along), RENAME, RENAMENX,
    # COPY (a copy is a zset of its own, with the time and the encoding).
    ["FLUSHALL"], ["ZADD", "ez", "1", "a", "2", "b"], ["EXPIREAT", "ez", "3000000000"],
    ["EXPIRETIME", "ez"], ["TTL", "ez"], ["ZADD", "ez", "3", "c"], ["ZREM", "ez", "c"],
    ["ZINCRBY", "ez", "1", "a"], ["ZPOPMIN", "ez", "0"], ["EXPIRETIME", "ez"], ["PERSIST", "ez"],
    ["TTL", "ez"], ["PERSIST", "ez"], ["EXPIRE", "ez", "100"], ["TTL", "ez"],
    ["PEXPIREAT", "ez", "4000000000000"], ["RENAME", "ez", "ez"], ["RENAME", "ez", "ez2"],
    ["PEXPIRETIME", "ez2"], ["TYPE", "ez"], ["ZRANGE", "ez2", "0", "-1", "WITHSCORES"],
    ["COPY", "ez2", "ez2"], ["COPY", "ez2", "ez3"], ["PEXPIRETIME", "ez3"],
    ["ZADD", "ez3", "9", "changed"], ["ZRANGE", "ez2", "0", "-1"], ["ZRANGE", "ez3", "0", "-1"],
    ["RENAMENX", "ez2", "ez3"], ["SET", "str", "v"], ["RENAMENX", "ez2", "str"],
    ["COPY", "ez2", "str"], ["COPY", "ez2", "str", "REPLACE"], ["TYPE", "str"],
    ["ZRANGE", "str", "0", "-1", "WITHSCORES"], ["PEXPIRETIME", "str"], ["RENAME", "str", "ez3"],
    ["ZRANGE", "ez3", "0", "-1"], ["SET", "s2", "x"], ["RENAME", "s2", "ez3"], ["TYPE", "ez3"],
    ["ZADD", "ez4", "1", Z65], ["COPY", "ez4", "ez5"], ["OBJECT", "ENCODING", "ez5"],
    ["RENAMENX", "ez5", "ez6"], ["OBJECT", "ENCODING", "ez6"], ["EXPIREAT", "ez6", "1"],
    ["EXISTS", "ez6"], ["ZADD", "ez7", "1", "a"], ["PEXPIRE", "ez7", "-1"], ["TYPE", "ez7"],
    ["ZADD", "ez8", "1", "a"], ["PEXPIREAT", "ez8", "3000000000000"], ["ZPOPMIN", "ez8"],
    ["ZADD", "ez8", "1", "b"], ["PEXPIRETIME", "ez8"], ["ZADD", "ez9", "1", "a"],
    ["DEL", "ez9", "ez9", "nokey"], ["ZADD", "ez10", "1", "a"], ["UNLINK", "ez10"],
    ["TOUCH", "ez4", "nokey"], ["EXISTS", "ez9", "ez10", "ez4"],
    # A zset emptied by ZREM, ZPOPMIN, ZPOPMAX or a ZREMRANGEBY* is gone.
    ["ZADD", "g", "1", "a", "2", "b"], ["ZREM", "g", "a", "b", "c"], ["EXISTS", "g"],
    ["ZADD", "g", "1", "a"], ["ZPOPMIN", "g"], ["EXISTS", "g"], ["ZADD", "g", "1", "a", "2", "b"],
    ["ZPOPMAX", "g", "2"], ["EXISTS", "g"], ["ZADD", "g", "1", "a"],
    ["ZREMRANGEBYRANK", "g", "0", "0"], ["EXISTS", "g"], ["ZADD", "g", "0", "a"],
    ["ZREMRANGEBYLEX", "g", "[a", "[a"], ["EXISTS", "g"], ["ZADD", "g", "1", "a"],
    ["ZREMRANGEBYSCORE", "g", "1", "1"], ["TYPE", "g"], ["ZCARD", "g"], ["DBSIZE"],
    # WRONGTYPE: string, hash, list and set commands on a zset (MGET answers nil for it; SET
    # replaces it, SET ... GET refuses, SETNX and MSETNX find it).
    ["ZADD", "wz", "1", "a", "2", "b"], ["GET", "wz"], ["MGET", "wz", "nokey"],
    ["APPEND", "wz", "x"], ["INCR", "wz"], ["INCRBYFLOAT", "wz", "1"], ["STRLEN", "wz"],
    ["GETRANGE", "wz", "0", "1"], ["SETRANGE", "wz", "0", "x"], ["GETSET", "wz", "x"],
    ["GETDEL", "wz"], ["GETEX", "wz"], ["SETBIT", "wz", "0", "1"], ["GETBIT", "wz", "0"],
    ["BITCOUNT", "wz"], ["HGET", "wz", "a"], ["HSET", "wz", "a", "1"], ["HGETALL", "wz"],
    ["HLEN", "wz"], ["HSCAN", "wz", "0"], ["HRANDFIELD", "wz"], ["LPUSH", "wz", "a"],
    ["LRANGE", "wz", "0", "-1"], ["LLEN", "wz"], ["LPOP", "wz"], ["BLPOP", "wz", "0"],
    ["LMOVE", "wz", "l", "LEFT", "LEFT"], ["SADD", "wz", "a"], ["SMEMBERS", "wz"],
    ["SISMEMBER", "wz", "a"], ["SCARD", "wz"], ["SPOP", "wz"], ["SRANDMEMBER", "wz"],
    ["SSCAN", "wz", "0"], ["SINTER", "wz"], ["SUNIONSTORE", "d", "wz"], ["SMOVE", "wz", "s", "a"],
    ["SINTERCARD", "1", "wz"], ["SET", "wz", "v", "GET"], ["SETNX", "wz", "v"],
    ["MSETNX", "wz", "v", "other", "w"], ["EXISTS", "other"], ["SET", "wz", "v", "NX"],
    ["ZRANGE", "wz", "0", "-1", "WITHSCORES"], ["TYPE", "wz"], ["SET", "wz", "v", "XX"],
    ["TYPE", "wz"], ["GET", "wz"], ["ZADD", "wz2", "1", "a"], ["MSET", "wz2", "v"], ["GET", "wz2"],
    # WRONGTYPE: zset commands on a string, a hash, a list (an argument error first where
    # redis-server checks the argument before the key); the STORE forms read their sources in
    # order up to the first that is neither a zset nor a set; a plain set is refused but by them.
    ["SET", "st", "v"], ["HSET", "ht", "f", "v"], ["RPUSH", "lt", "x"], ["SADD", "set", "a", "b"],
    ["ZADD", "st", "1", "a"], ["ZADD", "ht", "x", "a"], ["ZADD", "lt", "NX", "XX", "1", "a"],
    ["ZADD", "set", "1", "a"], ["ZREM", "st", "a"], ["ZSCORE", "ht", "a"], ["ZMSCORE", "lt", "a"],
    ["ZINCRBY", "set", "1", "a"], ["ZINCRBY", "st", "x", "a"], ["ZCARD", "ht"],
    ["ZCOUNT", "lt", "0", "1"], ["ZCOUNT", "lt", "x", "1"], ["ZLEXCOUNT", "set", "-", "+"],
    ["ZLEXCOUNT", "set", "x", "+"], ["ZRANK", "st", "a"], ["ZREVRANK", "ht", "a"],
    ["ZRANGE", "lt", "0", "-1"], ["ZRANGE", "lt", "x", "1"], ["ZRANGE", "set", "0", "1", "BYSCORE"],
    ["ZRANGE", "set", "0", "1", "LIMIT", "0", "1"], ["ZRANGEBYSCORE", "st", "0", "1"],
    ["ZREVRANGEBYSCORE", "ht", "1", "0"], ["ZRANGEBYLEX", "lt", "-", "+"],
    ["ZREVRANGEBYLEX", "set", "+", "-"], ["ZREVRANGE", "st", "0", "-1"],
    ["ZREMRANGEBYSCORE", "ht", "0", "1"], ["ZREMRANGEBYRANK", "lt", "0", "1"],
    ["ZREMRANGEBYLEX", "set", "-", "+"], ["ZPOPMIN", "st"], ["ZPOPMAX", "ht", "2"],
    ["ZPOPMIN", "lt", "0"], ["ZPOPMIN", "lt", "-1"], ["ZSCAN", "set", "0"], ["ZSCAN", "st", "x"],
    ["ZSCAN", "ht", "0", "COUNT", "0"], ["BZPOPMIN", "st", "0"], ["BZPOPMAX", "nokey", "ht", "0"],
    ["BZPOPMIN", "lt", "x"], ["ZADD", "zz", "1", "a"], ["BZPOPMIN", "st", "zz", "0"],
    ["BZPOPMIN", "zz", "st", "0"], ["ZRANGESTORE", "d", "st", "0", "-1"],
    ["ZRANGESTORE", "d", "set", "0", "-1"], ["ZUNIONSTORE", "d", "2", "set", "st"],
    ["ZUNIONSTORE", "d", "2", "ht", "set"], ["ZINTERSTORE", "d", "2", "nokey", "lt"],
    ["ZINTERSTORE", "d", "3", "set", "nokey", "st"],
    ["ZUNIONSTORE", "d", "1", "st", "WEIGHTS", "x"], ["EXISTS", "d"], ["ZADD", "d", "1", "keep"],
    ["ZUNIONSTORE", "d", "2", "nokey", "st"], ["ZRANGE", "d", "0", "-1"], ["GET", "st"],
    ["ZRANGESTORE", "st", "nokey", "0", "-1"], ["TYPE", "st"], ["HGETALL", "ht"],
    ["LRANGE", "lt", "0", "-1"], ["SMEMBERS", "set"],
    # The key space with zsets: KEYS, SCAN (TYPE zset, any case), DBSIZE, FLUSHALL.
    ["FLUSHALL"], ["ZADD", "z1", "1", "a"], ["ZADD", "z2", "1", Z65], ["SET", "k", "v"],
    ["SADD", "s", "a"], ["HSET", "h", "f", "v"], ["RPUSH", "l", "x"], ["KEYS", "*"], ["KEYS", "z?"],
    ["SCAN", "0"], ["SCAN", "0", "TYPE", "zset"], ["SCAN", "0", "TYPE", "ZSET"],
    ["SCAN", "0", "TYPE", "set"], ["SCAN", "0", "MATCH", "z*", "TYPE", "zset"],
    ["SCAN", "0", "MATCH", "s*", "TYPE", "zset"], ["SCAN", "0", "COUNT", "1", "TYPE", "zset"],
    ["DBSIZE"], ["FLUSHALL"], ["DBSIZE"], ["ZRANGE", "z1", "0", "-1"],
    ["SCAN", "0", "TYPE", "zset"],
    # Blocking forms where a zset has members (served at once, the first key named that has
    # some; a key named twice); the timeout's errors; a missing key for 0.01 s (*-1).
    ["ZADD", "b1", "1", "a", "2", "b", "3", "c", "4", "d"], ["ZADD", "b2", "5", "x"],
    ["BZPOPMIN", "b1", "0"], ["BZPOPMAX", "b1", "0"], ["BZPOPMIN", "nokey", "b2", "b1", "0"],
    ["BZPOPMAX", "b2", "b1", "1.5"], ["EXISTS", "b2"], ["BZPOPMIN", "b1", "b1", "0"],
    ["ZADD", "b1", "1", "a", "2", "b", "3", "c", "4", "d"], ["BZPOPMIN", "b1", "x"],
    ["BZPOPMIN", "nokey", "x"], ["BZPOPMIN", "b1", "-1"], ["BZPOPMAX", "b1", "-0.5"],
    ["BZPOPMIN", "b1", "nan"], ["BZPOPMIN", "b1", "inf"], ["BZPOPMIN", "b1", "1e20"],
    ["BZPOPMIN", "b1", ""], ["BZPOPMIN", "b1", " 1"], ["BZPOPMIN", "b1", "0x10"],
    ["BZPOPMIN", "nokey", "-1"], ["BZPOPMIN", "b1", "0.001"], ["EXISTS", "b1"],
    ["BZPOPMIN", "nokey", "0.01"], ["BZPOPMAX", "nokey", "nokey2", "0.01"], ["EXISTS", "nokey"],
    # Queued in a transaction, answered by EXEC (WRONGTYPE at run time does not stop it; the
    # blocking forms answer *-1 at once for an empty key); a wrong arity while queuing aborts it.
    ["MULTI"], ["ZADD", "t", "1", "a", "2", "b", "3", "c"], ["ZADD", "t", "INCR", "5", "a"],
    ["ZREM", "t", "c", "x"], ["ZRANGE", "t", "0", "-1", "WITHSCORES"], ["ZCARD", "t"],
    ["ZSCORE", "t", "a"], ["ZMSCORE", "t", "a", "z"], ["ZRANK", "t", "a"], ["ZSCAN", "t", "0"],
    ["ZRANGESTORE", "t2", "t", "0", "0"], ["ZUNIONSTORE", "t3", "2", "t", "t2"],
    ["ZINTERSTORE", "t4", "2", "t", "t2"], ["ZPOPMIN", "t3"], ["ZPOPMAX", "t3", "5"],
    ["EXISTS", "t3"], ["SET", "t5", "v"], ["ZADD", "t5", "1", "x"], ["ZINCRBY", "t", "x", "a"],
    ["ZRANGE", "t", "0", "-1", "LIMIT", "0", "1"], ["BZPOPMIN", "nokey", "0"],
    ["BZPOPMAX", "t", "0"], ["BZPOPMIN", "t", "0"], ["BZPOPMIN", "t", "0"], ["TYPE", "t4"],
    ["SCAN", "0", "TYPE", "zset"], ["EXEC"], ["ZRANGE", "t2", "0", "-1", "WITHSCORES"],
    ["ZRANGE", "t4", "0", "-1", "WITHSCORES"], ["EXISTS", "t"], ["MULTI"], ["ZADD", "t6", "1", "a"],
    ["ZADD", "t6", "1"], ["ZRANGE", "t6", "0", "-1"], ["EXEC"], ["EXISTS", "t6"], ["MULTI"],
    ["ZADD", "t7", "1", "x"], ["DISCARD"], ["EXISTS", "t7"],
]

# Server and connection commands whose replies do not depend on the connection (its id, its
# addresses: those are checked by kv_server_test's ClientTest cases) or on the server's run.
CLIENT = [
    ["CLIENT"], ["CLIENT", "FOO"], ["CLIENT", "HELP"], ["CLIENT", "help", "x"],
    ["CLIENT", "GETNAME"], ["CLIENT", "SETNAME"], ["CLIENT", "SETNAME", "a", "b"],
    ["CLIENT", "SETNAME", "foo"], ["CLIENT", "GETNAME"], ["CLIENT", "SETNAME", "a b"],
    ["CLIENT", "SETNAME", "a\nb"], ["CLIENT", "SETNAME", "\x7f"], ["CLIENT", "GETNAME"],
    ["CLIENT", "SETNAME", ""], ["CLIENT", "GETNAME"], ["CLIENT", "setname", "x" * 300],
    ["CLIENT", "GETNAME"], ["CLIENT", "GETNAME", "x"], ["CLIENT", "ID", "x"],
    ["CLIENT", "INFO", "x"], ["HELLO", "2", "SETNAME", "viahello", "FOO"], ["CLIENT", "GETNAME"],
    ["CLIENT", "LIST", "x"], ["CLIENT", "LIST", "TYPE", "foo"], ["CLIENT", "LIST", "TYPE", "master"],
    ["CLIENT", "LIST", "TYPE", "PUBSUB"], ["CLIENT", "LIST", "TYPE", "replica"],
    ["CLIENT", "LIST", "TYPE", "slave"], ["CLIENT", "LIST", "ID", "99999", "x"],
    ["CLIENT", "LIST", "ID", "0"], ["CLIENT", "LIST", "ID", "-1", "99999"],
    ["CLIENT", "LIST", "foo", "bar"], ["CLIENT", "LIST", "type"], ["CLIENT", "LIST", "id"],
    ["CLIENT", "KILL"], ["CLIENT", "KILL", "1.2.3.4:5"], ["CLIENT", "KILL", "ID"],
    ["CLIENT", "KILL", "ID", "99999"], ["CLIENT", "KILL", "ID", "x"], ["CLIENT", "KILL", "ID", "0"],
    ["CLIENT", "KILL", "ID", "-3"], ["CLIENT", "KILL", "ID", "01"], ["CLIENT", "KILL", "foo", "bar"],
    ["CLIENT", "KILL", "ADDR", "1.2.3.4:5"], ["CLIENT", "KILL", "LADDR", "1.2.3.4:5"],
    ["CLIENT", "KILL", "SKIPME", "maybe"], ["CLIENT", "KILL", "SKIPME", "yes", "ID", "99999"],
    ["CLIENT", "KILL", "TYPE", "foo"], ["CLIENT", "KILL", "TYPE", "master", "SKIPME", "no"],
    ["CLIENT", "KILL", "TYPE", "pubsub"], ["CLIENT", "KILL", "USER", "nobody"],
    ["CLIENT", "KILL", "USER", "default", "USER", "nobody"], ["CLIENT", "KILL", "MAXAGE", "1"],
    ["CLIENT", "KILL", "ID", "1", "SKIPME"], ["CLIENT", "KILL", "ID", "1", "ADDR"],
    ["CLIENT", "KILL", "TYPE", "normal", "ID", "x"], ["CLIENT", "KILL", "SKIPME", "yes", "TYPE", "x"],
    ["CLIENT", "KILL", "id", "99999", "type", "NORMAL", "user", "default", "skipme", "YES"],
    ["CLIENT", "REPLY"], ["CLIENT", "REPLY", "FOO"], ["CLIENT", "REPLY", "ON"],
    ["CLIENT", "REPLY", "ON", "x"], ["CLIENT", "NO-EVICT", "on"], ["CLIENT", "NO-EVICT", "OFF"],
    ["CLIENT", "NO-EVICT", "maybe"], ["CLIENT", "TRACKING", "off"], ["CLIENT", "TRACKING", "foo"],
    ["CLIENT", "TRACKING", "off", "x"], ["CLIENT", "TRACKINGINFO"], ["CLIENT", "GETREDIR"],
    ["CLIENT", "CACHING", "yes"], ["CLIENT", "CACHING", "x", "y"], ["CLIENT", "UNBLOCK", "x"],
    ["CLIENT", "UNBLOCK", "1", "foo"], ["CLIENT", "UNBLOCK", "1", "timeout", "x"],
    ["CLIENT", "UNBLOCK", "1", "error"], ["CLIENT", "UNBLOCK", "-1"], ["CLIENT", "UNPAUSE"],
    # COMMAND GETKEYS (from the table's key positions), COUNT, HELP
    ["COMMAND", "GETKEYS"], ["COMMAND", "GETKEYS", "get"], ["COMMAND", "GETKEYS", "get", "a"],
    ["COMMAND", "GETKEYS", "foo", "a"], ["COMMAND", "GETKEYS", "SET", "a", "b", "NX"],
    ["COMMAND", "GETKEYS", "mset", "a", "b", "c", "d"], ["COMMAND", "GETKEYS", "mset", "a", "b", "c"],
    ["COMMAND", "GETKEYS", "msetnx", "a", "b", "c", "d"], ["COMMAND", "GETKEYS", "ping"],
    ["COMMAND", "GETKEYS", "ping", "x"], ["COMMAND", "GETKEYS", "del", "a", "b", "c"],
    ["COMMAND", "GETKEYS", "mget", "a", "b"], ["COMMAND", "GETKEYS", "exists", "a", "a"],
    ["COMMAND", "GETKEYS", "client", "list"], ["COMMAND", "GETKEYS", "client"],
    ["COMMAND", "GETKEYS", "object", "encoding", "k"], ["COMMAND", "GETKEYS", "object", "encoding"],
    ["COMMAND", "GETKEYS", "object", "foo", "k"], ["COMMAND", "GETKEYS", "object", "help"],
    ["COMMAND", "GETKEYS", "OBJECT", "Freq", "k"], ["COMMAND", "GETKEYS", "copy", "a", "b"],
    ["COMMAND", "GETKEYS", "copy", "a", "b", "REPLACE"], ["COMMAND", "GETKEYS", "rename", "a", "b"],
    ["COMMAND", "GETKEYS", "keys", "*"], ["COMMAND", "GETKEYS", "GET", "a", "b"],
    ["COMMAND", "GETKEYS", "set", "a"], ["COMMAND", "GETKEYS", "select", "0"],
    ["COMMAND", "GETKEYS", "bitcount", "k", "0", "1"], ["COMMAND", "GETKEYS", "touch", "a", "b"],
    ["COMMAND", "GETKEYS", "auth", "x"], ["COMMAND", "GETKEYS", "client", "kill", "id", "1"],
    ["COMMAND", "GETKEYS", "CONFIG", "GET", "x"], ["COMMAND", "GETKEYS", "scan", "0"],
    ["COMMAND", "GETKEYS", "command", "getkeys", "get", "a"], ["COMMAND", "COUNT", "x"],
    ["COMMAND", "HELP"], ["COMMAND", "FOO"], ["COMMAND", "LIST", "foo"],
    ["COMMAND", "LIST", "FILTERBY", "foo", "x"], ["COMMAND", "LIST", "FILTERBY", "pattern"],
    ["COMMAND", "LIST", "FILTERBY", "module", "x"],
    # Subcommands' arity, checked before the handler as redis-server does.
    ["CONFIG", "HELP", "x"], ["CONFIG", "REWRITE", "x"], ["CONFIG", "SET", "save"],
    ["OBJECT", "ENCODING"], ["OBJECT", "FREQ", "a", "b"], ["OBJECT", "help", "x"],
    ["INFO", "nosuch"], ["INFO", "nosuch", "other"],
]

# CLIENT REPLY: pipelines, each with the number of replies it gets.
REPLY = [
    (["CLIENT REPLY OFF", "PING", "CLIENT REPLY ON", "PING"], 2),
    (["CLIENT REPLY SKIP", "PING", "PING"], 1),
    (["CLIENT REPLY SKIP", "NOSUCH", "PING"], 1),
    (["CLIENT REPLY OFF", "CLIENT REPLY SKIP", "PING", "CLIENT REPLY ON", "PING"], 2),
    (["CLIENT REPLY OFF", "GET", "CLIENT REPLY foo", "CLIENT REPLY ON"], 1),
    (["CLIENT REPLY SKIP", "CLIENT REPLY SKIP", "PING", "ECHO a"], 1),
    (["CLIENT REPLY OFF", "SET rk 1", "INCR rk", "GET rk", "CLIENT REPLY ON", "GET rk"], 2),
    (["CLIENT REPLY SKIP", "CLIENT REPLY ON", "PING"], 2),
    (["CLIENT REPLY SKIP", "MSET r1 a r2 b", "MGET r1 r2", "CLIENT REPLY SKIP", "DEL r1",
      "EXISTS r1 r2"], 2),
]

# Inline commands (quotes as redis-server's sdssplitargs), negative multibulk counts (ignored),
# each with the number of replies it gets.
INLINE = [
    (b"*-1\r\nPING\r\n", 1), (b"*-5\r\n*0\r\nPING\r\n", 1),
    (b'SET "a b" "c\\x41\\n\\"d"\r\nGET "a b"\r\n', 2),
    (b"SET 'x y' 'it\\'s'\r\nGET 'x y'\r\n", 2),
    (b'"ECHO" "" \r\nECHO ""\r\nECHO "\\t\\r\\a\\b\\z\\x4g\\xzz\\\\"\r\n', 3),
    (b"ECHO 'a\\\\b' 'c\\nd'\r\n", 1), (b'ECHO a"b"\r\n', 1), (b"ECHO \x0ba\r\n", 1),
    (b'ECHO "a"\x0b\r\n', 1),
    (b'SET k ""\r\nGET k\r\nAPPEND k "x y"\r\nGET k\r\nMSET "m 1" "v 1" m2 \'v 2\'\r\n'
     b'MGET "m 1" m2\r\nSETNX "n x" "\\x00\\xff"\r\nGET "n x"\r\nGETSET "n x" "y"\r\n', 9),
]

# Protocol errors: the error text, then the connection is closed.
PROTOCOL_ERRORS = [
    b"*1\r\n+PING\r\n", b"*1\r\n$-1\r\n", b"*x\r\n", b"*-0\r\n", b"*+1\r\n", b"*01\r\n",
    b"*1\r\n$x\r\n", b"*1\r\n$04\r\nPING\r\n", b"ECHO a'b'c\r\n", b'GET "a\r\n',
    b'GET "a b"x\r\n', b"SET 'unterminated\r\n", b"ECHO \"a\\\"\r\n",
]

# Publish/subscribe on one connection, no other subscriber (PUBSUB scenarios below have several):
# the commands' arity and errors, PUBSUB's subcommands, UNSUBSCRIBE and PUNSUBSCRIBE of nothing
# (which do not enter subscribed mode), SUBSCRIBE and out again, RESET.
PUBSUB_SCRIPT = [
    ["PUBLISH", "c", "m"], ["PUBLISH"], ["PUBLISH", "c"], ["PUBLISH", "c", "m", "x"],
    ["PUBLISH", "", ""], ["SUBSCRIBE"], ["PSUBSCRIBE"], ["PUBSUB"], ["PUBSUB", "FOO"],
    ["PUBSUB", "foo", "bar"], ["PUBSUB", "HELP"], ["PUBSUB", "help"], ["PUBSUB", "HELP", "x"],
    ["PUBSUB", "NUMPAT"], ["pubsub", "numpat"], ["PUBSUB", "NUMPAT", "x"], ["PUBSUB", "NUMSUB"],
    ["PUBSUB", "NUMSUB", "a", "a", ""], ["PUBSUB", "CHANNELS"], ["PUBSUB", "CHANNELS", "*"],
    ["PUBSUB", "CHANNELS", "a", "b"], ["PUBSUB", "channels", "a", "b"],
    ["COMMAND", "GETKEYS", "publish", "c", "m"], ["COMMAND", "GETKEYS", "subscribe", "c"],
    ["COMMAND", "GETKEYS", "pubsub", "numsub", "c"],
    # Not subscribed: [unsubscribe, nil, 0] and [punsubscribe, nil, 0]; a name: [.., name, 0].
    ["UNSUBSCRIBE"], ["PUNSUBSCRIBE"], ["UNSUBSCRIBE", "a"], ["PUNSUBSCRIBE", "a*"], ["GET", "k"],
    # In and out of subscribed mode (one channel, one reply each).
    ["SUBSCRIBE", "s1"], ["GET", "k"], ["PING"], ["PING", "x"], ["PING", ""], ["PING", "a", "b"],
    ["SUBSCRIBE", "s1"], ["PSUBSCRIBE", "s*"], ["UNSUBSCRIBE"], ["GET", "k"], ["PUNSUBSCRIBE"],
    ["GET", "k"], ["PING"], ["PSUBSCRIBE", "p"], ["UNSUBSCRIBE"], ["ECHO", "e"],
    ["PUNSUBSCRIBE", "p"], ["ECHO", "e"],
    # RESET: +RESET; no name, no transaction, no watch, no subscription after it.
    ["RESET"], ["RESET", "x"], ["CLIENT", "SETNAME", "nm"], ["RESET"], ["CLIENT", "GETNAME"],
    ["MULTI"], ["SET", "k", "1"], ["RESET"], ["EXEC"], ["GET", "k"],
    ["SET", "w", "1"], ["WATCH", "w"], ["RESET"], ["SET", "w", "2"], ["MULTI"], ["GET", "w"],
    ["EXEC"], ["SUBSCRIBE", "s1"], ["RESET"], ["GET", "k"], ["PUBSUB", "NUMSUB", "s1"],
    ["PSUBSCRIBE", "s*"], ["RESET"], ["PUBSUB", "NUMPAT"], ["PING"],
]

# RESET turns replies on again, its own answered: pipelines, each with the number of replies.
RESET_REPLY = [
    (["CLIENT REPLY OFF", "RESET", "PING"], 2), (["CLIENT REPLY SKIP", "RESET", "PING"], 1),
    (["SUBSCRIBE a", "CLIENT REPLY OFF", "PING", "RESET", "PING"], 5),
]

# Authentication against servers started with a password (the second pair of ports).
AUTH = [
    ["GET", "a"], ["NOSUCH", "a"], ["GET"], ["PING"], ["HELLO"], ["HELLO", "2"], ["CLIENT", "ID"],
    ["AUTH", "bad"], ["AUTH", "default", "bad"], ["AUTH", "bob", "sekret"], ["AUTH", "a", "b", "c"],
    ["AUTH"], ["HELLO", "2", "AUTH", "default", "bad"],
    # Publish/subscribe needs authentication too; RESET does not (+RESET, still not in).
    ["SUBSCRIBE", "a"], ["PSUBSCRIBE", "*"], ["UNSUBSCRIBE"], ["PUBLISH", "a", "b"],
    ["PUBSUB", "NUMPAT"], ["RESET"], ["GET", "a"],
    # HELLO's options take effect in order: the name and the authentication stay after a bad one.
    ["HELLO", "2", "SETNAME", "n1", "AUTH", "default", "sekret", "FOO"], ["GET", "a"],
    ["CLIENT", "GETNAME"],
    # RESET: the connection as a new one, its authentication too (and its name).
    ["RESET"], ["GET", "a"], ["CLIENT", "GETNAME"], ["QUIT"],
]
AUTH_OK = [
    ["AUTH", "sekret"], ["GET", "a"], ["AUTH", "bad"], ["GET", "a"], ["AUTH", "default", "sekret"],
    ["HELLO", "2", "AUTH", "default"], ["HELLO", "x"], ["CONFIG", "GET", "requirepass"],
    # In subscribed mode a command is refused for that before the password is asked for; RESET
    # leaves subscribed mode and the authentication.
    ["SUBSCRIBE", "a"], ["GET", "a"], ["AUTH", "sekret"], ["RESET"], ["GET", "a"],
    ["PUBLISH", "a", "b"], ["AUTH", "sekret"], ["PUBLISH", "a", "b"],
]

# Transactions over three connections (each step: which connection, the command): MULTI EXEC
# DISCARD WATCH UNWATCH, their errors, queued errors and runtime errors, and a watched key changed
# by every kind of write, by the same connection or another, or not changed (a DEL of an absent
# key, a FLUSHALL that finds it absent, a failed SETNX, a RENAME of a key to itself).
TRANSACTIONS = [
    # A SETBIT that changes no bit and does not grow the value writes nothing: it aborts no WATCH
    # (redis-server 7.0); one that changes a bit does.
    (1, ["SET", "sb", "a"]), (0, ["WATCH", "sb"]), (1, ["SETBIT", "sb", "0", "0"]),
    (0, ["MULTI"]), (0, ["GET", "sb"]), (0, ["EXEC"]), (0, ["WATCH", "sb"]),
    (1, ["SETBIT", "sb", "0", "1"]), (0, ["MULTI"]), (0, ["GET", "sb"]), (0, ["EXEC"]),
    (0, ["FLUSHALL"]), (0, ["EXEC"]), (0, ["DISCARD"]), (0, ["EXEC", "x"]), (0, ["MULTI", "x"]),
    (0, ["DISCARD", "x"]), (0, ["WATCH"]), (0, ["UNWATCH", "x"]), (0, ["UNWATCH"]),
    (0, ["MULTI"]), (0, ["MULTI"]), (0, ["WATCH", "a"]), (0, ["EXEC"]), (0, ["EXEC"]),
    (0, ["MULTI"]), (0, ["EXEC"]),
    (0, ["MULTI"]), (0, ["SET", "a", "1"]), (0, ["INCR", "a"]), (0, ["INCR", "s"]),
    (0, ["SET", "s", "x"]), (0, ["INCR", "s"]), (0, ["APPEND", "s", "yz"]), (0, ["GET", "s"]),
    (0, ["MGET", "a", "s", "none"]), (0, ["SETRANGE", "s", "1", "QQ"]), (0, ["GETDEL", "s"]),
    (0, ["DEL", "s", "a", "none"]), (0, ["PING"]), (0, ["ECHO", "e"]), (0, ["DBSIZE"]),
    (0, ["UNWATCH"]), (0, ["EXEC"]), (0, ["DBSIZE"]),
    # A command refused while queuing aborts the transaction at EXEC; the others still queue.
    (0, ["MULTI"]), (0, ["SET", "a", "1"]), (0, ["GET"]), (0, ["NOSUCH", "x"]),
    (0, ["CLIENT", "NOPE"]), (0, ["CLIENT", "SETNAME"]), (0, ["SET", "b", "2"]), (0, ["EXEC"]),
    (0, ["MGET", "a", "b"]),
    (0, ["MULTI"]), (0, ["SET", "a", "1"]), (0, ["DISCARD"]), (0, ["GET", "a"]), (0, ["EXEC"]),
    (0, ["MULTI"]), (0, ["SET", "a", "1"]), (0, ["EXEC", "x"]), (0, ["EXEC"]), (0, ["GET", "a"]),
    # WATCH: changed by another connection, by the same one, by FLUSHALL, DEL, RENAME, EXPIRE.
    (0, ["SET", "w", "0"]), (0, ["WATCH", "w", "v"]), (1, ["SET", "w", "1"]), (0, ["MULTI"]),
    (0, ["INCR", "w"]), (0, ["EXEC"]), (0, ["GET", "w"]),
    (0, ["WATCH", "w"]), (0, ["SET", "w", "5"]), (0, ["MULTI"]), (0, ["INCR", "w"]),
    (0, ["EXEC"]), (0, ["GET", "w"]),
    (0, ["WATCH", "w"]), (0, ["MULTI"]), (0, ["INCR", "w"]), (0, ["EXEC"]), (0, ["GET", "w"]),
    (0, ["WATCH", "w"]), (0, ["UNWATCH"]), (1, ["SET", "w", "7"]), (0, ["MULTI"]),
    (0, ["INCR", "w"]), (0, ["EXEC"]),
    (0, ["WATCH", "v"]), (1, ["SET", "v", "1"]), (0, ["MULTI"]), (0, ["GET", "v"]), (0, ["EXEC"]),
    (0, ["WATCH", "absent"]), (1, ["DEL", "absent"]), (1, ["SETNX", "w", "x"]), (0, ["MULTI"]),
    (0, ["PING"]), (0, ["EXEC"]),
    (0, ["WATCH", "absent"]), (1, ["FLUSHALL"]), (0, ["MULTI"]), (0, ["PING"]), (0, ["EXEC"]),
    (0, ["SET", "f", "v"]), (0, ["WATCH", "f"]), (1, ["FLUSHALL"]), (0, ["MULTI"]),
    (0, ["PING"]), (0, ["EXEC"]),
    (0, ["SET", "f", "v"]), (0, ["WATCH", "f"]), (1, ["DEL", "f"]), (0, ["MULTI"]),
    (0, ["PING"]), (0, ["EXEC"]),
    (0, ["SET", "f", "v"]), (0, ["WATCH", "f"]), (1, ["RENAME", "f", "g"]), (0, ["MULTI"]),
    (0, ["PING"]), (0, ["EXEC"]),
    (0, ["WATCH", "g"]), (1, ["RENAME", "g", "g"]), (1, ["PERSIST", "g"]), (1, ["GETEX", "g"]),
    (0, ["MULTI"]), (0, ["PING"]), (0, ["EXEC"]),
    (0, ["WATCH", "g"]), (1, ["EXPIREAT", "g", "4000000000"]), (0, ["MULTI"]), (0, ["PING"]),
    (0, ["EXEC"]),
    (0, ["WATCH", "g"]), (1, ["EXPIREAT", "g", "1"]), (0, ["MULTI"]), (0, ["PING"]),
    (0, ["EXEC"]), (0, ["EXISTS", "g"]),
    # A SET whose time is past, of a key that is not there, is still a write of it (seed
    # 1814004324 found pastel-kv leaving the watch alone).
    (0, ["WATCH", "g"]), (1, ["SET", "g", "v", "PXAT", "1", "GET"]), (0, ["MULTI"]),
    (0, ["PING"]), (0, ["EXEC"]), (0, ["EXISTS", "g"]),
    # WATCH of several keys, one of them changed; watching a key twice; WATCH inside MULTI is an
    # error that does not abort; a transaction's writes do not abort its own EXEC, and they abort
    # another connection's watch.
    (0, ["WATCH", "x1", "x2", "x1"]), (0, ["WATCH", "x3"]), (1, ["SET", "x3", "v"]),
    (0, ["MULTI"]), (0, ["WATCH", "x1"]), (0, ["SET", "x1", "1"]), (0, ["EXEC"]),
    (0, ["EXISTS", "x1"]),
    (0, ["WATCH", "x1"]), (1, ["WATCH", "x1"]), (0, ["MULTI"]), (0, ["SET", "x1", "2"]),
    (0, ["EXEC"]), (1, ["MULTI"]), (1, ["SET", "x1", "3"]), (1, ["EXEC"]), (0, ["GET", "x1"]),
    # MULTI ... DISCARD forgets the watches too.
    (0, ["WATCH", "x1"]), (0, ["MULTI"]), (0, ["DISCARD"]), (1, ["SET", "x1", "4"]),
    (0, ["MULTI"]), (0, ["GET", "x1"]), (0, ["EXEC"]),
    # A transaction's writes are visible to its own later commands and to the next command.
    (2, ["MULTI"]), (2, ["SET", "t", "1"]), (2, ["INCRBY", "t", "41"]), (2, ["GET", "t"]),
    (2, ["RENAME", "t", "u"]), (2, ["COPY", "u", "t"]), (2, ["MGET", "t", "u"]), (2, ["EXEC"]),
    (1, ["MGET", "t", "u"]),
]

# WATCH of a hash: which hash commands change it (HSET, even of the same value; HMSET, HSETNX of
# a new field, HINCRBY, HINCRBYFLOAT, HDEL of a field there, SET over it) and which do not (reads,
# HSETNX of a field there, HDEL of fields not there, a refused HINCRBY, a hash command refused on
# a string).
HASH_TRANSACTIONS = [
    # A SETBIT that changes no bit and does not grow the value writes nothing: it aborts no WATCH
    # (redis-server 7.0); one that changes a bit does.
    (1, ["SET", "sb", "a"]), (0, ["WATCH", "sb"]), (1, ["SETBIT", "sb", "0", "0"]),
    (0, ["MULTI"]), (0, ["GET", "sb"]), (0, ["EXEC"]), (0, ["WATCH", "sb"]),
    (1, ["SETBIT", "sb", "0", "1"]), (0, ["MULTI"]), (0, ["GET", "sb"]), (0, ["EXEC"]),
    (0, ["FLUSHALL"]), (0, ["HSET", "w", "a", "1"]),
    (0, ["WATCH", "w"]), (1, ["HSET", "w", "a", "1"]), (0, ["MULTI"]), (0, ["HGET", "w", "a"]),
    (0, ["EXEC"]),
    (0, ["WATCH", "w"]), (1, ["HSETNX", "w", "a", "2"]), (1, ["HDEL", "w", "nof", "nof2"]),
    (1, ["HINCRBY", "w", "a", "x"]), (1, ["HINCRBY", "w", "a", "9223372036854775807"]),
    (1, ["HINCRBYFLOAT", "w", "a", "nan"]), (1, ["HGETALL", "w"]), (1, ["HRANDFIELD", "w"]),
    (1, ["HSCAN", "w", "0"]), (0, ["MULTI"]), (0, ["HGETALL", "w"]), (0, ["EXEC"]),
    (0, ["WATCH", "w"]), (1, ["HSETNX", "w", "b", "2"]), (0, ["MULTI"]), (0, ["PING"]),
    (0, ["EXEC"]),
    (0, ["WATCH", "w"]), (1, ["HINCRBY", "w", "a", "1"]), (0, ["MULTI"]), (0, ["PING"]),
    (0, ["EXEC"]),
    (0, ["WATCH", "w"]), (1, ["HINCRBYFLOAT", "w", "a", "0.5"]), (0, ["MULTI"]), (0, ["PING"]),
    (0, ["EXEC"]),
    (0, ["WATCH", "w"]), (1, ["HMSET", "w", "c", "3"]), (0, ["MULTI"]), (0, ["PING"]),
    (0, ["EXEC"]),
    (0, ["WATCH", "w"]), (1, ["HDEL", "w", "c", "nof"]), (0, ["MULTI"]), (0, ["PING"]),
    (0, ["EXEC"]),
    (0, ["WATCH", "w"]), (1, ["HDEL", "w", "a", "b"]), (0, ["MULTI"]), (0, ["EXISTS", "w"]),
    (0, ["EXEC"]),
    (0, ["WATCH", "w"]), (1, ["HDEL", "w", "a"]), (1, ["HGET", "w", "a"]), (0, ["MULTI"]),
    (0, ["PING"]), (0, ["EXEC"]),
    (0, ["SET", "s", "v"]), (0, ["WATCH", "s"]), (1, ["HSET", "s", "a", "1"]),
    (1, ["HDEL", "s", "a"]), (0, ["MULTI"]), (0, ["GET", "s"]), (0, ["EXEC"]),
    (0, ["HSET", "w", "a", "1"]), (0, ["WATCH", "w"]), (1, ["SET", "w", "v"]), (0, ["MULTI"]),
    (0, ["PING"]), (0, ["EXEC"]), (0, ["TYPE", "w"]),
    (0, ["HSET", "x", "a", "1"]), (0, ["WATCH", "x"]), (1, ["RENAME", "x", "y"]), (0, ["MULTI"]),
    (0, ["PING"]), (0, ["EXEC"]),
    (0, ["WATCH", "y"]), (1, ["COPY", "y", "z"]), (1, ["RENAMENX", "z", "y"]), (0, ["MULTI"]),
    (0, ["HGETALL", "y"]), (0, ["HGETALL", "z"]), (0, ["EXEC"]),
    (0, ["WATCH", "z"]), (1, ["COPY", "y", "z", "REPLACE"]), (0, ["MULTI"]), (0, ["PING"]),
    (0, ["EXEC"]),
    # A transaction's hash writes are visible to its own later commands and to the next command.
    (2, ["MULTI"]), (2, ["HSET", "t", "a", "1"]), (2, ["HINCRBY", "t", "a", "41"]),
    (2, ["HGETALL", "t"]), (2, ["RENAME", "t", "u"]), (2, ["COPY", "u", "t"]),
    (2, ["HSET", "t", "b", "2"]), (2, ["HKEYS", "t"]), (2, ["HVALS", "u"]), (2, ["EXEC"]),
    (1, ["HGETALL", "t"]), (1, ["HGETALL", "u"]),
]


def watch_case(setup, cmds, key="w", read=None):
    """Connection 0 watches key (after setup), connection 1 runs cmds, then connection 0's
    transaction reads the key (LRANGE, or read): EXEC answers *-1 where one of cmds changed it."""
    return ([(0, c) for c in setup] + [(0, ["WATCH", key])] + [(1, c) for c in cmds] +
            [(0, ["MULTI"]), (0, read or ["LRANGE", key, "0", "-1"]), (0, ["EXEC"])])


# WATCH of a list: the list commands that change it (every push, every pop that pops, LSET even
# of the same value, LTRIM even one that keeps all, LINSERT and LREM that find their element,
# LMOVE and RPOPLPUSH at either end and the rotation of a list onto itself, a blocking pop served
# at once, a RENAME or COPY onto it, SET over it, DEL, an expiry) and the ones that do not (reads;
# LPUSHX, LINSERT, LREM, LPOP, LMOVE that find nothing to change; LPOP with count 0; an LSET out
# of range; a list command refused on a string).
WL = ["RPUSH", "w", "a", "b", "c"]  # the watched list, made again where a case needs it
LIST_TRANSACTIONS = [(0, ["FLUSHALL"])]
for _setup, _cmds in [
        ([WL], [["LPUSH", "w", "x"]]), ([], [["RPUSH", "w", "y"]]), ([], [["LPUSHX", "w", "z"]]),
        ([], [["RPUSHX", "w", "z"]]), ([], [["LPOP", "w"]]), ([], [["RPOP", "w", "1"]]),
        ([], [["LPOP", "w", "0"]]), ([], [["RPOP", "w", "0"]]),
        ([], [["LSET", "w", "0", "a"]]), ([], [["LSET", "w", "0", "a"]]),
        ([], [["LSET", "w", "10", "v"]]), ([], [["LSET", "w", "x", "v"]]),
        ([], [["LTRIM", "w", "0", "-1"]]), ([], [["LTRIM", "w", "x", "1"]]),
        ([], [["LINSERT", "w", "AFTER", "a", "q"]]), ([], [["LINSERT", "w", "AFTER", "nope", "q"]]),
        ([], [["LREM", "w", "0", "q"]]), ([], [["LREM", "w", "0", "q"]]),
        ([], [["LRANGE", "w", "0", "-1"], ["LLEN", "w"], ["LINDEX", "w", "0"],
              ["LPOS", "w", "a", "COUNT", "0"], ["TYPE", "w"], ["EXISTS", "w"]]),
        ([], [["LMOVE", "w", "w", "LEFT", "RIGHT"]]), ([], [["RPOPLPUSH", "w", "w"]]),
        ([], [["LMOVE", "w", "other", "LEFT", "RIGHT"]]), ([], [["RPOPLPUSH", "other", "w"]]),
        ([], [["LMOVE", "nolist", "w", "LEFT", "LEFT"]]), ([], [["LPUSHX", "nolist", "v"]]),
        ([], [["LMOVE", "w", "w", "UP", "LEFT"], ["LPOP", "w", "-1"],
              ["LINSERT", "w", "X", "a", "b"]]),
        ([], [["BLPOP", "w", "0"]]), ([], [["BRPOP", "nolist", "w", "0"]]),
        ([], [["BLMOVE", "w", "other", "RIGHT", "LEFT", "0"]]),
        ([], [["BLMOVE", "other", "w", "RIGHT", "LEFT", "0"]]), ([], [["BLPOP", "w", "-1"]]),
        ([["RPUSH", "other", "o"]], [["RENAME", "other", "w"]]),
        ([["DEL", "w"], ["RPUSH", "other", "o"]], [["COPY", "other", "w"]]),
        ([], [["COPY", "w", "w2"], ["RENAMENX", "w2", "w"]]),
        ([], [["COPY", "w2", "w", "REPLACE"]]), ([], [["EXPIREAT", "w", "4000000000"]]),
        ([], [["PERSIST", "w"]]), ([], [["PERSIST", "w"]]), ([], [["SET", "w", "v"]]),
        ([], [["LPUSH", "w", "v"], ["LPOP", "w"], ["RPOP", "w", "2"], ["LLEN", "w"]]),
        ([["DEL", "w"], WL], [["DEL", "w"]]), ([], [["LPUSH", "w", "v"]]),
        ([], [["LPOP", "w", "5"]]),
        ([], [["LPOP", "w", "5"], ["LPOP", "w", "0"], ["RPOPLPUSH", "w", "x"]]),
        ([], [["RPUSH", "w", "v"], ["LPOP", "w"]]), ([WL], [["LTRIM", "w", "5", "1"]]),
        ([WL], [["LREM", "w", "0", "a"], ["LREM", "w", "0", "b"], ["LREM", "w", "0", "c"]]),
        ([WL], [["EXPIREAT", "w", "1"]]),
        ([["SET", "w", "v"]], [["LPUSH", "w", "x"], ["LPOP", "w"], ["LSET", "w", "0", "x"],
                               ["LMOVE", "w", "w", "LEFT", "LEFT"], ["BLPOP", "w", "0"]]),
        ([["DEL", "w"], WL, ["SET", "nonlist", "v"]], [["LMOVE", "w", "nonlist", "LEFT", "LEFT"],
                                                      ["RPOPLPUSH", "w", "nonlist"]]),
]:
    LIST_TRANSACTIONS += watch_case(_setup, _cmds)
LIST_TRANSACTIONS += [
    # A transaction's list writes are visible to its own later commands and to the next command;
    # a blocking pop inside it on an empty list answers nil at once.
    (2, ["MULTI"]), (2, ["RPUSH", "t", "a", "b"]), (2, ["LPUSH", "t", "z"]),
    (2, ["LRANGE", "t", "0", "-1"]), (2, ["RENAME", "t", "u"]), (2, ["COPY", "u", "t"]),
    (2, ["RPOP", "t", "3"]), (2, ["EXISTS", "t"]), (2, ["BLPOP", "t", "0"]),
    (2, ["BLMOVE", "u", "t", "LEFT", "LEFT", "0"]), (2, ["BRPOPLPUSH", "u", "t", "0"]),
    (2, ["LRANGE", "t", "0", "-1"]), (2, ["LRANGE", "u", "0", "-1"]), (2, ["EXEC"]),
    (1, ["LRANGE", "t", "0", "-1"]), (1, ["LRANGE", "u", "0", "-1"]),
    # WATCH of a key absent, then created by a push and emptied by a pop: changed.
    (0, ["WATCH", "absent"]), (1, ["RPUSH", "absent", "x"]), (1, ["LPOP", "absent"]),
    (0, ["MULTI"]), (0, ["EXISTS", "absent"]), (0, ["EXEC"]),
    # An LTRIM that keeps every item, run by EXEC on a connection that WATCHes: it marks the
    # watchers of its list while EXEC holds the registry (pastel-kv once deadlocked there).
    (0, ["RPUSH", "lt", "a", "b"]), (0, ["WATCH", "lt"]), (0, ["MULTI"]),
    (0, ["LTRIM", "lt", "0", "-1"]), (0, ["LRANGE", "lt", "0", "-1"]), (0, ["EXEC"]),
    (1, ["WATCH", "lt"]), (0, ["WATCH", "other"]), (0, ["MULTI"]),
    (0, ["LTRIM", "lt", "0", "-1"]), (0, ["EXEC"]), (1, ["MULTI"]), (1, ["LLEN", "lt"]),
    (1, ["EXEC"]),
]


# WATCH of a set: the set commands that change it (SADD of a new member, SREM of one there, SPOP
# that pops, SMOVE out of it or into it of a member it lacks, a STORE form onto it, even one that
# stores what it holds, or that empties it, a RENAME or COPY onto it, SET over it, an expiry) and
# the ones that do not (reads, SRANDMEMBER included; SADD of members it holds; SREM of members it
# lacks; SPOP with count 0; SMOVE of a set onto itself, of a member the source lacks, into a
# destination that is not a set, or into it of a member it holds; a STORE form whose result is
# empty onto a key that is not there, or refused by WRONGTYPE; a set command refused on a
# string). SPOP's random members are evened out by check_spop before the next case.
WS = ["SADD", "w", "a", "b", "c"]  # the watched set, made again where a case needs it
SW = ["SMEMBERS", "w"]
SET_TRANSACTIONS = [(0, ["FLUSHALL"])]
for _setup, _cmds in [
        ([WS], [["SADD", "w", "a", "b"]]), ([], [["SADD", "w", "a", "d"]]),
        ([], [["SREM", "w", "x", "y"]]), ([], [["SREM", "w", "d", "x"]]),
        ([], [["SMEMBERS", "w"], ["SISMEMBER", "w", "a"], ["SMISMEMBER", "w", "a", "x"],
              ["SCARD", "w"], ["SRANDMEMBER", "w"], ["SRANDMEMBER", "w", "-5"],
              ["SSCAN", "w", "0"], ["SINTER", "w", "w"], ["SUNION", "w", "nokey"],
              ["SDIFF", "w", "nokey"], ["SINTERCARD", "1", "w"], ["TYPE", "w"],
              ["EXISTS", "w"], ["OBJECT", "ENCODING", "w"], ["SCAN", "0", "TYPE", "set"]]),
        ([], [["SPOP", "w", "0"], ["SPOP", "nokey"], ["SPOP", "w", "x"], ["SPOP", "w", "-1"]]),
        ([], [["SPOP", "w"]]), ([["DEL", "w"], WS], [["SPOP", "w", "2"]]),
        ([["DEL", "w"], WS], [["SPOP", "w", "5"]]),
        ([WS], [["SMOVE", "w", "w", "a"], ["SMOVE", "w", "w", "zz"], ["SMOVE", "w", "o", "zz"],
                ["SMOVE", "nokey", "w", "a"]]),
        ([["SET", "str", "v"]], [["SMOVE", "w", "str", "a"], ["SMOVE", "str", "w", "a"]]),
        ([["SADD", "o", "a", "z"]], [["SMOVE", "o", "w", "a"]]), ([], [["SMOVE", "o", "w", "z"]]),
        ([], [["SMOVE", "w", "o", "z"]]), ([["DEL", "o"]], [["SMOVE", "w", "o", "c"]]),
        ([], [["SINTERSTORE", "w", "w"]]), ([], [["SUNIONSTORE", "w", "w", "nokey"]]),
        ([], [["SINTERSTORE", "w", "w", "str"], ["SUNIONSTORE", "w", "nokey", "str"],
              ["SDIFFSTORE", "w", "str"]]),
        ([], [["SDIFFSTORE", "w", "w", "w"]]), ([], [["SINTERSTORE", "w", "nokey"]]),
        ([], [["SUNIONSTORE", "w", "nokey", "nokey2"], ["SDIFFSTORE", "w", "nokey"]]),
        ([["SADD", "o", "q"]], [["SDIFFSTORE", "w", "o", "nokey"]]),
        ([], [["SUNIONSTORE", "str", "w"]]), ([["DEL", "w"], WS], [["SREM", "w", "a", "b", "c"]]),
        ([WS], [["SPOP", "w", "0"], ["SREM", "w", "zz"], ["SADD", "w", "c"]]),
        ([], [["RENAME", "o", "w"]]), ([["SADD", "o", "x"]], [["COPY", "o", "w", "REPLACE"]]),
        ([], [["COPY", "o", "w"]]), ([], [["EXPIREAT", "w", "4000000000"]]),
        ([], [["PERSIST", "w"]]),
        ([], [["PERSIST", "w"]]), ([], [["SET", "w", "v"]]),
        ([], [["SADD", "w", "x"], ["SREM", "w", "x"], ["SPOP", "w"], ["SPOP", "w", "1"],
              ["SMOVE", "w", "o", "v"], ["SINTERSTORE", "o", "w"], ["SMEMBERS", "w"]]),
        ([["DEL", "w"], WS], [["DEL", "w"]]), ([], [["SADD", "w", "1"]]),
        ([], [["EXPIREAT", "w", "1"]]),
        ([WS], [["SMOVE", "w", "w2", "a"], ["SMOVE", "w2", "w", "a"]]),
]:
    SET_TRANSACTIONS += watch_case(_setup, _cmds, read=SW)
SET_TRANSACTIONS += [
    # A transaction's set writes are visible to its own later commands and to the next command;
    # the STORE forms, SMOVE, RENAME and COPY inside it.
    (2, ["MULTI"]), (2, ["SADD", "t", "a", "b", "1"]), (2, ["SREM", "t", "1"]),
    (2, ["SMEMBERS", "t"]), (2, ["SMOVE", "t", "u", "a"]), (2, ["SUNIONSTORE", "v", "t", "u"]),
    (2, ["SINTERSTORE", "x", "t", "u"]), (2, ["SDIFFSTORE", "y", "v", "u"]),
    (2, ["RENAME", "y", "z"]),
    (2, ["COPY", "z", "t2"]), (2, ["SCARD", "v"]), (2, ["SINTERCARD", "2", "v", "t2"]),
    (2, ["EXISTS", "x", "y"]), (2, ["SPOP", "t2", "10"]), (2, ["SMEMBERS", "v"]), (2, ["EXEC"]),
    (1, ["SMEMBERS", "t"]), (1, ["SMEMBERS", "u"]), (1, ["SMEMBERS", "v"]),
    (1, ["SMEMBERS", "z"]), (1, ["EXISTS", "t2"]),
    # WATCH of a key absent, then created by SADD and emptied by SREM: changed; created by SMOVE.
    (0, ["WATCH", "absent"]), (1, ["SADD", "absent", "x"]), (1, ["SREM", "absent", "x"]),
    (0, ["MULTI"]), (0, ["EXISTS", "absent"]), (0, ["EXEC"]),
    (1, ["SADD", "from", "m"]), (0, ["WATCH", "absent"]), (1, ["SMOVE", "from", "absent", "m"]),
    (0, ["MULTI"]), (0, ["SMEMBERS", "absent"]), (0, ["EXEC"]),
    # SADD of members the set holds, inside another connection's transaction: no change.
    (1, ["SADD", "h", "a", "b"]), (0, ["WATCH", "h"]), (1, ["MULTI"]), (1, ["SADD", "h", "a"]),
    (1, ["SREM", "h", "zz"]), (1, ["SMOVE", "h", "h", "a"]), (1, ["EXEC"]), (0, ["MULTI"]),
    (0, ["SMEMBERS", "h"]), (0, ["EXEC"]),
]


# WATCH of a zset: the zset commands that change it (ZADD of a new member or a new score, with
# NX XX GT LT CH INCR where they let it; ZINCRBY by anything but 0 unless the score stays (inf plus
# 5); ZREM of a member there; a ZREMRANGEBY* or a pop that removes; a blocking pop served at once;
# a STORE form onto it, even one that stores what it holds, or whose empty result deletes it; a
# RENAME or COPY onto it, SET over it, an expiry) and the ones that do not (reads; ZADD of the
# scores it holds, NX of a member there, XX of one not there, GT or LT the wrong way, INCR by 0 or
# refused; ZINCRBY by 0, or refused for NaN; ZREM of members not there; ZREMRANGEBY* and pops
# that remove nothing; a STORE form that reads it into another key, or whose empty result goes to
# a key not there, or refused by WRONGTYPE; a zset command refused on a string).
WZ = ["ZADD", "w", "1", "a", "2", "b", "3", "c"]  # the watched zset, made again where needed
ZW = ["ZRANGE", "w", "0", "-1", "WITHSCORES"]
ZSET_TRANSACTIONS = [(0, ["FLUSHALL"])]
for _setup, _cmds in [
        ([WZ], [["ZADD", "w", "1", "a"], ["ZADD", "w", "1.0", "a", "2", "b"],
                ["ZADD", "w", "CH", "1", "a"], ["ZADD", "w", "NX", "5", "a"],
                ["ZADD", "w", "XX", "5", "zz"], ["ZADD", "w", "GT", "0", "a"],
                ["ZADD", "w", "LT", "5", "a"], ["ZADD", "w", "INCR", "0", "a"],
                ["ZADD", "w", "NX", "INCR", "1", "a"], ["ZADD", "w", "LT", "INCR", "1", "a"],
                ["ZADD", "w", "GT", "INCR", "-1", "a"], ["ZADD", "w", "XX", "INCR", "1", "zz"],
                ["ZADD", "w", "x", "a"], ["ZADD", "w", "NX", "XX", "1", "a"]]),
        ([], [["ZADD", "w", "5", "a"]]), ([], [["ZADD", "w", "4", "d"]]),
        ([], [["ZADD", "w", "NX", "1", "e"]]), ([], [["ZADD", "w", "GT", "CH", "9", "a"]]),
        ([], [["ZADD", "w", "LT", "0", "a"]]), ([], [["ZADD", "w", "XX", "CH", "7", "a"]]),
        ([], [["ZADD", "w", "INCR", "1", "a"]]), ([], [["ZADD", "w", "GT", "INCR", "1", "a"]]),
        ([], [["ZINCRBY", "w", "0", "a"], ["ZINCRBY", "w", "x", "a"], ["ZINCRBY", "w", "nan", "a"],
              ["ZINCRBY", "w", "-0", "b"]]),
        ([], [["ZINCRBY", "w", "1", "a"]]), ([], [["ZINCRBY", "w", "1", "new"]]),
        ([], [["ZINCRBY", "w", "inf", "a"]]),
        ([], [["ZINCRBY", "w", "5", "a"], ["ZINCRBY", "w", "-inf", "a"],
              ["ZADD", "w", "INCR", "-inf", "a"]]),
        ([], [["ZREM", "w", "zz", "zz2"]]), ([], [["ZREM", "w", "d", "zz"]]),
        ([], [["ZSCORE", "w", "a"], ["ZMSCORE", "w", "a", "x"], ["ZCARD", "w"],
              ["ZCOUNT", "w", "-inf", "+inf"], ["ZLEXCOUNT", "w", "-", "+"], ["ZRANK", "w", "a"],
              ["ZREVRANK", "w", "a"], ["ZRANGE", "w", "0", "-1"],
              ["ZRANGE", "w", "0", "1", "BYSCORE", "LIMIT", "0", "1"],
              ["ZRANGEBYSCORE", "w", "0", "1"], ["ZREVRANGEBYSCORE", "w", "1", "0"],
              ["ZRANGEBYLEX", "w", "-", "+"], ["ZREVRANGEBYLEX", "w", "+", "-"],
              ["ZREVRANGE", "w", "0", "-1"], ["ZSCAN", "w", "0"], ["TYPE", "w"], ["EXISTS", "w"],
              ["OBJECT", "ENCODING", "w"], ["SCAN", "0", "TYPE", "zset"]]),
        ([["DEL", "w"], WZ], [["ZREMRANGEBYSCORE", "w", "100", "200"],
                              ["ZREMRANGEBYRANK", "w", "100", "200"],
                              ["ZREMRANGEBYRANK", "w", "2", "1"],
                              ["ZREMRANGEBYLEX", "w", "[x", "[y"], ["ZPOPMIN", "w", "0"],
                              ["ZPOPMAX", "w", "0"], ["ZPOPMIN", "nokey"],
                              ["ZPOPMIN", "w", "-1"], ["BZPOPMIN", "nokey", "0.01"]]),
        ([], [["ZPOPMIN", "w"]]), ([], [["ZPOPMAX", "w", "1"]]),
        ([WZ], [["ZREMRANGEBYSCORE", "w", "1", "1"]]), ([], [["ZREMRANGEBYRANK", "w", "0", "0"]]),
        ([["DEL", "w"], ["ZADD", "w", "0", "a", "0", "b"]], [["ZREMRANGEBYLEX", "w", "[a", "[a"]]),
        ([WZ], [["BZPOPMIN", "w", "0"]]), ([], [["BZPOPMAX", "nokey", "w", "0"]]),
        ([WZ], [["ZRANGESTORE", "other", "w", "0", "-1"], ["ZRANGESTORE", "w2", "w", "5", "6"],
                ["ZUNIONSTORE", "other", "2", "w", "w"], ["ZINTERSTORE", "other", "1", "w"],
                ["ZUNIONSTORE", "nokey2", "1", "nokey"]]),
        ([], [["ZRANGESTORE", "w", "w", "0", "-1"]]), ([], [["ZUNIONSTORE", "w", "1", "w"]]),
        ([], [["ZINTERSTORE", "w", "1", "w"]]),
        ([], [["ZUNIONSTORE", "w", "1", "w", "WEIGHTS", "1"]]),
        ([["SET", "str", "v"]], [["ZUNIONSTORE", "w", "2", "w", "str"],
                                 ["ZINTERSTORE", "w", "2", "str", "w"],
                                 ["ZRANGESTORE", "w", "str", "0", "-1"],
                                 ["ZRANGESTORE", "w", "w", "x", "1"], ["ZADD", "str", "1", "a"]]),
        ([["SADD", "s", "a"]], [["ZUNIONSTORE", "w", "1", "s"]]),
        ([WZ], [["ZINTERSTORE", "w", "2", "w", "nokey"]]),
        ([WZ], [["ZRANGESTORE", "w", "nokey", "0", "-1"]]),
        ([WZ], [["ZRANGESTORE", "w", "w", "10", "20"]]),
        ([WZ], [["ZUNIONSTORE", "w", "1", "nokey"]]),
        ([], [["ZRANGESTORE", "w", "nokey", "0", "-1"], ["ZUNIONSTORE", "w", "1", "nokey"],
              ["ZINTERSTORE", "w", "1", "nokey"], ["ZADD", "w", "XX", "1", "a"],
              ["ZADD", "w", "XX", "INCR", "1", "a"], ["ZREM", "w", "a"], ["ZPOPMIN", "w"],
              ["ZPOPMAX", "w", "5"], ["ZREMRANGEBYRANK", "w", "0", "-1"]]),
        ([], [["ZADD", "w", "GT", "0", "a"]]), ([["DEL", "w"]], [["ZINCRBY", "w", "0", "a"]]),
        ([["DEL", "w"]], [["ZADD", "w", "NX", "INCR", "0", "a"]]),
        ([WZ], [["RENAME", "w", "w"], ["COPY", "w", "w2"], ["ZADD", "o", "1", "x"],
                ["COPY", "o", "w"]]),
        ([], [["COPY", "o", "w", "REPLACE"]]), ([], [["RENAME", "o", "w"]]),
        ([], [["SET", "w", "v"]]), ([["DEL", "w"], WZ], [["DEL", "w"]]),
        ([WZ], [["EXPIREAT", "w", "4000000000"]]), ([], [["PERSIST", "w"]]),
        ([], [["PERSIST", "w"]]), ([], [["EXPIREAT", "w", "1"]]),
        ([WZ], [["ZREM", "w", "a", "b", "c"]]),
        ([WZ], [["ZADD", "w", "1", "x"], ["ZREM", "w", "x"], ["ZPOPMIN", "w"],
                ["ZPOPMAX", "w", "1"],
                ["ZADD", "w", "INCR", "1", "b"], ["ZRANGESTORE", "o", "w", "0", "-1"]]),
        ([["SET", "w", "v"]], [["ZADD", "w", "1", "a"], ["ZREM", "w", "a"], ["ZPOPMIN", "w"],
                               ["ZINCRBY", "w", "1", "a"], ["BZPOPMIN", "w", "0"],
                               ["ZREMRANGEBYRANK", "w", "0", "-1"]]),
]:
    ZSET_TRANSACTIONS += watch_case(_setup, _cmds, read=ZW)
ZSET_TRANSACTIONS += [
    # A transaction's zset writes are visible to its own later commands and to the next command;
    # the STORE forms, the pops, RENAME and COPY inside it; a blocking pop of an empty zset
    # answers *-1 at once.
    (2, ["MULTI"]), (2, ["ZADD", "t", "1", "a", "2", "b", "3", "c"]),
    (2, ["ZINCRBY", "t", "5", "a"]),
    (2, ["ZRANGE", "t", "0", "-1", "WITHSCORES"]), (2, ["ZRANGESTORE", "u", "t", "0", "1"]),
    (2, ["ZUNIONSTORE", "v", "2", "t", "u", "WEIGHTS", "1", "10"]),
    (2, ["ZINTERSTORE", "x", "2", "t", "u", "AGGREGATE", "MAX"]), (2, ["RENAME", "x", "y"]),
    (2, ["COPY", "y", "t2"]), (2, ["ZPOPMIN", "t2", "10"]), (2, ["EXISTS", "t2"]),
    (2, ["BZPOPMIN", "t2", "0"]), (2, ["BZPOPMAX", "v", "0"]), (2, ["ZCARD", "v"]),
    (2, ["EXEC"]), (1, ["ZRANGE", "t", "0", "-1", "WITHSCORES"]),
    (1, ["ZRANGE", "u", "0", "-1", "WITHSCORES"]), (1, ["ZRANGE", "v", "0", "-1", "WITHSCORES"]),
    (1, ["ZRANGE", "y", "0", "-1", "WITHSCORES"]), (1, ["EXISTS", "x", "t2"]),
    # WATCH of a key absent, then created by ZADD and emptied by ZREM: changed; created by a
    # STORE form.
    (0, ["WATCH", "absent"]), (1, ["ZADD", "absent", "1", "x"]), (1, ["ZREM", "absent", "x"]),
    (0, ["MULTI"]), (0, ["EXISTS", "absent"]), (0, ["EXEC"]),
    (1, ["ZADD", "from", "1", "m"]), (0, ["WATCH", "absent"]),
    (1, ["ZUNIONSTORE", "absent", "1", "from"]), (0, ["MULTI"]),
    (0, ["ZRANGE", "absent", "0", "-1"]), (0, ["EXEC"]),
    # ZADD of the scores the zset holds, inside another connection's transaction: no change.
    (1, ["ZADD", "h", "1", "a", "2", "b"]), (0, ["WATCH", "h"]), (1, ["MULTI"]),
    (1, ["ZADD", "h", "1", "a"]), (1, ["ZREM", "h", "zz"]), (1, ["ZINCRBY", "h", "0", "b"]),
    (1, ["ZPOPMIN", "h", "0"]), (1, ["EXEC"]), (0, ["MULTI"]), (0, ["ZRANGE", "h", "0", "-1"]),
    (0, ["EXEC"]),
]

# Blocking pops, over several connections to each server (A, B, W block or watch, C pushes).
# Each scenario runs on redis-server, then on pastel-kv, from an empty key space; the replies
# read are compared in order. Steps: send(conn, cmds...) writes commands without reading (a
# blocking pop stays unanswered, and so does what was pipelined after it); read(conn, n) reads n
# replies; call(conn, cmd...) sends one command and reads its reply; blocked(n) waits until the
# server says blocked_clients:n (INFO clients, at most 5 s: redis-server counts a client blocked
# as soon as its command was read, so this orders the clients without depending on time); close
# closes a connection; unblock(conn, target, ...) sends CLIENT UNBLOCK with target's id. No
# reply depends on time but those of a timeout that nothing serves (*-1, for BLMOVE and
# BRPOPLPUSH too).
def send(c, *cmds):
    return ("send", c, list(cmds))


def read(c, n=1):
    return ("read", c, n)


def call(c, *cmd):
    return ("call", c, list(cmd))


def blocked(n):
    return ("blocked", n)


def close(c):
    return ("close", c)


def unblock(c, target, *extra):
    return ("unblock", c, target, list(extra))


BLOCKING = [
    ("two clients on one key, served in the order they blocked", [
        send("A", ["BLPOP", "q", "0"]), blocked(1), send("B", ["BLPOP", "q", "0"]), blocked(2),
        call("C", "RPUSH", "q", "x", "y"), read("A"), read("B"), call("C", "EXISTS", "q")]),
    ("a push of three serves one, the rest stays", [
        send("A", ["BLPOP", "q", "0"]), blocked(1), call("C", "RPUSH", "q", "a", "b", "c"),
        read("A"), call("C", "LRANGE", "q", "0", "-1")]),
    ("LPUSH of several: the client gets the last pushed (the head once the command is done)", [
        send("A", ["BLPOP", "q", "0"]), blocked(1), call("C", "LPUSH", "q", "a", "b", "c"),
        read("A"), call("C", "LRANGE", "q", "0", "-1")]),
    ("BLPOP and BRPOP on one key, each from its end", [
        send("A", ["BLPOP", "q", "0"]), blocked(1), send("B", ["BRPOP", "q", "0"]), blocked(2),
        call("C", "RPUSH", "q", "1", "2", "3"), read("A"), read("B"),
        call("C", "LRANGE", "q", "0", "-1")]),
    ("BRPOP served by a push", [
        send("A", ["BRPOP", "q", "0"]), blocked(1), call("C", "RPUSH", "q", "a", "b"), read("A"),
        call("C", "LRANGE", "q", "0", "-1")]),
    ("several keys: the one pushed serves, and the client no longer waits on the others", [
        send("A", ["BLPOP", "k1", "k2", "0"]), blocked(1), call("C", "RPUSH", "k2", "v"),
        read("A"), blocked(0), call("C", "RPUSH", "k1", "w"), call("C", "LLEN", "k1"),
        call("C", "EXISTS", "k2")]),
    ("a key named twice", [
        send("A", ["BLPOP", "q", "q", "0"]), blocked(1), call("C", "RPUSH", "q", "1", "2"),
        read("A"), call("C", "LRANGE", "q", "0", "-1")]),
    ("several keys pushed in one transaction: the key pushed first serves", [
        send("A", ["BLPOP", "k1", "k2", "0"]), blocked(1), send("B", ["BLPOP", "k2", "0"]),
        blocked(2), call("C", "MULTI"), call("C", "RPUSH", "k2", "x"),
        call("C", "RPUSH", "k1", "y"), call("C", "EXEC"), read("A"), blocked(1),
        call("C", "LRANGE", "k1", "0", "-1"), call("C", "LRANGE", "k2", "0", "-1"),
        call("C", "RPUSH", "k2", "z"), read("B"), call("C", "EXISTS", "k2")]),
    ("BLMOVE served by a push, both pairs of ends", [
        send("A", ["BLMOVE", "src", "dst", "RIGHT", "LEFT", "0"]), blocked(1),
        send("B", ["BLMOVE", "src", "dst", "LEFT", "RIGHT", "0"]), blocked(2),
        call("C", "RPUSH", "dst", "old"), call("C", "RPUSH", "src", "a", "b", "c"), read("A"),
        read("B"), call("C", "LRANGE", "src", "0", "-1"), call("C", "LRANGE", "dst", "0", "-1")]),
    ("BRPOPLPUSH served by a push", [
        send("A", ["BRPOPLPUSH", "src", "dst", "0"]), blocked(1),
        call("C", "LPUSH", "src", "a", "b"), read("A"), call("C", "LRANGE", "src", "0", "-1"),
        call("C", "LRANGE", "dst", "0", "-1")]),
    ("BLMOVE of a list onto itself", [
        send("A", ["BLMOVE", "r", "r", "LEFT", "RIGHT", "0"]), blocked(1),
        call("C", "RPUSH", "r", "a", "b"), read("A"), call("C", "LRANGE", "r", "0", "-1")]),
    ("a BLMOVE served pushes onto a key another client waits on, which is served in turn", [
        send("A", ["BLMOVE", "k1", "k2", "RIGHT", "LEFT", "0"]), blocked(1),
        send("B", ["BLPOP", "k2", "0"]), blocked(2), call("C", "RPUSH", "k1", "v"), read("A"),
        read("B"), blocked(0), call("C", "EXISTS", "k1", "k2")]),
    ("a BLMOVE whose destination is no longer a list when served: WRONGTYPE, the element stays", [
        send("A", ["BLMOVE", "src", "dst", "RIGHT", "LEFT", "0"]), blocked(1),
        call("C", "SET", "dst", "v"), call("C", "RPUSH", "src", "a"), read("A"), blocked(0),
        call("C", "LRANGE", "src", "0", "-1"), call("C", "GET", "dst")]),
    ("RPOPLPUSH and LMOVE onto the key clients wait on", [
        send("A", ["BLPOP", "dst", "0"]), blocked(1), send("B", ["BRPOP", "dst", "0"]), blocked(2),
        call("C", "RPUSH", "src", "x", "y"), call("C", "RPOPLPUSH", "src", "dst"), read("A"),
        blocked(1), call("C", "LMOVE", "src", "dst", "LEFT", "RIGHT"), read("B"),
        call("C", "EXISTS", "src", "dst")]),
    ("a pipeline on the pushing connection: the blocked client is served right after the push", [
        send("A", ["BLPOP", "q", "0"]), blocked(1), send("C", ["RPUSH", "q", "a"], ["LPOP", "q"]),
        read("C", 2), read("A"), call("C", "EXISTS", "q")]),
    ("pushes inside MULTI serve the blocked client after EXEC", [
        send("A", ["BLPOP", "q", "0"]), blocked(1), call("C", "MULTI"),
        call("C", "RPUSH", "q", "a"), call("C", "RPUSH", "q", "b"), call("C", "LLEN", "q"),
        call("C", "EXEC"), read("A"), call("C", "LRANGE", "q", "0", "-1")]),
    ("a push and a pop in one transaction serve nobody", [
        send("A", ["BLPOP", "q", "0"]), blocked(1), call("C", "MULTI"),
        call("C", "RPUSH", "q", "x"), call("C", "LPOP", "q"), call("C", "EXEC"), blocked(1),
        call("C", "EXISTS", "q"), call("C", "RPUSH", "q", "y"), read("A"),
        call("C", "EXISTS", "q")]),
    ("commands pipelined after a blocked one run only once it is served", [
        send("A", ["BLPOP", "q", "0"], ["GET", "m"], ["LLEN", "q"]), blocked(1),
        call("C", "SET", "m", "after"), call("C", "RPUSH", "q", "a", "b"), read("A", 3)]),
    ("timeouts: nil (*-1 for every blocking form), then the pipelined commands", [
        send("A", ["BLPOP", "q", "0.2"], ["RPUSH", "q", "x"], ["BLPOP", "q", "0.2"]), read("A", 3),
        send("A", ["BRPOP", "q1", "q2", "0.1"], ["BLMOVE", "q1", "q2", "LEFT", "LEFT", "0.1"],
             ["BRPOPLPUSH", "q1", "q2", "0.1"], ["PING"]), read("A", 4), blocked(0),
        call("C", "EXISTS", "q", "q1", "q2")]),
    ("a timeout served before it expires", [
        send("A", ["BLPOP", "q", "100"]), blocked(1), call("C", "RPUSH", "q", "v"), read("A"),
        blocked(0)]),
    ("the key waited on becomes a string: the client waits on until it is a list again", [
        send("A", ["BLPOP", "q", "0"]), blocked(1), call("C", "SET", "q", "v"), blocked(1),
        call("C", "LPUSH", "q", "x"), call("C", "DEL", "q"), call("C", "RPUSH", "q", "z"),
        read("A"), call("C", "EXISTS", "q")]),
    ("RENAME and COPY onto a key a client waits on serve it", [
        send("A", ["BLPOP", "q", "0"]), blocked(1), call("C", "RPUSH", "src", "a", "b"),
        call("C", "RENAME", "src", "q"), read("A"), call("C", "LRANGE", "q", "0", "-1"),
        send("A", ["BLPOP", "cp", "0"]), blocked(1), call("C", "COPY", "q", "cp"), read("A"),
        call("C", "LRANGE", "cp", "0", "-1"), call("C", "LRANGE", "q", "0", "-1")]),
    ("a blocked client that closes waits no more", [
        send("A", ["BLPOP", "q", "0"]), blocked(1), close("A"), blocked(0),
        call("C", "RPUSH", "q", "v"), call("C", "LRANGE", "q", "0", "-1")]),
    ("WATCH of a BLMOVE's destination: the move that serves it changes it", [
        call("W", "WATCH", "dst"), send("A", ["BLMOVE", "src", "dst", "LEFT", "LEFT", "0"]),
        blocked(1), call("C", "RPUSH", "src", "v"), read("A"), call("W", "MULTI"),
        call("W", "LRANGE", "dst", "0", "-1"), call("W", "EXEC"), call("W", "WATCH", "src"),
        send("A", ["BLPOP", "src", "0"]), blocked(1), call("C", "RPUSH", "other", "v"),
        call("W", "MULTI"), call("W", "EXISTS", "src"), call("W", "EXEC"),
        call("C", "RPUSH", "src", "w"), read("A")]),
    ("CLIENT UNBLOCK: a timeout (nil) or an error; 0 for a client not blocked", [
        send("A", ["BLPOP", "q", "0"]), blocked(1), unblock("C", "A"), read("A"), blocked(0),
        unblock("C", "A"), send("A", ["BLMOVE", "q", "r", "LEFT", "LEFT", "0"]), blocked(1),
        unblock("C", "A", "ERROR"), read("A"), send("A", ["BRPOP", "q", "0"], ["PING"]), blocked(1),
        unblock("C", "A", "TIMEOUT"), read("A", 2), call("C", "RPUSH", "q", "v"),
        call("C", "LRANGE", "q", "0", "-1")]),
    # Sorted sets: BZPOPMIN and BZPOPMAX ([key, member, score]), served in the order the clients
    # blocked, by ZADD (one client per member: the lowest or highest score first), ZINCRBY, the
    # STORE forms, RENAME and COPY; a push serves no BZPOPMIN and a ZADD no BLPOP on the same key.
    ("BZPOPMIN: two clients on one key, served in the order they blocked by one ZADD of three", [
        send("A", ["BZPOPMIN", "z", "0"]), blocked(1), send("B", ["BZPOPMIN", "z", "0"]),
        blocked(2), call("C", "ZADD", "z", "3", "c", "1", "a", "2", "b"), read("A"), read("B"),
        blocked(0), call("C", "ZRANGE", "z", "0", "-1", "WITHSCORES")]),
    ("BZPOPMAX: three clients, a ZADD of two members serves the first two, the third waits on", [
        send("A", ["BZPOPMAX", "z", "0"]), blocked(1), send("B", ["BZPOPMAX", "z", "0"]),
        blocked(2), send("D", ["BZPOPMAX", "z", "0"]), blocked(3),
        call("C", "ZADD", "z", "1.5", "a", "inf", "b"), read("A"), read("B"), blocked(1),
        call("C", "EXISTS", "z"), call("C", "ZADD", "z", "-inf", "c", "0.1", "d"), read("D"),
        call("C", "ZRANGE", "z", "0", "-1", "WITHSCORES")]),
    ("BZPOPMIN and BZPOPMAX on one key, each from its end; equal scores in member order", [
        send("A", ["BZPOPMIN", "z", "0"]), blocked(1), send("B", ["BZPOPMAX", "z", "0"]),
        blocked(2), call("C", "ZADD", "z", "1", "b", "1", "a", "1", "c", "1", ""), read("A"),
        read("B"), call("C", "ZRANGE", "z", "0", "-1", "WITHSCORES")]),
    ("timeouts as floats: *-1 for BZPOPMIN and BZPOPMAX, then the pipelined commands", [
        send("A", ["BZPOPMIN", "z", "0.1"], ["ZADD", "z", "1", "a"], ["BZPOPMAX", "z", "0.1"],
             ["BZPOPMIN", "z", "0.05"], ["BZPOPMAX", "z1", "z2", "0.1"], ["PING"]), read("A", 6),
        blocked(0), call("C", "EXISTS", "z", "z1", "z2"),
        send("A", ["BZPOPMIN", "z", "100"]), blocked(1), call("C", "ZADD", "z", "7", "v"),
        read("A"), blocked(0)]),
    ("several keys: the second gets members and serves; the client waits on the first no more", [
        send("A", ["BZPOPMIN", "k1", "k2", "0"]), blocked(1), call("C", "ZADD", "k2", "2", "v"),
        read("A"), blocked(0), call("C", "ZADD", "k1", "1", "w"), call("C", "ZCARD", "k1"),
        call("C", "EXISTS", "k2"),
        send("A", ["BZPOPMAX", "k3", "k1", "0"]), read("A"), call("C", "EXISTS", "k1")]),
    ("ZADD inside MULTI serves after EXEC; two keys written in one transaction: the first serves", [
        send("A", ["BZPOPMIN", "q", "0"]), blocked(1), call("C", "MULTI"),
        call("C", "ZADD", "q", "2", "b"), call("C", "ZADD", "q", "1", "a"), call("C", "ZCARD", "q"),
        call("C", "EXEC"), read("A"), call("C", "ZRANGE", "q", "0", "-1", "WITHSCORES"),
        send("A", ["BZPOPMIN", "k1", "k2", "0"]), blocked(1), send("B", ["BZPOPMAX", "k2", "0"]),
        blocked(2), call("C", "MULTI"), call("C", "ZADD", "k2", "1", "x"),
        call("C", "ZADD", "k1", "1", "y"), call("C", "EXEC"), read("A"), blocked(1),
        call("C", "ZRANGE", "k1", "0", "-1"), call("C", "ZRANGE", "k2", "0", "-1"),
        call("C", "ZADD", "k2", "5", "z"), read("B"), call("C", "EXISTS", "k2")]),
    ("a ZADD and a ZREM (or ZPOPMIN) in one transaction serve nobody", [
        send("A", ["BZPOPMIN", "q", "0"]), blocked(1), call("C", "MULTI"),
        call("C", "ZADD", "q", "1", "x"), call("C", "ZREM", "q", "x"),
        call("C", "ZADD", "q", "2", "y"),
        call("C", "ZPOPMIN", "q"), call("C", "EXEC"), blocked(1), call("C", "EXISTS", "q"),
        call("C", "ZADD", "q", "3", "z"), read("A"), call("C", "EXISTS", "q")]),
    ("BZPOPMIN inside MULTI does not block: *-1 for an empty key, a member at once for another", [
        send("B", ["BZPOPMIN", "q", "0"]), blocked(1), call("A", "MULTI"),
        call("A", "BZPOPMIN", "q", "0"), call("A", "ZADD", "q", "1", "a"),
        call("A", "BZPOPMAX", "q", "0"), call("A", "BZPOPMIN", "q", "0"), call("A", "EXEC"),
        blocked(1), call("C", "ZADD", "q", "2", "b"), read("B"), call("C", "EXISTS", "q")]),
    ("CLIENT UNBLOCK of a BZPOPMIN or BZPOPMAX: TIMEOUT (*-1) or ERROR", [
        send("A", ["BZPOPMIN", "q", "0"]), blocked(1), unblock("C", "A"), read("A"), blocked(0),
        send("A", ["BZPOPMAX", "q", "q2", "0"]), blocked(1), unblock("C", "A", "ERROR"),
        read("A"), send("A", ["BZPOPMIN", "q", "0"], ["PING"]), blocked(1),
        unblock("C", "A", "TIMEOUT"), read("A", 2), unblock("C", "A"),
        call("C", "ZADD", "q", "1", "v"), call("C", "ZRANGE", "q", "0", "-1")]),
    ("a list push serves no BZPOPMIN and a ZADD no BLPOP on the same key; a string in between", [
        send("A", ["BZPOPMIN", "q", "0"]), blocked(1), send("B", ["BLPOP", "q", "0"]), blocked(2),
        call("C", "RPUSH", "q", "x"), read("B"), blocked(1), call("C", "EXISTS", "q"),
        send("B", ["BLPOP", "q", "0"]), blocked(2), call("C", "SET", "q", "v"), blocked(2),
        call("C", "DEL", "q"), call("C", "ZADD", "q", "1", "m", "2", "n"), read("A"), blocked(1),
        call("C", "ZRANGE", "q", "0", "-1"), call("C", "DEL", "q"), call("C", "RPUSH", "q", "y"),
        read("B"), blocked(0)]),
    ("ZINCRBY, ZADD INCR, ZUNIONSTORE, ZINTERSTORE, ZRANGESTORE, RENAME, COPY onto a waited key", [
        send("A", ["BZPOPMIN", "q", "0"]), blocked(1), call("C", "ZADD", "q", "XX", "1", "a"),
        call("C", "ZADD", "q", "XX", "INCR", "1", "a"), blocked(1),
        call("C", "ZINCRBY", "q", "2.5", "a"), read("A"),
        send("A", ["BZPOPMAX", "q", "0"]), blocked(1), call("C", "ZADD", "q", "INCR", "-1", "b"),
        read("A"), call("C", "ZADD", "src", "1", "a", "2", "b", "3", "c"),
        send("A", ["BZPOPMIN", "q", "0"]), blocked(1), call("C", "ZUNIONSTORE", "q", "1", "src"),
        read("A"), call("C", "DEL", "q"), send("A", ["BZPOPMAX", "q", "0"]), blocked(1),
        call("C", "ZINTERSTORE", "q", "2", "src", "nokey"), blocked(1),
        call("C", "ZINTERSTORE", "q", "2", "src", "src", "WEIGHTS", "1", "2"), read("A"),
        call("C", "DEL", "q"), send("A", ["BZPOPMIN", "q", "0"]), blocked(1),
        call("C", "ZRANGESTORE", "q", "src", "1", "1"), read("A"), call("C", "EXISTS", "q"),
        send("A", ["BZPOPMIN", "q", "0"]), blocked(1), call("C", "ZADD", "r", "9", "x", "8", "y"),
        call("C", "RENAME", "r", "q"), read("A"), call("C", "ZRANGE", "q", "0", "-1", "WITHSCORES"),
        send("A", ["BZPOPMAX", "cp", "0"]), blocked(1), call("C", "COPY", "q", "cp"), read("A"),
        call("C", "ZRANGE", "cp", "0", "-1"), call("C", "ZRANGE", "q", "0", "-1")]),
    ("RENAME and COPY REPLACE of a zset over a key of another type a client waits on serve it", [
        send("A", ["BZPOPMIN", "q", "0"]), blocked(1), call("C", "SET", "q", "v"),
        call("C", "ZADD", "src", "1", "a", "2", "b", "3", "c"), blocked(1),
        call("C", "RENAME", "src", "q"), read("A"), send("B", ["BZPOPMAX", "q2", "0"]),
        blocked(1), call("C", "SADD", "q2", "m"), call("C", "BZPOPMAX", "q2", "0"), blocked(1),
        call("C", "COPY", "q", "q2", "REPLACE"),
        read("B"), call("C", "ZRANGE", "q2", "0", "-1"), call("C", "ZRANGE", "q", "0", "-1")]),
    ("commands pipelined after a blocked BZPOPMIN run once it is served; a pipeline serves it "
     "right after the ZADD", [
        send("A", ["BZPOPMIN", "q", "0"], ["ZCARD", "q"], ["GET", "m"]), blocked(1),
        call("C", "SET", "m", "after"), call("C", "ZADD", "q", "1", "a", "2", "b"), read("A", 3),
        send("A", ["BZPOPMAX", "p", "0"]), blocked(1),
        send("C", ["ZADD", "p", "1", "a"], ["ZPOPMIN", "p"], ["EXISTS", "p"]), read("C", 3),
        read("A"), call("C", "ZCARD", "q")]),
    ("a blocked BZPOPMIN that closes waits no more; WATCH of the key a served pop changes", [
        send("A", ["BZPOPMIN", "q", "0"]), blocked(1), close("A"), blocked(0),
        call("C", "ZADD", "q", "1", "v"), call("C", "ZRANGE", "q", "0", "-1"),
        call("W", "WATCH", "q"), send("B", ["BZPOPMIN", "q2", "q", "0"]), read("B"),
        call("W", "MULTI"), call("W", "EXISTS", "q"), call("W", "EXEC"),
        call("W", "WATCH", "q"), send("B", ["BZPOPMAX", "q", "0"]), blocked(1),
        call("C", "ZADD", "other", "1", "v"), call("W", "MULTI"), call("W", "EXISTS", "q"),
        call("W", "EXEC"), call("W", "WATCH", "q"), call("C", "ZADD", "q", "2", "w"), read("B"),
        call("W", "MULTI"), call("W", "EXISTS", "q"), call("W", "EXEC")]),
]


def unordered(c, n):
    return ("unordered", c, n)


def sorted_call(c, *cmd):
    return ("sorted", c, list(cmd))


def unsubscribe_all(c, cmd, n):
    return ("unsubscribe_all", c, cmd, n)


def until(cmd, want):
    return ("until", list(cmd), want)


def numsub(channel, n):
    return until(["PUBSUB", "NUMSUB", channel], b"*2\r\n%s:%d\r\n" % (bulk(channel), n))


def numpat(n):
    return until(["PUBSUB", "NUMPAT"], b":%d\r\n" % n)


def stats():
    return ("stats",)


def pubsub_clients():
    return ("clients",)


def bulk(s):
    s = s if isinstance(s, bytes) else s.encode()
    return b"$%d\r\n%s\r\n" % (len(s), s)


# Publish/subscribe over several connections to each server (S T U V W subscribe, P publishes).
# Each scenario runs on redis-server, then on pastel-kv, with no subscription left from the one
# before; the replies and messages read are compared in order. Steps as BLOCKING's, and:
# unordered(conn, n) reads n replies compared as a multiset (the pmessages of one PUBLISH to a
# client with several patterns that match: redis-server sends them in its pattern dict's order);
# sorted_call(conn, cmd...) compares an array reply sorted (PUBSUB CHANNELS);
# unsubscribe_all(conn, cmd, n) sends UNSUBSCRIBE or PUNSUBSCRIBE without names and reads its n
# replies, the names as a multiset (redis-server's dict order), the counts in order; until(cmd,
# reply), numsub(channel, n), numpat(n) ask PUBSUB (or cmd) from another connection until it
# answers reply (at most 5 s: a connection closed or killed leaves its subscriptions when the
# server has read the close); stats() compares INFO stats's pubsub_channels and pubsub_patterns;
# pubsub_clients() CLIENT LIST TYPE pubsub's flags, sub and psub (sorted). Every message read was
# published before (PUBLISH answers once the message is on its way: its delivery is waited for
# at most 5 s, within 100 ms across pastel-kv's loops). A scenario whose third field is ACROSS
# reads a message and another reply in an order set across connections (a message before the
# reply to a command sent after the PUBLISH was answered; messages of two publishers): with
# several pastel-kv loops, a message from another loop may come after such a reply, so it is
# compared only with one loop. At the end, every connection still open answers a PING (nothing
# else was sent to it).
ACROSS = "across"
PUBSUB = [
    ("SUBSCRIBE to several channels: one confirmation per name with the count (a name twice "
     "counted once); PUBLISH answers the number of receivers", [
        send("S", ["SUBSCRIBE", "c1", "c2", "c1"]), read("S", 3),
        send("T", ["SUBSCRIBE", "c2", "c3"]), read("T", 2),
        call("P", "PUBLISH", "c1", "m1"), read("S"), call("P", "PUBLISH", "c2", "m2"), read("S"),
        read("T"), call("P", "PUBLISH", "c4", "m4"), call("P", "PUBLISH", "c3", "m3"), read("T"),
        call("P", "PUBSUB", "NUMSUB", "c1", "c2", "c3", "c4", "c2"),
        sorted_call("P", "PUBSUB", "CHANNELS"), sorted_call("P", "PUBSUB", "CHANNELS", "c[12]"),
        sorted_call("P", "PUBSUB", "CHANNELS", "*3"), call("P", "PUBSUB", "NUMPAT"), stats(),
        pubsub_clients()]),
    ("PSUBSCRIBE glob patterns, one per client: ?, [a-e], [^e], an escaped *, *", [
        call("S", "PSUBSCRIBE", "h?llo"), call("T", "PSUBSCRIBE", "h[a-e]llo"),
        call("U", "PSUBSCRIBE", "h[^e]llo"), call("V", "PSUBSCRIBE", "a\\*b"),
        call("W", "PSUBSCRIBE", "*"),
        call("P", "PUBLISH", "hello", "1"), read("S"), read("T"), read("W"),
        call("P", "PUBLISH", "hallo", "2"), read("S"), read("T"), read("U"), read("W"),
        call("P", "PUBLISH", "hxllo", "3"), read("S"), read("U"), read("W"),
        call("P", "PUBLISH", "a*b", "4"), read("V"), read("W"),
        call("P", "PUBLISH", "axb", "5"), read("W"), call("P", "PUBLISH", "heello", "6"),
        read("W"),
        # redis-server's stringmatchlen: * matches no empty channel (nobody gets it).
        call("P", "PUBLISH", "", ""),
        call("P", "PUBSUB", "NUMPAT"), call("P", "PUBSUB", "CHANNELS"),
        call("P", "PUBSUB", "NUMSUB", "hello", "h?llo"), stats(), pubsub_clients()]),
    ("patterns not well formed, all on one client: an open [, a trailing \\, [a-], [^]", [
        send("S", ["PSUBSCRIBE", "[abc", "x\\", "[a-]", "*[", "\\", "a[^]b"]), read("S", 6),
        call("P", "PUBLISH", "a", "m"), unordered("S", 2), call("P", "PUBLISH", "b", "m"),
        read("S"), call("P", "PUBLISH", "[abc", "m"), call("P", "PUBLISH", "x\\", "m"),
        read("S"), call("P", "PUBLISH", "-", "m"), call("P", "PUBLISH", "*[", "m"),
        call("P", "PUBLISH", "\\", "m"), read("S"), call("P", "PUBLISH", "a]b", "m"), read("S"),
        call("P", "PUBLISH", "a^b", "m"), read("S"), call("P", "PUBSUB", "NUMPAT"),
        unsubscribe_all("S", ["PUNSUBSCRIBE"], 6)]),
    ("a channel and patterns of one client: the message, then a pmessage per pattern that "
     "matches, each counted by PUBLISH; PUBSUB NUMPAT counts patterns, not clients", [
        send("S", ["SUBSCRIBE", "news"], ["PSUBSCRIBE", "n*"]), read("S", 2),
        send("T", ["PSUBSCRIBE", "n*", "ne*", "x*", "n*"]), read("T", 4),
        call("U", "SUBSCRIBE", "news"), call("V", "PSUBSCRIBE", "news"),
        call("P", "PUBLISH", "news", "flash"), read("S", 2), unordered("T", 2), read("U"),
        read("V"), call("P", "PUBLISH", "nx", "y"), read("S"), read("T"),
        call("P", "PUBSUB", "NUMPAT"), call("P", "PUBSUB", "NUMSUB", "news", "n*"),
        sorted_call("P", "PUBSUB", "CHANNELS"), stats(), pubsub_clients()]),
    ("UNSUBSCRIBE and PUNSUBSCRIBE by name (names not subscribed too), then of all; subscribed "
     "mode ends when both counts are 0", [
        send("S", ["SUBSCRIBE", "a", "b", "c"], ["PSUBSCRIBE", "p*", "q*"]), read("S", 5),
        send("S", ["UNSUBSCRIBE", "b", "zz", "b"]), read("S", 3),
        call("P", "PUBLISH", "b", "x"), call("P", "PUBLISH", "a", "x"), read("S"),
        unsubscribe_all("S", ["UNSUBSCRIBE"], 2), call("S", "GET", "k"), call("S", "PING"),
        call("P", "PUBLISH", "a", "x"), call("P", "PUBLISH", "pa", "x"), read("S"),
        send("S", ["PUNSUBSCRIBE", "q*", "nn"]), read("S", 2),
        unsubscribe_all("S", ["PUNSUBSCRIBE"], 1), call("S", "GET", "k"), call("S", "PING"),
        call("S", "UNSUBSCRIBE"), call("S", "PUNSUBSCRIBE"), send("S", ["UNSUBSCRIBE", "x", "y"]),
        read("S", 2), call("S", "GET", "k"),
        send("T", ["SUBSCRIBE", "a", "b"]), read("T", 2), call("T", "UNSUBSCRIBE", "a"),
        call("T", "GET", "k"), call("T", "UNSUBSCRIBE", "b"), call("T", "GET", "k"),
        call("P", "PUBSUB", "NUMPAT"), call("P", "PUBSUB", "CHANNELS"), stats(),
        pubsub_clients()]),
    ("commands refused in subscribed mode (redis-server 7.0's text), the checks before it "
     "(unknown command, arity, unknown subcommand) and PING", [
        call("S", "SUBSCRIBE", "s"), call("S", "GET", "k"), call("S", "gEt", "k"),
        call("S", "SET", "k", "v"), call("S", "ECHO", "x"), call("S", "MULTI"), call("S", "EXEC"),
        call("S", "DISCARD"), call("S", "WATCH", "k"), call("S", "UNWATCH"),
        call("S", "CLIENT", "ID"), call("S", "CLIENT", "SETNAME", "n"),
        call("S", "CLIENT", "REPLY", "OFF"), call("S", "CONFIG", "GET", "maxmemory"),
        call("S", "HELLO"), call("S", "HELLO", "2"), call("S", "AUTH", "x"),
        call("S", "PUBLISH", "s", "m"), call("S", "PUBSUB", "NUMPAT"),
        call("S", "PUBSUB", "CHANNELS"), call("S", "COMMAND"), call("S", "INFO"),
        call("S", "DBSIZE"), call("S", "FLUSHALL"), call("S", "BLPOP", "q", "0"),
        call("S", "SELECT", "0"), call("S", "NOSUCH", "x"), call("S", "GET"),
        call("S", "SET", "k"), call("S", "PING", "a", "b"), call("S", "CLIENT"),
        call("S", "CLIENT", "NOPE"), call("S", "PUBSUB", "FOO"), call("S", "PUBSUB"),
        call("S", "SUBSCRIBE"), call("S", "PSUBSCRIBE"), call("S", "RESET", "x"),
        call("S", "PING"), call("S", "PING", "hello"), call("S", "PING", ""),
        call("S", "ping", "\x00\xff"), call("P", "PUBLISH", "s", "m"), read("S"),
        call("P", "EXISTS", "k"), call("P", "PING")]),
    ("RESET leaves subscribed mode (no unsubscribe replies; PUBLISH counts the client no more) "
     "and forgets the name and the transaction", [
        call("S", "CLIENT", "SETNAME", "sub1"),
        send("S", ["SUBSCRIBE", "r1", "r2"], ["PSUBSCRIBE", "r*"]), read("S", 3),
        call("P", "PUBLISH", "r1", "x"), read("S", 2), pubsub_clients(), call("S", "RESET"),
        call("P", "PUBLISH", "r1", "y"), call("S", "GET", "k"), call("S", "PING"),
        call("S", "CLIENT", "GETNAME"), call("P", "PUBSUB", "NUMSUB", "r1", "r2"),
        call("P", "PUBSUB", "NUMPAT"), pubsub_clients(), stats(),
        send("S", ["MULTI"], ["SUBSCRIBE", "t"], ["RESET"], ["EXEC"]), read("S", 4),
        call("P", "PUBLISH", "t", "z"), call("S", "SUBSCRIBE", "t"), call("S", "RESET"),
        call("S", "RESET"), call("P", "PUBLISH", "t", "z")]),
    ("binary channel names and messages, the empty channel and message, long messages; PUBSUB "
     "CHANNELS with patterns, NUMSUB", [
        send("S", ["SUBSCRIBE", "\x00\xff", "a b", "", "\r\n", "x" * 300]), read("S", 5),
        send("T", ["PSUBSCRIBE", "\x00*", "*\n", "a?b"]), read("T", 3),
        call("P", "PUBLISH", "\x00\xff", ""), read("S"), read("T"),
        call("P", "PUBLISH", "", "\x00\r\n"), read("S"),
        call("P", "PUBLISH", "\r\n", "y" * 5000), read("S"), read("T"),
        call("P", "PUBLISH", "a b", "m"), read("S"), read("T"),
        call("P", "PUBLISH", "x" * 300, "z" * 70000), read("S"),
        call("P", "PUBLISH", "\x00", "\x00"), read("T"),
        sorted_call("P", "PUBSUB", "CHANNELS"), sorted_call("P", "PUBSUB", "CHANNELS", "a*"),
        sorted_call("P", "PUBSUB", "CHANNELS", "\x00?"), sorted_call("P", "PUBSUB", "CHANNELS", ""),
        sorted_call("P", "PUBSUB", "CHANNELS", "x*"), sorted_call("P", "PUBSUB", "CHANNELS", "?"),
        sorted_call("P", "PUBSUB", "CHANNELS", "*"),
        call("P", "PUBSUB", "NUMSUB", "", "\x00\xff", "\x00", "a b"), call("P", "PUBSUB", "NUMPAT"),
        stats(), pubsub_clients()]),
    ("a subscriber that closes, or is killed (CLIENT KILL TYPE pubsub): PUBLISH counts it no "
     "more", [
        call("S", "SUBSCRIBE", "d"), call("T", "PSUBSCRIBE", "d*"), call("U", "SUBSCRIBE", "d"),
        call("P", "PUBLISH", "d", "1"), read("S"), read("T"), read("U"), close("S"), numsub("d", 1),
        call("P", "PUBLISH", "d", "2"), read("T"), read("U"), pubsub_clients(),
        call("P", "CLIENT", "KILL", "TYPE", "pubsub"), read("T"), read("U"), numsub("d", 0),
        numpat(0), call("P", "PUBLISH", "d", "3"), call("P", "CLIENT", "KILL", "TYPE", "pubsub"),
        pubsub_clients(), stats()]),
    # (One name per SUBSCRIBE: redis-server's EXEC counts the commands in its array's length,
    # and a SUBSCRIBE of two channels answers two arrays in it.)
    ("SUBSCRIBE inside MULTI: queued, its confirmations in EXEC's array, the client subscribed "
     "after it (the transaction's later PING answers as in subscribed mode, its GET runs)", [
        send("S", ["MULTI"], ["SUBSCRIBE", "m1"], ["SUBSCRIBE", "m2"], ["PSUBSCRIBE", "m*"],
             ["PING"], ["GET", "k"], ["EXEC"]), read("S", 7), call("S", "GET", "k"),
        call("P", "PUBLISH", "m1", "x"), read("S", 2), pubsub_clients(),
        send("S", ["UNSUBSCRIBE", "m1", "m2"], ["PUNSUBSCRIBE", "m*"]), read("S", 3),
        send("S", ["MULTI"], ["SUBSCRIBE", "y"], ["UNSUBSCRIBE", "y"], ["PSUBSCRIBE", "z"],
             ["PUNSUBSCRIBE"], ["PING"], ["EXEC"]), read("S", 7), call("S", "GET", "k"),
        send("S", ["MULTI"], ["SUBSCRIBE"], ["EXEC"]), read("S", 3),
        send("S", ["MULTI"], ["SUBSCRIBE", "y"], ["DISCARD"], ["GET", "k"]), read("S", 4),
        call("P", "PUBSUB", "NUMSUB", "y", "m1"),
        # PUBLISH inside MULTI: each answers its receivers in EXEC's array.
        call("T", "SUBSCRIBE", "t"), call("P", "MULTI"), call("P", "PUBLISH", "t", "a"),
        call("P", "PUBLISH", "t", "b"), call("P", "PUBLISH", "none", "c"), call("P", "EXEC"),
        read("T", 2)]),
    ("QUIT in subscribed mode: +OK, the connection closes, its subscriptions go", [
        send("S", ["SUBSCRIBE", "q"], ["PSUBSCRIBE", "q*"]), read("S", 2), call("S", "QUIT"),
        read("S"), call("T", "SUBSCRIBE", "q"), call("T", "QUIT", "x"), read("T"),
        numsub("q", 0), numpat(0), call("P", "PUBLISH", "q", "x")]),
    ("commands pipelined after SUBSCRIBE on the same connection, answered in order", [
        send("S", ["SUBSCRIBE", "a"], ["GET", "k"], ["PING"], ["PING", "x"], ["PSUBSCRIBE", "b*"],
             ["SET", "k", "v"], ["UNSUBSCRIBE", "a"], ["ECHO", "e"], ["PUNSUBSCRIBE", "b*"],
             ["SET", "k", "v"], ["GET", "k"], ["PING"], ["SUBSCRIBE", "a", "b"], ["QUIT"]),
        read("S", 16), numsub("a", 0), call("P", "GET", "k")]),
    ("messages to several subscribers, each in the order published", [
        send("S", ["SUBSCRIBE", "ch1", "ch2"]), read("S", 2), call("T", "SUBSCRIBE", "ch1"),
        call("U", "PSUBSCRIBE", "ch*"),
        send("P", ["PUBLISH", "ch1", "m1"], ["PUBLISH", "ch2", "m2"], ["PUBLISH", "ch1", "m3"],
             ["PUBLISH", "ch3", "m4"], ["PUBLISH", "ch2", "m5"]), read("P", 5),
        read("S", 4), read("T", 2), read("U", 5),
        send("P", *[["PUBLISH", "ch1", str(n)] for n in range(50)]), read("P", 50),
        read("S", 50), read("T", 50), read("U", 50)]),
    ("a message comes before the subscriber's reply to a command sent after the PUBLISH was "
     "answered; messages of two publishers in the order they were answered", [
        call("S", "SUBSCRIBE", "o"), call("P", "PUBLISH", "o", "1"), call("S", "PING"),
        read("S"), call("P", "PUBLISH", "o", "2"), call("S", "PSUBSCRIBE", "o*"), read("S"),
        call("P", "PUBLISH", "o", "3"), call("Q", "PUBLISH", "o", "4"),
        call("P", "PUBLISH", "o", "5"), read("S", 6), call("P", "PUBLISH", "o", "6"),
        send("S", ["UNSUBSCRIBE", "o"], ["PUNSUBSCRIBE", "o*"]), read("S", 4),
        call("P", "PUBLISH", "o", "7"), call("S", "GET", "k")], ACROSS),
]


class Stuck(Exception):
    """A server did not come to the state a scenario waits for."""


def scenario_replies(port, server, scenarios, across=True):
    """scenarios (BLOCKING's or PUBSUB's) on one server, those marked ACROSS only if across:
    [(where, reply)] of every reply read, and what stopped it early (None when nothing did)."""
    out = []
    ctl = Conn(port)

    def ask(cmd):
        ctl.s.sendall(enc(cmd))
        return ctl.reply()

    def info_blocked():
        raw = ask(["INFO", "clients"])
        return next((l for l in raw.split(b"\r\n") if l.startswith(b"blocked_clients:")), raw)

    def wait(get, want, where):
        deadline = time.monotonic() + 5
        got = get()
        while got != want and time.monotonic() < deadline:
            time.sleep(0.002)
            got = get()
        if got != want:
            raise Stuck("%s did not answer %r within 5 s (%s): it said %r"
                        % (server, want, where, got[:300]))

    for title, steps, *flags in scenarios:
        if ACROSS in flags and not across:
            continue
        conns, ids = {}, {}

        def conn(name):
            if name not in conns:
                c = conns[name] = Conn(port)
                c.s.settimeout(5)
                c.s.sendall(enc(["CLIENT", "ID"]))  # (for CLIENT UNBLOCK: asked before it blocks)
                ids[name] = int(c.reply()[1:-2])
            return conns[name]

        ask(["FLUSHALL"])
        for i, step in enumerate(steps + [blocked(0), ("ping",)]):
            where = "%s: step %d %r" % (title, i + 1, step)
            where = where if len(where) < 400 else where[:400] + "..."
            kind = step[0]
            try:
                if kind == "send":
                    conn(step[1]).s.sendall(b"".join(enc(c) for c in step[2]))
                elif kind in ("read", "call"):
                    if kind == "call":
                        conn(step[1]).s.sendall(enc(step[2]))
                    for _ in range(step[2] if kind == "read" else 1):
                        out.append((where, conn(step[1]).reply()))
                elif kind == "unordered":
                    out.append((where, sorted(conn(step[1]).reply() for _ in range(step[2]))))
                elif kind == "sorted":
                    conn(step[1]).s.sendall(enc(step[2]))
                    v = parse(conn(step[1]).reply())[0]
                    out.append((where, sorted(v) if isinstance(v, list) else v))
                elif kind == "unsubscribe_all":
                    conn(step[1]).s.sendall(enc(step[2]))
                    replies = [parse(conn(step[1]).reply())[0] for _ in range(step[3])]
                    out.append((where, (sorted((r[1] if isinstance(r, list) and len(r) == 3
                                                else r for r in replies), key=repr),
                                        [[r[0], r[2]] if isinstance(r, list) and len(r) == 3
                                         else r for r in replies])))
                elif kind == "until":
                    wait(lambda: ask(step[1]), step[2], where)
                elif kind == "stats":
                    raw = ask(["INFO", "stats"])
                    out.append((where, [next((l for l in raw.split(b"\r\n") if l.startswith(f)),
                                             None) for f in (b"pubsub_channels:",
                                                             b"pubsub_patterns:")]))
                elif kind == "clients":
                    raw = ask(["CLIENT", "LIST", "TYPE", "pubsub"])
                    out.append((where, sorted(
                        [f for f in line.split(b" ")
                         if f.split(b"=")[0] in (b"flags", b"sub", b"psub")]
                        for line in raw.split(b"\n")[1:] if b"=" in line)))
                elif kind == "blocked":
                    wait(info_blocked, b"blocked_clients:%d" % step[1], where)
                elif kind == "close":
                    conns.pop(step[1]).s.close()
                elif kind == "unblock":
                    conn(step[1]).s.sendall(enc(["CLIENT", "UNBLOCK", str(ids[step[2]])] + step[3]))
                    out.append((where, conn(step[1]).reply()))
                elif kind == "ping":  # every connection still open: nothing more was sent to it
                    for name, c in sorted(conns.items()):
                        if not c.closed:
                            try:
                                c.s.sendall(enc(["PING"]))
                                r = c.reply()
                            except (BrokenPipeError, ConnectionResetError):
                                r = b"<closed>"
                            out.append(("%s: %s" % (where, name), r))
            except Stuck as e:
                return out, str(e)
            except (socket.timeout, OSError) as e:
                return out, "%s gave no reply (or message) in 5 s (%s): %r" % (server, where, e)
        for c in conns.values():
            c.s.close()
        try:  # no subscription left for the next scenario (a close is read when it is read)
            wait(lambda: ask(["PUBSUB", "NUMPAT"]), b":0\r\n", title + ": at its end")
            wait(lambda: ask(["PUBSUB", "CHANNELS"]), b"*0\r\n", title + ": at its end")
        except Stuck as e:
            return out, str(e)
    ctl.s.close()
    return out, None


def pastel_loops(port):
    """The loops pastel-kv runs (INFO server's pastel_loops), 1 when it does not say."""
    c = Conn(port)
    c.s.sendall(enc(["INFO", "server"]))
    info = c.reply()
    for line in info.split(b"\r\n"):
        if line.startswith(b"pastel_loops:"):
            return int(line[len(b"pastel_loops:"):])
    return 1


def check_scenarios(what, scenarios, redis_port, pastel_port, across=True):
    """scenarios on both servers, the replies compared; how many."""
    a, stop_a = scenario_replies(redis_port, "redis-server", scenarios, across)
    if stop_a is not None:
        print("%s (seed %s), in the %s scenarios" % (stop_a, SEED, what))
        sys.exit(1)
    b, stop_b = scenario_replies(pastel_port, "pastel-kv", scenarios, across)
    for (where, x), (_, y) in zip(a, b):  # (the first difference, before what stopped pastel-kv)
        if x != y:
            print("DIFFERENT replies (seed %s) in %s scenario %s:\n  redis-server: %s\n"
                  "  pastel-kv:    %s" % (SEED, what, where, repr(x)[:500], repr(y)[:500]))
            sys.exit(1)
    if stop_b is not None or len(a) != len(b):
        print("%s (seed %s), in the %s scenarios" % (stop_b or "fewer replies", SEED, what))
        sys.exit(1)
    return len(a)


def check_blocking(redis_port, pastel_port):
    """BLOCKING on both servers, the replies compared; how many."""
    if pastel_loops(pastel_port) > 1:
        # With several loops, clients blocked on one key are served in order per loop, not
        # across loops (docs/kv.md, "Lists"): the scenarios' order is redis-server's only with
        # one loop. The durable-queue test covers blocked clients over several loops.
        print("blocking scenarios not compared: pastel-kv runs several loops")
        return 0
    return check_scenarios("blocking", BLOCKING, redis_port, pastel_port)


def check_pubsub(redis_port, pastel_port):
    """PUBSUB on both servers, the replies and messages compared; how many."""
    across = pastel_loops(pastel_port) == 1
    if not across:
        print("pub/sub scenarios marked ACROSS not compared: pastel-kv runs several loops")
    return check_scenarios("pub/sub", PUBSUB, redis_port, pastel_port, across)


SEED = None  # the random steps' seed, printed with any difference (PASTEL_TEST_SEED reruns it)
KEYS = ["k1", "k2", "k3", "n", "f"]
# Absolute expiry times (deterministic replies): far ahead, or already past (the key goes).
AT_S = ["1", "0", "-5", "3000000000", "3000000001", "4000000000", "x"]
AT_MS = ["1", "3000000000000", "3000000000500", "4000000000000", "-1", "x"]
VALUES = ["", "0", "1", "-7", "42", "3.5", "1e3", "abc", "hello world", "9223372036854775807",
          "x" * 50, "\x00\xff"]
# Hash commands name these keys: two of the string keys too (WRONGTYPE both ways), and two that
# only the generic commands (TYPE DEL RENAME COPY SET ...) and the hash commands name.
HASH_KEYS = ["h1", "h2", "k2", "k3"]
# List commands name these: a string key and a hash key too (WRONGTYPE both ways), and two that
# only the generic commands and the list commands name.
LIST_KEYS = ["l1", "l2", "k3", "h2"]
# Set commands name these: a string key, a hash key and a list key too (WRONGTYPE both ways; the
# STORE forms and SMOVE make sets of them), and two that only the generic commands and the set
# commands name.
SET_KEYS = ["s1", "s2", "k1", "h1", "l1"]
# Zset commands name these: a string key, a hash key, a list key and a set key too (WRONGTYPE both
# ways; the STORE forms read the set as a zset of scores 1, and make zsets of them all), two that
# only the generic commands and the zset commands name, and z3, which only the zset commands name
# (always a zset or nothing: the generic commands make the others strings often).
ZSET_KEYS = ["z1", "z2", "z3", "k1", "h2", "l2", "s1"]
ALL_KEYS = KEYS + ["h1", "h2", "l1", "l2", "s1", "s2", "z1", "z2"]
FIELDS = ["a", "b", "c", "n", "", "sp ace", "\x00\xff"]
ELEMENTS = ["a", "b", "c", "", "1", "x" * 50, "\x00\xff"]
# At most 9 members: redis-server's SSCAN from cursor 0 (COUNT 10) answers a hashtable of 9
# members whole, with cursor 0 (queued in MULTI it gets one call); some integers (an intset while
# they are all), "007" and "" not.
MEMBERS = ["a", "", "007", "1", "2", "-3", "10", "x" * 50, "\x00\xff"]
# A zset's members: one of 65 bytes (a skiplist from then on, until a STORE form writes it again).
# Its scores: ties, inf, and (one in twenty) some that are no float. (Not -0 nor integers past
# 2^53, whose formatting depends on the encoding: ZSET_SCRIPT covers those.)
ZMEMBERS = ["a", "b", "c", "", "1", "y" * 65, "\x00\xff"]
ZSCORES = ["0", "1", "1", "1", "2", "2", "3", "-1", "1.5", "0.1", "-2.5", "10", "inf", "-inf",
           "+inf"]
ZBAD = ["x", "nan", "1e400", ""]
# Lex bounds; over a zset whose scores differ only "-", "+" and a bound that is none (redis-server
# answers other lex ranges over such a zset by its skiplist's random levels: lex_fix).
LEX = ["-", "+", "[a", "(a", "[b", "(c", "[", "(", "[1", "(\x00\xff", "x"]


def random_command(rng):
    k = lambda: rng.choice(KEYS)
    v = lambda: rng.choice(VALUES)
    i = lambda: rng.choice(["0", "1", "3", "-1", "-3", "10", "100", "x", "-100"])
    small = lambda: str(rng.randrange(0, 40))
    choices = [
        lambda: ["SET", k(), v()], lambda: ["GET", k()], lambda: ["APPEND", k(), v()],
        lambda: ["GETRANGE", k(), i(), i()], lambda: ["SETRANGE", k(), small(), v()],
        lambda: ["SETRANGE", k(), i(), v()], lambda: ["GETSET", k(), v()],
        lambda: ["SETNX", k(), v()], lambda: ["MSETNX", k(), v(), k(), v()],
        lambda: ["MSET", k(), v(), k(), v()], lambda: ["INCR", k()],
        lambda: ["INCRBY", k(), i()], lambda: ["DECRBY", k(), i()],
        lambda: ["INCRBYFLOAT", k(), rng.choice(["0.5", "-1.25", "1e2", "x", "3", "inf"])],
        lambda: ["SETBIT", k(), str(rng.randrange(0, 200)), rng.choice(["0", "1", "2"])],
        lambda: ["GETBIT", k(), rng.choice([str(rng.randrange(0, 400)), "-1", "x"])],
        lambda: ["BITCOUNT", k()], lambda: ["BITCOUNT", k(), i(), i()],
        lambda: ["BITCOUNT", k(), i(), i(), rng.choice(["BIT", "BYTE", "bit", "XX"])],
        lambda: ["RENAME", k(), k()], lambda: ["RENAMENX", k(), k()],
        lambda: ["COPY", k(), k()], lambda: ["COPY", k(), k(), "REPLACE"],
        lambda: ["DEL", k(), k()], lambda: ["UNLINK", k()], lambda: ["EXISTS", k(), k()],
        lambda: ["TOUCH", k(), k()], lambda: ["STRLEN", k()], lambda: ["TYPE", k()],
        lambda: ["MGET", k(), k(), k()], lambda: ["DBSIZE"],
        lambda: ["SET", k(), v(), rng.choice(["EXAT", "PXAT"]), rng.choice(AT_MS)],
        lambda: ["SET", k(), v(), "PXAT", rng.choice(AT_MS), rng.choice(["NX", "XX", "GET"])],
        lambda: ["SET", k(), v(), rng.choice(["KEEPTTL", "GET", "XX"])],
        lambda: ["EXPIREAT", k(), rng.choice(AT_S)] + rng.sample(["NX", "XX", "GT", "LT"], rng.randrange(0, 2)),
        lambda: ["PEXPIREAT", k(), rng.choice(AT_MS)] + rng.sample(["NX", "XX", "GT", "LT"], rng.randrange(0, 2)),
        lambda: ["EXPIRE", k(), rng.choice(["-1", "0", "x"])], lambda: ["PERSIST", k()],
        lambda: ["EXPIRETIME", k()], lambda: ["PEXPIRETIME", k()], lambda: ["GETDEL", k()],
        lambda: ["GETEX", k()] + rng.choice([[], ["PERSIST"], ["PXAT", rng.choice(AT_MS)],
                                              ["EXAT", rng.choice(AT_S)]]),
    ]
    hk = lambda: rng.choice(HASH_KEYS)
    ak = lambda: rng.choice(ALL_KEYS)
    fl = lambda: rng.choice(FIELDS)
    fv = lambda: [x for _ in range(rng.randrange(1, 4)) for x in (fl(), v())]
    choices += [
        lambda: ["HSET", hk()] + fv(), lambda: ["HSET", hk()] + fv()[:-1],
        lambda: ["HMSET", hk()] + fv(), lambda: ["HSETNX", hk(), fl(), v()],
        lambda: ["HGET", hk(), fl()], lambda: ["HMGET", hk(), fl(), fl(), fl()],
        lambda: ["HDEL", hk()] + rng.sample(FIELDS, rng.randrange(1, 4)),
        lambda: ["HDEL", hk()] + FIELDS, lambda: ["HGETALL", hk()], lambda: ["HKEYS", hk()],
        lambda: ["HVALS", hk()], lambda: ["HLEN", hk()], lambda: ["HEXISTS", hk(), fl()],
        lambda: ["HSTRLEN", hk(), fl()], lambda: ["HINCRBY", hk(), fl(), i()],
        lambda: ["HINCRBYFLOAT", hk(), fl(), rng.choice(["0.5", "-1.25", "1e2", "x", "3", "inf"])],
        lambda: ["HRANDFIELD", hk()] + rng.choice([[], [i()], [i(), "WITHVALUES"]]),
        lambda: ["HSCAN", hk(), "0"] + rng.choice(
            [[], ["MATCH", rng.choice(["*", "a*", "?", "[ab]", "*p*", ""])],
             ["COUNT", rng.choice(["1", "2", "10", "0", "x"])]]),
        # Hashes under the generic commands, string commands on them, SET over them.
        lambda: ["TYPE", ak()], lambda: ["EXISTS", ak(), ak()], lambda: ["DEL", ak()],
        lambda: ["RENAME", ak(), ak()], lambda: ["RENAMENX", ak(), ak()],
        lambda: ["COPY", ak(), ak()] + rng.choice([[], ["REPLACE"]]),
        lambda: ["EXPIREAT", ak(), rng.choice(AT_S)], lambda: ["PERSIST", ak()],
        lambda: ["PEXPIRETIME", ak()], lambda: ["SET", ak(), v()], lambda: ["APPEND", ak(), v()],
        lambda: [rng.choice(["GET", "STRLEN", "GETDEL", "INCR", "GETEX"]), ak()],
        lambda: ["MGET", ak(), ak()], lambda: ["SETNX", ak(), v()],
        lambda: ["KEYS", rng.choice(["*", "h*", "k?", "[hk][12]", "*x*", "l?", "s*", "z?"])],
        lambda: ["SCAN", "0"] + rng.choice([[], ["TYPE", "hash"], ["TYPE", "string"],
                                            ["MATCH", "h*"], ["MATCH", "k*", "TYPE", "hash"]]),
    ]
    lk = lambda: rng.choice(LIST_KEYS)
    el = lambda: rng.choice(ELEMENTS)
    els = lambda n: [el() for _ in range(rng.randrange(1, n))]
    li = lambda: rng.choice(["0", "1", "2", "-1", "-2", "-3", "4", "-5", "100", "-100", "x"])
    count = lambda: rng.choice(["0", "1", "2", "3", "10", "-1", "x", "9223372036854775807"])
    end = lambda: rng.choice(["LEFT", "RIGHT"])
    lpos = lambda: rng.choice([["RANK", rng.choice(["1", "2", "-1", "-2", "0", "x"])],
                               ["COUNT", rng.choice(["0", "1", "2", "-1"])],
                               ["MAXLEN", rng.choice(["0", "1", "3", "-1"])]])
    choices += [
        lambda: [rng.choice(["LPUSH", "RPUSH"]), lk()] + els(5),
        lambda: [rng.choice(["LPUSH", "RPUSH"]), lk()] + els(3),
        lambda: [rng.choice(["LPUSHX", "RPUSHX"]), lk()] + els(3),
        lambda: [rng.choice(["LPOP", "RPOP"]), lk()],
        lambda: [rng.choice(["LPOP", "RPOP"]), lk(), count()],
        lambda: ["LRANGE", lk(), li(), li()], lambda: ["LRANGE", lk(), "0", "-1"],
        lambda: ["LLEN", lk()], lambda: ["LINDEX", lk(), li()], lambda: ["LSET", lk(), li(), el()],
        lambda: ["LINSERT", lk(), rng.choice(["BEFORE", "AFTER", "after", "MIDDLE"]), el(), el()],
        lambda: ["LREM", lk(), rng.choice(["0", "1", "-1", "2", "-2", "x"]), el()],
        lambda: ["LTRIM", lk(), li(), li()],
        lambda: ["LPOS", lk(), el()] + [x for _ in range(rng.randrange(0, 3)) for x in lpos()],
        lambda: ["LMOVE", lk(), lk(), end(), end()], lambda: ["RPOPLPUSH", lk(), lk()],
        # Blocking forms: served at once, or nil after 0.01 s (at once inside MULTI).
        lambda: rng.choice([["BLPOP"] + rng.sample(LIST_KEYS, rng.randrange(1, 3)) + ["0.01"],
                            ["BRPOP", lk(), "0.01"],
                            ["BLMOVE", lk(), lk(), end(), end(), "0.01"],
                            ["BRPOPLPUSH", lk(), lk(), "0.01"]]),
        lambda: ["SCAN", "0", "TYPE", "list"] + rng.choice([[], ["MATCH", "l*"]]),
    ]
    sk = lambda: rng.choice(SET_KEYS)
    sks = lambda: [sk() for _ in range(rng.randrange(1, 4))]
    mb = lambda: rng.choice(MEMBERS)
    mbs = lambda n: [mb() for _ in range(rng.randrange(1, n))]
    # SPOP's counts: at most 4, or all (a set has at most 9 members): never redis-server's spop
    # "case 3", which leaves a new set whose encoding depends on which members it kept.
    pop = lambda: rng.choice(["0", "1", "2", "3", "4", "100", "9223372036854775807", "-1", "x"])

    def sintercard():
        keys = sks()
        n = rng.choice([str(len(keys))] * 4 + ["0", "x", "1", str(len(keys) + 1)])
        return ["SINTERCARD", n] + keys + rng.choice(
            [[], [], ["LIMIT", rng.choice(["0", "1", "2", "5", "-1", "x"])]])
    choices += [
        lambda: ["SADD", sk()] + mbs(5), lambda: ["SADD", sk()] + mbs(3),
        lambda: ["SREM", sk()] + mbs(4), lambda: ["SMEMBERS", sk()],
        lambda: ["SISMEMBER", sk(), mb()], lambda: ["SMISMEMBER", sk()] + mbs(4),
        lambda: ["SCARD", sk()], lambda: ["SPOP", sk()] + rng.choice([[], [pop()]]),
        lambda: ["SRANDMEMBER", sk()] + rng.choice([[], [rng.choice(
            ["0", "1", "2", "5", "9", "20", "-1", "-3", "-20", "x", "-9223372036854775808"])]]),
        lambda: ["SMOVE", sk(), sk(), mb()], lambda: ["SMOVE", sk(), sk(), mb()],
        lambda: [rng.choice(["SINTER", "SUNION", "SDIFF"])] + sks(),
        lambda: [rng.choice(["SINTERSTORE", "SUNIONSTORE", "SDIFFSTORE"]), sk()] + sks(),
        sintercard,
        lambda: ["SSCAN", sk(), "0"] + rng.choice(
            [[], ["MATCH", rng.choice(["*", "a*", "?", "[a1]", "*0*", "", "-*"])],
             ["COUNT", rng.choice(["1", "2", "10", "0", "x"])]]),
        lambda: ["SCAN", "0", "TYPE", "set"] + rng.choice([[], ["MATCH", "s*"]]),
        # (Answered only for a set: Diff.call in main.)
        lambda: ["OBJECT", "ENCODING", sk()],
    ]
    zk = lambda: rng.choice(["z1", "z2", "z3", "z3"] + ZSET_KEYS)
    zm = lambda: rng.choice(ZMEMBERS)
    zs = lambda: rng.choice(ZBAD) if rng.random() < 0.05 else rng.choice(ZSCORES)
    zsm = lambda n: [x for _ in range(rng.randrange(1, n)) for x in (zs(), zm())]
    zopts = lambda: rng.sample(["NX", "XX", "GT", "LT", "CH"], rng.randrange(0, 3))
    sb = lambda: rng.choice(["-inf", "+inf", "0", "1", "(1", "2", "(0", "1.5", "(-1", "inf", "x"])
    zi = lambda: rng.choice(["0", "1", "2", "-1", "-2", "5", "-10", "100", "x"])
    lb = lambda: rng.choice(LEX)
    limit = lambda: rng.choice([[], [], ["LIMIT", rng.choice(["0", "1", "2", "-1"]),
                                         rng.choice(["0", "1", "2", "-1", "5"])]])
    ws = lambda: rng.choice([[], [], ["WITHSCORES"]])
    rev = lambda: rng.choice([[], ["REV"]])

    def zstore():
        keys = [zk() for _ in range(rng.randrange(1, 4))]
        n = rng.choice([str(len(keys))] * 5 + ["0", "x", str(len(keys) + 1)])
        return [rng.choice(["ZUNIONSTORE", "ZINTERSTORE"]), zk(), n] + keys + rng.choice(
            [[], [], ["WEIGHTS"] + [rng.choice(["1", "2", "0.5", "-1", "0", "inf", "x"])
                                    for _ in keys]]) + rng.choice(
            [[], [], ["AGGREGATE", rng.choice(["SUM", "MIN", "MAX", "max", "FOO"])]])
    choices += [
        lambda: ["ZADD", zk()] + zopts() + zsm(5), lambda: ["ZADD", zk()] + zsm(3),
        lambda: ["ZADD", zk()] + zsm(4), lambda: ["ZADD", zk()] + zsm(4),
        lambda: ["ZADD", zk()] + zopts() + ["INCR", zs(), zm()],
        lambda: ["ZADD", zk()] + zsm(3)[:-1],
        lambda: ["ZINCRBY", zk(), rng.choice(["1", "-1", "0.1", "2.5", "0", "inf", "-inf", "x"]),
                 zm()],
        lambda: ["ZREM", zk()] + [zm() for _ in range(rng.randrange(1, 4))],
        lambda: ["ZSCORE", zk(), zm()], lambda: ["ZMSCORE", zk(), zm(), zm()],
        lambda: ["ZCARD", zk()], lambda: ["ZCOUNT", zk(), sb(), sb()],
        lambda: [rng.choice(["ZRANK", "ZREVRANK"]), zk(), zm()],
        lambda: ["ZRANGE", zk(), zi(), zi()] + rev() + ws(),
        lambda: ["ZRANGE", zk(), "0", "-1", "WITHSCORES"],
        lambda: ["ZRANGE", zk(), sb(), sb(), "BYSCORE"] + rev() + limit() + ws(),
        lambda: [rng.choice(["ZRANGEBYSCORE", "ZREVRANGEBYSCORE"]), zk(), sb(), sb()] + ws() +
        limit(),
        lambda: ["ZREVRANGE", zk(), zi(), zi()] + ws(),
        lambda: [rng.choice(["ZRANGEBYLEX", "ZREVRANGEBYLEX"]), zk(), lb(), lb()] + limit(),
        lambda: ["ZRANGE", zk(), lb(), lb(), "BYLEX"] + rev() + limit(),
        lambda: [rng.choice(["ZLEXCOUNT", "ZREMRANGEBYLEX"]), zk(), lb(), lb()],
        lambda: ["ZREMRANGEBYSCORE", zk(), sb(), sb()],
        lambda: ["ZREMRANGEBYRANK", zk(), zi(), zi()],
        lambda: [rng.choice(["ZPOPMIN", "ZPOPMAX"]), zk()] + rng.choice([[], [count()]]),
        lambda: rng.choice([["ZRANGESTORE", zk(), zk(), zi(), zi()] + rev(),
                            ["ZRANGESTORE", zk(), zk(), sb(), sb(), "BYSCORE"] + rev() + limit(),
                            ["ZRANGESTORE", zk(), zk(), lb(), lb(), "BYLEX"] + rev() + limit()]),
        zstore,
        lambda: ["ZSCAN", zk(), "0"] + rng.choice(
            [[], ["MATCH", rng.choice(["*", "a*", "?", "[ab]", "*y*", ""])],
             ["COUNT", rng.choice(["1", "2", "10", "0", "x"])]]),
        # Blocking forms: served at once, or *-1 after 0.01 s (at once inside MULTI).
        lambda: [rng.choice(["BZPOPMIN", "BZPOPMAX"])] + rng.sample(
            ZSET_KEYS, rng.randrange(1, 3)) + ["0.01"],
        lambda: ["SCAN", "0", "TYPE", "zset"] + rng.choice([[], ["MATCH", "z*"]]),
        # (Answered only for a zset: Diff.call in main.)
        lambda: ["OBJECT", "ENCODING", zk()],
    ]
    return rng.choice(choices)()


def lex_at(cmd):
    """Where a lex range command names its key and its bounds: (key, index of min), or None."""
    name = cmd[0]
    if name in ("ZRANGEBYLEX", "ZREVRANGEBYLEX", "ZLEXCOUNT", "ZREMRANGEBYLEX") or (
            name == "ZRANGE" and "BYLEX" in cmd):
        return cmd[1], 2
    if name == "ZRANGESTORE" and "BYLEX" in cmd:
        return cmd[2], 3
    return None


def lex_fix(cmd, rng, reader, queued):
    """A lex range over a zset whose scores differ is answered by where redis-server's search
    through its skiplist's random levels stops (redis-server documents no answer): such a range
    keeps only "-", "+" and bounds that are none, which every search answers alike. Queued, the
    zset it will read is not known: always."""
    at = lex_at(cmd)
    if at is None:
        return cmd
    key, i = at
    safe = [rng.choice(["-", "+", "x"]), rng.choice(["-", "+", "x"])]
    if not queued:
        v = parse(reader.call("ZRANGE", key, "0", "-1", "WITHSCORES")[0])[0]
        if not isinstance(v, list) or len(set(v[1::2])) <= 1:
            return cmd
    return cmd[:i] + safe + cmd[i + 2:]


def check_big_zsets(d, rng):
    """Sorted sets of thousands of members (pastel-kv's order is a B+tree of many nodes; the
    random steps' sets stay small): pipelined ZADDs, moves, removals from the middle and both
    ends, then ranks, rank, score and lex ranges, counts and pops, one at a time and pipelined
    (a batch's own writes laid over the order). Scores repeat (members ordered by bytes within
    one); the lex ranges run on a set whose scores are all 0."""
    for key in ("bigz", "bigl"):
        d.call("DEL", key)
    names = ["m%05d" % i for i in range(6000)]
    for at in range(0, 4000, 200):
        args = ["ZADD", "bigz"]
        for m in names[at:at + 200]:
            args += [str(rng.randrange(60) / 4), m]
        d.call(*args)
        args = ["ZADD", "bigl"]
        for m in names[at:at + 200]:
            args += ["0", m]
        d.call(*args)
    ranks = lambda: [str(rng.randrange(-4500, 4500)) for _ in range(2)]
    score = lambda: rng.choice(["-inf", "+inf", "(", ""]) + str(rng.randrange(-2, 62) / 4) \
        if rng.random() < 0.9 else rng.choice(["-inf", "+inf"])
    lex = lambda: rng.choice(["[", "("]) + rng.choice(names)[:rng.randrange(2, 7)] \
        if rng.random() < 0.9 else rng.choice(["-", "+"])
    member = lambda: rng.choice(names)

    def command():
        r = rng.randrange(18)
        if r == 0:
            return ["ZADD", "bigz"] + sum(([str(rng.randrange(60) / 4), member()]
                                          for _ in range(rng.randrange(1, 6))), [])
        if r == 1:
            return ["ZREM", "bigz"] + [member() for _ in range(rng.randrange(1, 6))]
        if r == 2:
            return ["ZINCRBY", "bigz", str(rng.randrange(-8, 8) / 4), member()]
        if r == 3:
            return [rng.choice(["ZPOPMIN", "ZPOPMAX"]), "bigz", str(rng.randrange(1, 12))]
        if r == 4:
            return ["ZRANGE", "bigz"] + ranks() + rng.choice([[], ["WITHSCORES"]])
        if r == 5:
            return ["ZREVRANGE", "bigz"] + ranks()
        if r == 6:
            return ["ZRANGE", "bigz", score(), score(), "BYSCORE", "LIMIT",
                    str(rng.randrange(0, 300)), str(rng.randrange(-1, 40))]
        if r == 7:
            return ["ZRANGE", "bigz", score(), score(), "BYSCORE", "REV", "LIMIT",
                    str(rng.randrange(0, 300)), str(rng.randrange(-1, 40)), "WITHSCORES"]
        if r == 8:
            return [rng.choice(["ZRANK", "ZREVRANK", "ZSCORE"]), "bigz", member()]
        if r == 9:
            return ["ZCOUNT", "bigz", score(), score()]
        if r == 10:
            return ["ZCARD", rng.choice(["bigz", "bigl"])]
        if r == 11:
            return ["ZRANGEBYLEX", "bigl", lex(), lex(), "LIMIT", str(rng.randrange(0, 200)),
                    str(rng.randrange(-1, 30))]
        if r == 12:
            return ["ZREVRANGEBYLEX", "bigl", rng.choice(["+", "[m3"]), lex(), "LIMIT", "0", "20"]
        if r == 13:
            return ["ZLEXCOUNT", "bigl", lex(), lex()]
        if r == 14:
            return ["ZADD", "bigl", "0", member()] if rng.random() < 0.5 else \
                ["ZREM", "bigl", member(), member()]
        if r == 15:
            lo = rng.randrange(0, 3000)
            return ["ZREMRANGEBYRANK", "bigz", str(lo), str(lo + rng.randrange(0, 15))]
        if r == 16:
            lo = rng.randrange(0, 60) / 4
            return ["ZREMRANGEBYSCORE", "bigz", str(lo), "(" + str(lo + 0.25)] \
                if rng.random() < 0.2 else ["ZMSCORE", "bigz", member(), member()]
        return ["ZREMRANGEBYLEX", "bigl", "[" + member(), "(" + member()] \
            if rng.random() < 0.3 else ["ZRANK", "bigl", member()]

    for _ in range(800):
        d.call(*command())
    for _ in range(40):  # pipelined: each batch reads its own writes
        cmds = [command() for _ in range(rng.randrange(2, 12))]
        d.send(b"".join(enc(c) for c in cmds), replies=len(cmds), what=cmds)
    for key in ("bigz", "bigl"):
        d.call("ZRANGE", key, "0", "-1", "WITHSCORES")
        d.call("DEL", key)


def main():
    redis_port, pastel_port = int(sys.argv[1]), int(sys.argv[2])
    seed = int(sys.argv[3]) if len(sys.argv) > 3 else 1
    global SEED
    SEED = seed
    steps = int(sys.argv[4]) if len(sys.argv) > 4 else 2000
    auth_ports = (int(sys.argv[5]), int(sys.argv[6])) if len(sys.argv) > 6 else None
    d = Diff(redis_port, pastel_port)
    for cmd in SCRIPT:
        d.call(*cmd)
    d.call("CONFIG", "SET", "requirepass", "")  # (the script set one)
    for cmd in HASH_SCRIPT:
        d.call(*cmd)
    for cmd in LIST_SCRIPT:
        d.call(*cmd)
    for cmd in SET_SCRIPT:
        d.call(*cmd)
    for cmd in ZSET_SCRIPT:
        d.call(*cmd)
    for cmd in CLIENT:
        d.call(*cmd)
    for cmds, n in REPLY:
        d.send(b"".join(enc(c.split(" ")) for c in cmds), replies=n, what=cmds)
    d.call("PING")  # nothing more was answered
    for cmd in PUBSUB_SCRIPT:
        d.call(*cmd)
    for cmds, n in RESET_REPLY:
        d.send(b"".join(enc(c.split(" ")) for c in cmds), replies=n, what=cmds)
    d.call("PING")  # nothing more was answered
    # CLIENT KILL of the connection itself: by its id (SKIPME no), by its address (the old form:
    # itself included); each answers, then closes.
    ids = []
    for c in (d.r, d.p):
        c.s.sendall(enc(["CLIENT", "ID"]))
        ids.append(int(c.reply()[1:-2]))
    for kill in (lambda i, c: ["CLIENT", "KILL", "ID", str(i), "SKIPME", "yes"],
                 lambda i, c: ["CLIENT", "KILL", "ADDR", "127.0.0.1:%d" % c.s.getsockname()[1]],
                 lambda i, c: ["CLIENT", "KILL", "ID", str(i), "SKIPME", "no"]):
        replies = []
        for i, c in zip(ids, (d.r, d.p)):
            c.s.sendall(enc(kill(i, c)))
            replies.append(c.reply())
        if replies[0] != replies[1]:
            print("DIFFERENT replies to a CLIENT KILL of itself:\n  redis-server: %r\n"
                  "  pastel-kv:    %r" % tuple(replies))
            sys.exit(1)
        d.compared += 1
    if not (d.r.closes() and d.p.closes()):
        print("CLIENT KILL ID (its own) SKIPME no did not close both connections")
        sys.exit(1)
    d.reconnect()
    for c in (d.r, d.p):
        c.s.sendall(enc(["CLIENT", "KILL", "127.0.0.1:%d" % c.s.getsockname()[1]]))
    a, b = d.r.reply(), d.p.reply()
    if a != b or not (d.r.closes() and d.p.closes()):
        print("CLIENT KILL ip:port (its own): %r and %r, or no close" % (a, b))
        sys.exit(1)
    d.reconnect()
    for raw, n in INLINE:
        d.send(raw, replies=n)
    for raw in PROTOCOL_ERRORS:
        d.reconnect()
        d.send(raw)
        if not (d.r.closes() and d.p.closes()):
            print("a protocol error did not close both connections: %r" % raw)
            sys.exit(1)
    d.reconnect()
    # Pipelined: a MSETNX, RENAME and COPY in the same batch as the reads of their keys.
    d.call("FLUSHALL")
    pipe = [["MSETNX", "p1", "a", "p2", "b"], ["RENAME", "p1", "p3"], ["COPY", "p3", "p4"],
            ["MGET", "p1", "p2", "p3", "p4"], ["GETRANGE", "p4", "0", "-1"], ["DBSIZE"]]
    d.send(b"".join(enc(c) for c in pipe), replies=len(pipe), what=pipe)
    # Transactions over three connections; then a whole transaction pipelined in one send.
    conns = [d, Diff(redis_port, pastel_port), Diff(redis_port, pastel_port)]
    for i, cmd in TRANSACTIONS + HASH_TRANSACTIONS + LIST_TRANSACTIONS + SET_TRANSACTIONS + \
            ZSET_TRANSACTIONS:
        conns[i].call(*cmd)
    pipe = [["WATCH", "p"], ["MULTI"], ["SET", "p", "1"], ["INCR", "p"], ["GET", "p"],
            ["INCR", "nonint"], ["EXEC"], ["GET", "p"]]
    d.call("SET", "nonint", "abc")
    d.send(b"".join(enc(c) for c in pipe), replies=len(pipe), what=pipe)
    # A watched key that was live and expired before EXEC aborts it (redis-server's
    # isWatchedKeyExpired); one that had expired before WATCH does not.
    d.send(enc(["SET", "e", "v", "PX", "300"]) + enc(["WATCH", "e"]), replies=2)
    time.sleep(0.5)
    d.send(enc(["MULTI"]) + enc(["PING"]) + enc(["EXEC"]), replies=3, what="EXEC after expiry")
    d.send(enc(["WATCH", "e"]) + enc(["MULTI"]) + enc(["PING"]) + enc(["EXEC"]), replies=4)
    d.compared += check_blocking(redis_port, pastel_port)
    d.compared += check_pubsub(redis_port, pastel_port)
    rng = random.Random(seed)
    d.call("FLUSHALL")
    # The random steps run on the three connections in turn at random; each may be inside MULTI
    # (its commands queued, answered by EXEC) and WATCH keys the others change.
    in_multi = [False, False, False]
    reader = Diff(redis_port, pastel_port)
    for step in range(steps):
        c = rng.randrange(0, 3)
        x = conns[c]
        r = rng.random()
        if r < 0.03:
            cmd = ["WATCH"] + rng.sample(ALL_KEYS, rng.randrange(1, 3))
            # redis-server keeps a key SET with a past time until a read or its background
            # expiry cycle removes it, and WATCH treats such a key apart (isWatchedKeyExpired):
            # read the keys first from a connection never in MULTI, so that what the watch sees
            # does not depend on when that cycle ran.
            for key in cmd[1:]:
                reader.call("EXISTS", key)
        elif r < 0.05:
            cmd = ["MULTI"]
        elif r < 0.08 and in_multi[c]:
            cmd = [rng.choice(["EXEC", "EXEC", "EXEC", "DISCARD"])]
        elif r < 0.085:
            cmd = ["UNWATCH"]
        else:
            cmd = random_command(rng)
        if cmd[0] == "MULTI":
            in_multi[c] = True
        elif cmd[0] in ("EXEC", "DISCARD"):
            in_multi[c] = False
        if cmd[0] == "DBSIZE" and in_multi[c]:
            # Queued, it would count after the transaction's own SETs with a past time, which
            # redis-server keeps (and counts) until a read removes them: not comparable.
            cmd = ["PING"]
        if cmd[0] in SCANS and in_multi[c]:
            # Queued: no TYPE (redis-server's SCAN ... TYPE counts a keyspace miss for a key SET
            # with a past time, see below), no COUNT (one page of a big hash is not all of it),
            # but SCAN's 100 (one call of redis-server's COUNT 10 may not answer all 11 keys).
            cmd = cmd[:2] + ["COUNT", "100"] if cmd[0] == "SCAN" else cmd[:3]
            if cmd[0] == "ZSCAN":
                # A skiplist's dict counts a member and its score as two toward COUNT: 100.
                cmd += ["COUNT", "100"]
        cmd = lex_fix(cmd, rng, reader, in_multi[c])
        if cmd[0] == "SPOP" and in_multi[c]:
            # Queued, its members are not known before EXEC, and the servers would go on with
            # different sets: all of the set, or nothing.
            cmd = cmd[:2] + [rng.choice(["0", "100", "x"])]
        if cmd[0] == "DBSIZE" or (cmd[0] == "SCAN" and "TYPE" in cmd):
            # redis-server counts a key SET with a past time until a read removes it (pastel-kv
            # never stores it), and SCAN ... TYPE reads each key (a keyspace hit, or a miss for
            # such a key): the reads first.
            for key in ALL_KEYS:
                reader.call("EXISTS", key)
        if cmd[0] == "OBJECT":
            # A set's encoding (intset or hashtable) or a zset's (listpack or skiplist), from a
            # connection never in MULTI; a string's may differ by design.
            if reader.call("TYPE", cmd[2])[0] in (b"+set\r\n", b"+zset\r\n"):
                reader.call(*cmd)
        else:
            x.call(*cmd)
        if step % 100 == 99:
            for i in range(3):
                if in_multi[i]:
                    conns[i].call("EXEC")
                    in_multi[i] = False
            for key in ALL_KEYS + ["z3"]:
                d.call("GET", key)
                d.call("HGETALL", key)
                d.call("LRANGE", key, "0", "-1")
                if d.call("SMEMBERS", key)[0][:1] == b"*":
                    d.call("OBJECT", "ENCODING", key)
                if d.call("ZRANGE", key, "0", "-1", "WITHSCORES")[0][:2] not in (b"-W", b"*0"):
                    d.call("OBJECT", "ENCODING", key)
            d.call("DBSIZE")
    check_big_zsets(d, rng)
    for x in conns[1:] + [reader]:
        d.compared += x.compared
    # Every read above was sent to both servers: they counted the same hits and misses (but for
    # the HSCAN SSCAN ZSCAN calls of one server's pages after the first, each a hit).
    a, b = d.call("INFO", "stats", compare=False)
    for field in (b"keyspace_hits:", b"keyspace_misses:"):
        got = [next((l for l in x.split(b"\r\n") if l.startswith(field)), None) for x in (a, b)]
        if field == b"keyspace_hits:" and None not in got:
            got = [b"%s%d" % (field, int(g[len(field):]) - n) for g, n in zip(got, PAGED)]
        if got[0] != got[1] or got[0] is None:
            print("DIFFERENT %s (seed %s): redis-server %r, pastel-kv %r" % (field, SEED, *got))
            sys.exit(1)
    d.compared += 2
    if auth_ports is not None:
        a = Diff(*auth_ports)
        for cmd in AUTH:
            a.call(*cmd)
        a.reconnect()
        for cmd in AUTH_OK:
            a.call(*cmd)
        d.compared += a.compared
    print("all replies identical (%d replies compared, seed %d, %d random steps)"
          % (d.compared, seed, steps))


if __name__ == "__main__":
    main()
