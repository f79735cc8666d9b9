"""
Nothing lost: the durable spool against a real server (Bugsink) that is down, restarted, or a
server that never answers; retry, rate limits and refusals against the recording endpoint.
"""

import os
import signal
import stat

import pytest

from asab_sentry.spool import pending

from conftest import wait_for_line


def spool_config(path, shutdown_timeout="2s", extra=""):
	return "[sentry]\nspool_dir={}\nshutdown_timeout={}\n{}".format(path, shutdown_timeout, extra)


@pytest.fixture
def own_bugsink(tmp_path):
	"""A Bugsink of this test only (it stops and starts it), stopped at the end."""
	from asab_sentry.demo.bugsink import Bugsink
	server = Bugsink(str(tmp_path / "bugsink"))
	try:
		server.prepare()
		yield server
	finally:
		server.stop()


def _stored_once(server, ids):
	stored = server.event_ids()
	missing = set(ids) - set(stored)
	duplicates = len(stored) - len(set(stored))
	return missing, duplicates


class TestSpoolAgainstBugsink(object):
	"""The issue's acceptance cases, against a real server."""

	def test_server_down_then_back(self, own_bugsink, run_app, tmp_path):
		spool = str(tmp_path / "spool")
		first = run_app("capture_many", own_bugsink.dsn, config=spool_config(spool), COUNT="100")
		assert first.returncode == 0, first.stderr
		ids = first.values("EVENT_ID")
		assert len(ids) == 200 and "None" not in ids
		assert "200 left to send" in first.stderr  # the stop line: nothing could be sent
		assert len(pending(spool)) == 200

		own_bugsink.start()
		second = run_app("drain", own_bugsink.dsn, config=spool_config(spool, "60s"))
		assert second.returncode == 0, second.stderr
		assert second.values("PENDING") == ["0"]
		missing, duplicates = _stored_once(own_bugsink, ids)
		assert missing == set() and duplicates == 0
		assert pending(spool) == []

	def test_sigkill_right_after_capture(self, own_bugsink, start_app, run_app, tmp_path):
		spool = str(tmp_path / "spool")
		proc = start_app("capture_many", own_bugsink.dsn, config=spool_config(spool), COUNT="100", HOLD="1")
		ids = []
		while True:
			line = proc.stdout.readline()
			assert line, "the app ended early: " + proc.stderr.read()
			if line.startswith("EVENT_ID"):
				ids.append(line.split()[1])
			if line.startswith("CAPTURED"):
				break
		proc.send_signal(signal.SIGKILL)
		proc.wait(timeout=10)
		assert len(ids) == 200

		own_bugsink.start()
		run = run_app("drain", own_bugsink.dsn, config=spool_config(spool, "60s"))
		assert run.returncode == 0, run.stderr
		missing, duplicates = _stored_once(own_bugsink, ids)
		assert missing == set() and duplicates == 0


class TestRetryAndRateLimits(object):
	"""What the sender does with each kind of answer (recording endpoint)."""

	def test_server_that_never_answers(self, recorder, start_app, tmp_path):
		"""The event loop is not held up, and once the server answers everything arrives."""
		recorder.Hang = True
		proc = start_app("loop_lag", recorder.dsn, config=spool_config(str(tmp_path / "spool"), "30s"), DURATION="3", HOLD="1")
		max_lag = float(wait_for_line(proc, "MAX_LAG"))
		captured = int(wait_for_line(proc, "CAPTURED"))
		assert recorder.Requests >= 1  # the sender was stuck on the silent server meanwhile
		assert max_lag < 1.0, "the event loop was blocked for {} s".format(max_lag)
		recorder.unhang()
		proc.send_signal(signal.SIGTERM)
		proc.wait(timeout=60)
		assert proc.returncode == 0
		messages = {e["message"] for e in recorder.events()}
		assert len(messages) == captured

	def test_429_is_waited_out_not_dropped(self, recorder, run_app, tmp_path):
		recorder.Script = [(429, {"Retry-After": "1"})] * 2 + [(200, {"X-Sentry-Rate-Limits": "1:error:organization"})] + [(429, {"Retry-After": "1"})]
		run = run_app("capture_many", recorder.dsn, config=spool_config(str(tmp_path / "spool"), "30s"), COUNT="3")
		assert run.returncode == 0, run.stderr
		assert len(recorder.events()) == 6
		assert "dropped 0" in run.stderr

	def test_5xx_and_connection_errors_are_retried(self, recorder, run_app, tmp_path):
		recorder.Script = [(503, {}), (500, {}), (502, {})]
		run = run_app("capture_many", recorder.dsn, config="[sentry]\nshutdown_timeout=30s\n", COUNT="2")
		assert run.returncode == 0, run.stderr
		assert len(recorder.events()) == 4
		assert "retried 3" in run.stderr and "dropped 0" in run.stderr

	def test_refused_envelope_is_dropped_and_counted(self, recorder, run_app):
		recorder.Script = [(400, {})]
		run = run_app("capture_many", recorder.dsn, config="[sentry]\nshutdown_timeout=10s\n", COUNT="1")
		assert run.returncode == 0, run.stderr
		assert len(recorder.events()) == 1
		assert "dropped 1 (rejected 1)" in run.stderr
		assert "refused an envelope (400" in run.stderr

	def test_transactions_under_rate_limit_are_dropped_errors_kept(self, recorder, run_app, tmp_path):
		"""As Bugsink answers: transactions limited for a day; errors still go through."""
		recorder.Script = [(200, {"X-Sentry-Rate-Limits": "86400:transaction;span:organization"})]
		run = run_app("tracing", recorder.dsn, config=spool_config(str(tmp_path / "spool"), "10s"), SENTRY_TRACES_SAMPLE_RATE="1")
		assert run.returncode == 0, run.stderr
		assert len(recorder.transactions()) == 1
		assert "ratelimit" in run.stderr and "0 left to send" in run.stderr


class TestSpoolFiles(object):
	"""Permissions, bounds and ownership of the spool directory."""

	def test_modes_and_bound(self, recorder, run_app, tmp_path):
		spool = str(tmp_path / "spool")
		dead = "http://0123456789abcdef0123456789abcdef@127.0.0.1:9/1"
		run = run_app("capture_many", dead, config=spool_config(spool, "1s", "spool_max_size=40kB\n"), COUNT="50")
		assert run.returncode == 0, run.stderr
		assert stat.S_IMODE(os.stat(spool).st_mode) == 0o700
		left = pending(spool)
		files = [os.path.join(spool, n) for n in os.listdir(spool) if n.endswith((".segment", ".acks"))]
		assert 0 < len(left) < 100
		assert sum(os.path.getsize(f) for f in files) <= 40000
		assert {stat.S_IMODE(os.stat(f).st_mode) for f in files} == {0o600}
		assert "spool_full {}".format(100 - len(left)) in run.stderr

		run_app("drain", recorder.dsn, config=spool_config(spool, "30s"))
		got = recorder.events()
		assert len(got) == len(left)
		assert "spooled exception 49" in {v["value"] for e in got for v in e.get("exception", {}).get("values", [])}, "the newest are kept"

	def test_directory_in_use(self, start_app, run_app, tmp_path):
		spool = str(tmp_path / "spool")
		dead = "http://0123456789abcdef0123456789abcdef@127.0.0.1:9/1"
		proc = start_app("hold", dead, config=spool_config(spool))
		wait_for_line(proc, "READY")
		run = run_app("message", dead, config=spool_config(spool))
		assert run.returncode != 0
		lines = [line for line in run.stderr.splitlines() if line.strip()]
		assert len(lines) == 1 and "[sentry] spool_dir" in lines[0] and "in use by another process" in lines[0]

	def test_unusable_directory(self, run_app, tmp_path):
		blocker = tmp_path / "file"
		blocker.write_text("x")
		run = run_app("message", "http://k@127.0.0.1:9/1", config=spool_config(str(blocker / "spool")))
		assert run.returncode != 0
		assert "[sentry] spool_dir = '{}'".format(blocker / "spool") in run.stderr
		assert "Traceback" not in run.stderr


def test_counts_in_asab_metrics(recorder, run_app):
	run = run_app("metrics", recorder.dsn, config="[sentry]\n[asab:metrics]\ntarget=\n")
	assert run.returncode == 0, run.stderr
	import json
	gauge = json.loads(run.values("GAUGE")[0])
	assert gauge["captured"] >= 1 and gauge["sent"] >= 1 and gauge["dropped"] == 0
	assert len(recorder.events()) == 1
