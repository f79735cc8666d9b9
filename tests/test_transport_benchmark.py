"""`benchmarks/delivery.py --quick` still runs and reports every figure for every set-up (never judged on a number)."""

import json
import os
import subprocess
import sys

from conftest import HERE


def test_quick_benchmark_reports_every_figure():
	script = os.path.join(os.path.dirname(HERE), "benchmarks", "delivery.py")
	run = subprocess.run([sys.executable, script, "--quick", "--json"], capture_output=True, text=True, timeout=240)
	assert run.returncode == 0, run.stderr
	results = json.loads(run.stdout)
	common = {"exception_median_us", "message_median_us", "lag_p99_ms", "live_delivered", "live_per_s", "rss_10pct_mb", "rss_100pct_mb"}
	assert set(results) == {"sentry-sdk (bare)", "asab-sentry, memory", "asab-sentry, spool"}
	for label, figures in results.items():
		assert common <= set(figures), (label, figures, run.stderr[-2000:])
	assert {"backlog_delivered", "backlog_s"} <= set(results["asab-sentry, spool"])
	# asab-sentry delivers everything it captured (the SDK's 100-slot queue may drop)
	assert results["asab-sentry, memory"]["live_delivered"] == results["asab-sentry, spool"]["live_delivered"] == 100
	assert results["asab-sentry, spool"]["backlog_delivered"] == 200
