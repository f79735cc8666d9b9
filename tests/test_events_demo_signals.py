"""
The demo's Ctrl-C handling (issue 10: the occasional 60 s hang of the Ctrl-C test on Python 3.13).

A KeyboardInterrupt raised by a signal handler can land inside `subprocess.Popen.poll()` right
after it took its internal lock and before its try/finally; the lock stays held and the cleanup's
`Popen.wait()` blocks forever. The demo now only sets a flag in its signal handlers and stops at
its next step. Signals arriving in a burst, during the cleanup too, hit every such point.
"""

import os
import signal
import subprocess
import sys
import time

from conftest import app_env


def test_a_burst_of_ctrl_c_stops_everything_cleanly(tmp_path):
	proc = subprocess.Popen(
		[sys.executable, "-m", "asab_sentry", "demo", "--wait", "--state-dir", str(tmp_path / "state")],
		env=app_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, stdin=subprocess.DEVNULL,
		start_new_session=True,
	)
	try:
		lines = []
		while True:
			line = proc.stdout.readline()
			lines.append(line)
			if line.startswith("Press Ctrl-C") or line == "":
				break
		assert lines[-1].startswith("Press Ctrl-C"), "".join(lines)
		for _ in range(200):  # Ctrl-C pressed again and again, while the demo stops its processes
			if proc.poll() is not None:
				break
			proc.send_signal(signal.SIGINT)
			time.sleep(0.005)
		rest, _ = proc.communicate(timeout=60)
		assert proc.returncode == 0, rest
		assert rest.strip().endswith("Stopped.") and "Traceback" not in rest, rest
	finally:
		try:
			os.killpg(proc.pid, signal.SIGKILL)
		except ProcessLookupError:
			pass
		if proc.poll() is None:
			proc.communicate()
