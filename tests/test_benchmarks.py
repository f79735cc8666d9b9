"""The benchmarks still run (quick mode); they never fail on a number."""

import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_web_benchmark_quick_mode_prints_every_variant():
	run = subprocess.run(
		[sys.executable, os.path.join(ROOT, "benchmarks", "web.py"), "--quick"],
		capture_output=True, text=True, cwd=ROOT, timeout=240, stdin=subprocess.DEVNULL,
	)
	assert run.returncode == 0, run.stderr[-3000:]
	rows = [line for line in run.stdout.splitlines() if line.startswith("| ") and "variant" not in line]
	assert [row.split(" | ")[0].lstrip("| ") for row in rows] == [
		"no Sentry", "asab-sentry, traces 0", "asab-sentry, traces 1.0", "error path: asab-sentry (every request fails)",
	]
	for row in rows:
		rps = float(row.split(" | ")[1].replace(",", ""))
		assert rps > 0
