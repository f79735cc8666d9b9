"""
`python -m asab_sentry demo`: see asab-sentry work end to end in one command.

Starts a real Sentry-compatible server (Bugsink, embedded, on 127.0.0.1) unless a DSN is given,
runs the example ASAB service against it, drives a few requests that produce a message, an
ERROR log and an uncaught exception, reads back what the server stored and prints a summary and
the UI address. Ctrl-C stops everything.
"""

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import typing
import urllib.error
import urllib.request
import uuid

from ..config import mask_dsn
from .bugsink import LOGIN, Bugsink, BugsinkError, cache_dir, free_port

__all__ = ["main"]


def main(argv: typing.Optional[typing.List[str]] = None) -> int:
	"""Run the demo; returns the process exit code."""
	parser = argparse.ArgumentParser(prog="python -m asab_sentry demo", description=__doc__.strip().splitlines()[0])
	parser.add_argument("--dsn", default=os.environ.get("SENTRY_DSN", ""), help="report to this server instead of an embedded Bugsink (default: $SENTRY_DSN)")
	parser.add_argument("--once", action="store_true", help="print the summary and stop, instead of waiting for Ctrl-C")
	parser.add_argument("--wait", action="store_true", help="wait for Ctrl-C (or SIGTERM) even without a terminal, e.g. in a container")
	parser.add_argument("--state-dir", default=os.path.join(cache_dir(), "demo"), help="where the embedded Bugsink keeps its database")
	args = parser.parse_args(argv)

	interactive = (args.wait or (sys.stdin is not None and sys.stdin.isatty())) and not args.once
	# Ctrl-C and SIGTERM only set a flag, checked between steps. A KeyboardInterrupt raised by a
	# signal handler can land inside subprocess.Popen.poll() right after it took its internal
	# waitpid lock and before its try/finally (Python 3.13 runs handlers right after a C call
	# returns): the lock stays held, and the cleanup's Popen.wait() then waits for it forever.
	# That was the occasional 60 s hang of the Ctrl-C test on Python 3.13.
	STOP.clear()
	for sig in (signal.SIGINT, signal.SIGTERM):
		signal.signal(sig, _request_stop)
	server = None
	app = None
	try:
		dsn = args.dsn
		if not dsn:
			server = Bugsink(args.state_dir)
			_say("Starting Bugsink (a Sentry-compatible server) on {} ... (the first run installs it, about a minute)".format(server.url))
			server.start(interrupted=STOP.is_set)
			_check_stop()
			dsn = server.dsn
		web_port = free_port()
		run_id = uuid.uuid4().hex[:8]
		app = _start_app(dsn, web_port, run_id)
		base = "http://127.0.0.1:{}".format(web_port)
		_wait_for(base + "/hello")

		_say("\nSent by the example service (DemoApplication on {}):".format(base))
		sent = []
		requests = [
			("/hello?name=demo", "a NOTICE log line, kept as a breadcrumb"),
			("/message", "capture_message()"),
			("/log-error", "an ERROR log with struct_data"),
			("/fail", "an uncaught exception in a handler"),
		]
		for path, what in requests:
			_check_stop()
			status, body = _get(base + path)
			sent.append((path, status, body))
			note = " event {}".format(body["event_id"]) if isinstance(body, dict) and body.get("event_id") else ""
			_say("  GET {:<18} -> {}  {}{}".format(path, status, what, note))

		if server is not None:
			stored = _read_back(server, run_id, expected=3)
			_say("\nStored by the server ({} events, read back from its database):".format(len(stored)))
			for event in stored:
				_say("  {}  {:<7}  {}".format(event["event_id"], event.get("level", ""), _title(event)))
				tags = " ".join("{}={}".format(k, v) for k, v in sorted(event.get("tags", {}).items()))
				_say("      release={} environment={} tags: {}".format(event.get("release", "-"), event.get("environment"), tags))
			_say("\nBugsink UI: {}  (log in as {} / {})".format(server.url, *LOGIN))
			if len(stored) < 3:
				_say("Expected 3 stored events, found {}.".format(len(stored)))
				return 1
		else:
			_say("\nReported to {}; look for instance_id=demo-{} there.".format(mask_dsn(dsn), run_id))

		if interactive:
			_say("Press Ctrl-C to stop.")
			while app.poll() is None and not STOP.is_set():
				time.sleep(0.1)
		return 0

	except KeyboardInterrupt:
		return 0
	except BugsinkError as e:
		_say("demo: {}".format(e))
		return 1
	finally:
		_stop_app(app)
		if server is not None:
			server.stop()
		_say("Stopped.")
		# Everything is stopped and the process is about to exit: a Ctrl-C from now on has nothing
		# to stop. Ignored (not the flag handler, which Python resets to the default while it
		# shuts down), so it neither prints a traceback nor kills the process with SIGINT.
		for sig in (signal.SIGINT, signal.SIGTERM):
			signal.signal(sig, signal.SIG_IGN)


#: Set by Ctrl-C (SIGINT) or SIGTERM: the demo stops at its next step.
STOP = threading.Event()


def _request_stop(signum, frame) -> None:
	STOP.set()


def _check_stop() -> None:
	"""Raise KeyboardInterrupt here, at a safe point, when a stop was requested."""
	if STOP.is_set():
		raise KeyboardInterrupt()


def _say(text: str) -> None:
	print(text, flush=True)


def _start_app(dsn: str, web_port: int, run_id: str) -> subprocess.Popen:
	conf = os.path.join(tempfile.mkdtemp(prefix="asab-sentry-demo-"), "demo.conf")
	with open(conf, "w") as f:
		f.write("[sentry]\nenvironment=demo\n\n[web]\nlisten=127.0.0.1 {}\n".format(web_port))
	env = dict(os.environ, SENTRY_DSN=dsn, SERVICE_ID="asab-sentry-demo", INSTANCE_ID="demo-" + run_id, SENTRY_RELEASE="DemoApplication@0.1.0")
	return subprocess.Popen(
		[sys.executable, "-m", "asab_sentry.demo.app", "-c", conf],
		env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
	)


def _stop_app(app: typing.Optional[subprocess.Popen]) -> None:
	if app is None or app.poll() is not None:
		return
	app.send_signal(signal.SIGTERM)
	try:
		app.wait(timeout=15)
	except subprocess.TimeoutExpired:
		app.kill()
		app.wait()


def _get(url: str):
	try:
		with urllib.request.urlopen(url, timeout=10) as r:
			return r.status, json.loads(r.read() or b"null")
	except urllib.error.HTTPError as e:
		return e.code, None


def _wait_for(url: str, timeout: float = 30.0) -> None:
	deadline = time.monotonic() + timeout
	while time.monotonic() < deadline:
		_check_stop()
		try:
			_get(url)
			return
		except OSError:
			time.sleep(0.1)
	raise BugsinkError("the example service did not answer at {}".format(url))


def _read_back(server: Bugsink, run_id: str, expected: int, timeout: float = 15.0) -> typing.List[dict]:
	deadline = time.monotonic() + timeout
	while True:
		stored = [e for e in server.events() if e.get("tags", {}).get("instance_id") == "demo-" + run_id]
		if len(stored) >= expected or time.monotonic() > deadline:
			return stored
		_check_stop()
		time.sleep(0.2)


def _title(event: dict) -> str:
	if event.get("exception"):
		exc = event["exception"]["values"][-1]
		return "{}: {}".format(exc.get("type"), exc.get("value"))
	if event.get("logentry"):
		extra = event.get("extra", {}).get("struct_data")
		return "log: {}{}".format(event["logentry"].get("message"), "  struct_data={}".format(json.dumps(extra)) if extra else "")
	return "message: {}".format(event.get("message"))
