"""Nothing queued is lost at a graceful stop (SIGTERM or app.stop()), even against a slow server."""

import signal

from conftest import wait_for_line
from recorder import Recorder

SLOW_CONFIG = "[sentry]\nshutdown_timeout=30s\n"


class TestGracefulStop(object):
	"""finalize() delivers what is queued, up to shutdown_timeout."""

	def test_app_stop_delivers_all_queued_events(self, run_app):
		slow = Recorder(delay=0.5).start()
		try:
			run = run_app("burst", slow.dsn, config=SLOW_CONFIG, BURST="20")
			assert run.returncode == 0, run.stderr
			assert len(slow.events()) == 20
		finally:
			slow.stop()

	def test_sigterm_delivers_all_queued_events(self, start_app):
		slow = Recorder(delay=0.5).start()
		try:
			proc = start_app("hold", slow.dsn, config=SLOW_CONFIG, BURST="20")
			wait_for_line(proc, "READY")
			proc.send_signal(signal.SIGTERM)
			proc.wait(timeout=60)
			assert proc.returncode == 0
			assert sorted(e["message"] for e in slow.events()) == sorted("held {}".format(i) for i in range(20))
		finally:
			slow.stop()
