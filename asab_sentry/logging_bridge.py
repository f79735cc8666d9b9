"""
The bridge from Python/ASAB logging to Sentry: which records become breadcrumbs and events, ASAB's
NOTICE level mapped to a level Sentry knows, and ASAB's `struct_data` carried over.

Built on sentry-sdk's `LoggingIntegration`; this module only adds what ASAB needs on top of it.
"""

import contextlib
import logging
import threading
import typing

import sentry_sdk.integrations.logging

L = logging.getLogger(__name__)

#: Loggers whose records never reach Sentry (an fnmatch pattern): the plugin's own complaints.
OWN_LOGGERS = "asab_sentry*"

#: ASAB's web access log (a NOTICE line per request): never a breadcrumb or an event.
ACCESS_LOGGER = "asab.web.al"

_Suppressed = threading.local()


def integration(breadcrumbs_level: int, events_level: int) -> sentry_sdk.integrations.logging.LoggingIntegration:
	"""
	The SDK's logging integration at the configured levels, with the plugin's own loggers ignored.

	Args:
		breadcrumbs_level: Records at or above it become breadcrumbs.
		events_level: Records at or above it become events.
	"""
	sentry_sdk.integrations.logging.ignore_logger(OWN_LOGGERS)
	# ASAB's access log: a line per request that the request data on the event already says.
	sentry_sdk.integrations.logging.ignore_logger(ACCESS_LOGGER)
	# Sentry Logs (sentry_logs_level) stay off: a per-record cost for a feature not enabled here.
	return sentry_sdk.integrations.logging.LoggingIntegration(level=breadcrumbs_level, event_level=events_level, sentry_logs_level=None)


def sentry_level(levelno: int) -> str:
	"""
	Map a Python/ASAB log level number to a Sentry level.

	ASAB's NOTICE (25) and any other level between INFO and WARNING become `info`.

	Args:
		levelno: `logging.LogRecord.levelno`.

	Returns:
		One of `debug`, `info`, `warning`, `error`, `fatal`.
	"""
	if levelno < logging.INFO:
		return "debug"
	if levelno < logging.WARNING:
		return "info"
	if levelno < logging.ERROR:
		return "warning"
	if levelno < logging.CRITICAL:
		return "error"
	return "fatal"


def struct_data(record: logging.LogRecord) -> typing.Optional[dict]:
	"""ASAB's structured data of a log record (`L.error("...", struct_data={...})`), or None."""
	data = getattr(record, "_struct_data", None)
	return data if isinstance(data, dict) and len(data) > 0 else None


@contextlib.contextmanager
def no_events():
	"""Within the block, log records of this thread become breadcrumbs only, never events."""
	_Suppressed.active = True
	try:
		yield
	finally:
		_Suppressed.active = False


def event_processor(event: dict, hint: dict) -> typing.Optional[dict]:
	"""
	Fix up an event made from a log record: a valid level, and `struct_data` under `extra`.

	Runs as a global-scope event processor, so before the scrubber sees the event.
	"""
	record = hint.get("log_record") if hint else None
	if record is None:
		return event
	if getattr(_Suppressed, "active", False):
		return None
	event["level"] = sentry_level(record.levelno)
	_carry_struct_data(record, event.setdefault("extra", {}))
	return event


def before_breadcrumb(crumb: dict, hint: dict) -> typing.Optional[dict]:
	"""Fix up a breadcrumb made from a log record: a valid level and `struct_data` in its data."""
	record = hint.get("log_record") if hint else None
	if record is not None:
		crumb["level"] = sentry_level(record.levelno)
		_carry_struct_data(record, crumb.setdefault("data", {}))
	return crumb


def _carry_struct_data(record: logging.LogRecord, target: dict) -> None:
	target.pop("asctime", None)  # set on the record by ASAB's formatter; noise in Sentry
	data = struct_data(record)
	if data is not None:
		target["struct_data"] = data


def open_root_level(breadcrumbs_level: int) -> None:
	"""
	Let records down to `breadcrumbs_level` reach the Sentry bridge without changing what the
	application's own log handlers print.

	ASAB sets the root logger to NOTICE, so INFO records are never made and cannot become
	breadcrumbs. The root logger is lowered to `breadcrumbs_level`, and each handler already on
	it is raised to the old root level, so the console, file and syslog output stay as they were.

	Called only when `[sentry:logging] breadcrumbs` is set explicitly: it costs about 20 us per
	record that ASAB would not have made (benchmarks/hot_path.py), which a service logging at INFO
	in a hot loop should not pay by default.
	"""
	root = logging.getLogger()
	old = root.level
	if old == logging.NOTSET or old <= breadcrumbs_level:
		return
	for handler in root.handlers:
		if handler.level < old:
			handler.setLevel(old)
	root.setLevel(breadcrumbs_level)
