"""
The rules of `asab_sentry/config.py`, one small in-process test each: where every key comes from
(file > environment > default, the WARNING when a variable loses to the file, defaults that
`import asab.sentry` adds), how each kind of value is parsed, and the exact one-line message a bad
value stops the application with.

Every test builds the application in this process (the `sentry_app` fixture), so a bug planted in
config.py makes one of them fail. The same rules are checked end to end, with the app started as
its own program, by test_config_errors.py and test_events_config.py.
"""

import dataclasses
import logging
import sys
import types

import asab
import pytest

from asab_sentry import integrations as known_integrations
from asab_sentry.config import ADDED_DEFAULTS, SentryConfig, ConfigError, _Reader, _literal, mask_dsn
from asab_sentry.testing import TEST_DSN

LOGGER = "asab_sentry.config"

BOOLEAN = "a boolean (true/false, yes/no, on/off, 1/0)"
RATE = "a number between 0 and 1"
DURATION = "a non-negative duration such as 10s, 500ms or 1m"
POSITIVE_DURATION = "a positive duration such as 1d, 12h or 30m"
SIZE = "a positive size such as 100MB, 512kB or 1GB"
CHOICE = "one of never, small, medium, always"
LEVEL = "one of debug, info, notice, warning, error, critical"
NAMES = "key names (letters, digits, _ . -) separated by commas or spaces"
CLASS_NAMES = "comma-separated exception class names or dotted paths such as TimeoutError or aiohttp.web.HTTPNotFound"
COUNT = "a whole number, 0 or more"
PEM = "a readable PEM file"
PROXY = "a proxy URL such as http://proxy:3128"
INTEGRATIONS = "comma-separated sentry-sdk integration names ({})"
UNKNOWN_INTEGRATION = "unknown integration '{}'; known: " + ", ".join(sorted(known_integrations.REGISTRY))
NO_SLASHES = "no '/', '\\' or control characters (newline, tab, ...)"
DSN_EXPECTED = "expected https://<key>@<host>/<project id>"
DOLLAR = "expected a value (a literal $ is written $$)"


def parse(sentry_app, config=None, environ=None):
	"""
	The `SentryConfig` the service parsed from `config` and `environ`. Sentry stays off (`[sentry]
	enabled = false`, so nothing is started) unless the test sets `enabled` itself.
	"""
	sections = {name: dict(values) for name, values in (config or {}).items()}
	environ = dict(environ or {})
	if "enabled" not in sections.get("sentry", {}) and "SENTRY_ENABLED" not in environ:
		sections.setdefault("sentry", {})["enabled"] = "false"
	return sentry_app(sections, environ=environ).Service.Config


def refusal(sentry_app, config=None, environ=None):
	"""The message the application stops with (`SystemExit`) for this configuration."""
	with pytest.raises(SystemExit) as exit_info:
		parse(sentry_app, config, environ)
	return str(exit_info.value)


def invalid(section, key, value, expected, env=None):
	"""The message of a bad value, from the file (`env` None) or from the variable `env`."""
	if env is None:
		return "asab-sentry: [{}] {} = '{}' is invalid; expected {}".format(section, key, value, expected)
	return "asab-sentry: {} = '{}' (for [{}] {}) is invalid; expected {}".format(env, value, section, key, expected)


def logged(caplog, level):
	"""What config.py logged at exactly `level`."""
	return [r.getMessage() for r in caplog.records if r.name == LOGGER and r.levelno == level]


def load_raw(s, section, key, raw):
	"""
	`SentryConfig.load` with `raw` in the configuration as a file gives it: stored as the parser
	stores what it reads (`set()` and `read_dict()` refuse a stray `$` that a file may contain).
	"""
	if not asab.Config.has_section(section):
		asab.Config.add_section(section)
	asab.Config._sections[section][asab.Config.optionxform(key)] = raw
	return SentryConfig.load(s.App)


#: Every key's default: (attribute, value).
DEFAULTS = [
	("dsn", TEST_DSN),  # the harness's placeholder; without one the default is "" (TestDsn)
	("enabled", True),
	("environment", "not specified"),
	("release", None),
	("traces_sample_rate", 0.0),
	("send_default_pii", False),
	("debug", False),
	("shutdown_timeout", 10.0),
	("breadcrumbs_level", logging.INFO),
	("events_level", logging.ERROR),
	("open_log_level", False),
	("spool_dir", ""),
	("spool_max_size", 100 * 1024 * 1024),
	("ignore_transactions", ()),
	("trace_propagation_targets", None),
	("scrub_fields", ()),
	("scrub_allow", ()),
	("max_request_body_size", "medium"),
	("transaction_request_bodies", False),
	("max_retry_age", 86400.0),
	("ca_certs", ""),
	("cert_file", ""),
	("key_file", ""),
	("http_proxy", ""),
	("https_proxy", ""),
	("profiles_sample_rate", 0.0),
	("integrations", ()),
	("disabled_integrations", ()),
	("enable_logs", False),
	("logs_level", logging.INFO),
	("open_logs_level", False),
	("ignore_errors", ()),
	("sample_rate", 1.0),
	("max_breadcrumbs", 100),
	("integration_options", ()),
]

#: Keys with an environment variable: (attribute, section, key, variable, text, parsed, another valid text).
WITH_VARIABLE = [
	("dsn", "sentry", "data_source_name", "SENTRY_DSN", "http://a@127.0.0.1:9/2", "http://a@127.0.0.1:9/2", "http://b@127.0.0.1:9/3"),
	("enabled", "sentry", "enabled", "SENTRY_ENABLED", "false", False, "true"),
	("environment", "sentry", "environment", "SENTRY_ENVIRONMENT", "prod", "prod", "staging"),
	("release", "sentry", "release", "SENTRY_RELEASE", "App@1.0", "App@1.0", "App@2.0"),
	("traces_sample_rate", "sentry", "traces_sample_rate", "SENTRY_TRACES_SAMPLE_RATE", "0.25", 0.25, "0.75"),
	("send_default_pii", "sentry", "send_default_pii", "SENTRY_SEND_DEFAULT_PII", "true", True, "false"),
	("debug", "sentry", "debug", "SENTRY_DEBUG", "true", True, "false"),
	("spool_dir", "sentry", "spool_dir", "SENTRY_SPOOL_DIR", "/var/spool/sentry", "/var/spool/sentry", "/var/spool/other"),
	("spool_max_size", "sentry", "spool_max_size", "SENTRY_SPOOL_MAX_SIZE", "1MB", 1000000, "2MB"),
	("ignore_transactions", "sentry", "ignore_transactions", "SENTRY_IGNORE_TRANSACTIONS", "GET /health, /metrics", ("GET /health", "/metrics"), "/other"),
	(
		"trace_propagation_targets", "sentry", "trace_propagation_targets", "SENTRY_TRACE_PROPAGATION_TARGETS",
		"^https://api\\.example\\.com, internal", ("^https://api\\.example\\.com", "internal"), "other",
	),
	("scrub_fields", "sentry", "scrub_fields", "SENTRY_SCRUB_FIELDS", "internal_id ssn", ("internal_id", "ssn"), "other"),
	("scrub_allow", "sentry", "scrub_allow", "SENTRY_SCRUB_ALLOW", "token_count", ("token_count",), "other"),
	("max_request_body_size", "sentry", "max_request_body_size", "SENTRY_MAX_REQUEST_BODY_SIZE", "always", "always", "never"),
	("transaction_request_bodies", "sentry", "transaction_request_bodies", "SENTRY_TRANSACTION_REQUEST_BODIES", "yes", True, "no"),
	("profiles_sample_rate", "sentry", "profiles_sample_rate", "SENTRY_PROFILES_SAMPLE_RATE", "0.5", 0.5, "0.1"),
	("integrations", "sentry", "integrations", "SENTRY_INTEGRATIONS", "socket", ("socket",), "threading"),
	("disabled_integrations", "sentry", "disabled_integrations", "SENTRY_DISABLED_INTEGRATIONS", "threading", ("threading",), "socket"),
	("enable_logs", "sentry", "enable_logs", "SENTRY_ENABLE_LOGS", "on", True, "off"),
	("sample_rate", "sentry", "sample_rate", "SENTRY_SAMPLE_RATE", "0.5", 0.5, "0.9"),
]

#: Keys read from the file only: (attribute, section, key, text, parsed).
FILE_ONLY = [
	("shutdown_timeout", "sentry", "shutdown_timeout", "500ms", 0.5),
	("max_retry_age", "sentry", "max_retry_age", "12h", 43200.0),
	("ignore_errors", "sentry", "ignore_errors", "TimeoutError, aiohttp.web.HTTPNotFound", ("TimeoutError", "aiohttp.web.HTTPNotFound")),
	("max_breadcrumbs", "sentry", "max_breadcrumbs", "250", 250),
	("http_proxy", "sentry", "http_proxy", "http://proxy:3128", "http://proxy:3128"),
	("https_proxy", "sentry", "https_proxy", "https://proxy:3128", "https://proxy:3128"),
	("breadcrumbs_level", "sentry:logging", "breadcrumbs", "warning", logging.WARNING),
	("events_level", "sentry:logging", "events", "critical", logging.CRITICAL),
	("logs_level", "sentry:logging", "logs", "debug", logging.DEBUG),
]

#: A bad value of every key: (section, key, variable or None, value, what is expected).
BAD = [
	("sentry", "enabled", "SENTRY_ENABLED", "maybe", BOOLEAN),
	("sentry", "send_default_pii", "SENTRY_SEND_DEFAULT_PII", "sure", BOOLEAN),
	("sentry", "debug", "SENTRY_DEBUG", "2", BOOLEAN),
	("sentry", "transaction_request_bodies", "SENTRY_TRANSACTION_REQUEST_BODIES", "y", BOOLEAN),
	("sentry", "enable_logs", "SENTRY_ENABLE_LOGS", "enable", BOOLEAN),
	("sentry", "traces_sample_rate", "SENTRY_TRACES_SAMPLE_RATE", "2", RATE),
	("sentry", "profiles_sample_rate", "SENTRY_PROFILES_SAMPLE_RATE", "-0.5", RATE),
	("sentry", "sample_rate", "SENTRY_SAMPLE_RATE", "lots", RATE),
	("sentry", "shutdown_timeout", None, "soon", DURATION),
	("sentry", "max_retry_age", None, "-1", DURATION),
	("sentry", "spool_max_size", "SENTRY_SPOOL_MAX_SIZE", "0", SIZE),
	("sentry", "max_request_body_size", "SENTRY_MAX_REQUEST_BODY_SIZE", "huge", CHOICE),
	("sentry:logging", "breadcrumbs", None, "bogus", LEVEL),
	("sentry:logging", "events", None, "loud", LEVEL),
	("sentry:logging", "logs", None, "chatty", LEVEL),
	("sentry", "scrub_fields", "SENTRY_SCRUB_FIELDS", "a b!c", NAMES),
	("sentry", "scrub_allow", "SENTRY_SCRUB_ALLOW", "---", NAMES),
	("sentry", "ignore_errors", None, "not-a-name", CLASS_NAMES),
	("sentry", "max_breadcrumbs", None, "-1", COUNT),
	("sentry", "trace_propagation_targets", "SENTRY_TRACE_PROPAGATION_TARGETS", "(", "comma-separated regular expressions (missing ), unterminated subpattern at position 0)"),
	("sentry", "integrations", "SENTRY_INTEGRATIONS", "nope", INTEGRATIONS.format(UNKNOWN_INTEGRATION.format("nope"))),
	("sentry", "disabled_integrations", "SENTRY_DISABLED_INTEGRATIONS", "nope", INTEGRATIONS.format(UNKNOWN_INTEGRATION.format("nope"))),
	("sentry", "release", "SENTRY_RELEASE", "latest", "a value other than 'latest', '.', '..'"),
	("sentry", "environment", "SENTRY_ENVIRONMENT", "prod/eu", NO_SLASHES),
	("sentry", "http_proxy", None, "proxy:3128", PROXY),
	("sentry", "https_proxy", None, "ftp://proxy", PROXY),
	("sentry", "ca_certs", "SSL_CERT_FILE", "/nonexistent/ca.pem", PEM),
	("sentry", "cert_file", None, "/nonexistent/cert.pem", PEM),
]


class TestDefaults(object):
	"""Every key left unset has its documented default."""

	@pytest.mark.parametrize("attribute,default", DEFAULTS, ids=[d[0] for d in DEFAULTS])
	def test_unset_key_has_its_default(self, sentry_app, attribute, default):
		config = sentry_app().Service.Config
		assert getattr(config, attribute) == default

	def test_defaults_log_no_warning(self, sentry_app, caplog):
		with caplog.at_level(logging.DEBUG, logger=LOGGER):
			sentry_app()
		assert logged(caplog, logging.WARNING) == []


class TestSources(object):
	"""An explicit file value wins over the environment variable, which wins over the default; a set variable that loses is a WARNING."""

	@pytest.mark.parametrize("row", WITH_VARIABLE + [r[:3] + (None,) + r[3:] + (None,) for r in FILE_ONLY], ids=lambda r: r[0])
	def test_file_value_is_read(self, sentry_app, row):
		attribute, section, key, _, text, parsed, _ = row
		assert getattr(parse(sentry_app, {section: {key: text}}), attribute) == parsed

	@pytest.mark.parametrize("row", WITH_VARIABLE, ids=lambda r: r[0])
	def test_variable_is_read(self, sentry_app, row):
		attribute, _, _, variable, text, parsed, _ = row
		assert getattr(parse(sentry_app, environ={variable: text}), attribute) == parsed

	@pytest.mark.parametrize("row", WITH_VARIABLE, ids=lambda r: r[0])
	def test_file_value_wins_and_the_ignored_variable_is_a_warning(self, sentry_app, caplog, row):
		attribute, section, key, variable, text, parsed, other = row
		with caplog.at_level(logging.DEBUG, logger=LOGGER):
			config = parse(sentry_app, {section: {key: text}}, {variable: other})
		assert getattr(config, attribute) == parsed
		assert logged(caplog, logging.WARNING) == [
			"{} is set but ignored: '[{}] {}' in the configuration wins.".format(variable, section, key),
		]

	def test_same_value_in_file_and_variable_is_no_warning(self, sentry_app, caplog):
		with caplog.at_level(logging.DEBUG, logger=LOGGER):
			config = parse(sentry_app, {"sentry": {"environment": "prod"}}, {"SENTRY_ENVIRONMENT": "prod"})
		assert config.environment == "prod"
		assert logged(caplog, logging.WARNING) == []

	def test_file_value_without_a_variable_is_no_warning(self, sentry_app, caplog):
		with caplog.at_level(logging.DEBUG, logger=LOGGER):
			parse(sentry_app, {"sentry": {"environment": "prod"}})
		assert logged(caplog, logging.WARNING) == []

	@pytest.mark.parametrize("empty", ["", "   "])
	def test_empty_file_value_leaves_it_to_the_variable(self, sentry_app, caplog, empty):
		with caplog.at_level(logging.DEBUG, logger=LOGGER):
			config = parse(sentry_app, {"sentry": {"environment": empty}}, {"SENTRY_ENVIRONMENT": "staging"})
		assert config.environment == "staging"
		assert logged(caplog, logging.WARNING) == []

	def test_values_are_stripped(self, sentry_app):
		config = parse(sentry_app, {"sentry": {"environment": "  prod  "}}, {"SENTRY_RELEASE": "  App@1.0  "})
		assert (config.environment, config.release) == ("prod", "App@1.0")

	def test_blank_variable_is_unset(self, sentry_app):
		assert parse(sentry_app, environ={"SENTRY_TRACES_SAMPLE_RATE": "   "}).traces_sample_rate == 0.0

	@pytest.mark.parametrize("config,environ,line", [
		({"sentry": {"environment": "prod"}}, {}, "[sentry] environment is set in the configuration."),
		({}, {"SENTRY_ENVIRONMENT": "staging"}, "[sentry] environment comes from SENTRY_ENVIRONMENT."),
		({}, {}, "[sentry] environment is the default."),
	], ids=["file", "variable", "default"])
	def test_the_source_of_a_key_is_logged_at_debug(self, sentry_app, caplog, config, environ, line):
		with caplog.at_level(logging.DEBUG, logger=LOGGER):
			parse(sentry_app, config, environ)
		assert line in logged(caplog, logging.DEBUG)
		assert [m for m in logged(caplog, logging.DEBUG) if m.startswith("[sentry] environment ")] == [line]

	def test_a_variable_that_loses_still_names_the_file_key_in_errors(self, sentry_app):
		assert refusal(sentry_app, {"sentry": {"debug": "maybe"}}, {"SENTRY_DEBUG": "true"}) == invalid("sentry", "debug", "maybe", BOOLEAN)


class TestBadValues(object):
	"""A bad value stops the app with one line naming where it came from, the value and what is expected."""

	@pytest.mark.parametrize("section,key,variable,value,expected", BAD, ids=[b[0] + "-" + b[1] for b in BAD])
	def test_bad_file_value(self, sentry_app, section, key, variable, value, expected):
		assert refusal(sentry_app, {section: {key: value}}) == invalid(section, key, value, expected)

	@pytest.mark.parametrize("section,key,variable,value,expected", [b for b in BAD if b[2] is not None], ids=[b[1] for b in BAD if b[2] is not None])
	def test_bad_variable(self, sentry_app, section, key, variable, value, expected):
		assert refusal(sentry_app, environ={variable: value}) == invalid(section, key, value, expected, env=variable)

	def test_describe_without_a_known_source_names_the_key(self):
		assert _Reader({}).describe("sentry", "debug", "x", "y") == "[sentry] debug = 'x' is invalid; expected y"

	def test_config_error_is_a_value_error(self):
		assert issubclass(ConfigError, ValueError)


class TestAddedDefaults(object):
	"""A value `import asab.sentry` adds to the configuration counts as a default, but only while that module is imported."""

	@pytest.fixture
	def asab_sentry_imported(self, monkeypatch):
		monkeypatch.setitem(sys.modules, "asab.sentry", types.ModuleType("asab.sentry"))

	@pytest.fixture
	def asab_sentry_not_imported(self, monkeypatch):
		monkeypatch.delitem(sys.modules, "asab.sentry", raising=False)

	def test_added_environment_does_not_hide_the_variable(self, sentry_app, caplog, asab_sentry_imported):
		with caplog.at_level(logging.DEBUG, logger=LOGGER):
			config = parse(sentry_app, {"sentry": {"environment": "not specified"}}, {"SENTRY_ENVIRONMENT": "staging"})
		assert config.environment == "staging"
		assert logged(caplog, logging.WARNING) == []

	def test_added_environment_does_not_hide_site_id(self, sentry_app, asab_sentry_imported):
		assert parse(sentry_app, {"sentry": {"environment": "not specified"}}, {"SITE_ID": "eu-west"}).environment == "eu-west"

	def test_added_traces_sample_rate_does_not_hide_the_variable(self, sentry_app, asab_sentry_imported):
		config = parse(sentry_app, {"sentry": {"traces_sample_rate": "0"}}, {"SENTRY_TRACES_SAMPLE_RATE": "0.5"})
		assert config.traces_sample_rate == 0.5

	def test_added_breadcrumbs_level_does_not_open_the_log_level(self, sentry_app, asab_sentry_imported):
		config = parse(sentry_app, {"sentry:logging": {"breadcrumbs": "info", "events": "error"}})
		assert (config.breadcrumbs_level, config.events_level, config.open_log_level) == (logging.INFO, logging.ERROR, False)

	def test_another_value_is_the_users_choice(self, sentry_app, caplog, asab_sentry_imported):
		with caplog.at_level(logging.DEBUG, logger=LOGGER):
			config = parse(sentry_app, {"sentry": {"environment": "prod"}, "sentry:logging": {"breadcrumbs": "debug"}}, {"SENTRY_ENVIRONMENT": "staging"})
		assert (config.environment, config.breadcrumbs_level, config.open_log_level) == ("prod", logging.DEBUG, True)
		assert len(logged(caplog, logging.WARNING)) == 1

	@pytest.mark.parametrize("section,key,value", [(s, k, v) for (s, k), v in ADDED_DEFAULTS["asab.sentry"].items()])
	def test_every_added_default_reads_as_unset(self, sentry_app, asab_sentry_imported, section, key, value):
		config = {"sentry": {"enabled": "false"}}
		config.setdefault(section, {})[key] = value
		sentry_app(config)
		reader = _Reader({})
		assert reader.get(section, key, None, "the default") == "the default"
		assert (section, key) not in reader.Source

	def test_without_the_module_the_same_value_is_explicit(self, sentry_app, caplog, asab_sentry_not_imported):
		with caplog.at_level(logging.DEBUG, logger=LOGGER):
			config = parse(sentry_app, {"sentry": {"environment": "not specified"}, "sentry:logging": {"breadcrumbs": "info"}}, {"SENTRY_ENVIRONMENT": "staging"})
		assert (config.environment, config.open_log_level) == ("not specified", True)
		assert logged(caplog, logging.WARNING) == ["SENTRY_ENVIRONMENT is set but ignored: '[sentry] environment' in the configuration wins."]

	def test_without_the_module_a_zero_rate_is_explicit(self, sentry_app, asab_sentry_not_imported):
		config = parse(sentry_app, {"sentry": {"traces_sample_rate": "0"}}, {"SENTRY_TRACES_SAMPLE_RATE": "0.5"})
		assert config.traces_sample_rate == 0.0


class TestInterpolation(object):
	"""`$` in a file value: `$$` is a literal `$`; a stray `$` or a reference to an unset option stops the app with one line (a DSN masked)."""

	def test_double_dollar_is_a_dollar(self, sentry_app):
		assert parse(sentry_app, {"sentry": {"environment": "pro$$d"}}).environment == "pro$d"

	def test_reference_to_another_option_is_expanded(self, sentry_app):
		assert parse(sentry_app, {"sentry": {"site": "eu", "environment": "prod-${site}"}}).environment == "prod-eu"

	def test_stray_dollar(self, sentry_app):
		s = sentry_app({"sentry": {"enabled": "false"}})
		with pytest.raises(ConfigError) as error:
			load_raw(s, "sentry", "environment", "pro$d")
		assert str(error.value) == "[sentry] environment = 'pro$d' has a stray '$'; " + DOLLAR

	def test_unset_reference_in_the_dsn_is_shown_masked(self, sentry_app):
		s = sentry_app({"sentry": {"enabled": "false"}})
		with pytest.raises(ConfigError) as error:
			load_raw(s, "sentry", "data_source_name", "https://s3cr3t@example.com/${no_such_option}")
		assert str(error.value) == "[sentry] data_source_name = 'https://***@example.com/${no_such_option}' refers to an unset variable; " + DOLLAR

	def test_other_keys_are_shown_as_written(self, sentry_app):
		s = sentry_app({"sentry": {"enabled": "false"}})
		with pytest.raises(ConfigError) as error:
			load_raw(s, "sentry:logging", "events", "user@host${no_such_option}")
		assert str(error.value) == "[sentry:logging] events = 'user@host${no_such_option}' refers to an unset variable; " + DOLLAR


class TestBooleans(object):
	"""Booleans: 1/yes/true/on and 0/no/false/off, any case; empty is the default; anything else is refused."""

	@pytest.mark.parametrize("word", ["1", "yes", "true", "on", "TRUE", "Yes", "ON"])
	def test_true_words(self, sentry_app, word):
		assert parse(sentry_app, {"sentry": {"debug": word}}).debug is True

	@pytest.mark.parametrize("word", ["0", "no", "false", "off", "FALSE", "No", "OFF"])
	def test_false_words(self, sentry_app, word):
		config = parse(sentry_app, {"sentry": {"enabled": word}})
		assert config.enabled is False and config.active is False

	def test_enabled_true(self, sentry_app):
		config = parse(sentry_app, {"sentry": {"enabled": "on"}})
		assert config.enabled is True and config.active is True

	@pytest.mark.parametrize("word", ["maybe", "2", "y", "n", "truthy", "-1"])
	def test_other_words_are_refused(self, sentry_app, word):
		assert refusal(sentry_app, {"sentry": {"send_default_pii": word}}) == invalid("sentry", "send_default_pii", word, BOOLEAN)


RATE_KEYS = ["traces_sample_rate", "profiles_sample_rate", "sample_rate"]


class TestRates(object):
	"""Sample rates: a number from 0 to 1, both ends included; NaN, infinities and text are refused."""

	@pytest.mark.parametrize("key", RATE_KEYS)
	@pytest.mark.parametrize("text,value", [("0", 0.0), ("1", 1.0), ("0.0", 0.0), ("1.0", 1.0), ("0.5", 0.5), ("1e-3", 0.001)])
	def test_accepted(self, sentry_app, key, text, value):
		assert getattr(parse(sentry_app, {"sentry": {key: text}}), key) == value

	@pytest.mark.parametrize("key", RATE_KEYS)
	@pytest.mark.parametrize("text", ["1.0001", "-0.1", "1.5", "2", "nan", "inf", "-inf", "lots", "0,5"])
	def test_refused(self, sentry_app, key, text):
		assert refusal(sentry_app, {"sentry": {key: text}}) == invalid("sentry", key, text, RATE)


class TestDurations(object):
	"""`shutdown_timeout`: a non-negative finite duration (ASAB's units); `max_retry_age` must also be positive."""

	@pytest.mark.parametrize("text,value", [("0", 0.0), ("500ms", 0.5), ("10", 10.0), ("1m", 60.0), ("2h", 7200.0)])
	def test_shutdown_timeout_accepted(self, sentry_app, text, value):
		assert parse(sentry_app, {"sentry": {"shutdown_timeout": text}}).shutdown_timeout == value

	@pytest.mark.parametrize("text", ["-1", "-0.5s", "soon", "inf", "nan", "1e400", "1x"])
	def test_shutdown_timeout_refused(self, sentry_app, text):
		assert refusal(sentry_app, {"sentry": {"shutdown_timeout": text}}) == invalid("sentry", "shutdown_timeout", text, DURATION)

	@pytest.mark.parametrize("text,value", [("30m", 1800.0), ("1s", 1.0), ("1d", 86400.0), ("100ms", 0.1)])
	def test_max_retry_age_accepted(self, sentry_app, text, value):
		assert parse(sentry_app, {"sentry": {"max_retry_age": text}}).max_retry_age == value

	@pytest.mark.parametrize("text", ["0", "0s", "0ms"])
	def test_max_retry_age_zero_refused(self, sentry_app, text):
		assert refusal(sentry_app, {"sentry": {"max_retry_age": text}}) == invalid("sentry", "max_retry_age", text, POSITIVE_DURATION)

	@pytest.mark.parametrize("text", ["-1", "-1h", "never"])
	def test_max_retry_age_negative_or_text_refused(self, sentry_app, text):
		assert refusal(sentry_app, {"sentry": {"max_retry_age": text}}) == invalid("sentry", "max_retry_age", text, DURATION)


class TestSizes(object):
	"""`spool_max_size`: a positive size in ASAB's units (decimal kB, MB, GB); 0, negative and text are refused."""

	@pytest.mark.parametrize("text,value", [("1MB", 1000000), ("512kB", 512000), ("1GB", 10 ** 9), ("10", 10), ("1.5kB", 1500), ("1", 1)])
	def test_accepted(self, sentry_app, text, value):
		config = parse(sentry_app, {"sentry": {"spool_max_size": text}})
		assert config.spool_max_size == value and type(config.spool_max_size) is int

	@pytest.mark.parametrize("text", ["0", "0kB", "0.0001kB", "-1", "-1kB", "lots", "1.5", "kB", "1XB"])
	def test_refused(self, sentry_app, text):
		assert refusal(sentry_app, {"sentry": {"spool_max_size": text}}) == invalid("sentry", "spool_max_size", text, SIZE)


class TestLists(object):
	"""`ignore_transactions`: comma-separated, items stripped, empty items left out."""

	@pytest.mark.parametrize("text,value", [
		("GET /health", ("GET /health",)),
		("GET /health, , /metrics ,", ("GET /health", "/metrics")),
		(" a,b ", ("a", "b")),
		(",,,", ()),
	])
	def test_items(self, sentry_app, text, value):
		assert parse(sentry_app, {"sentry": {"ignore_transactions": text}}).ignore_transactions == value


class TestPatterns(object):
	"""`trace_propagation_targets`: comma-separated regular expressions, each compiled; None (the SDK's default) when unset."""

	@pytest.mark.parametrize("text", ["", " , ,"])
	def test_unset_is_none(self, sentry_app, text):
		assert parse(sentry_app, {"sentry": {"trace_propagation_targets": text}}).trace_propagation_targets is None

	def test_patterns(self, sentry_app):
		config = parse(sentry_app, {"sentry": {"trace_propagation_targets": "^https://api\\., .*internal.* ,"}})
		assert config.trace_propagation_targets == ("^https://api\\.", ".*internal.*")

	def test_the_bad_pattern_is_named(self, sentry_app):
		message = refusal(sentry_app, {"sentry": {"trace_propagation_targets": "ok, ["}})
		assert message == invalid("sentry", "trace_propagation_targets", "[", "comma-separated regular expressions (unterminated character set at position 0)")


class TestNames(object):
	"""`scrub_fields`, `scrub_allow`: key names (letters, digits, _ . -, at least one letter or digit) separated by commas or spaces."""

	@pytest.mark.parametrize("text,value", [
		("password, token x.y-z", ("password", "token", "x.y-z")),
		("  a,,b  ", ("a", "b")),
		("a\tb", ("a", "b")),
		("a_", ("a_",)),
		("-1", ("-1",)),
	])
	def test_names(self, sentry_app, text, value):
		assert parse(sentry_app, {"sentry": {"scrub_fields": text}}).scrub_fields == value

	@pytest.mark.parametrize("text", ["a b!c", "---", "_", "a/b", "é", "._-"])
	def test_refused_with_the_whole_value(self, sentry_app, text):
		assert refusal(sentry_app, {"sentry": {"scrub_allow": text}}) == invalid("sentry", "scrub_allow", text, NAMES)


class TestChoice(object):
	"""`max_request_body_size`: one of never, small, medium, always, any case, stored lower-case."""

	@pytest.mark.parametrize("text,value", [("never", "never"), ("small", "small"), ("medium", "medium"), ("always", "always"), ("ALWAYS", "always"), (" Small ", "small")])
	def test_accepted(self, sentry_app, text, value):
		assert parse(sentry_app, {"sentry": {"max_request_body_size": text}}).max_request_body_size == value

	@pytest.mark.parametrize("text", ["huge", "large", "none"])
	def test_refused(self, sentry_app, text):
		assert refusal(sentry_app, {"sentry": {"max_request_body_size": text}}) == invalid("sentry", "max_request_body_size", text, CHOICE)


class TestLevels(object):
	"""`[sentry:logging]` levels: ASAB's level names, any case; setting `breadcrumbs` or `logs` explicitly opens that level."""

	@pytest.mark.parametrize("text,level", [
		("debug", logging.DEBUG), ("info", logging.INFO), ("notice", asab.LOG_NOTICE), ("warning", logging.WARNING),
		("error", logging.ERROR), ("critical", logging.CRITICAL), ("WARNING", logging.WARNING), ("Notice", asab.LOG_NOTICE),
	])
	def test_names(self, sentry_app, text, level):
		assert parse(sentry_app, {"sentry:logging": {"events": text}}).events_level == level

	@pytest.mark.parametrize("text", ["warn", "fatal", "loud", "10"])
	def test_refused(self, sentry_app, text):
		assert refusal(sentry_app, {"sentry:logging": {"breadcrumbs": text}}) == invalid("sentry:logging", "breadcrumbs", text, LEVEL)

	def test_explicit_breadcrumbs_opens_the_log_level(self, sentry_app):
		config = parse(sentry_app, {"sentry:logging": {"breadcrumbs": "info"}})
		assert (config.breadcrumbs_level, config.open_log_level, config.open_logs_level) == (logging.INFO, True, False)

	def test_explicit_logs_opens_the_logs_level(self, sentry_app):
		config = parse(sentry_app, {"sentry:logging": {"logs": "info"}})
		assert (config.logs_level, config.open_logs_level, config.open_log_level) == (logging.INFO, True, False)

	def test_events_does_not_open_a_level(self, sentry_app):
		config = parse(sentry_app, {"sentry:logging": {"events": "warning"}})
		assert (config.open_log_level, config.open_logs_level) == (False, False)


class TestIntegrationNames(object):
	"""`integrations`, `disabled_integrations`: known sentry-sdk integration names, comma-separated, any case."""

	@pytest.mark.parametrize("key", ["integrations", "disabled_integrations"])
	def test_names_are_lower_cased(self, sentry_app, key):
		assert getattr(parse(sentry_app, {"sentry": {key: "Socket, THREADING,"}}), key) == ("socket", "threading")

	def test_unknown_name(self, sentry_app):
		message = refusal(sentry_app, {"sentry": {"integrations": "Socket, Nope"}})
		assert message == invalid("sentry", "integrations", "socket,nope", INTEGRATIONS.format(UNKNOWN_INTEGRATION.format("nope")))

	def test_reserved_name(self, sentry_app):
		message = refusal(sentry_app, {"sentry": {"disabled_integrations": "aiohttp"}})
		reason = "'aiohttp' cannot be chosen: asab-sentry instruments asab.web itself; the SDK's aiohttp integration is always off"
		assert message == invalid("sentry", "disabled_integrations", "aiohttp", INTEGRATIONS.format(reason))


class TestClassNames(object):
	"""`ignore_errors`: comma-separated class names or dotted paths; the first bad one is named."""

	def test_names(self, sentry_app):
		config = parse(sentry_app, {"sentry": {"ignore_errors": "TimeoutError, aiohttp.web.HTTPNotFound, _Private2 ,"}})
		assert config.ignore_errors == ("TimeoutError", "aiohttp.web.HTTPNotFound", "_Private2")

	@pytest.mark.parametrize("name", ["1abc", "a..b", "a-b", "my error", "a.", ".a", "a.1b"])
	def test_refused(self, sentry_app, name):
		assert refusal(sentry_app, {"sentry": {"ignore_errors": "ValueError, " + name}}) == invalid("sentry", "ignore_errors", name, CLASS_NAMES)


class TestCounts(object):
	"""`max_breadcrumbs`: a whole number, 0 or more."""

	@pytest.mark.parametrize("text,value", [("0", 0), ("1", 1), ("250", 250), (" 7 ", 7)])
	def test_accepted(self, sentry_app, text, value):
		assert parse(sentry_app, {"sentry": {"max_breadcrumbs": text}}).max_breadcrumbs == value

	@pytest.mark.parametrize("text", ["-1", "1.5", "lots", "1e3", "+5"])
	def test_refused(self, sentry_app, text):
		assert refusal(sentry_app, {"sentry": {"max_breadcrumbs": text}}) == invalid("sentry", "max_breadcrumbs", text, COUNT)

	def test_superscript_digit_is_refused_with_one_line(self, sentry_app):
		assert refusal(sentry_app, {"sentry": {"max_breadcrumbs": "²"}}) == invalid("sentry", "max_breadcrumbs", "²", COUNT)


class TestDsn(object):
	"""The DSN (file or SENTRY_DSN) must parse as sentry-sdk's; its key is masked in the message; an IPv6 host is refused; none means inactive."""

	@pytest.mark.parametrize("dsn", ["http://k@127.0.0.1:9/1", "https://k@localhost/42", "https://k:pw@o1.ingest.sentry.io/42"])
	def test_valid(self, sentry_app, dsn):
		assert parse(sentry_app, {"sentry": {"data_source_name": dsn}}).dsn == dsn

	def test_none_is_empty_and_inactive(self, sentry_app):
		s = sentry_app(environ={"SENTRY_DSN": ""})
		config = SentryConfig.load(s.App)
		assert (config.dsn, config.enabled, config.active) == ("", True, False)

	@pytest.mark.parametrize("dsn,shown,reason", [
		("not-a-dsn", "not-a-dsn", "Unsupported scheme ''"),
		("ftp://s3cr3t@h/1", "ftp://***@h/1", "Unsupported scheme 'ftp'"),
		("https://example.invalid/1", "https://example.invalid/1", "Missing public key"),
		("https://s3cr3t@example.invalid:99999/1", "https://***@example.invalid:99999/1", "Port out of range 0-65535"),
		("https://s3cr3t@h:s3cr3t/1", "https://***@h:s3cr3t/1", "Port could not be cast to integer value as '***'"),
		("https://s3cr3t@h/", "https://***@h/", "Invalid project in DSN ('')"),
	])
	def test_invalid(self, sentry_app, dsn, shown, reason):
		message = refusal(sentry_app, {"sentry": {"data_source_name": dsn}})
		assert message == "asab-sentry: [sentry] data_source_name = '{}' is not a valid DSN ({}); {}".format(shown, reason, DSN_EXPECTED)

	def test_invalid_from_the_variable(self, sentry_app):
		message = refusal(sentry_app, environ={"SENTRY_DSN": "https://s3cr3t@example.invalid:99999/1"})
		assert message == "asab-sentry: [sentry] data_source_name = 'https://***@example.invalid:99999/1' is not a valid DSN (Port out of range 0-65535); " + DSN_EXPECTED

	@pytest.mark.parametrize("dsn,shown", [("http://s3cr3t@[::1]:9000/1", "http://***@[::1]:9000/1"), ("https://s3cr3t@[2001:db8::1]/7", "https://***@[2001:db8::1]/7")])
	def test_ipv6_host_refused(self, sentry_app, dsn, shown):
		message = refusal(sentry_app, {"sentry": {"data_source_name": dsn}})
		assert message == (
			"asab-sentry: [sentry] data_source_name = '{}' has an IPv6 address as its host, which sentry-sdk cannot send to; "
			"expected a host name (e.g. localhost) or an IPv4 address".format(shown)
		)

	def test_key_of_a_dsn_without_scheme_is_not_printed(self, sentry_app):
		message = refusal(sentry_app, {"sentry": {"data_source_name": "s3cr3tkey:pw@example.com/1"}})
		assert message.startswith("asab-sentry: [sentry] data_source_name = '***@example.com/1' is not a valid DSN")
		assert "s3cr3tkey" not in message


class TestMaskDsn(object):
	"""`mask_dsn` replaces the key (and password) of every DSN form with `***`, and credentials in the query."""

	@pytest.mark.parametrize("dsn,masked", [
		("https://abc123@o1.ingest.sentry.io/42", "https://***@o1.ingest.sentry.io/42"),
		("abc123:pw@[::1]:9000/42?timeout=5", "***@[::1]:9000/42?timeout=5"),
		("https//key@host/1", "https//***@host/1"),
		("key@host/1", "***@host/1"),
		("https:/key@host/1", "***@host/1"),
		("https://user:pass@host/1", "https://***@host/1"),
		("https://a@b@host/1", "https://***@host/1"),
		("https://host/1", "https://host/1"),
		("https://host/1?next=a@b", "https://host/1?next=a@b"),
		("https://host/1#a@b", "https://host/1#a@b"),
		("", ""),
	])
	def test_key(self, dsn, masked):
		assert mask_dsn(dsn) == masked

	@pytest.mark.parametrize("dsn,masked", [
		("https://k@host/1?sentry_key=abc&timeout=5", "https://***@host/1?sentry_key=***&timeout=5"),
		("https://host/1?timeout=5&SECRET=abc", "https://host/1?timeout=5&SECRET=***"),
		("https://host/1?api_token=a&password=b&Authorization=c&sig=d", "https://host/1?api_token=***&password=***&Authorization=***&sig=***"),
		("https://host/1?token=abc#frag", "https://host/1?token=***#frag"),
		("https://host/1?timeout=5&retries=2", "https://host/1?timeout=5&retries=2"),
	])
	def test_query_secrets(self, dsn, masked):
		assert mask_dsn(dsn) == masked


class TestRelease(object):
	"""`release`: checked as Sentry checks it; unset, `<AppClass>@<version>` from the manifest, or none (a WARNING when that is not valid)."""

	def _manifest(self, tmp_path, version):
		path = tmp_path / "MANIFEST.json"
		path.write_text('{"version": "%s"}' % version)
		return {"general": {"manifest": str(path)}}

	def test_from_the_manifest(self, sentry_app, tmp_path, caplog):
		with caplog.at_level(logging.DEBUG, logger=LOGGER):
			config = parse(sentry_app, self._manifest(tmp_path, "1.2.3"))
		assert config.release == "HarnessApplication@1.2.3"
		assert logged(caplog, logging.WARNING) == []

	def test_explicit_wins_over_the_manifest(self, sentry_app, tmp_path):
		config = parse(sentry_app, dict(self._manifest(tmp_path, "1.2.3"), sentry={"release": "App@9"}))
		assert config.release == "App@9"

	def test_variable_wins_over_the_manifest(self, sentry_app, tmp_path):
		assert parse(sentry_app, self._manifest(tmp_path, "1.2.3"), {"SENTRY_RELEASE": "App@8"}).release == "App@8"

	def test_invalid_manifest_version_is_a_warning_and_no_release(self, sentry_app, tmp_path, caplog):
		with caplog.at_level(logging.DEBUG, logger=LOGGER):
			config = parse(sentry_app, self._manifest(tmp_path, "1/2"))
		assert config.release is None
		assert logged(caplog, logging.WARNING) == [
			"The release 'HarnessApplication@1/2' from the manifest is not valid for Sentry ({}); no release is sent.".format(NO_SLASHES),
		]

	@pytest.mark.parametrize("release,expected", [
		("latest", "a value other than 'latest', '.', '..'"),
		("..", "a value other than 'latest', '.', '..'"),
		("feature/x", NO_SLASHES),
		("r" * 201, "at most 200 bytes of UTF-8, not 201"),
	])
	def test_invalid(self, sentry_app, release, expected):
		assert refusal(sentry_app, {"sentry": {"release": release}}) == invalid("sentry", "release", release, expected)

	def test_invalid_from_the_variable(self, sentry_app):
		message = refusal(sentry_app, environ={"SENTRY_RELEASE": "feature/x-1.2"})
		assert message == invalid("sentry", "release", "feature/x-1.2", NO_SLASHES, env="SENTRY_RELEASE")


class TestEnvironment(object):
	"""`environment`: checked as Sentry checks it; unset, SITE_ID (a WARNING when not valid), else 'not specified'."""

	def test_from_site_id(self, sentry_app, caplog):
		with caplog.at_level(logging.DEBUG, logger=LOGGER):
			config = parse(sentry_app, environ={"SITE_ID": " eu-west "})
		assert config.environment == "eu-west"
		assert logged(caplog, logging.WARNING) == []

	def test_blank_site_id_is_not_specified(self, sentry_app, caplog):
		with caplog.at_level(logging.DEBUG, logger=LOGGER):
			config = parse(sentry_app, environ={"SITE_ID": "   "})
		assert config.environment == "not specified"
		assert logged(caplog, logging.WARNING) == []

	@pytest.mark.parametrize("site_id,reason", [("eu/west", NO_SLASHES), ("None", "a value other than 'none', '.', '..'")])
	def test_invalid_site_id_is_a_warning(self, sentry_app, caplog, site_id, reason):
		with caplog.at_level(logging.DEBUG, logger=LOGGER):
			config = parse(sentry_app, environ={"SITE_ID": site_id})
		assert config.environment == "not specified"
		assert logged(caplog, logging.WARNING) == [
			"SITE_ID = '{}' is not a valid Sentry environment ({}); the environment is 'not specified'.".format(site_id, reason),
		]

	def test_variable_wins_over_site_id(self, sentry_app):
		assert parse(sentry_app, environ={"SITE_ID": "eu", "SENTRY_ENVIRONMENT": "staging"}).environment == "staging"

	def test_file_wins_over_site_id(self, sentry_app):
		assert parse(sentry_app, {"sentry": {"environment": "prod"}}, {"SITE_ID": "eu"}).environment == "prod"

	@pytest.mark.parametrize("environment,expected", [
		("prod/eu", NO_SLASHES),
		("none", "a value other than 'none', '.', '..'"),
		("e" * 65, "at most 64 bytes of UTF-8, not 65"),
	])
	def test_invalid(self, sentry_app, environment, expected):
		assert refusal(sentry_app, {"sentry": {"environment": environment}}) == invalid("sentry", "environment", environment, expected)


class TestTlsFiles(object):
	"""`ca_certs` (else SSL_CERT_FILE, else REQUESTS_CA_BUNDLE), `cert_file`, `key_file`: existing files; `key_file` only with `cert_file`."""

	@pytest.fixture
	def pem(self, tmp_path):
		def make(name):
			path = tmp_path / name
			path.write_text("-----BEGIN CERTIFICATE-----\n")
			return str(path)
		return make

	def test_ca_certs_from_the_file(self, sentry_app, pem):
		ca = pem("ca.pem")
		assert parse(sentry_app, {"sentry": {"ca_certs": ca}}).ca_certs == ca

	def test_ca_certs_from_ssl_cert_file(self, sentry_app, pem):
		ca = pem("ca.pem")
		assert parse(sentry_app, environ={"SSL_CERT_FILE": ca, "REQUESTS_CA_BUNDLE": pem("other.pem")}).ca_certs == ca

	def test_ca_certs_from_requests_ca_bundle(self, sentry_app, pem):
		ca = pem("ca.pem")
		assert parse(sentry_app, environ={"REQUESTS_CA_BUNDLE": ca}).ca_certs == ca

	def test_file_wins_over_ssl_cert_file(self, sentry_app, pem, caplog):
		ca = pem("ca.pem")
		with caplog.at_level(logging.DEBUG, logger=LOGGER):
			config = parse(sentry_app, {"sentry": {"ca_certs": ca}}, {"SSL_CERT_FILE": pem("other.pem")})
		assert config.ca_certs == ca
		assert logged(caplog, logging.WARNING) == ["SSL_CERT_FILE is set but ignored: '[sentry] ca_certs' in the configuration wins."]

	def test_file_wins_over_requests_ca_bundle_with_a_warning(self, sentry_app, pem, caplog):
		ca = pem("ca.pem")
		with caplog.at_level(logging.DEBUG, logger=LOGGER):
			config = parse(sentry_app, {"sentry": {"ca_certs": ca}}, {"REQUESTS_CA_BUNDLE": pem("other.pem")})
		assert config.ca_certs == ca
		assert logged(caplog, logging.WARNING) == ["REQUESTS_CA_BUNDLE is set but ignored: '[sentry] ca_certs' in the configuration wins."]

	@pytest.mark.parametrize("variable", ["SSL_CERT_FILE", "REQUESTS_CA_BUNDLE"])
	def test_missing_ca_file_from_a_variable(self, sentry_app, variable):
		assert refusal(sentry_app, environ={variable: "/nonexistent/ca.pem"}) == invalid("sentry", "ca_certs", "/nonexistent/ca.pem", PEM, env=variable)

	@pytest.mark.parametrize("key", ["ca_certs", "cert_file", "key_file"])
	def test_a_directory_is_not_a_file(self, sentry_app, pem, tmp_path, key):
		values = {"cert_file": pem("cert.pem")} if key == "key_file" else {}
		values[key] = str(tmp_path)
		assert refusal(sentry_app, {"sentry": values}) == invalid("sentry", key, str(tmp_path), PEM)

	def test_cert_and_key(self, sentry_app, pem):
		cert, key = pem("cert.pem"), pem("key.pem")
		config = parse(sentry_app, {"sentry": {"cert_file": cert, "key_file": key}})
		assert (config.cert_file, config.key_file) == (cert, key)

	def test_cert_alone(self, sentry_app, pem):
		cert = pem("cert.pem")
		config = parse(sentry_app, {"sentry": {"cert_file": cert}})
		assert (config.cert_file, config.key_file) == (cert, "")

	def test_key_needs_cert(self, sentry_app, pem):
		key = pem("key.pem")
		assert refusal(sentry_app, {"sentry": {"key_file": key}}) == invalid("sentry", "key_file", key, "it together with [sentry] cert_file")

	def test_missing_key_file(self, sentry_app, pem):
		message = refusal(sentry_app, {"sentry": {"cert_file": pem("cert.pem"), "key_file": "/nonexistent/key.pem"}})
		assert message == invalid("sentry", "key_file", "/nonexistent/key.pem", PEM)

	def test_ca_certs_is_checked_first(self, sentry_app):
		message = refusal(sentry_app, {"sentry": {"ca_certs": "/nonexistent/ca.pem", "cert_file": "/nonexistent/cert.pem"}})
		assert message == invalid("sentry", "ca_certs", "/nonexistent/ca.pem", PEM)


class TestProxies(object):
	"""`http_proxy`, `https_proxy`: an http:// or https:// URL with a host."""

	@pytest.mark.parametrize("key", ["http_proxy", "https_proxy"])
	@pytest.mark.parametrize("url", ["http://proxy:3128", "https://user:pw@proxy.example.com:8443", "http://10.0.0.1"])
	def test_accepted(self, sentry_app, key, url):
		assert getattr(parse(sentry_app, {"sentry": {key: url}}), key) == url

	@pytest.mark.parametrize("key", ["http_proxy", "https_proxy"])
	@pytest.mark.parametrize("url", ["proxy:3128", "ftp://proxy", "http://", "http:///proxy", "http:// proxy", "socks5://proxy:1080", "httpx://proxy"])
	def test_refused(self, sentry_app, key, url):
		assert refusal(sentry_app, {"sentry": {key: url}}) == invalid("sentry", key, url, PROXY)


LITERALS = [
	("true", True), ("Yes", True), ("on", True), ("1", True),
	("false", False), ("NO", False), ("off", False), ("0", False),
	("2", 2), ("-3", -3), ("1024", 1024), ("1.5", 1.5),
	("['cache:', 'x']", ["cache:", "x"]), ("{'a': 1}", {"a": 1}), ("(1, 2)", (1, 2)),
	("'quoted'", "quoted"), ("None", None),
	("text", "text"), ("two words", "two words"), ("  padded  ", "padded"), ("[unclosed", "[unclosed"),
]


class TestIntegrationSections(object):
	"""`[sentry:integration:NAME]`: keyword arguments of an integration named in `integrations`, each value read as a Python literal, else text."""

	@pytest.mark.parametrize("text,value", LITERALS, ids=[t for t, _ in LITERALS])
	def test_values(self, sentry_app, text, value):
		config = parse(sentry_app, {"sentry": {"integrations": "threading"}, "sentry:integration:threading": {"option": text}})
		assert config.integration_options == (("threading", (("option", value),)),)
		assert type(config.integration_options[0][1][0][1]) is type(value)

	def test_every_section_and_option_in_order(self, sentry_app):
		config = parse(sentry_app, {
			"sentry": {"integrations": "socket, threading"},
			"sentry:integration:socket": {"b": "1", "a": "text"},
			"sentry:integration:Threading": {"propagate_scope": "false"},
		})
		assert config.integration_options == (("socket", (("b", True), ("a", "text"))), ("threading", (("propagate_scope", False),)))

	def test_none_without_sections(self, sentry_app):
		assert parse(sentry_app, {"sentry": {"integrations": "threading"}, "sentry:logging": {"events": "error"}}).integration_options == ()

	def test_section_of_an_integration_not_named(self, sentry_app):
		message = refusal(sentry_app, {"sentry": {"integrations": "threading"}, "sentry:integration:Redis": {"max_data_size": "10"}})
		assert message == "asab-sentry: [sentry:integration:Redis] configures 'redis', which is not in [sentry] integrations; add it there"

	def test_configparser_defaults_are_not_options(self, sentry_app, monkeypatch):
		s = sentry_app({"sentry": {"enabled": "false", "integrations": "threading"}, "sentry:integration:threading": {"propagate_scope": "true"}})
		monkeypatch.setitem(asab.Config.defaults(), "shared", "1")
		assert SentryConfig.load(s.App).integration_options == (("threading", (("propagate_scope", True),)),)

	def test_values_are_read_raw(self, sentry_app):
		s = sentry_app({"sentry": {"enabled": "false", "integrations": "redis"}, "sentry:integration:redis": {"max_data_size": "10"}})
		config = load_raw(s, "sentry:integration:redis", "cache_prefixes", "^cache:.*$")
		assert config.integration_options == (("redis", (("max_data_size", 10), ("cache_prefixes", "^cache:.*$"))),)

	def test_unhashable_literal_is_text(self, sentry_app):
		config = parse(sentry_app, {"sentry": {"integrations": "threading"}, "sentry:integration:threading": {"option": "{[]: 1}"}})
		assert config.integration_options == (("threading", (("option", "{[]: 1}"),)),)

	@pytest.mark.parametrize("text,value", LITERALS, ids=[t for t, _ in LITERALS])
	def test_literal(self, text, value):
		assert (type(_literal(text)), _literal(text)) == (type(value), value)


class TestSentryConfig(object):
	"""`SentryConfig`: repr shows the DSN masked; `active` needs enabled and a DSN; `load` reads the environment given."""

	def test_repr_masks_the_dsn(self, sentry_app):
		config = parse(sentry_app, {"sentry": {"data_source_name": "https://s3cr3t@o1.ingest.sentry.io/42"}})
		text = repr(config)
		assert text.startswith("SentryConfig(dsn='https://***@o1.ingest.sentry.io/42', enabled=False, environment='not specified', release=None, ")
		assert text.endswith(", max_breadcrumbs=100, integration_options=())")
		assert "s3cr3t" not in text and text.count("dsn=") == 1

	def test_repr_lists_every_field(self):
		text = repr(SentryConfig(dsn="https://k@h/1"))
		names = [f.name for f in dataclasses.fields(SentryConfig) if f.name != "dsn"]
		assert all(", {}=".format(name) in text for name in names)

	def test_masked_dsn(self):
		assert SentryConfig(dsn="https://s3cr3t@h/1").masked_dsn == "https://***@h/1"

	@pytest.mark.parametrize("enabled,dsn,active", [(True, "https://k@h/1", True), (True, "", False), (False, "https://k@h/1", False), (False, "", False)])
	def test_active(self, enabled, dsn, active):
		assert SentryConfig(dsn=dsn, enabled=enabled).active is active

	def test_load_reads_the_environment_given(self, sentry_app):
		s = sentry_app({"sentry": {"enabled": "false"}}, environ={"SENTRY_ENVIRONMENT": "from-os", "SITE_ID": "os-site"})
		config = SentryConfig.load(s.App, environ={"SENTRY_ENVIRONMENT": "given", "SITE_ID": "given-site"})
		assert (config.environment, config.identity.ids) == ("given", {"site_id": "given-site"})
		assert SentryConfig.load(s.App).environment == "from-os"

	def test_load_with_an_empty_environment_reads_none(self, sentry_app):
		s = sentry_app({"sentry": {"enabled": "false"}}, environ={"SENTRY_ENVIRONMENT": "from-os", "SENTRY_DEBUG": "true"})
		config = SentryConfig.load(s.App, environ={})
		assert (config.environment, config.debug) == ("not specified", False)
