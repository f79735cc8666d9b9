"""
Where each setting comes from and what start-up says (issue 10, findings 5, 7, 8, 11, 14 and the
old attributes of finding 4).
"""

import configparser
import logging
import io
import os
import sys

import pytest

from conftest import HERE, SCENARIO, app_env, run_group, write_config

ROOT = os.path.dirname(HERE)


class TestSourceRule(object):
	"""Explicit file value > environment > default; ASAB defaults added by another module are defaults."""

	def test_environment_wins_over_a_default(self, sentry_app):
		s = sentry_app(environ={"SENTRY_ENVIRONMENT": "staging", "SENTRY_TRACES_SAMPLE_RATE": "0.5"})
		assert (s.Service.Environment, s.Service.TracesSampleRate) == ("staging", 0.5)

	def test_explicit_file_value_wins_and_the_shadowed_variable_is_a_warning(self, sentry_app, caplog):
		with caplog.at_level(logging.DEBUG, logger="asab_sentry"):
			s = sentry_app({"sentry": {"environment": "from-file"}}, environ={"SENTRY_ENVIRONMENT": "from-env", "SENTRY_RELEASE": "App@2"})
		s.Service.capture_message("m")
		assert s.events()[0]["environment"] == "from-file" and s.events()[0]["release"] == "App@2"
		warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
		assert any("SENTRY_ENVIRONMENT is set but ignored" in m for m in warnings), warnings
		debug = [r.getMessage() for r in caplog.records if r.levelno == logging.DEBUG]
		assert "[sentry] release comes from SENTRY_RELEASE." in debug
		assert "[sentry] environment is set in the configuration." in debug

	def test_asab_sentry_import_defaults_do_not_hide_the_environment(self, recorder, tmp_path):
		"""Finding 5: a leftover `import asab.sentry` in the process (it adds [sentry] defaults)."""
		wrapper = tmp_path / "legacy.py"
		wrapper.write_text("import sys, runpy\nimport asab.sentry  # noqa\nsys.argv = sys.argv[1:]\nrunpy.run_path(sys.argv[0], run_name='__main__')\n")
		conf = write_config(tmp_path, "[sentry]\ndata_source_name={}\n".format(recorder.dsn))
		env = app_env(None, SITE_ID="eu-west", SENTRY_TRACES_SAMPLE_RATE="1")
		done = run_group([sys.executable, str(wrapper), SCENARIO, "tracing", conf], 60, env=env, cwd=str(tmp_path))
		assert done.returncode == 0, done.stderr
		assert len(recorder.wait_for(1, item_type="transaction")) >= 1  # SENTRY_TRACES_SAMPLE_RATE was honoured
		events = recorder.items("transaction")
		assert {e["environment"] for e in events} == {"eu-west"}  # SITE_ID, not asab.sentry's 'not specified'


class TestExampleConfig(object):
	"""Finding 11: with the README's example config, the environment variables it names work."""

	def _sections(self):
		parser = configparser.ConfigParser(interpolation=None)
		parser.read(os.path.join(ROOT, "etc", "asab-sentry.conf"))
		return {name: dict(parser.items(name)) for name in parser.sections()}

	def test_sentry_enabled_false_disables(self, sentry_app):
		s = sentry_app(self._sections(), environ={"SENTRY_DSN": "http://k@127.0.0.1:9/1", "SENTRY_ENABLED": "false"})
		assert s.Service.Enabled is False

	def test_variables_take_effect(self, sentry_app):
		s = sentry_app(self._sections(), environ={
			"SENTRY_DSN": "http://k@127.0.0.1:9/1", "SENTRY_TRACES_SAMPLE_RATE": "0.25", "SENTRY_DEBUG": "false",
			"SENTRY_SEND_DEFAULT_PII": "true", "SENTRY_SPOOL_MAX_SIZE": "1MB",
		})
		config = s.Service.Config
		assert (config.traces_sample_rate, config.send_default_pii, config.spool_max_size) == (0.25, True, 1000000)


class TestOneLineAtStart(object):
	"""Finding 8: values that gave a traceback stop the app with one line."""

	@pytest.mark.parametrize("config,env,message", [
		("[sentry]\nenvironment=pro$d\n", {"SENTRY_DSN": "http://key@127.0.0.1:9/1"}, "[sentry] environment = 'pro$d' has a stray '$'"),
		("[sentry]\ndata_source_name=${SENTRY_DSN}\n", {}, "[sentry] data_source_name = '${SENTRY_DSN}' refers to an unset variable"),
		("[sentry]\ndata_source_name=http://s3cr3tkey@[::1]:9000/1\n", {}, "'http://***@[::1]:9000/1' has an IPv6 address as its host"),
		("[sentry]\nenvironment=prod/eu\n", {"SENTRY_DSN": "http://key@127.0.0.1:9/1"}, "[sentry] environment = 'prod/eu' is invalid; expected no '/'"),
		("[sentry]\n", {"SENTRY_DSN": "http://key@127.0.0.1:9/1", "SENTRY_RELEASE": "feature/x-1.2"}, "SENTRY_RELEASE = 'feature/x-1.2' (for [sentry] release) is invalid"),
		("[sentry]\n", {"SENTRY_DSN": "http://key@127.0.0.1:9/1", "SENTRY_ENVIRONMENT": "e" * 65}, "expected at most 64 bytes of UTF-8"),
	])
	def test_one_line(self, run_app, config, env, message):
		run = run_app("message", config=config, **env)
		assert run.returncode != 0
		lines = [line for line in run.stderr.splitlines() if line.strip()]
		assert len(lines) == 1 and lines[0].startswith("asab-sentry: "), run.stderr
		assert message in lines[0]
		assert "s3cr3tkey" not in run.stderr


class TestTransportOnly(object):
	"""Finding 14: the documented test helper captures without a made-up DSN."""

	def test_memory_transport_without_dsn(self, sentry_app):
		from asab_sentry.testing import MemoryTransport
		import asab_sentry
		s = sentry_app(environ={"SENTRY_DSN": ""})  # the harness adds no DSN when SENTRY_DSN is given
		transport = MemoryTransport()
		svc = asab_sentry.SentryService(s.App, "test.SentryService", transport=transport)
		assert svc.DataSourceName == ""
		svc.capture_message("hello")
		assert [e["message"] for e in transport.events()] == ["hello"]


class TestOldAttributes(object):
	"""Finding 4: the built-in's attributes exist, read-only."""

	def test_attributes(self, sentry_app):
		config = {"sentry": {"traces_sample_rate": "0.5", "release": "App@1.0"}, "sentry:logging": {"events": "warning"}}
		s = sentry_app(config, environ={"SENTRY_DSN": "http://k@127.0.0.1:9/1", "NODE_ID": "n1", "SITE_ID": "s1", "SERVICE_ID": "sv", "INSTANCE_ID": "i1"})
		svc = s.Service
		assert (svc.DataSourceName, svc.Release, svc.TracesSampleRate) == ("http://k@127.0.0.1:9/1", "App@1.0", 0.5)
		assert (svc.LoggingBreadCrumbsLevel, svc.LoggingEventsLevel) == (logging.INFO, logging.WARNING)
		assert (svc.NodeId, svc.SiteId, svc.ServiceId, svc.InstanceId) == ("n1", "s1", "sv", "i1")
		with pytest.raises(AttributeError):
			svc.Release = "other"


class TestOpenedLoggersStayVisible(object):
	"""Finding 7: breadcrumbs=info keeps the lines of loggers ASAB's [logging] levels opened."""

	def test_opened_logger_lines_are_printed(self, sentry_app):
		stream = io.StringIO()
		handler = logging.StreamHandler(stream)
		root = logging.getLogger()
		root.addHandler(handler)
		try:
			s = sentry_app({"sentry:logging": {"breadcrumbs": "info"}, "logging": {"levels": "opened DEBUG"}})
			logging.getLogger("opened").debug("opened debug line")
			logging.getLogger("opened.child").info("opened child line")
			logging.getLogger("closed").info("closed info line")
			s.Service.capture_message("marker")
		finally:
			root.removeHandler(handler)
		printed = stream.getvalue()
		assert "opened debug line" in printed and "opened child line" in printed
		assert "closed info line" not in printed
		crumbs = [c["message"] for c in s.events()[0]["breadcrumbs"]["values"]]
		assert "closed info line" in crumbs  # what breadcrumbs=info is for
