"""
Configuration of asab-sentry: read once from `asab.Config` and the environment, validated, and
returned as one typed object.

Where each setting comes from, for every key: an explicit non-empty value in the configuration
wins over the environment variable, which wins over the default. A value that another module
added to ASAB's configuration as its default (`import asab.sentry` adds `[sentry]` and
`[sentry:logging]` defaults) is not explicit: it counts as a default. The winning source of each
key is logged at DEBUG; an environment variable that is set but loses to the file is a WARNING.
Nothing else in the package reads `asab.Config` or `os.environ` for Sentry settings.
"""

import configparser
import dataclasses
import logging
import math
import os
import re
import sys
import typing

import asab
import asab.utils
import sentry_sdk.utils

from . import integrations as known_integrations
from . import validation
from .identity import Identity

L = logging.getLogger(__name__)

LOG_LEVELS: typing.Dict[str, int] = {
	"debug": logging.DEBUG,
	"info": logging.INFO,
	"notice": asab.LOG_NOTICE,
	"warning": logging.WARNING,
	"error": logging.ERROR,
	"critical": logging.CRITICAL,
}

_TRUE = frozenset(("1", "yes", "true", "on"))
_FALSE = frozenset(("0", "no", "false", "off"))
# Everything before the `@` of the authority (after `//` when there is one): `https://KEY@host`,
# `https//KEY@host`, `KEY:PASS@host`, `https:/KEY@host`; a `@` after `?` or `#` is not the key's.
_DSN_KEY = re.compile(r"^(?P<prefix>[^@]*?//)?(?P<key>[^?#]*)@")
# A query parameter that may carry a credential (`?sentry_key=...`, `&secret=...`).
_DSN_QUERY_SECRET = re.compile(r"([?&][^=&#]*(?:key|secret|token|pass|auth|sig)[^=&#]*=)[^&#]*", re.IGNORECASE)
_NAME_LIST = re.compile(r"[,\s]+")
_FIELD_NAME = re.compile(r"^[A-Za-z0-9_.\-]+$")

DEFAULT_SHUTDOWN_TIMEOUT = 10.0
DEFAULT_SPOOL_MAX_SIZE = 100 * 1024 * 1024
DEFAULT_MAX_BREADCRUMBS = 100
_DOTTED_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")

#: Defaults other modules add to `asab.Config` (module -> {(section, key): value}): such a value
#: in the configuration is the other module's default, not the user's choice.
ADDED_DEFAULTS: typing.Dict[str, typing.Dict[typing.Tuple[str, str], str]] = {
	"asab.sentry": {
		("sentry", "data_source_name"): "",
		("sentry", "environment"): "not specified",
		("sentry", "traces_sample_rate"): "0",
		("sentry:logging", "breadcrumbs"): "info",
		("sentry:logging", "events"): "error",
	},
}
DEFAULT_MAX_RETRY_AGE = 86400.0


class ConfigError(ValueError):
	"""
	A `[sentry]` configuration value is invalid.

	The message is one line naming `[section] key`, the offending value (a DSN with its key masked)
	and what is expected. `SentryService` turns it into `SystemExit` at start.
	"""


def mask_dsn(dsn: str) -> str:
	"""
	Mask the key part of a DSN, so it can be printed.

	Args:
		dsn: A DSN, well-formed or not.

	Returns:
		The DSN with its key (and password part, if any) replaced by `***`: everything between the
		scheme's `//` (or the start, when there is none) and the last `@` before the query. Works
		for malformed DSNs too (`https//key@host/1`, `key@host/1`, `https:/key@host/1`).

	Examples:
	```python
	>>> mask_dsn("https://abc123@o1.ingest.sentry.io/42")
	'https://***@o1.ingest.sentry.io/42'
	>>> mask_dsn("abc123:pw@[::1]:9000/42?timeout=5")
	'***@[::1]:9000/42?timeout=5'
	```
	"""
	m = _DSN_KEY.match(dsn)
	if m is not None:
		dsn = (m.group("prefix") or "") + "***" + dsn[m.end("key"):]
	if "?" in dsn:
		dsn = _DSN_QUERY_SECRET.sub(r"\1***", dsn)
	return dsn


@dataclasses.dataclass(frozen=True)
class SentryConfig:
	"""
	The validated asab-sentry configuration.

	Build it with `SentryConfig.load(app)`; see the README for every key.

	`open_log_level` is True when `[sentry:logging] breadcrumbs` is set explicitly: records down to
	that level are then made even where ASAB's log level would not make them (see `logging_bridge`).
	"""

	dsn: str = dataclasses.field(default="", repr=False)  # repr() shows `masked_dsn`
	enabled: bool = True
	environment: str = "not specified"
	release: typing.Optional[str] = None
	traces_sample_rate: float = 0.0
	send_default_pii: bool = False
	debug: bool = False
	shutdown_timeout: float = DEFAULT_SHUTDOWN_TIMEOUT
	breadcrumbs_level: int = logging.INFO
	events_level: int = logging.ERROR
	open_log_level: bool = False
	spool_dir: str = ""
	spool_max_size: int = DEFAULT_SPOOL_MAX_SIZE
	ignore_transactions: typing.Tuple[str, ...] = ()
	trace_propagation_targets: typing.Optional[typing.Tuple[str, ...]] = None
	scrub_fields: typing.Tuple[str, ...] = ()
	scrub_allow: typing.Tuple[str, ...] = ()
	max_request_body_size: str = "medium"
	transaction_request_bodies: bool = False
	max_retry_age: float = DEFAULT_MAX_RETRY_AGE
	ca_certs: str = ""
	cert_file: str = ""
	key_file: str = ""
	http_proxy: str = ""
	https_proxy: str = ""
	identity: Identity = dataclasses.field(default_factory=Identity)
	profiles_sample_rate: float = 0.0
	integrations: typing.Tuple[str, ...] = ()
	disabled_integrations: typing.Tuple[str, ...] = ()
	enable_logs: bool = False
	logs_level: int = logging.INFO
	open_logs_level: bool = False
	ignore_errors: typing.Tuple[str, ...] = ()
	sample_rate: float = 1.0
	max_breadcrumbs: int = DEFAULT_MAX_BREADCRUMBS
	integration_options: typing.Tuple[typing.Tuple[str, typing.Tuple[typing.Tuple[str, typing.Any], ...]], ...] = ()

	def __repr__(self) -> str:
		fields = ", ".join("{}={!r}".format(f.name, getattr(self, f.name)) for f in dataclasses.fields(self) if f.repr)
		return "SentryConfig(dsn={!r}, {})".format(self.masked_dsn, fields)

	@property
	def active(self) -> bool:
		"""True when events are to be sent: enabled and a DSN is set."""
		return self.enabled and self.dsn != ""

	@property
	def masked_dsn(self) -> str:
		"""The DSN with its key masked, safe to print."""
		return mask_dsn(self.dsn)

	@classmethod
	def load(cls, app, environ: typing.Optional[typing.Mapping[str, str]] = None) -> "SentryConfig":
		"""
		Read and validate the configuration.

		Args:
			app: The `asab.Application` (its class name and host name make the identity).
			environ: Environment to read; `os.environ` by default.

		Returns:
			The validated configuration.

		Raises:
			ConfigError: A value is invalid; the message is one line.
		"""
		env = os.environ if environ is None else environ
		r = _Reader(env)
		identity = Identity.load(app, env)

		dsn = r.get("sentry", "data_source_name", "SENTRY_DSN")
		if dsn != "":
			_check_dsn(dsn)

		release = r.get("sentry", "release", "SENTRY_RELEASE")
		if release != "":
			r.check(validation.release_error, "sentry", "release", release)
		else:
			release = identity.default_release() or ""
			if release != "" and validation.release_error(release) is not None:
				L.warning("The release '{}' from the manifest is not valid for Sentry ({}); no release is sent.".format(release, validation.release_error(release)))
				release = ""
		environment = r.get("sentry", "environment", "SENTRY_ENVIRONMENT")
		if environment != "":
			r.check(validation.environment_error, "sentry", "environment", environment)
		else:
			environment = env.get("SITE_ID", "").strip()
			if environment != "" and validation.environment_error(environment) is not None:
				L.warning("SITE_ID = '{}' is not a valid Sentry environment ({}); the environment is 'not specified'.".format(environment, validation.environment_error(environment)))
				environment = ""
			environment = environment or "not specified"

		rate = r.get_rate("sentry", "traces_sample_rate", "SENTRY_TRACES_SAMPLE_RATE", 0.0)

		shutdown_timeout = r.get_seconds("sentry", "shutdown_timeout", None, DEFAULT_SHUTDOWN_TIMEOUT)
		spool_max_size = r.get_size("sentry", "spool_max_size", "SENTRY_SPOOL_MAX_SIZE", DEFAULT_SPOOL_MAX_SIZE)

		integrations = r.get_integrations("sentry", "integrations", "SENTRY_INTEGRATIONS")
		max_retry_age = r.get_seconds("sentry", "max_retry_age", None, DEFAULT_MAX_RETRY_AGE)
		if max_retry_age <= 0:
			raise ConfigError(r.describe("sentry", "max_retry_age", r.get("sentry", "max_retry_age", None), "a positive duration such as 1d, 12h or 30m"))
		ca_certs = r.get("sentry", "ca_certs", ("SSL_CERT_FILE", "REQUESTS_CA_BUNDLE"))
		cert_file = r.get("sentry", "cert_file", None)
		key_file = r.get("sentry", "key_file", None)
		for key, value in (("ca_certs", ca_certs), ("cert_file", cert_file), ("key_file", key_file)):
			if value and not os.path.isfile(value):
				raise ConfigError(r.describe("sentry", key, value, "a readable PEM file"))
		if key_file and not cert_file:
			raise ConfigError(r.describe("sentry", "key_file", key_file, "it together with [sentry] cert_file"))
		proxies = {}
		for key in ("http_proxy", "https_proxy"):
			proxies[key] = r.get("sentry", key, None)
			if proxies[key] and not re.match(r"^https?://[^/\s]+", proxies[key]):
				raise ConfigError(r.describe("sentry", key, proxies[key], "a proxy URL such as http://proxy:3128"))

		return cls(
			dsn=dsn,
			enabled=r.get_bool("sentry", "enabled", "SENTRY_ENABLED", True),
			environment=environment,
			release=release or None,
			traces_sample_rate=rate,
			send_default_pii=r.get_bool("sentry", "send_default_pii", "SENTRY_SEND_DEFAULT_PII", False),
			debug=r.get_bool("sentry", "debug", "SENTRY_DEBUG", False),
			shutdown_timeout=shutdown_timeout,
			breadcrumbs_level=r.get_level("sentry:logging", "breadcrumbs", "info"),
			open_log_level=("sentry:logging", "breadcrumbs") in r.Source,
			events_level=r.get_level("sentry:logging", "events", "error"),
			spool_dir=r.get("sentry", "spool_dir", "SENTRY_SPOOL_DIR"),
			spool_max_size=spool_max_size,
			ignore_transactions=r.get_list("sentry", "ignore_transactions", "SENTRY_IGNORE_TRANSACTIONS"),
			trace_propagation_targets=r.get_patterns("sentry", "trace_propagation_targets", "SENTRY_TRACE_PROPAGATION_TARGETS"),
			scrub_fields=r.get_names("sentry", "scrub_fields", "SENTRY_SCRUB_FIELDS"),
			scrub_allow=r.get_names("sentry", "scrub_allow", "SENTRY_SCRUB_ALLOW"),
			max_request_body_size=r.get_choice(
				"sentry", "max_request_body_size", "SENTRY_MAX_REQUEST_BODY_SIZE", ("never", "small", "medium", "always"), "medium",
			),
			transaction_request_bodies=r.get_bool("sentry", "transaction_request_bodies", "SENTRY_TRANSACTION_REQUEST_BODIES", False),
			max_retry_age=max_retry_age,
			ca_certs=ca_certs,
			cert_file=cert_file,
			key_file=key_file,
			http_proxy=proxies["http_proxy"],
			https_proxy=proxies["https_proxy"],
			identity=identity,
			profiles_sample_rate=r.get_rate("sentry", "profiles_sample_rate", "SENTRY_PROFILES_SAMPLE_RATE", 0.0),
			integrations=integrations,
			integration_options=_integration_options(integrations),
			disabled_integrations=r.get_integrations("sentry", "disabled_integrations", "SENTRY_DISABLED_INTEGRATIONS"),
			enable_logs=r.get_bool("sentry", "enable_logs", "SENTRY_ENABLE_LOGS", False),
			logs_level=r.get_level("sentry:logging", "logs", "info"),
			open_logs_level=("sentry:logging", "logs") in r.Source,
			ignore_errors=r.get_class_names("sentry", "ignore_errors", None),
			sample_rate=r.get_rate("sentry", "sample_rate", "SENTRY_SAMPLE_RATE", 1.0),
			max_breadcrumbs=r.get_count("sentry", "max_breadcrumbs", None, DEFAULT_MAX_BREADCRUMBS),
		)


def _check_dsn(dsn: str) -> None:
	try:
		parsed = sentry_sdk.utils.Dsn(dsn)
		parsed.port  # noqa: B018 -- urlsplit validates the port lazily
	except Exception as e:
		masked = mask_dsn(dsn)
		reason = str(e)
		m = _DSN_KEY.match(dsn)
		if m is not None and m.group("key"):
			# The SDK's message may quote the key, or a part of it (`Unsupported scheme 'KEY'` for `KEY:PASS@host`).
			for secret in sorted({m.group("key")} | set(re.split(r"[:/]+", m.group("key"))), key=len, reverse=True):
				if secret:
					reason = reason.replace(secret, "***")
		raise ConfigError(
			"[sentry] data_source_name = '{}' is not a valid DSN ({}); expected https://<key>@<host>/<project id>".format(masked, reason)
		) from None
	if ":" in parsed.host:
		# sentry-sdk builds the endpoint URL as host:port without brackets, so an IPv6 literal
		# host cannot be sent to; say so at start instead of failing in the transport.
		raise ConfigError(
			"[sentry] data_source_name = '{}' has an IPv6 address as its host, which sentry-sdk cannot send to; "
			"expected a host name (e.g. localhost) or an IPv4 address".format(mask_dsn(dsn))
		)


def _integration_options(enabled: typing.Sequence[str]) -> typing.Tuple[typing.Tuple[str, typing.Tuple[typing.Tuple[str, typing.Any], ...]], ...]:
	"""Keyword arguments of the integrations named in `[sentry] integrations`, from `[sentry:integration:NAME]` sections."""
	result = []
	for section in asab.Config.sections():
		if not section.startswith("sentry:integration:"):
			continue
		name = section[len("sentry:integration:"):].lower()
		if name not in enabled:
			raise ConfigError("[{}] configures '{}', which is not in [sentry] integrations; add it there".format(section, name))
		options = tuple((key, _literal(value)) for key, value in asab.Config.items(section, raw=True) if key not in asab.Config.defaults())
		result.append((name, options))
	return tuple(result)


def _literal(text: str) -> typing.Any:
	"""A config value as a Python value: true/false, a number, a list or dict literal, else the text."""
	import ast
	text = text.strip()
	if text.lower() in _TRUE:
		return True
	if text.lower() in _FALSE:
		return False
	try:
		return ast.literal_eval(text)
	except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):  # TypeError: `{[]: 1}`
		return text


class _Reader(object):
	"""Reads one key from the config file, then the environment, and explains bad values."""

	def __init__(self, environ: typing.Mapping[str, str]):
		self.Environ = environ
		self.Source: typing.Dict[typing.Tuple[str, str], str] = {}

	def get(self, section: str, key: str, env_name: typing.Union[str, typing.Sequence[str], None], default: str = "") -> str:
		"""
		The value of `[section] key`: explicit file value > `env_name` > `default` (see the module).
		`env_name` may be several variables, the first set one winning (`SSL_CERT_FILE`, then `REQUESTS_CA_BUNDLE`).
		"""
		value = self._file_value(section, key)
		names = (env_name,) if isinstance(env_name, str) else tuple(env_name or ())
		env_values = [(name, self.Environ.get(name, "").strip()) for name in names]
		if value != "":
			self.Source[(section, key)] = "[{}] {}".format(section, key)
			for name, env_value in env_values:
				if env_value != "" and env_value != value:
					L.warning("{} is set but ignored: '[{}] {}' in the configuration wins.".format(name, section, key))
			L.debug("[{}] {} is set in the configuration.".format(section, key))
			return value
		for name, env_value in env_values:
			if env_value != "":
				self.Source[(section, key)] = name
				L.debug("[{}] {} comes from {}.".format(section, key, name))
				return env_value
		L.debug("[{}] {} is the default.".format(section, key))
		return default

	def _file_value(self, section: str, key: str) -> str:
		if not asab.Config.has_section(section) or not asab.Config.has_option(section, key):
			return ""
		try:
			value = asab.Config.get(section, key).strip()
		except configparser.Error as e:
			raw = asab.Config.get(section, key, raw=True)
			shown = mask_dsn(raw) if key == "data_source_name" else raw
			reason = "refers to an unset variable" if isinstance(e, configparser.InterpolationMissingOptionError) else "has a stray '$'"
			raise ConfigError("[{}] {} = '{}' {}; expected a value (a literal $ is written $$)".format(section, key, shown, reason)) from None
		for module, defaults in ADDED_DEFAULTS.items():
			if module in sys.modules and defaults.get((section, key)) == value:
				return ""  # that module's default, not the user's choice
		return value

	def check(self, error: typing.Callable[[str], typing.Optional[str]], section: str, key: str, value: str) -> None:
		"""Raise ConfigError when `error(value)` names a problem."""
		problem = error(value)
		if problem is not None:
			raise ConfigError(self.describe(section, key, value, problem))

	def describe(self, section: str, key: str, value, expected: str) -> str:
		where = self.Source.get((section, key), "[{}] {}".format(section, key))
		if where.startswith("["):
			return "{} = '{}' is invalid; expected {}".format(where, value, expected)
		return "{} = '{}' (for [{}] {}) is invalid; expected {}".format(where, value, section, key, expected)

	def get_bool(self, section: str, key: str, env_name: str, default: bool) -> bool:
		raw = self.get(section, key, env_name)
		if raw == "":
			return default
		if raw.lower() in _TRUE:
			return True
		if raw.lower() in _FALSE:
			return False
		raise ConfigError(self.describe(section, key, raw, "a boolean (true/false, yes/no, on/off, 1/0)"))

	def get_rate(self, section: str, key: str, env_name: str, default: float) -> float:
		raw = self.get(section, key, env_name)
		if raw == "":
			return default
		try:
			value = float(raw)
		except ValueError:
			value = math.nan
		if not (0.0 <= value <= 1.0):  # also False for NaN
			raise ConfigError(self.describe(section, key, raw, "a number between 0 and 1"))
		return value

	def get_seconds(self, section: str, key: str, env_name: typing.Optional[str], default: float) -> float:
		raw = self.get(section, key, env_name)
		if raw == "":
			return default
		try:
			value = asab.utils.convert_to_seconds(raw)
		except ValueError:
			value = -1.0
		if not (value >= 0 and math.isfinite(value)):
			raise ConfigError(self.describe(section, key, raw, "a non-negative duration such as 10s, 500ms or 1m"))
		return value

	def get_size(self, section: str, key: str, env_name: str, default: int) -> int:
		raw = self.get(section, key, env_name)
		if raw == "":
			return default
		try:
			value = asab.utils.convert_to_bytes(raw)
		except (ValueError, KeyError):
			value = 0
		if value <= 0:
			raise ConfigError(self.describe(section, key, raw, "a positive size such as 100MB, 512kB or 1GB"))
		return int(value)

	def get_list(self, section: str, key: str, env_name: typing.Optional[str]) -> typing.Tuple[str, ...]:
		"""A comma-separated list; empty items are left out."""
		raw = self.get(section, key, env_name)
		return tuple(item.strip() for item in raw.split(",") if item.strip() != "")

	def get_patterns(self, section: str, key: str, env_name: typing.Optional[str]) -> typing.Optional[typing.Tuple[str, ...]]:
		"""A comma-separated list of regular expressions, each checked; None when the key is not set."""
		patterns = self.get_list(section, key, env_name)
		if not patterns:
			return None
		for pattern in patterns:
			try:
				re.compile(pattern)
			except re.error as e:
				raise ConfigError(self.describe(section, key, pattern, "comma-separated regular expressions ({})".format(e)))
		return patterns
	def get_names(self, section: str, key: str, env_name: str) -> typing.Tuple[str, ...]:
		raw = self.get(section, key, env_name)
		names = tuple(n for n in _NAME_LIST.split(raw) if n)
		for name in names:
			if _FIELD_NAME.match(name) is None or not any(c.isalnum() for c in name):
				raise ConfigError(self.describe(section, key, raw, "key names (letters, digits, _ . -) separated by commas or spaces"))
		return names

	def get_choice(self, section: str, key: str, env_name: str, choices: typing.Sequence[str], default: str) -> str:
		raw = self.get(section, key, env_name)
		if raw == "":
			return default
		if raw.lower() not in choices:
			raise ConfigError(self.describe(section, key, raw, "one of " + ", ".join(choices)))
		return raw.lower()

	def get_level(self, section: str, key: str, default: str) -> int:
		raw = self.get(section, key, None, default)
		level = LOG_LEVELS.get(raw.lower())
		if level is None:
			raise ConfigError(self.describe(section, key, raw, "one of " + ", ".join(LOG_LEVELS)))
		return level

	def get_integrations(self, section: str, key: str, env_name: str) -> typing.Tuple[str, ...]:
		names = tuple(name.lower() for name in self.get_list(section, key, env_name))
		problem = known_integrations.check_names(names)
		if problem is not None:
			raise ConfigError(self.describe(section, key, ",".join(names), "comma-separated sentry-sdk integration names ({})".format(problem)))
		return names

	def get_class_names(self, section: str, key: str, env_name: typing.Optional[str]) -> typing.Tuple[str, ...]:
		names = self.get_list(section, key, env_name)
		for name in names:
			if not _DOTTED_NAME.match(name):
				raise ConfigError(self.describe(section, key, name, "comma-separated exception class names or dotted paths such as TimeoutError or aiohttp.web.HTTPNotFound"))
		return names

	def get_count(self, section: str, key: str, env_name: typing.Optional[str], default: int) -> int:
		raw = self.get(section, key, env_name)
		if raw == "":
			return default
		if not (raw.isascii() and raw.isdigit()):  # `²` is a digit to isdigit(), not to int()
			raise ConfigError(self.describe(section, key, raw, "a whole number, 0 or more"))
		return int(raw)
