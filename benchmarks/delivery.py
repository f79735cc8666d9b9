"""
Delivery cost and throughput of asab-sentry, side by side with bare sentry-sdk in the same run.

For each set-up (bare sentry-sdk with its own HTTP transport; asab-sentry without a spool; with a
spool), in its own process, against a local counting server (another process, HTTP/1.1 keep-alive):

- loop time per `capture_exception` (a 20-frame stack with locals) and per `capture_message`: how
  long the call holds the event loop's thread (median and p99);
- p99 event-loop lag while capturing 500 events/s;
- envelopes/s delivered live (N messages captured flat out, until the server has them) and how many
  arrived (sentry-sdk drops past its 100-envelope queue);
- a backlog of N envelopes left in the spool drained at the next start (asab-sentry with a spool only);
- RSS after 10% and after 100% of M captured events (flat memory or not).

Usage: python benchmarks/delivery.py [--quick] [--json] [--rss-events N] [--only rss]
`--quick` runs in a few seconds (the test suite runs it to prove the benchmark works). The
benchmark never fails on a number; it prints them.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

SIZES = {
	"full": dict(captures=300, lag_seconds=5.0, live=5000, backlog=10000, rss=100000),
	"quick": dict(captures=20, lag_seconds=0.3, live=100, backlog=200, rss=500),
}

SERVER = r'''
import http.server, sys, threading
count = [0]
lock = threading.Lock()
class H(http.server.BaseHTTPRequestHandler):
	protocol_version = "HTTP/1.1"
	wbufsize = 1 << 16  # the answer in one write (flushed per request), as real servers do; else Nagle + delayed ACK add 40 ms
	def do_POST(self):
		self.rfile.read(int(self.headers.get("Content-Length", "0")))
		with lock:
			count[0] += 1
		self._reply(b'{"id":"00000000000000000000000000000000"}')
	def do_GET(self):
		with lock:
			n = count[0]
		self._reply(str(n).encode())
	def _reply(self, body):
		self.send_response(200)
		self.send_header("Content-Type", "application/json")
		self.send_header("Content-Length", str(len(body)))
		self.end_headers()
		self.wfile.write(body)
	def log_message(self, *args):
		pass
server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
server.daemon_threads = True
print(server.server_address[1], flush=True)
server.serve_forever()
'''

CHILD = r'''
import asyncio, json, logging, os, statistics, sys, time, urllib.request
MODE, DSN, SPOOL, TASKS = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4].split(",")
TASK = TASKS[0]
SIZE = json.loads(sys.argv[5])
COUNT_URL = sys.argv[6]
logging.basicConfig(level=logging.DEBUG if os.environ.get("BENCH_DEBUG") else logging.WARNING, format="%(relativeCreated)d %(threadName)s %(name)s %(message)s")

def server_count():
	with urllib.request.urlopen(COUNT_URL) as r:
		return int(r.read())

def rss_mb():
	with open("/proc/self/statm") as f:
		return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2 ** 20

def deep(n, payload):
	local_text = "x" * 50
	local_list = list(range(10))
	if n == 0:
		raise ValueError("deep failure {}".format(payload))
	return deep(n - 1, payload)

def make_capture():
	if MODE == "sdk":
		import sentry_sdk
		sentry_sdk.init(dsn=DSN, shutdown_timeout=30)
		return sentry_sdk.capture_exception, sentry_sdk.capture_message, lambda t: sentry_sdk.flush(t)
	import asab, asab_sentry
	asab.Config.read_dict({"sentry": {"data_source_name": DSN, "spool_dir": SPOOL if MODE == "spool" else "", "shutdown_timeout": "0" if TASK == "fill" else "60s"}})
	return None

async def measure(capture_exception, capture_message, flush):
	result = {}
	for i, task in enumerate(TASKS):
		if i:  # what the previous task captured is delivered first
			import sentry_sdk
			await asyncio.get_running_loop().run_in_executor(None, sentry_sdk.flush, 30)
		await measure_one(task, capture_exception, capture_message, result)
	print("RESULT " + json.dumps(result), flush=True)

async def measure_one(TASK, capture_exception, capture_message, result):
	if TASK == "capture":
		for name, fn in (("exception", "exc"), ("message", "msg")):
			times = []
			for i in range(SIZE["captures"]):
				if fn == "exc":
					try:
						deep(20, i)
					except ValueError as e:
						t0 = time.perf_counter()
						capture_exception(e)
						times.append(time.perf_counter() - t0)
				else:
					t0 = time.perf_counter()
					capture_message("benchmark message {}".format(i))
					times.append(time.perf_counter() - t0)
				if i % 20 == 0:
					await asyncio.sleep(0)
			times.sort()
			result[name + "_median_us"] = statistics.median(times) * 1e6
			result[name + "_p99_us"] = times[int(len(times) * 0.99)] * 1e6
	elif TASK == "lag":
		lags = []
		stop = time.monotonic() + SIZE["lag_seconds"]
		async def ticker():
			while time.monotonic() < stop:
				t0 = time.monotonic()
				await asyncio.sleep(0.005)
				lags.append(time.monotonic() - t0 - 0.005)
		async def capturer():
			i = 0
			while time.monotonic() < stop:
				for _ in range(5):
					try:
						deep(20, i)
					except ValueError as e:
						capture_exception(e)
					i += 1
				await asyncio.sleep(0.01)
		await asyncio.gather(ticker(), capturer())
		lags.sort()
		result["lag_p99_ms"] = lags[int(len(lags) * 0.99)] * 1e3
	elif TASK == "live":
		start_count = server_count()
		t0 = time.monotonic()
		for i in range(SIZE["live"]):
			capture_message("live {}".format(i))
		deadline = t0 + 60
		got = 0
		while time.monotonic() < deadline:
			got = server_count() - start_count
			if got >= SIZE["live"]:
				break
			await asyncio.sleep(0.02)
			if MODE == "sdk" and time.monotonic() - t0 > 1 and got == server_count() - start_count:
				await asyncio.sleep(0.3)
				if server_count() - start_count == got:
					break  # nothing more is coming: the SDK dropped the rest
		elapsed = time.monotonic() - t0
		result["live_delivered"] = got
		result["live_per_s"] = got / elapsed
	elif TASK == "fill":
		for i in range(SIZE["backlog"]):
			capture_message("backlog {}".format(i))
	elif TASK == "drain":
		start_count, t0 = BASE  # read before the service (and its senders) started
		deadline = t0 + (120 if SIZE["backlog"] > 1000 else 20)
		while time.monotonic() < deadline and server_count() - start_count < SIZE["backlog"]:
			await asyncio.sleep(0.005)
		result["backlog_delivered"] = server_count() - start_count
		result["backlog_s"] = time.monotonic() - t0
		result["backlog_per_s"] = result["backlog_delivered"] / result["backlog_s"]
	elif TASK == "rss":
		n = SIZE["rss"]
		for i in range(n):
			capture_message("rss {}".format(i))
			if i == n // 10:
				result["rss_10pct_mb"] = rss_mb()
			if i % 200 == 0:
				await asyncio.sleep(0.001)
		result["rss_100pct_mb"] = rss_mb()

BASE = (server_count(), time.monotonic())
if MODE == "sdk":
	ce, cm, fl = make_capture()
	asyncio.run(measure(ce, cm, fl))
else:
	import asab, asab_sentry
	asab.Config.read_dict({"general": {"watchdog_threshold": "0"}})
	make_capture()
	class App(asab.Application):
		def __init__(self):
			super().__init__(args=[])
			self.S = asab_sentry.SentryService(self)
		async def main(self):
			try:
				await measure(self.S.capture_exception, self.S.capture_message, None)
			finally:
				self.stop()
	App().run()
'''

SETUPS = [("sentry-sdk (bare)", "sdk"), ("asab-sentry, memory", "memory"), ("asab-sentry, spool", "spool")]


def child(mode, dsn, spool, task, size, count_url, timeout=300):
	env = dict(os.environ)
	env["PYTHONPATH"] = os.pathsep.join([ROOT, env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
	for name in ("SENTRY_DSN", "SENTRY_SPOOL_DIR", "SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "http_proxy", "HTTP_PROXY"):
		env.pop(name, None)
	try:
		run = subprocess.run([sys.executable, "-c", CHILD, mode, dsn, spool, task, json.dumps(size), count_url], env=env, capture_output=True, text=True, timeout=timeout)
	except subprocess.TimeoutExpired:
		sys.stderr.write("{} {}: no result within {} s (the figures are left out)\n".format(mode, task, timeout))
		return {}
	for line in run.stdout.splitlines():
		if line.startswith("RESULT "):
			return json.loads(line[7:])
	sys.stderr.write("{} {} failed:\n{}\n".format(mode, task, run.stderr[-2000:]))
	return {}


def main(argv=None):
	parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
	parser.add_argument("--quick", action="store_true", help="small counts: a few seconds")
	parser.add_argument("--json", action="store_true", help="print the results as JSON")
	parser.add_argument("--rss-events", type=int, default=None, help="events for the RSS figure (default 100,000; quick 500)")
	parser.add_argument("--only", choices=["rss"], default=None, help="only this figure, for asab-sentry's set-ups (bare sentry-sdk needs minutes for 100,000 captures)")
	args = parser.parse_args(argv)
	size = dict(SIZES["quick" if args.quick else "full"])
	if args.rss_events:
		size["rss"] = args.rss_events

	server = subprocess.Popen([sys.executable, "-c", SERVER], stdout=subprocess.PIPE, text=True)
	try:
		port = int(server.stdout.readline())
		dsn = "http://0123456789abcdef0123456789abcdef@127.0.0.1:{}/1".format(port)
		dead = "http://0123456789abcdef0123456789abcdef@127.0.0.1:9/1"
		count_url = "http://127.0.0.1:{}/count".format(port)
		results = {}
		with tempfile.TemporaryDirectory() as tmp:
			for label, mode in SETUPS:
				r = results.setdefault(label, {})
				if args.only == "rss":
					if mode != "sdk":
						r.update(child(mode, dsn, os.path.join(tmp, mode), "rss", size, count_url, timeout=900))
					continue
				r.update(child(mode, dsn, os.path.join(tmp, mode), "capture,lag,live,rss", size, count_url, timeout=900))
				sys.stderr.write("{}: {}\n".format(label, json.dumps(r)))
				if mode == "spool":
					spool = os.path.join(tmp, "backlog")
					child(mode, dead, spool, "fill", dict(size, backlog=size["backlog"]), count_url)
					r.update(child(mode, dsn, spool, "drain", size, count_url))
	finally:
		server.kill()
		server.wait()

	if args.json:
		print(json.dumps(results, indent=1))
		return 0
	rows = [
		("capture_exception, loop us (median)", "exception_median_us", "{:.0f}"),
		("capture_exception, loop us (p99)", "exception_p99_us", "{:.0f}"),
		("capture_message, loop us (median)", "message_median_us", "{:.0f}"),
		("capture_message, loop us (p99)", "message_p99_us", "{:.0f}"),
		("loop lag p99 at 500 exceptions/s, ms", "lag_p99_ms", "{:.1f}"),
		("live: envelopes delivered of {}".format(size["live"]), "live_delivered", "{:.0f}"),
		("live: envelopes/s", "live_per_s", "{:.0f}"),
		("backlog of {}: seconds to drain".format(size["backlog"]), "backlog_s", "{:.2f}"),
		("backlog: envelopes/s", "backlog_per_s", "{:.0f}"),
		("RSS after {} events, MB".format(size["rss"] // 10), "rss_10pct_mb", "{:.1f}"),
		("RSS after {} events, MB".format(size["rss"]), "rss_100pct_mb", "{:.1f}"),
	]
	labels = [label for label, _ in SETUPS]
	print("| | " + " | ".join(labels) + " |")
	print("|---" * (len(labels) + 1) + "|")
	for name, key, fmt in rows:
		cells = [fmt.format(results[label][key]) if key in results[label] else "n/a" for label in labels]
		print("| {} | {} |".format(name, " | ".join(cells)))
	return 0


if __name__ == "__main__":
	sys.exit(main())
