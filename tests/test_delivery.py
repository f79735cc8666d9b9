"""Nothing queued is lost at a graceful stop (SIGTERM or app.stop()), even against a slow server."""

import signal

from conftest import wait_for_line

SLOW_CONFIG = "[sentry]\nshutdown_timeout=30s\n"


class TestGracefulStop(object):
	"""finalize() delivers what is queued, up to shutdown_timeout."""

	def test_app_stop_delivers_all_queued_events(self, recorder, run_app):
		recorder.Delay = 0.5
		run = run_app("burst", recorder.dsn, config=SLOW_CONFIG, BURST="20")
		assert run.returncode == 0, run.stderr
		assert len(recorder.events()) == 20

	def test_sigterm_delivers_all_queued_events(self, recorder, start_app):
		recorder.Delay = 0.5
		proc = start_app("hold", recorder.dsn, config=SLOW_CONFIG, BURST="20")
		wait_for_line(proc, "READY")
		proc.send_signal(signal.SIGTERM)
		proc.wait(timeout=60)
		assert proc.returncode == 0
		assert sorted(e["message"] for e in recorder.events()) == sorted("held {}".format(i) for i in range(20))
