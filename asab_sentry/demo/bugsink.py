"""
Bugsink, a real self-hosted Sentry-compatible server, run on 127.0.0.1 for the demo and the tests.

Bugsink (PyPI `bugsink`) is installed into its own virtual environment under the cache directory
(its Django pins never mix with the application's), configured with its `local` template (events
are digested inside the HTTP request, so they can be read back right after a flush), migrated once
into a template database that later starts copy, and given one project with a fixed key and a
superuser for the web UI.
"""

import fcntl
import json
import logging
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import time
import typing
import urllib.request
import uuid

L = logging.getLogger(__name__)

VERSION = "2.6.1"  # 2.6.2 needs a certifi newer than some package indexes have
PROJECT_KEY = uuid.UUID(int=0x5e17a5e5e17a5e5e17a5e5e17a5e5e1).hex
PROJECT_ID = 1
LOGIN = ("admin", "asab-sentry-demo")

_DB_FILES = ("db.sqlite3", "snappea.sqlite3")

_SETUP = """
import uuid
from django.contrib.auth import get_user_model
from teams.models import Team
from projects.models import Project
Project.objects.create(id={project_id}, name="asab-sentry", team=Team.objects.create(name="asab-sentry"), sentry_key=uuid.UUID(hex="{key}"))
get_user_model().objects.create_superuser("{user}", "{user}@localhost", "{password}")
"""


class BugsinkError(RuntimeError):
	"""Bugsink could not be installed, prepared or started; the message says which step and why."""


def cache_dir() -> str:
	"""Where the Bugsink venv and template database live: `$ASAB_SENTRY_CACHE` or `~/.cache/asab-sentry`."""
	return os.environ.get("ASAB_SENTRY_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "asab-sentry")


def free_port() -> int:
	"""A TCP port on 127.0.0.1 that is free now."""
	with socket.socket() as sock:
		sock.bind(("127.0.0.1", 0))
		return sock.getsockname()[1]


class Bugsink(object):
	"""
	One Bugsink server with its own state directory.

	Examples:
	```python
	with Bugsink(state_dir) as server:
		os.environ["SENTRY_DSN"] = server.dsn
		...
		stored = server.event(event_id)
	```
	"""

	def __init__(self, state_dir: str, port: typing.Optional[int] = None, log_file: typing.Optional[str] = None):
		self.StateDir = os.path.abspath(state_dir)
		self.Port = port or free_port()
		self.Venv = os.path.join(cache_dir(), "bugsink-{}".format(VERSION))
		self.LogFile = log_file or os.path.join(self.StateDir, "bugsink.log")
		self.Process: typing.Optional[subprocess.Popen] = None

	@property
	def url(self) -> str:
		"""The web UI's address."""
		return "http://127.0.0.1:{}".format(self.Port)

	@property
	def dsn(self) -> str:
		"""The DSN of the project (a fixed key)."""
		return "http://{}@127.0.0.1:{}/{}".format(PROJECT_KEY, self.Port, PROJECT_ID)

	# Lifecycle

	def __enter__(self) -> "Bugsink":
		self.start()
		return self

	def __exit__(self, *exc) -> None:
		self.stop()

	def start(self, timeout: float = 60.0, interrupted: typing.Callable[[], bool] = lambda: False) -> None:
		"""
		Install and prepare if needed, start gunicorn on 127.0.0.1 and wait until ready.

		Args:
			timeout: Seconds to wait for the server to answer.
			interrupted: Polled while waiting; when it returns True the server is stopped and
				KeyboardInterrupt raised (from here, not from a signal handler).
		"""
		self.prepare()
		log = open(self.LogFile, "ab")
		self.Process = subprocess.Popen(
			[self._bin("gunicorn"), "--bind=127.0.0.1:{}".format(self.Port), "--workers=1", "--threads=4",
				"--no-control-socket", "--access-logfile=-", "bugsink.wsgi"],
			cwd=self.StateDir, env=self._env(), stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
		)
		log.close()
		deadline = time.monotonic() + timeout
		while time.monotonic() < deadline:
			if interrupted():
				self.stop()
				raise KeyboardInterrupt()
			if self.Process.poll() is not None:
				raise BugsinkError("Bugsink exited at start with code {}; see {}".format(self.Process.returncode, self.LogFile))
			try:
				with urllib.request.urlopen(self.url + "/health/ready", timeout=2) as r:
					if r.status == 200:
						return
			except OSError:
				time.sleep(0.1)
		self.stop()
		raise BugsinkError("Bugsink did not become ready in {} s; see {}".format(timeout, self.LogFile))

	def stop(self) -> None:
		"""Stop the server (SIGTERM, then SIGKILL after 10 s). Safe to call twice."""
		proc, self.Process = self.Process, None
		if proc is None or proc.poll() is not None:
			return
		proc.terminate()
		try:
			proc.wait(timeout=10)
		except subprocess.TimeoutExpired:
			proc.kill()
			proc.wait(timeout=10)

	@property
	def running(self) -> bool:
		return self.Process is not None and self.Process.poll() is None

	# Setup

	def prepare(self) -> None:
		"""Install Bugsink, write the config and copy in the migrated template database (once per state dir)."""
		os.makedirs(cache_dir(), exist_ok=True)
		with open(os.path.join(cache_dir(), ".lock"), "w") as lock:
			fcntl.flock(lock, fcntl.LOCK_EX)  # parallel test workers share the cache
			self.install()
			template = self._template()
		os.makedirs(self.StateDir, exist_ok=True)
		conf = os.path.join(self.StateDir, "bugsink_conf.py")
		if not os.path.exists(conf):
			self._write_conf(self.StateDir, self.Port)
		if not os.path.exists(os.path.join(self.StateDir, "db.sqlite3")):
			for name in _DB_FILES:
				shutil.copy(os.path.join(template, name), os.path.join(self.StateDir, name))

	def install(self) -> None:
		"""Create the Bugsink venv in the cache directory unless a complete one is there."""
		marker = os.path.join(self.Venv, ".installed")
		if os.path.exists(marker):
			return
		L.info("Installing bugsink=={} into {} (once)".format(VERSION, self.Venv))
		shutil.rmtree(self.Venv, ignore_errors=True)
		_run([sys.executable, "-m", "venv", self.Venv], "create the Bugsink venv")
		_run([self._bin("python"), "-m", "pip", "install", "-q", "--disable-pip-version-check", "bugsink=={}".format(VERSION)], "pip install bugsink")
		with open(marker, "w") as f:
			f.write(VERSION + "\n")

	def _template(self) -> str:
		"""A migrated database with the project and the superuser, made once and copied by every start."""
		template = os.path.join(cache_dir(), "bugsink-{}-template".format(VERSION))
		if all(os.path.exists(os.path.join(template, name)) for name in _DB_FILES):
			return template
		tmp = template + ".partial"
		shutil.rmtree(tmp, ignore_errors=True)
		os.makedirs(tmp)
		self._write_conf(tmp, 1)
		manage = [self._bin("bugsink-manage")]
		env = self._env(tmp)
		_run(manage + ["migrate", "-v0"], "migrate the Bugsink database", cwd=tmp, env=env)
		_run(manage + ["migrate", "snappea", "--database=snappea", "-v0"], "migrate the Bugsink task database", cwd=tmp, env=env)
		setup = _SETUP.format(project_id=PROJECT_ID, key=PROJECT_KEY, user=LOGIN[0], password=LOGIN[1])
		_run(manage + ["shell", "-c", setup], "create the Bugsink project", cwd=tmp, env=env)
		shutil.rmtree(template, ignore_errors=True)
		os.rename(tmp, template)
		return template

	def _write_conf(self, directory: str, port: int) -> None:
		create = [self._bin("bugsink-create-conf"), "--template=local", "--host=127.0.0.1", "--port={}".format(port), "-o", "bugsink_conf.py"]
		_run(create, "write the Bugsink config", cwd=directory, env=self._env(directory))
		with open(os.path.join(directory, "bugsink_conf.py"), "a") as f:
			f.write("\n# asab-sentry: paths in this directory, no phone-home, room for load tests\n")
			f.write("import os as _os\n_HERE = _os.path.dirname(_os.path.abspath(__file__))\n")
			f.write("DATABASES['default']['NAME'] = _os.path.join(_HERE, 'db.sqlite3')\n")
			f.write("DATABASES['snappea']['NAME'] = _os.path.join(_HERE, 'snappea.sqlite3')\n")
			f.write("BUGSINK['INGEST_STORE_BASE_DIR'] = _os.path.join(_HERE, 'ingestion')\n")
			f.write("BUGSINK['PHONEHOME'] = False\n")
			for key in ("MAX_EVENTS_PER_PROJECT_PER_5_MINUTES", "MAX_EVENTS_PER_5_MINUTES", "MAX_EVENTS_PER_PROJECT_PER_HOUR", "MAX_EVENTS_PER_HOUR"):
				f.write("BUGSINK['{}'] = 1_000_000\n".format(key))

	def _bin(self, name: str) -> str:
		return os.path.join(self.Venv, "bin", name)

	def _env(self, directory: typing.Optional[str] = None) -> dict:
		env = {k: v for k, v in os.environ.items() if not k.startswith(("SENTRY_", "DJANGO_", "PYTHON"))}
		env["PYTHONPATH"] = directory or self.StateDir
		env["DJANGO_SETTINGS_MODULE"] = "bugsink_conf"
		env["HOME"] = directory or self.StateDir  # keeps gunicorn and Django from writing into the real home
		return env

	# Read-back

	def event(self, event_id: str) -> typing.Optional[dict]:
		"""The stored event (its JSON as Bugsink keeps it), or None."""
		rows = self._query("SELECT data FROM events_event WHERE event_id = ?", (uuid.UUID(event_id).hex,))
		return json.loads(rows[0][0]) if rows else None

	def events(self) -> typing.List[dict]:
		"""Every stored event, oldest first."""
		return [json.loads(row[0]) for row in self._query("SELECT data FROM events_event ORDER BY digested_at, id", ())]

	def event_ids(self) -> typing.List[str]:
		"""Ids of every stored event (32 hex characters)."""
		return [uuid.UUID(str(row[0])).hex for row in self._query("SELECT event_id FROM events_event", ())]

	def _query(self, sql: str, params: tuple) -> list:
		db = os.path.join(self.StateDir, "db.sqlite3")
		con = sqlite3.connect("file:{}?mode=ro".format(db), uri=True, timeout=10)
		try:
			return con.execute(sql, params).fetchall()
		finally:
			con.close()


def _run(cmd: typing.List[str], what: str, **kwargs) -> None:
	try:
		subprocess.run(cmd, check=True, capture_output=True, text=True, stdin=subprocess.DEVNULL, **kwargs)
	except subprocess.CalledProcessError as e:
		tail = (e.stderr or e.stdout or "").strip().splitlines()[-5:]
		raise BugsinkError("Cannot {}: {}".format(what, " | ".join(tail))) from None
	except OSError as e:
		raise BugsinkError("Cannot {}: {}".format(what, e)) from None
