"""
`python -m asab_sentry check`, in-process: every line it prints and every exit code, against the
in-process recording server (test_check.py runs the CLI as a user would, in a process of its own,
and against Bugsink).
"""

import copy
import io
import logging
import os
import socket
import ssl

import pytest
import urllib3.exceptions

import asab
import asab.abc.singleton
import asab.config

from asab_sentry import check, logs
from asab_sentry.testing import affects_sentry, put_back

DSN_HOST = "0123456789abcdef0123456789abcdef@127.0.0.1"


class Run(object):
	"""What one check printed and returned."""

	def __init__(self, code: int, out: str):
		self.code = code
		self.out = out
		self.lines = out.splitlines()

	def value(self, name: str) -> str:
		"""The value of a `name:` row."""
		[line] = [line for line in self.lines if line.startswith(name + ":")]
		return line[len(name) + 1:].strip()

	def problems(self):
		return [line[len("problem:"):].strip() for line in self.lines if line.startswith("problem:")]

	@property
	def failed(self) -> str:
		[line] = [line for line in self.lines if line.startswith("FAILED: ")]
		return line[len("FAILED: "):]


@pytest.fixture
def run_check(tmp_path, monkeypatch):
	"""Run the check in this process on a config text; asab.Config, the environment, logging and the SDK are put back after."""
	saved_config = {section: dict(asab.Config.items(section, raw=True)) for section in asab.Config.sections()}
	root = logging.getLogger()
	saved_root = (root.level, list(root.handlers), logs._Handler)  # the Sentry Logs handler the root has, as logs.py knows it
	saved_singletons = dict(asab.abc.singleton.Singleton._instances)
	# `-c FILE` is kept by ASAB in a class attribute, and every later Application would read that file.
	saved_defaults = copy.deepcopy(asab.config.ConfigParser._default_values)
	for name in list(os.environ):
		if affects_sentry(name):
			monkeypatch.delenv(name)
	monkeypatch.chdir(str(tmp_path))
	loaded = []
	real_load = check._load

	def load(*args, **kwargs):
		result = real_load(*args, **kwargs)
		loaded.append(result[1])
		return result

	monkeypatch.setattr(check, "_load", load)

	def run(config_text, *args, **env):
		for name, value in env.items():
			monkeypatch.setenv(name, value)
		for section in list(asab.Config.sections()):
			asab.Config.remove_section(section)
		path = tmp_path / "app.conf"
		path.write_text(config_text)
		out = io.StringIO()
		code = check.main(["-c", str(path)] + list(args), out=out)
		return Run(code, out.getvalue())

	try:
		yield run
	finally:
		for service in loaded:
			service.App.Loop.close()
		asab.config.ConfigParser._default_values.clear()
		asab.config.ConfigParser._default_values.update(saved_defaults)
		asab.abc.singleton.Singleton._instances.clear()
		asab.abc.singleton.Singleton._instances.update(saved_singletons)
		put_back(saved_config)
		root.setLevel(saved_root[0])
		root.handlers[:] = saved_root[1]
		logs._Handler = saved_root[2]


def sentry(dsn, extra=""):
	return "[sentry]\ndata_source_name={}\n{}".format(dsn, extra)


class TestAccepted(object):
	"""A server that accepts: exit 0, the test event arrives with the service's identity."""

	def test_the_event_printed_is_the_event_received(self, run_check, recorder):
		r = run_check(sentry(recorder.dsn), SERVICE_ID="svc-1")
		assert r.code == 0, r.out
		[event] = recorder.events()
		assert r.value("test event") == event["event_id"]
		assert event["tags"]["service_id"] == "svc-1" and event["level"] == "info"
		assert event["message"] == "asab-sentry check: test event"
		assert r.value("server answer") == 'HTTP 200 {"id": "00000000000000000000000000000000"}'
		assert r.lines[-1] == "OK: the server accepted event {}".format(event["event_id"])

	def test_the_request_is_gzip_with_the_auth_header(self, run_check, recorder):
		assert run_check(sentry(recorder.dsn)).code == 0
		[headers] = recorder.Headers
		assert headers["Content-Encoding"] == "gzip" and headers["Content-Type"] == "application/x-sentry-envelope"
		assert "sentry_key=0123456789abcdef0123456789abcdef" in headers["X-Sentry-Auth"]
		assert headers["User-Agent"].startswith("asab-sentry-check sentry.python/")

	def test_app_class_and_manifest_make_the_release(self, run_check, recorder, tmp_path):
		(tmp_path / "MANIFEST.json").write_text('{"version": "1.4.0"}')
		r = run_check(sentry(recorder.dsn), "--app-class", "OrderApplication")
		assert r.code == 0, r.out
		assert r.value("release") == "OrderApplication@1.4.0"
		[event] = recorder.events()
		assert event["release"] == "OrderApplication@1.4.0" and event["tags"]["appclass"] == "OrderApplication"
		assert not any(p.startswith("no release") for p in r.problems())


class TestSettings(object):
	"""The resolved settings, one row each, the DSN's key masked."""

	def test_rows(self, run_check, recorder, tmp_path):
		spool = tmp_path / "spool"
		r = run_check(sentry(recorder.dsn, "environment=prod\nrelease=a@1\nsample_rate=0.5\ntraces_sample_rate=0.25\nspool_dir={}\nspool_max_size=1MB\nintegrations=threading\ndisabled_integrations=httpx\nenable_logs=true\n\n[sentry:logging]\nlogs=warning\n\n[sentry:integration:threading]\npropagate_scope=false\n".format(spool)))
		assert r.value("dsn") == recorder.dsn.replace("0123456789abcdef0123456789abcdef", "***")
		assert "0123456789abcdef0123456789abcdef" not in r.out
		assert r.value("environment") == "prod"
		assert r.value("release") == "a@1"
		assert r.value("sample rates") == "errors 0.5, traces 0.25, profiles 0.0"
		assert r.value("spool") == "{} (max 1000000 bytes)".format(spool)
		assert r.value("configured") == "integrations: threading; disabled: httpx; threading {'propagate_scope': False}"
		assert r.value("logs") == "on, from warning"
		assert "threading" in r.value("integrations").split(", ")  # (what is turned off shows in a fresh process only: test_check.py)

	def test_defaults(self, run_check, recorder):
		r = run_check(sentry(recorder.dsn))
		assert r.value("release") == "(none)"
		assert r.value("spool") == "off (memory)"
		assert r.value("configured") == "integrations: -; disabled: -"
		assert r.value("logs") == "off"


class TestProblems(object):
	"""What would go wrong in the service is listed, one `problem:` line each, and the check goes on."""

	def test_no_environment_and_no_release(self, run_check, recorder):
		r = run_check(sentry(recorder.dsn))
		assert r.problems() == [
			"no environment: set [sentry] environment (or SENTRY_ENVIRONMENT, SITE_ID)",
			"no release: set [sentry] release or ship a MANIFEST.json with a version",
		]
		assert r.code == 0

	def test_none_when_set(self, run_check, recorder):
		assert run_check(sentry(recorder.dsn, "environment=prod\nrelease=a@1\n")).problems() == []

	def test_profiles_without_traces(self, run_check, recorder):
		r = run_check(sentry(recorder.dsn, "environment=prod\nrelease=a@1\nprofiles_sample_rate=0.5\n"))
		assert r.problems() == ["profiles_sample_rate > 0 with traces_sample_rate 0: profiles are made only during sampled transactions"]
		r = run_check(sentry(recorder.dsn, "environment=prod\nrelease=a@1\nprofiles_sample_rate=0.5\ntraces_sample_rate=0.1\n"))
		assert r.problems() == []

	def test_spool_dir_that_cannot_be_made(self, run_check, recorder, tmp_path):
		(tmp_path / "file").write_text("x")
		r = run_check(sentry(recorder.dsn, "environment=prod\nrelease=a@1\nspool_dir={}\n".format(tmp_path / "file" / "spool")))
		assert "spool_dir '{}' is not a writable directory".format(tmp_path / "file" / "spool") in r.problems()

	def test_warning_while_starting_is_a_problem(self, run_check, recorder, monkeypatch):
		real = check.SentryConfig.load

		def load(app):
			logging.getLogger("asab_sentry.config").warning("something to fix")
			return real(app)

		monkeypatch.setattr(check.SentryConfig, "load", load)
		assert "something to fix" in run_check(sentry(recorder.dsn, "environment=prod\nrelease=a@1\n")).problems()

	@pytest.mark.parametrize("dsn, remote", [
		("http://k@sentry.example.com/1", True),
		("https://k@sentry.example.com/1", False),
		("http://k@127.0.0.1:9/1", False),
		("http://k@localhost:9/1", False),
		("http://k@[::1]:9/1", False),
	])
	def test_http_to_a_remote_host(self, dsn, remote):
		config = check.SentryConfig(dsn=dsn, environment="prod", release="a@1")
		assert ("the DSN uses http://: events and the key travel unencrypted" in check._advice(config)) is remote


class TestRefusedBeforeSending(object):
	"""A configuration the service would not start with: exit 1, one line, nothing sent."""

	def test_bad_value(self, run_check, recorder):
		r = run_check(sentry(recorder.dsn, "sample_rate=2\n"))
		assert (r.code, r.failed) == (1, "[sentry] sample_rate = '2' is invalid; expected a number between 0 and 1")
		assert recorder.Requests == 0

	def test_no_sentry_section(self, run_check):
		r = run_check("[general]\n", SENTRY_DSN="http://{}:9/1".format(DSN_HOST))
		assert r.code == 1 and r.failed.startswith("no [sentry] section in '")

	def test_no_dsn(self, run_check):
		r = run_check("[sentry]\n")
		assert (r.code, r.failed) == (1, "no DSN: set [sentry] data_source_name or SENTRY_DSN")

	def test_disabled(self, run_check, recorder):
		r = run_check(sentry(recorder.dsn, "enabled=false\n"))
		assert (r.code, r.failed) == (1, "Sentry is disabled by [sentry] enabled / SENTRY_ENABLED")
		assert recorder.Requests == 0

	def test_missing_config_file(self, tmp_path):
		out = io.StringIO()
		assert check.main(["-c", str(tmp_path / "nope.conf")], out=out) == 1
		assert out.getvalue() == "FAILED: cannot read the configuration file '{}'\n".format(tmp_path / "nope.conf")

	def test_missing_integration_package(self, run_check):
		r = run_check(sentry("http://{}:9/1".format(DSN_HOST), "integrations=pymongo\n"))
		assert r.code == 1 and r.failed.endswith("integration 'pymongo' needs the package 'pymongo': pip install pymongo")
		assert not r.failed.startswith("asab-sentry: ")

	def test_event_dropped_by_sampling(self, run_check, recorder):
		r = run_check(sentry(recorder.dsn, "sample_rate=0\n"))
		assert (r.code, r.failed) == (1, "the test event was not sent: dropped by sample_rate, ignore_errors or an event processor")
		assert recorder.Requests == 0

	def test_a_bug_in_the_check_is_one_line(self, run_check, recorder, monkeypatch):
		monkeypatch.setattr(check, "send", lambda *a: {}["boom"])
		r = run_check(sentry(recorder.dsn))
		assert (r.code, r.failed) == (1, "unexpected error in the check: KeyError('boom')")


class TestUsage(object):
	"""Bad usage is exit 2; help is 0."""

	def test_no_config_is_2(self, capsys):
		assert check.main([]) == 2
		assert "-c/--config" in capsys.readouterr().err

	def test_help_is_0(self, capsys):
		assert check.main(["--help"]) == 0
		assert capsys.readouterr().out.startswith("usage: python -m asab_sentry check")

	def test_prints_to_stdout_by_default(self, capsys, tmp_path):
		assert check.main(["-c", str(tmp_path / "nope.conf")]) == 1
		assert capsys.readouterr().out.startswith("FAILED: cannot read")


class TestServerAnswers(object):
	"""Each answer of the server is one line naming the status and what it means."""

	@pytest.mark.parametrize("status, headers, reason", [
		(401, {}, "wrong key or project"),
		(403, {}, "wrong key or project"),
		(413, {}, "the event is too large for the server"),
		(429, {"Retry-After": "60"}, "rate limited (retry after 60)"),
		(429, {"X-Sentry-Rate-Limits": "60:error:key"}, "rate limited (retry after 60:error:key)"),
		(429, {}, "rate limited (retry after ?)"),
		(500, {}, "server error"),
		(503, {}, "server error"),
		(400, {}, "refused"),
		(302, {"Location": "http://127.0.0.1:9/"}, "refused"),
	])
	def test_status(self, run_check, recorder, status, headers, reason):
		recorder.Script.append((status, headers))
		r = run_check(sentry(recorder.dsn))
		assert r.code == 1
		assert r.failed == '127.0.0.1:{} answered HTTP {}: {} ({{"id": "00000000000000000000000000000000"}})'.format(recorder.port, status, reason)
		assert recorder.Requests == 1
		assert not any(line.startswith("OK") for line in r.lines)

	def test_2xx_other_than_200_is_accepted(self, run_check, recorder):
		recorder.Script.append((202, {}))
		r = run_check(sentry(recorder.dsn))
		assert r.code == 0 and r.value("server answer").startswith("HTTP 202 ")

	def test_stopped_server(self, run_check, recorder):
		dsn, port = recorder.dsn, recorder.port
		recorder.stop()
		r = run_check(sentry(dsn))
		assert (r.code, r.failed) == (1, "connection refused by 127.0.0.1:{}: is the server running?".format(port))

	def test_server_that_never_answers(self, run_check, recorder):
		recorder.Hang = True
		r = run_check(sentry(recorder.dsn), "--timeout", "0.5")
		assert (r.code, r.failed) == (1, "timeout: 127.0.0.1:{} did not answer within 0.5 s".format(recorder.port))
		recorder.unhang()

	def test_https_to_a_plain_http_server(self, run_check, recorder):
		r = run_check(sentry(recorder.dsn.replace("http://", "https://")), "--timeout", "5")
		assert r.code == 1 and r.failed.startswith("TLS error talking to 127.0.0.1:{}: ".format(recorder.port))
		assert recorder.Envelopes == []


class TestDescribeError(object):
	"""The one line for a failed request, found anywhere in the exception's chain."""

	def chained(self, outer, inner):
		try:
			try:
				raise inner
			except BaseException:
				raise outer
		except BaseException as e:
			return e

	def test_dns(self):
		line = check.describe_error(socket.gaierror(-2, "Name or service not known"), "sentry.invalid:443", 10)
		assert line == "DNS failure: cannot resolve sentry.invalid ([Errno -2] Name or service not known)"

	def test_dns_behind_urllib3(self):
		error = urllib3.exceptions.MaxRetryError(None, "/", reason=urllib3.exceptions.NameResolutionError("h", None, socket.gaierror(-2, "x")))
		assert check.describe_error(error, "h:443", 10).startswith("DNS failure: cannot resolve h (")

	def test_refused_in_the_cause(self):
		error = self.chained(RuntimeError("wrapped"), ConnectionRefusedError(111, "Connection refused"))
		assert check.describe_error(error, "h:1", 10) == "connection refused by h:1: is the server running?"

	def test_refused_named_in_the_text(self):
		assert check.describe_error(OSError("[Errno 111] Connection refused"), "h:1", 10) == "connection refused by h:1: is the server running?"

	def test_tls(self):
		error = ssl.SSLError(1, "WRONG_VERSION_NUMBER")
		assert check.describe_error(error, "h:1", 10) == "TLS error talking to h:1: {}".format(error)

	def test_timeout(self):
		assert check.describe_error(socket.timeout("timed out"), "h:1", 2.5) == "timeout: h:1 did not answer within 2.5 s"

	def test_dns_wins_over_a_timeout_in_the_chain(self):
		error = self.chained(socket.timeout("timed out"), socket.gaierror(-3, "Temporary failure"))
		assert check.describe_error(error, "h:1", 1).startswith("DNS failure: cannot resolve h (")

	def test_other(self):
		assert check.describe_error(ValueError("odd"), "h:1", 1) == "cannot reach h:1: odd"

	def test_a_cycle_in_the_chain_ends(self):
		a = RuntimeError("a")
		b = RuntimeError("b")
		a.__cause__ = b
		b.__cause__ = a
		assert check.describe_error(a, "h:1", 1) == "cannot reach h:1: a"


class TestWritable(object):
	"""A spool directory is usable when it, or the nearest existing parent, is a writable directory."""

	def test_existing_directory(self, tmp_path):
		assert check._writable(str(tmp_path))

	def test_missing_below_a_directory(self, tmp_path):
		assert check._writable(str(tmp_path / "a" / "b"))

	def test_below_a_file(self, tmp_path):
		(tmp_path / "f").write_text("x")
		assert not check._writable(str(tmp_path / "f" / "spool"))

	def test_a_file(self, tmp_path):
		(tmp_path / "f").write_text("x")
		assert not check._writable(str(tmp_path / "f"))

	def test_not_writable(self, tmp_path, monkeypatch):
		monkeypatch.setattr(os, "access", lambda path, mode: False)
		assert not check._writable(str(tmp_path))

	def test_relative_path(self, tmp_path, monkeypatch):
		monkeypatch.chdir(str(tmp_path))
		assert check._writable("spool/sub")
