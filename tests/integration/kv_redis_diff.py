"""pastel-kv against a real redis-server: the same commands sent to both, every reply compared
byte for byte (issue 20's differential test).

  /usr/bin/python3 tests/integration/kv_redis_diff.py REDIS_PORT PASTEL_PORT [SEED [STEPS]]

First scripted cases of every command pastel-kv shares with redis-server (errors, wrong
arguments, edge values, inline commands with quotes, negative multibulk counts, protocol errors),
then STEPS random commands (2000 by default) over a few keys, the key space compared after each
hundred. A reply that may differ by design is not compared (see docs/kv.md, "What differs from
Redis"): TIME, HELLO's id and version, CONFIG GET maxmemory, RANDOMKEY over several keys, OBJECT
ENCODING and REFCOUNT of a value changed in place; CLIENT ID, LIST and INFO, COMMAND LIST and INFO
are not sent (kv_server_test's KvClientTest checks them). Expiry times are absolute (far ahead or
already past), so no reply depends on when a server read its clock; TTL and PTTL of a relative
time are compared within a second. Prints "all replies identical" and exits 0, or prints the
first difference and exits 1.
"""

import random
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


class Diff:
    def __init__(self, redis_port, pastel_port):
        self.ports = (redis_port, pastel_port)
        self.reconnect()
        self.compared = 0

    def reconnect(self):
        self.r, self.p = Conn(self.ports[0]), Conn(self.ports[1])

    def send(self, raw, replies=1, compare=True, what=None):
        self.r.s.sendall(raw)
        self.p.s.sendall(raw)
        for _ in range(replies):
            a, b = self.r.reply(), self.p.reply()
            if compare and a != b:
                print("DIFFERENT replies (seed %s) to %r:\n  redis-server: %r\n  pastel-kv:    %r"
                      % (SEED, what or raw[:200], a[:500], b[:500]))
                sys.exit(1)
            self.compared += 1
        return a, b

    def call(self, *args, compare=True):
        name = str(args[0]).upper()
        if name not in ("TTL", "PTTL"):
            return self.send(enc(args), compare=compare, what=list(args))
        # A remaining time: each server counts it from its own clock, so within a second.
        a, b = self.send(enc(args), compare=False, what=list(args))
        near = a[:1] == b[:1] == b":" and abs(int(a[1:-2]) - int(b[1:-2])) <= (
            1 if name == "TTL" else 1000) and (int(a[1:-2]) < 0) == (int(b[1:-2]) < 0)
        if compare and a != b and not near:
            print("DIFFERENT replies (seed %s) to %r:\n  redis-server: %r\n  pastel-kv:    %r"
                  % (SEED, list(args), a, b))
            sys.exit(1)
        return a, b


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

# Authentication against servers started with a password (the second pair of ports).
AUTH = [
    ["GET", "a"], ["NOSUCH", "a"], ["GET"], ["PING"], ["HELLO"], ["HELLO", "2"], ["CLIENT", "ID"],
    ["AUTH", "bad"], ["AUTH", "default", "bad"], ["AUTH", "bob", "sekret"], ["AUTH", "a", "b", "c"],
    ["AUTH"], ["HELLO", "2", "AUTH", "default", "bad"],
    # HELLO's options take effect in order: the name and the authentication stay after a bad one.
    ["HELLO", "2", "SETNAME", "n1", "AUTH", "default", "sekret", "FOO"], ["GET", "a"],
    ["CLIENT", "GETNAME"], ["QUIT"],
]
AUTH_OK = [
    ["AUTH", "sekret"], ["GET", "a"], ["AUTH", "bad"], ["GET", "a"], ["AUTH", "default", "sekret"],
    ["HELLO", "2", "AUTH", "default"], ["HELLO", "x"], ["CONFIG", "GET", "requirepass"],
]

# Transactions over three connections (each step: which connection, the command): MULTI EXEC
# DISCARD WATCH UNWATCH, their errors, queued errors and runtime errors, and a watched key changed
# by every kind of write, by the same connection or another, or not changed (a DEL of an absent
# key, a FLUSHALL that finds it absent, a failed SETNX, a RENAME of a key to itself).
TRANSACTIONS = [
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

SEED = None  # the random steps' seed, printed with any difference (PASTEL_TEST_SEED reruns it)
KEYS = ["k1", "k2", "k3", "n", "f"]
# Absolute expiry times (deterministic replies): far ahead, or already past (the key goes).
AT_S = ["1", "0", "-5", "3000000000", "3000000001", "4000000000", "x"]
AT_MS = ["1", "3000000000000", "3000000000500", "4000000000000", "-1", "x"]
VALUES = ["", "0", "1", "-7", "42", "3.5", "1e3", "abc", "hello world", "9223372036854775807",
          "x" * 50, "\x00\xff"]


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
    return rng.choice(choices)()


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
    for cmd in CLIENT:
        d.call(*cmd)
    for cmds, n in REPLY:
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
    for i, cmd in TRANSACTIONS:
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
            cmd = ["WATCH"] + rng.sample(KEYS, rng.randrange(1, 3))
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
        if cmd[0] == "DBSIZE":
            # redis-server counts a key SET with a past time until a read removes it (pastel-kv
            # never stores it): the reads first.
            for key in KEYS:
                reader.call("EXISTS", key)
        x.call(*cmd)
        if step % 100 == 99:
            for i in range(3):
                if in_multi[i]:
                    conns[i].call("EXEC")
                    in_multi[i] = False
            for key in KEYS:
                d.call("GET", key)
            d.call("DBSIZE")
    for x in conns[1:] + [reader]:
        d.compared += x.compared
    # Every read above was sent to both servers: they counted the same hits and misses.
    a, b = d.call("INFO", "stats", compare=False)
    for field in (b"keyspace_hits:", b"keyspace_misses:"):
        got = [next((l for l in x.split(b"\r\n") if l.startswith(field)), None) for x in (a, b)]
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
