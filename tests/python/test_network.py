"""Socket counters in Python: a child interpreter started with LD_PRELOAD of the package's
libcodeprof_net.so fetches from a slow HTTP server on loopback with urllib inside a scope; the
scope shows the bytes and the blocked time, and the network-bound rule names it."""
import json
import os
import subprocess
import sys
import textwrap

import codeprof
from conftest import python_env, run_without_preload

CHILD = textwrap.dedent('''
    import http.server, json, threading, time, urllib.request
    import codeprof

    CHUNK, CHUNKS = 32 * 1024, 8

    class Slow(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Length", str(CHUNK * CHUNKS))
            self.end_headers()
            for i in range(CHUNKS):
                if i:
                    time.sleep(0.015)
                self.wfile.write(bytes([97 + i]) * CHUNK)
                self.wfile.flush()

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Slow)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = "http://127.0.0.1:%d/shard" % server.server_address[1]

    p = codeprof.CodeProfiler(codeprof.Config(sampler_enabled=False, metrics_network=True, metrics_cpu=True))
    body = 0
    for _ in range(2):
        with p.profile_operation("fetch_shard", "data_loading"):
            body += len(urllib.request.urlopen(url, timeout=30).read())
        with p.profile_operation("decode_shard", "preprocessing"):
            end = time.perf_counter() + 0.06
            while time.perf_counter() < end:
                pass
    s = p.snapshot()
    fetch = s["fetch_shard"].resources
    print(json.dumps({
        "body": body,
        "recv": fetch["net_recv_bytes"].total,
        "sent": fetch["net_sent_bytes"].total,
        "blocked_ns": fetch["net_blocked_ns"].total,
        "fetch_ns": s["fetch_shard"].total_ns,
        "decode_recv": s["decode_shard"].resources["net_recv_bytes"].total,
        "rules": [r["id"] + ": " + r["title"] for r in p.get_performance_recommendations()],
    }))
    server.shutdown()
''')


def test_preloaded_counters_measure_a_slow_fetch_and_the_rule_names_it():
    lib = codeprof.network_library()
    assert lib and os.path.isfile(lib), "the package ships libcodeprof_net.so"
    env = python_env()
    env["LD_PRELOAD"] = lib
    out = subprocess.run([sys.executable, "-c", CHILD], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    r = json.loads(out.stdout.strip().splitlines()[-1])
    assert r["body"] == 2 * 8 * 32 * 1024
    assert r["recv"] > r["body"]  # the body and the response headers
    assert r["sent"] > 0  # the requests
    assert r["decode_recv"] == 0
    assert r["blocked_ns"] > 0.5 * r["fetch_ns"], r
    fired = [x for x in r["rules"] if x.startswith("network-bound")]
    assert len(fired) == 1 and "fetch_shard" in fired[0], r["rules"]


def test_without_the_library_the_probe_says_why():
    out = run_without_preload('''
        import codeprof
        p = codeprof.CodeProfiler(codeprof.Config(sampler_enabled=False, metrics_network=True))
        with p.profile_operation("py.net", "io"):
            pass
        s = p.snapshot()
        assert "net_recv_bytes" not in s["py.net"].resources
        print([u.reason for u in s.run.unavailable if u.what == "network"])
    ''')
    assert "libcodeprof_net.so" in out
