#!/usr/bin/env python3
"""Drives the gateway's Admin API for bench/routes.sh.

  admin_load.py load   ADMIN_PORT KEY UPSTREAM_PORT N   create upstream u1, route /hello and N
                                                          filler routes (exact, prefix,
                                                          host-bound, vars and wildcard ones)
  admin_load.py update ADMIN_PORT KEY N RATE SECONDS [sink]
                                                          replace random filler routes at RATE
                                                          per second for SECONDS; prints the
                                                          count and the slowest admin round trip.
                                                          With "sink", any answer is accepted
                                                          (the same client load aimed at a
                                                          server that is not the gateway)

Only the standard library; one keep-alive connection; loopback only.
"""
import http.client
import json
import random
import sys
import time


def filler(i, variant=0):
    kind = i % 5
    route = {"upstream_id": "u1", "name": "filler-%d" % i}
    if kind == 0:
        route["uri"] = "/r/%d" % i
    elif kind == 1:
        route["uri"] = "/p/%d/*" % i
    elif kind == 2:
        route["uri"] = "/h/%d" % i
        route["host"] = "h%d.example.com" % i
    elif kind == 3:
        route["uri"] = "/v/%d" % i
        route["vars"] = [["arg_k", "==", "v%d" % i]]
    else:
        route["uri"] = "/w/%d/*" % i
        route["methods"] = ["GET", "POST"]
    if variant:
        route["desc"] = "update %d" % variant
    return route


class Admin:
    def __init__(self, port, key, sink=False):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        self.key = key
        self.sink = sink

    def put(self, path, body):
        data = json.dumps(body)
        self.conn.request("PUT", path, body=data,
                          headers={"X-API-KEY": self.key, "Content-Type": "application/json"})
        resp = self.conn.getresponse()
        text = resp.read()
        if resp.status // 100 != 2 and not self.sink:
            sys.exit("PUT %s: %d %s" % (path, resp.status, text[:200]))


def load(port, key, upstream_port, n):
    admin = Admin(port, key)
    admin.put("/apisix/admin/upstreams/u1",
              {"type": "roundrobin", "nodes": {"127.0.0.1:%d" % upstream_port: 1}})
    admin.put("/apisix/admin/routes/hello", {"uri": "/hello", "upstream_id": "u1"})
    start = time.monotonic()
    for i in range(n):
        admin.put("/apisix/admin/routes/f%d" % i, filler(i))
    took = time.monotonic() - start
    print("loaded %d routes in %.1f s (%.0f PUT/s)" % (n, took, n / took if took else 0))


def update(port, key, n, rate, seconds, sink=False):
    admin = Admin(port, key, sink)
    interval = 1.0 / rate
    deadline = time.monotonic() + seconds
    next_at = time.monotonic()
    count = 0
    slowest = 0.0
    while time.monotonic() < deadline:
        i = random.randrange(n)
        t0 = time.monotonic()
        admin.put("/apisix/admin/routes/f%d" % i, filler(i, count + 1))
        slowest = max(slowest, time.monotonic() - t0)
        count += 1
        next_at += interval
        delay = next_at - time.monotonic()
        if delay > 0:
            time.sleep(delay)  # pacing of the update stream, not a wait for a condition
    print("updates %d in %.1f s, slowest admin round trip %.1f ms" % (count, seconds, slowest * 1000))


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    cmd = sys.argv[1]
    if cmd == "load" and len(sys.argv) == 6:
        load(int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), int(sys.argv[5]))
    elif cmd == "update" and len(sys.argv) in (7, 8):
        update(int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), float(sys.argv[5]),
               float(sys.argv[6]), len(sys.argv) == 8 and sys.argv[7] == "sink")
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
