"""
The bridge from Python/ASAB logging to Sentry: which records become breadcrumbs and events, ASAB's
NOTICE level mapped to a level Sentry knows, and ASAB's `struct_data` carried over.

Built on sentry-sdk's `LoggingIntegration`; this module only adds what ASAB needs on top of it.
"""

import logging
import re
import typing

import sentry_sdk.integrations.logging

from . import _sdk
from . import uncaught

L = logging.getLogger(__name__)

#: ASAB's access logger (ignored by its exact name in the SDK, see `integration()`).
ACCESS_LOGGER = "asab.web.al"

#: The one list of loggers whose records never become events (nor breadcrumbs), with their
#: children: the plugin's own complaints; the SDK's and urllib3's records about sending (as events
#: they would feed themselves: each upload logs, each log line is uploaded); aiohttp's server
#: loggers, which log a handler's exception that the web instrumentation already sent, and its
#: client internals; asyncio's own logger (debug-mode warnings; under ASAB uncaught exceptions are
#: reported through the loop's exception handler, structured).
NEVER_EVENTS = (
	"asab_sentry", "sentry_sdk", "urllib3",
	"aiohttp.server", "aiohttp.web", "aiohttp.access", "aiohttp.client", "aiohttp.internal",
	"asyncio",
	# ASAB's web access log: a NOTICE line per request that the request data on an event already says.
	ACCESS_LOGGER,
)

_NEVER = re.compile(r"^(?:{})(?:\.|$)".format("|".join(re.escape(name) for name in NEVER_EVENTS)))


def never_sent(name: str) -> bool:
	"""True for a logger on `NEVER_EVENTS`, or a child of one."""
	return _NEVER.match(name) is not None


def integration(breadcrumbs_level: int, events_level: int) -> sentry_sdk.integrations.logging.LoggingIntegration:
	"""
	The SDK's logging integration at the configured levels, with the plugin's own loggers ignored.

	Args:
		breadcrumbs_level: Records at or above it become breadcrumbs.
		events_level: Records at or above it become events.
	"""
	# The SDK compares every record against each ignored logger with fnmatch (about 0.4 us per
	# entry, on every log line), and skips its whole handling only for an exact name. So the hot
	# one (the access log, a line per request) is ignored by its exact name; the rest of the list,
	# children included, is dropped by one regular expression in the two hooks below.
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


def event_processor(event: dict, hint: dict) -> typing.Optional[dict]:
	"""
	Fix up an event made from a log record: a valid level, and `struct_data` under `extra`.

	Runs as a global-scope event processor, so before the scrubber sees the event.
	"""
	record = _sdk.log_record(hint)
	if record is None:
		return event
	if never_sent(record.name):
		return None
	if uncaught.suppressed() or (record.exc_info and uncaught.reported_in_this_flow(record.exc_info[1])):
		return None  # about an exception already sent as unhandled in this flow
	event["level"] = sentry_level(record.levelno)
	_carry_struct_data(record, event.setdefault("extra", {}))
	return event


def before_breadcrumb(crumb: dict, hint: dict) -> typing.Optional[dict]:
	"""Fix up a breadcrumb made from a log record: a valid level and `struct_data` in its data."""
	record = _sdk.log_record(hint)
	if record is not None:
		if never_sent(record.name):
			return None
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
	it gets a filter that lets through exactly what it printed before: a record at or above the
	old root level, or one of a logger that has its own level (ASAB's `[logging] levels`) and
	made the record by that level. Handler levels are left alone.

	Called only when `[sentry:logging] breadcrumbs` is set explicitly: it costs about 20 us per
	record that ASAB would not have made (benchmarks/hot_path.py), which a service logging at INFO
	in a hot loop should not pay by default.
	"""
	root = logging.getLogger()
	old = root.level
	if old == logging.NOTSET or old <= breadcrumbs_level:
		return
	keep = _AsBefore(old)
	for handler in root.handlers:
		if not any(isinstance(f, _AsBefore) for f in handler.filters):
			handler.addFilter(keep)
	root.setLevel(breadcrumbs_level)


class _AsBefore(logging.Filter):
	"""Pass a record only if it would have been made with the root logger at `RootLevel`."""

	def __init__(self, root_level: int):
		super().__init__()
		self.RootLevel = root_level

	def filter(self, record: logging.LogRecord) -> bool:
		if record.levelno >= self.RootLevel:
			return True
		logger: typing.Optional[logging.Logger] = logging.getLogger(record.name) if record.name != "root" else None
		while logger is not None and not isinstance(logger, logging.RootLogger):
			if logger.level != logging.NOTSET:
				return record.levelno >= logger.level
			logger = logger.parent
		return False
