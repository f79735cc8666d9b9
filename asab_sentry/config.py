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
_DSN_KEY = re.compile(r"(?<=://)[^@/]*(?=@)")

DEFAULT_SHUTDOWN_TIMEOUT = 10.0
DEFAULT_SPOOL_MAX_SIZE = 100 * 1024 * 1024

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
	if ":" in parsed.host:
		# sentry-sdk builds the endpoint URL as host:port without brackets, so an IPv6 literal
		# host cannot be sent to; say so at start instead of failing in the transport.
		raise ConfigError(
			"[sentry] data_source_name = '{}' has an IPv6 address as its host, which sentry-sdk cannot send to; "
			"expected a host name (e.g. localhost) or an IPv4 address".format(mask_dsn(dsn))
		)


class _Reader(object):
	"""Reads one key from the config file, then the environment, and explains bad values."""

	def __init__(self, environ: typing.Mapping[str, str]):
		self.Environ = environ
		self.Source: typing.Dict[typing.Tuple[str, str], str] = {}

	def get(self, section: str, key: str, env_name: typing.Optional[str], default: str = "") -> str:
		"""The value of `[section] key`: explicit file value > `env_name` > `default` (see the module)."""
		value = self._file_value(section, key)
		env_value = self.Environ.get(env_name, "").strip() if env_name is not None else ""
		if value != "":
			self.Source[(section, key)] = "[{}] {}".format(section, key)
			if env_value != "" and env_value != value:
				L.warning("{} is set but ignored: '[{}] {}' in the configuration wins.".format(env_name, section, key))
			L.debug("[{}] {} is set in the configuration.".format(section, key))
			return value
		if env_value != "":
			self.Source[(section, key)] = str(env_name)
			L.debug("[{}] {} comes from {}.".format(section, key, env_name))
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

	def get_level(self, section: str, key: str, default: str) -> int:
		raw = self.get(section, key, None, default)
		level = LOG_LEVELS.get(raw.lower())
		if level is None:
			raise ConfigError(self.describe(section, key, raw, "one of " + ", ".join(LOG_LEVELS)))
		return level
