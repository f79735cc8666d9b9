"""
Hot-path cost of asab-sentry, side by side in one run: ns per call of what service code does all
the time, for an ASAB app without Sentry, with ASAB's built-in asab.sentry, and with asab-sentry in
several set-ups. Each set-up runs in its own process; rounds are interleaved and the median kept,
because these machines are noisy. The DSN points at a closed port on 127.0.0.1: sending is not
measured, capturing is.

Usage: python benchmarks/hot_path.py [rounds]
"""

import json
import os
import statistics
import subprocess
import sys
import tempfile

SETUPS = {
	"no sentry": ("none", "[sentry]\n"),
	"asab.sentry (built-in)": ("builtin", "[sentry]\n"),
	"asab-sentry": ("plugin", "[sentry]\n"),
	"asab-sentry, breadcrumbs=info set": ("plugin", "[sentry]\n[sentry:logging]\nbreadcrumbs=info\n"),
	"asab-sentry, spool": ("plugin", "[sentry]\nspool_dir={spool}\nshutdown_timeout=0\n"),
}

CHILD = r'''
import asyncio, json, logging, os, sys, time
import asab
MODE = sys.argv[1]
L = logging.getLogger("bench")
N = 20000

class App(asab.Application):
	def __init__(self):
		super().__init__(args=["-c", sys.argv[2]])
		if MODE == "plugin":
			import asab_sentry
			self.S = asab_sentry.SentryService(self)
		elif MODE == "builtin":
			import asab.sentry
			self.S = asab.sentry.SentryService(self)
		else:
			self.S = None

	async def main(self):
		result = {}
		def timed(name, fn, n=N):
			fn()
			t0 = time.perf_counter_ns()
			for _ in range(n):
				fn()
			result[name] = (time.perf_counter_ns() - t0) / n
		timed("L.debug (filtered)", lambda: L.debug("debug line"))
		timed("L.info", lambda: L.info("info line", struct_data={"k": 1}))
		timed("L.notice", lambda: L.log(asab.LOG_NOTICE, "notice line"))
		if self.S is not None:
			timed("set_tag", lambda: self.S.set_tag("k", "v"))
			def tx():
				with self.S.transaction("op", "name"):
					with self.S.span("op", "child"):
						pass
			timed("transaction+span (rate 0)", tx, 5000)
			timed("capture_message", lambda: self.S.capture_message("bench"), 500)
		print(json.dumps(result))
		os._exit(0)  # do not measure (or wait for) delivery at exit

App().run()
'''


def run_once(mode, config):
	with tempfile.TemporaryDirectory() as tmp:
		conf = os.path.join(tmp, "bench.conf")
		with open(conf, "w") as f:
			f.write(config.format(spool=os.path.join(tmp, "spool")))
		env = dict(os.environ, SENTRY_DSN="http://0123456789abcdef0123456789abcdef@127.0.0.1:9/1")
		out = subprocess.run([sys.executable, "-c", CHILD, mode, conf], env=env, capture_output=True, text=True, cwd=tmp, timeout=300)
		lines = [line for line in out.stdout.splitlines() if line.startswith("{")]
		if not lines:
			raise SystemExit("benchmark child failed: " + out.stderr[-2000:])
		return json.loads(lines[-1])


def main():
	rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 3
	samples = {name: [] for name in SETUPS}
	for _ in range(rounds):
		for name, (mode, config) in SETUPS.items():
			samples[name].append(run_once(mode, config))
	ops = list(samples["asab-sentry"][0].keys())
	base = {op: statistics.median(s[op] for s in samples["no sentry"]) for op in samples["no sentry"][0]}
	print("median ns per call over {} interleaved rounds (ratio to no sentry where it has the call)".format(rounds))
	print("{:<34}".format("") + "".join("{:>28}".format(op) for op in ops))
	for name in SETUPS:
		cells = []
		for op in ops:
			values = [s[op] for s in samples[name] if op in s]
			if not values:
				cells.append("{:>28}".format("-"))
				continue
			value = statistics.median(values)
			ratio = " ({:.1f}x)".format(value / base[op]) if op in base else ""
			cells.append("{:>28}".format("{:,.0f}{}".format(value, ratio)))
		print("{:<34}".format(name) + "".join(cells))


if __name__ == "__main__":
	main()
