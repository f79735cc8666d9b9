"""The demo command: the first command of the README."""

import os
import re
import signal
import socket
import subprocess
import sys

from conftest import app_env, run_group


class TestDemo(object):
	"""`python -m asab_sentry demo` shows stored events read back from a real server, and stops everything."""

	def test_embedded_bugsink(self, tmp_path):
		run = run_group([sys.executable, "-m", "asab_sentry", "demo", "--once", "--state-dir", str(tmp_path / "state")], 300, env=app_env())
		assert run.returncode == 0, run.stdout + run.stderr
		out = run.stdout
		assert "Stored by the server (3 events" in out
		message_id = re.search(r"/message\s+-> 200\s+capture_message\(\) event ([0-9a-f]{32})", out).group(1)
		assert re.search(message_id + r"\s+warning\s+message: Demo message from /message", out)
		assert "RuntimeError: Demo failure in /fail" in out
		assert 'struct_data={"order_id": 1234, "carrier": "owl-post"}' in out
		assert re.search(r"Bugsink UI: http://127\.0\.0\.1:\d+ +\(log in as admin / ", out)
		assert out.rstrip().endswith("Stopped.")
		assert not run.leftovers, "the demo left processes running"
		# both the example service and Bugsink are gone: their ports refuse connections
		for port in re.findall(r"http://127\.0\.0\.1:(\d+)", out):
			with socket.socket() as sock:
				assert sock.connect_ex(("127.0.0.1", int(port))) != 0, "port {} still open".format(port)

	def test_reports_to_the_dsn_in_the_environment(self, recorder, tmp_path):
		run = run_group([sys.executable, "-m", "asab_sentry", "demo", "--once", "--state-dir", str(tmp_path / "unused")], 120, env=app_env(recorder.dsn))
		assert run.returncode == 0, run.stdout + run.stderr
		assert "Starting Bugsink" not in run.stdout
		assert "http://***@127.0.0.1" in run.stdout
		assert recorder.Headers and "0123456789abcdef0123456789abcdef" not in run.stdout
		events = recorder.wait_for(3)
		assert sorted(e.get("level") for e in events) == ["error", "error", "warning"]
		assert not (tmp_path / "unused").exists()


def test_waits_for_ctrl_c_and_stops_everything(tmp_path):
	import time
	proc = subprocess.Popen(
		[sys.executable, "-m", "asab_sentry", "demo", "--wait", "--state-dir", str(tmp_path / "state")],
		env=app_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, stdin=subprocess.DEVNULL,
		start_new_session=True,
	)
	try:
		lines = []
		deadline = time.monotonic() + 120
		while time.monotonic() < deadline:
			line = proc.stdout.readline()
			lines.append(line)
			if line.startswith("Press Ctrl-C") or line == "":
				break
		assert lines[-1].startswith("Press Ctrl-C"), "".join(lines)
		proc.send_signal(signal.SIGINT)
		rest, _ = proc.communicate(timeout=60)
		assert proc.returncode == 0
		assert rest.strip().endswith("Stopped.")
		for port in re.findall(r"http://127\.0\.0\.1:(\d+)", "".join(lines)):
			with socket.socket() as sock:
				assert sock.connect_ex(("127.0.0.1", int(port))) != 0, "port {} still open".format(port)
	finally:
		try:
			os.killpg(proc.pid, signal.SIGKILL)
		except ProcessLookupError:
			pass
		if proc.poll() is None:
			proc.communicate()
