"""pastel-httpd / pastel-baseline through Python requests (Debian's python3-requests): a generator
body (sent with Transfer-Encoding: chunked) and a keep-alive Session.

  /usr/bin/python3 tests/integration/http_python_client.py PORT

Prints "all checks passed" and exits 0, or raises (exit 1) at the first check that fails.
"""

import sys

import requests


def pieces(n, size, seed):
    """n non-empty pieces of about `size` bytes (requests sends an empty one as the last chunk)."""
    for i in range(n):
        yield bytes((seed + i * 7 + j) % 256 for j in range(1 + (size * (i + 1)) % (size + 1)))


def main():
    base = "http://127.0.0.1:%d" % int(sys.argv[1])
    with requests.Session() as s:
        # Chunked uploads of several shapes: many small chunks (copied), big ones (in place).
        for key, n, size in (("/py/small", 300, 10), ("/py/big", 12, 9000), ("/py/one", 1, 5)):
            want = b"".join(pieces(n, size, len(key)))
            r = s.put(base + key, data=pieces(n, size, len(key)), timeout=20)
            assert r.request.headers.get("Transfer-Encoding") == "chunked", r.request.headers
            assert r.status_code == 204, (key, r.status_code, r.text)
            g = s.get(base + key, timeout=20)
            assert g.status_code == 200, (key, g.status_code)
            assert g.content == want, (key, len(g.content), len(want))
        r = s.post(base + "/py/post", data=iter([b"alpha ", b"beta ", b"gamma"]), timeout=20)
        assert r.status_code == 201, r.status_code
        assert s.get(base + "/py/post", timeout=20).content == b"alpha beta gamma"
        # Keep-alive: one connection serves many requests (the adapter's pool reuses it).
        for i in range(50):
            value = ("value %d " % i).encode() * (i + 1)
            assert s.put(base + "/py/ka/%d" % i, data=value, timeout=20).status_code == 204
            g = s.get(base + "/py/ka/%d" % i, timeout=20)
            assert g.status_code == 200 and g.content == value, i
            assert g.headers.get("Connection") is None, g.headers
        assert s.delete(base + "/py/ka/0", timeout=20).status_code == 204
        assert s.get(base + "/py/ka/0", timeout=20).status_code == 404
        r = s.request("BREW", base + "/py/pot", timeout=20)
        assert r.status_code == 501, r.status_code
        r = s.post(base + "/health", data=b"x", timeout=20)
        assert r.status_code == 405 and r.headers.get("Allow") == "GET, HEAD", r.headers
    print("all checks passed")


if __name__ == "__main__":
    main()
