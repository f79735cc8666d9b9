"""
Shared fixtures: a recording Sentry endpoint on 127.0.0.1 and a runner for the scenario app.

Every ASAB application under test runs in its own process (ASAB's Application is a singleton and
sentry-sdk's client is process-wide), and every server a test starts is stopped in `finally`.
"""

import os
import signal
import subprocess
import sys
import time
import typing

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from recorder import Recorder  # noqa: E402

SCENARIO = os.path.join(HERE, "apps", "scenario.py")


@pytest.fixture
def recorder():
	"""A recording Sentry endpoint, stopped when the test ends."""
	r = Recorder().start()
	try:
		yield r
	finally:
		r.stop()


class AppRun(object):
	"""What a scenario run printed and how it ended."""

	def __init__(self, completed: subprocess.CompletedProcess):
		self.returncode = completed.returncode
		self.stdout = completed.stdout
		self.stderr = completed.stderr

	def values(self, prefix: str) -> typing.List[str]:
		"""The rest of every stdout line that starts with `prefix` (e.g. 'EVENT_ID')."""
		return [line[len(prefix):].strip() for line in self.stdout.splitlines() if line.startswith(prefix)]


def app_env(dsn: typing.Optional[str] = None, **env: str) -> dict:
	"""A clean environment for an app under test."""
	from asab_sentry.testing import affects_sentry
	result = {k: v for k, v in os.environ.items() if not affects_sentry(k)}
	result["PYTHONPATH"] = os.pathsep.join([os.path.dirname(HERE), result.get("PYTHONPATH", "")]).rstrip(os.pathsep)
	if dsn is not None:
		result["SENTRY_DSN"] = dsn
	result.update(env)
	return result


def write_config(tmp_path, text: str = "[sentry]\n") -> str:
	path = os.path.join(str(tmp_path), "app.conf")
	with open(path, "w") as f:
		f.write(text)
	return path


def run_group(cmd: typing.Sequence[str], timeout: float, **kwargs) -> subprocess.CompletedProcess:
	"""
	Like `subprocess.run(..., capture_output=True, text=True)`, in a session of its own whose every
	process (a demo's Bugsink and example service too) is killed when the run ends. The result's
	`leftovers` says whether any process of the session outlived the command.
	"""
	proc = subprocess.Popen(
		cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL,
		start_new_session=True, **kwargs
	)
	try:
		stdout, stderr = proc.communicate(timeout=timeout)
		completed = subprocess.CompletedProcess(cmd, proc.returncode, stdout, stderr)
		try:
			os.killpg(proc.pid, 0)
			completed.leftovers = True
		except ProcessLookupError:
			completed.leftovers = False
		return completed
	finally:
		try:
			os.killpg(proc.pid, signal.SIGKILL)  # leftovers of the session, if any
		except ProcessLookupError:
			pass
		if proc.poll() is None:
			proc.communicate()


@pytest.fixture
def run_app(tmp_path):
	"""Run `tests/apps/scenario.py SCENARIO` to completion and return an `AppRun`."""

	def run(
		scenario: str, dsn: typing.Optional[str] = None, config: str = "[sentry]\n", timeout: float = 60,
		args: typing.Sequence[str] = (), cwd: typing.Optional[str] = None, **env: str
	) -> AppRun:
		conf = write_config(tmp_path, config)
		completed = run_group([sys.executable, *args, SCENARIO, scenario, conf], timeout, env=app_env(dsn, **env), cwd=cwd or str(tmp_path))
		return AppRun(completed)

	return run


@pytest.fixture
def start_app(tmp_path):
	"""Start a scenario app in the background; it is killed when the test ends if still running."""
	procs = []

	def start(scenario: str, dsn: typing.Optional[str] = None, config: str = "[sentry]\n", **env: str) -> subprocess.Popen:
		conf = write_config(tmp_path, config)
		proc = subprocess.Popen(
			[sys.executable, SCENARIO, scenario, conf], env=app_env(dsn, **env), cwd=str(tmp_path),
			stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL,
		)
		procs.append(proc)
		return proc

	try:
		yield start
	finally:
		for proc in procs:
			if proc.poll() is None:
				proc.send_signal(signal.SIGKILL)
			proc.communicate(timeout=10)


def wait_for_line(proc: subprocess.Popen, prefix: str, timeout: float = 30) -> str:
	"""Read the app's stdout until a line starting with `prefix`."""
	deadline = time.monotonic() + timeout
	while time.monotonic() < deadline:
		line = proc.stdout.readline()
		if line.startswith(prefix):
			return line[len(prefix):].strip()
		if line == "" and proc.poll() is not None:
			break
	raise AssertionError("app never printed {!r}".format(prefix))



@pytest.fixture(scope="session")
def bugsink(tmp_path_factory):
	"""A real Bugsink server on 127.0.0.1 for the whole session (per xdist worker), stopped at the end."""
	from asab_sentry.demo.bugsink import Bugsink
	server = Bugsink(str(tmp_path_factory.mktemp("bugsink")))
	try:
		server.start()
		yield server
	finally:
		server.stop()


@pytest.fixture
def sentry_app():
	"""
	Build an ASAB application with asab-sentry inside the test process, on a MemoryTransport:
	`sentry_app(config={...}, environ={...}, modules=[...])` returns an `asab_sentry.testing.SentryApp`.
	Everything it changed (SDK client and scopes, asab.Config, environment, root logger) is put back
	when the test ends.
	"""
	import contextlib
	from asab_sentry.testing import sentry_app as build
	with contextlib.ExitStack() as stack:
		yield lambda *args, **kwargs: stack.enter_context(build(*args, **kwargs))
