"""
Throughput and latency of an asab.web JSON endpoint with and without Sentry, side by side.

Every variant is the same ASAB web service in its own process; a load generator in another
process sends keep-alive HTTP/1.1 requests to 127.0.0.1 (CONCURRENCY connections); a sink in a
third process plays the Sentry server (keep-alive, answers 200), so delivery is real HTTP.
Variants are interleaved round by round and the median round is reported as a ratio to the
service without Sentry.

Usage:
	python benchmarks/web.py                 # 5 rounds x 3,000 requests, every variant
	python benchmarks/web.py --quick         # a few seconds: proves that it still works
	python benchmarks/web.py --rounds 3 --requests 2000 --variants none,asab-sentry-0
"""

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

VARIANTS = {
	"none": "no Sentry",
	"asab-sentry-0": "asab-sentry, traces 0",
	"asab-sentry-0.1": "asab-sentry, traces 0.1",
	"asab-sentry-1": "asab-sentry, traces 1.0",
	"asab-sentry-disabled": "asab-sentry, no DSN (disabled)",
	"sdk-aiohttp-0": "bare sentry-sdk (AioHttpIntegration), traces 0",
	"builtin-0": "ASAB's built-in asab.sentry, traces 0",
	"asab-sentry-error": "error path: asab-sentry (every request fails)",
	"sdk-aiohttp-error": "error path: bare sentry-sdk (every request fails)",
}
QUICK = ["none", "asab-sentry-0", "asab-sentry-1", "asab-sentry-error"]


# The sink: a minimal keep-alive HTTP/1.1 server that accepts every envelope.

class _Sink(asyncio.Protocol):
	def connection_made(self, transport):
		self.Transport = transport
		self.Buffer = b""

	def data_received(self, data):
		self.Buffer += data
		while True:
			head_end = self.Buffer.find(b"\r\n\r\n")
			if head_end < 0:
				return
			head = self.Buffer[:head_end].decode("latin-1").lower()
			length = 0
			for line in head.split("\r\n"):
				if line.startswith("content-length:"):
					length = int(line.split(":", 1)[1])
			if len(self.Buffer) < head_end + 4 + length:
				return
			self.Buffer = self.Buffer[head_end + 4 + length:]
			body = b'{"id":"00000000000000000000000000000000"}'
			self.Transport.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)


def sink(port: int) -> None:
	loop = asyncio.new_event_loop()
	server = loop.run_until_complete(loop.create_server(_Sink, "127.0.0.1", port))
	print("READY", flush=True)
	try:
		loop.run_forever()
	finally:
		server.close()


# The service under test.

def serve(variant: str, port: int, dsn: str) -> None:
	import asab
	import asab.web
	import asab.web.rest
	if variant.startswith("builtin"):
		import asab.sentry

	fail = variant.endswith("-error")
	rate = "0" if fail or variant.endswith("-disabled") else variant.rsplit("-", 1)[-1]
	if variant.endswith("-disabled"):
		dsn = ""
	config = {"general": {"watchdog_threshold": "0"}, "logging:console": {"format": "%(message)s"}}
	modules = []
	if variant.startswith("asab-sentry"):
		import asab_sentry
		config["sentry"] = {"data_source_name": dsn, "traces_sample_rate": rate}
		modules = [asab_sentry.Module]
	elif variant.startswith("builtin"):
		config["sentry"] = {"data_source_name": dsn, "traces_sample_rate": rate}
	asab.Config.read_dict(config)
	if variant.startswith("sdk-aiohttp"):
		import sentry_sdk
		sentry_sdk.init(dsn=dsn, traces_sample_rate=float(rate))

	class Service(asab.Application):
		def __init__(self):
			super().__init__(args=[], modules=modules)
			if variant.startswith("builtin"):
				self.SentryService = asab.sentry.SentryService(self)
			router = asab.web.create_web_server(self, config={"listen": "127.0.0.1 {}".format(port)})
			router.add_get("/hello", self.hello)
			router.add_get("/items/{item_id}", self.item)

		async def hello(self, request):
			if fail:
				raise RuntimeError("benchmark failure")
			return asab.web.rest.json_response(request, {"hello": "world", "items": [1, 2, 3]})

		async def item(self, request):
			return asab.web.rest.json_response(request, {"id": request.match_info["item_id"]})

		async def main(self):
			print("READY", flush=True)

	Service().run()


# The load generator.

async def _load(port: int, requests: int, concurrency: int, path: str):
	request = "GET {} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".format(path).encode()
	latencies = []
	remaining = [requests]

	async def connection():
		reader = writer = None
		try:
			while remaining[0] > 0:
				remaining[0] -= 1
				if writer is None:
					reader, writer = await asyncio.open_connection("127.0.0.1", port)
				start = time.perf_counter()
				writer.write(request)
				head = await reader.readuntil(b"\r\n\r\n")
				length, close = 0, False
				for line in head.lower().split(b"\r\n"):
					if line.startswith(b"content-length:"):
						length = int(line.split(b":", 1)[1])
					elif line.startswith(b"connection:") and b"close" in line:
						close = True
				if length:
					await reader.readexactly(length)
				latencies.append(time.perf_counter() - start)
				if close:  # aiohttp closes the connection after a 500
					writer.close()
					writer = None
		finally:
			if writer is not None:
				writer.close()

	start = time.perf_counter()
	await asyncio.gather(*(connection() for _ in range(concurrency)))
	elapsed = time.perf_counter() - start
	latencies.sort()
	return {
		"rps": len(latencies) / elapsed,
		"p50": latencies[len(latencies) // 2] * 1000,
		"p99": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000,
	}


def load(port: int, requests: int, concurrency: int, path: str) -> None:
	print(json.dumps(asyncio.run(_load(port, requests, concurrency, path))), flush=True)


# The driver.

def _free_port() -> int:
	with socket.socket() as s:
		s.bind(("127.0.0.1", 0))
		return s.getsockname()[1]


def _pin(cpu: int):
	"""Services on one core, the load generator and the sink on the other (where there are two)."""
	def pin():
		try:
			cpus = sorted(os.sched_getaffinity(0))
			if len(cpus) >= 2:
				os.sched_setaffinity(0, {cpus[cpu % len(cpus)]})
		except (AttributeError, OSError):
			pass
	return pin


def _cpu_seconds(pid: int) -> float:
	"""User + system CPU time of a process so far (Linux), or NaN."""
	try:
		with open("/proc/{}/stat".format(pid)) as f:
			fields = f.read().rsplit(")", 1)[1].split()
		return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
	except (OSError, IndexError, ValueError):
		return float("nan")


def _start(args, env=None, cpu: int = 1) -> subprocess.Popen:
	proc = subprocess.Popen(
		[sys.executable, os.path.abspath(__file__)] + args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
		stdin=subprocess.DEVNULL, text=True, env=env, cwd=ROOT, preexec_fn=_pin(cpu),
	)
	deadline = time.monotonic() + 60
	while time.monotonic() < deadline:
		line = proc.stdout.readline()
		if line.startswith("READY") or (line == "" and proc.poll() is not None):
			break
	if proc.poll() is not None:
		raise RuntimeError("benchmark process {} did not start".format(args))
	return proc


def _wait_listening(port: int) -> None:
	deadline = time.monotonic() + 30
	while time.monotonic() < deadline:
		try:
			with socket.create_connection(("127.0.0.1", port), timeout=1):
				return
		except OSError:
			time.sleep(0.05)
	raise RuntimeError("nothing listens on port {}".format(port))


def main() -> None:
	parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
	parser.add_argument("--rounds", type=int, default=5)
	parser.add_argument("--requests", type=int, default=3000)
	parser.add_argument("--concurrency", type=int, default=16)
	parser.add_argument("--variants", default=",".join(VARIANTS))
	parser.add_argument("--quick", action="store_true", help="1 round of 300 requests, four variants")
	parser.add_argument("--json", action="store_true", help="print the results as JSON too")
	parser.add_argument("--serve", help=argparse.SUPPRESS)
	parser.add_argument("--sink", action="store_true", help=argparse.SUPPRESS)
	parser.add_argument("--load", action="store_true", help=argparse.SUPPRESS)
	parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
	parser.add_argument("--dsn", help=argparse.SUPPRESS)
	parser.add_argument("--path", default="/hello", help=argparse.SUPPRESS)
	args = parser.parse_args()

	if args.sink:
		return sink(args.port)
	if args.serve:
		return serve(args.serve, args.port, args.dsn)
	if args.load:
		return load(args.port, args.requests, args.concurrency, args.path)

	if args.quick:
		args.rounds, args.requests, variants = 1, 300, QUICK
	else:
		variants = [v.strip() for v in args.variants.split(",") if v.strip()]
	unknown = [v for v in variants if v not in VARIANTS]
	if unknown:
		raise SystemExit("unknown variant(s) {}; known: {}".format(", ".join(unknown), ", ".join(VARIANTS)))
	if "none" not in variants:
		variants.insert(0, "none")

	env = dict(os.environ, PYTHONPATH=ROOT)
	for name in [k for k in env if k.startswith("SENTRY_")]:
		del env[name]
	procs = []
	try:
		sink_port = _free_port()
		procs.append(_start(["--sink", "--port", str(sink_port)], env))
		dsn = "http://0123456789abcdef0123456789abcdef@127.0.0.1:{}/1".format(sink_port)
		ports, pids = {}, {}
		for variant in variants:
			ports[variant] = _free_port()
			proc = _start(["--serve", variant, "--port", str(ports[variant]), "--dsn", dsn], env, cpu=0)
			procs.append(proc)
			pids[variant] = proc.pid
			_wait_listening(ports[variant])
		results = {v: [] for v in variants}
		for variant in variants:  # warm-up
			_run_load(ports[variant], min(300, args.requests), args.concurrency, env)
		for _ in range(args.rounds):
			for variant in variants:
				before = _cpu_seconds(pids[variant])
				result = _run_load(ports[variant], args.requests, args.concurrency, env)
				result["cpu_us"] = (_cpu_seconds(pids[variant]) - before) / args.requests * 1e6
				results[variant].append(result)
	finally:
		for proc in procs:
			proc.kill()
			proc.wait()
	_report(variants, results, args)


def _run_load(port: int, requests: int, concurrency: int, env) -> dict:
	run = subprocess.run(
		[sys.executable, os.path.abspath(__file__), "--load", "--port", str(port), "--requests", str(requests), "--concurrency", str(concurrency)],
		capture_output=True, text=True, env=env, cwd=ROOT, timeout=300, preexec_fn=_pin(1),
	)
	if run.returncode != 0:
		raise RuntimeError("load generator failed: " + run.stderr[-2000:])
	return json.loads(run.stdout.strip().splitlines()[-1])


def _report(variants, results, args) -> None:
	median = {v: {k: statistics.median(r[k] for r in results[v]) for k in ("rps", "p50", "p99", "cpu_us")} for v in variants}
	base = median["none"]
	print("asab.web GET /hello, {} rounds x {} requests, {} connections; medians; ratio = variant / no Sentry".format(args.rounds, args.requests, args.concurrency))
	print("| variant | requests/s | ratio | p50 ms | p50 ratio | p99 ms | p99 ratio | service CPU us/request |")
	print("|---|---|---|---|---|---|---|---|")
	for v in variants:
		m = median[v]
		print("| {} | {:,.0f} | {:.2f}x | {:.2f} | {:.2f}x | {:.2f} | {:.2f}x | {:.0f} |".format(
			VARIANTS[v], m["rps"], m["rps"] / base["rps"], m["p50"], m["p50"] / base["p50"], m["p99"], m["p99"] / base["p99"], m["cpu_us"]))
	if args.json:
		print(json.dumps({"median": median, "rounds": results}))


if __name__ == "__main__":
	main()
