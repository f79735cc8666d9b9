"""
Configuration of asab-sentry: read once from `asab.Config` and the environment, validated, and
returned as one typed object.

Precedence for every key: a non-empty value in the config file wins over the environment variable,
which wins over the default. Nothing else in the package reads `asab.Config` or `os.environ` for
Sentry settings.
"""

import dataclasses
import logging
import math
import os
import re
import typing

import asab
import asab.utils
import sentry_sdk.utils

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
_DSN_KEY = re.compile(r"(?<=://)[^@/]*(?=@)")

DEFAULT_SHUTDOWN_TIMEOUT = 10.0
DEFAULT_SPOOL_MAX_SIZE = 100 * 1024 * 1024
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
		The DSN with everything between `://` and `@` replaced by `***`.

	Examples:
	```python
	>>> mask_dsn("https://abc123@o1.ingest.sentry.io/42")
	'https://***@o1.ingest.sentry.io/42'
	```
	"""
	return _DSN_KEY.sub("***", dsn)


@dataclasses.dataclass(frozen=True)
class SentryConfig:
	"""
	The validated asab-sentry configuration.

	Build it with `SentryConfig.load(app)`; see the README for every key.

	`open_log_level` is True when `[sentry:logging] breadcrumbs` is set explicitly: records down to
	that level are then made even where ASAB's log level would not make them (see `logging_bridge`).
	"""

	dsn: str = ""
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
	max_retry_age: float = DEFAULT_MAX_RETRY_AGE
	ca_certs: str = ""
	cert_file: str = ""
	key_file: str = ""
	http_proxy: str = ""
	https_proxy: str = ""
	identity: Identity = dataclasses.field(default_factory=Identity)

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

		release = r.get("sentry", "release", "SENTRY_RELEASE") or identity.default_release()
		environment = r.get("sentry", "environment", "SENTRY_ENVIRONMENT") or env.get("SITE_ID") or "not specified"

		rate = r.get_rate("sentry", "traces_sample_rate", "SENTRY_TRACES_SAMPLE_RATE", 0.0)

		shutdown_timeout = r.get_seconds("sentry", "shutdown_timeout", None, DEFAULT_SHUTDOWN_TIMEOUT)
		spool_max_size = r.get_size("sentry", "spool_max_size", "SENTRY_SPOOL_MAX_SIZE", DEFAULT_SPOOL_MAX_SIZE)

		max_retry_age = r.get_seconds("sentry", "max_retry_age", None, DEFAULT_MAX_RETRY_AGE)
		if max_retry_age <= 0:
			raise ConfigError(r.describe("sentry", "max_retry_age", r.get("sentry", "max_retry_age", None), "a positive duration such as 1d, 12h or 30m"))
		ca_certs = r.get("sentry", "ca_certs", "SSL_CERT_FILE") or r.get("sentry", "ca_certs", "REQUESTS_CA_BUNDLE")
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
			max_retry_age=max_retry_age,
			ca_certs=ca_certs,
			cert_file=cert_file,
			key_file=key_file,
			http_proxy=proxies["http_proxy"],
			https_proxy=proxies["https_proxy"],
			identity=identity,
		)


def _check_dsn(dsn: str) -> None:
	try:
		parsed = sentry_sdk.utils.Dsn(dsn)
		parsed.port  # noqa: B018 -- urlsplit validates the port lazily
	except Exception as e:
		raise ConfigError(
			"[sentry] data_source_name = '{}' is not a valid DSN ({}); expected https://<key>@<host>/<project id>".format(mask_dsn(dsn), e)
		) from None


class _Reader(object):
	"""Reads one key from the config file, then the environment, and explains bad values."""

	def __init__(self, environ: typing.Mapping[str, str]):
		self.Environ = environ
		self.Source: typing.Dict[typing.Tuple[str, str], str] = {}

	def get(self, section: str, key: str, env_name: typing.Optional[str], default: str = "") -> str:
		value = asab.Config.get(section, key, fallback="").strip() if asab.Config.has_section(section) else ""
		if value != "":
			self.Source[(section, key)] = "[{}] {}".format(section, key)
			return value
		if env_name is not None:
			value = self.Environ.get(env_name, "").strip()
			if value != "":
				self.Source[(section, key)] = env_name
				return value
		return default

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

	def get_level(self, section: str, key: str, default: str) -> int:
		raw = self.get(section, key, None, default)
		level = LOG_LEVELS.get(raw.lower())
		if level is None:
			raise ConfigError(self.describe(section, key, raw, "one of " + ", ".join(LOG_LEVELS)))
		return level
