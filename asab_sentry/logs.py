"""
Sentry Logs: ASAB log records sent as Sentry's structured logs when `[sentry] enable_logs` is on.

A `logging.Handler` on the root logger turns each record at or above `[sentry:logging] logs` into a
Sentry log through sentry-sdk's public `sentry_sdk.logger` API: the message as the body, ASAB's
`struct_data` items as attributes, NOTICE as `info`. The SDK batches them and sends `log` envelope
items. The plugin's own `asab_sentry` loggers and the SDK's are never sent.
"""

import logging
import threading
import typing

import sentry_sdk
import sentry_sdk.logger

from . import logging_bridge

L = logging.getLogger(__name__)

_SEND = {
	"debug": sentry_sdk.logger.debug,
	"info": sentry_sdk.logger.info,
	"warning": sentry_sdk.logger.warning,
	"error": sentry_sdk.logger.error,
	"fatal": sentry_sdk.logger.fatal,
}


class SentryLogsHandler(logging.Handler):
	"""Sends log records as Sentry Logs (see the module's docstring)."""

	def __init__(self, level: int):
		super().__init__(level)
		self._Inside = threading.local()

	def emit(self, record: logging.LogRecord) -> None:
		"""Send one record; never raises, never recurses."""
		if logging_bridge.never_sent(record.name) or getattr(self._Inside, "active", False):
			return
		self._Inside.active = True
		try:
			_SEND[logging_bridge.sentry_level(record.levelno)](record.getMessage(), attributes=attributes(record))
		except Exception:
			pass  # a log line that cannot be sent must not become another log line
		finally:
			self._Inside.active = False


def attributes(record: logging.LogRecord) -> typing.Dict[str, typing.Any]:
	"""
	A record's Sentry Log attributes: its logger and its ASAB `struct_data` items.

	No `code.*` attributes: ASAB's logger wrapper makes every record's caller `asab/log.py`.
	"""
	attrs: typing.Dict[str, typing.Any] = {"logger.name": record.name, "sentry.origin": "auto.log.asab"}
	data = logging_bridge.struct_data(record)
	if data is not None:
		for key, value in data.items():
			attrs[str(key)] = value if isinstance(value, (str, int, float, bool)) else repr(value)
	return attrs


_Handler: typing.Optional[SentryLogsHandler] = None


def install(enabled: bool, level: int, open_level: bool) -> None:
	"""
	Attach the handler to the root logger (replacing one attached before), or only detach it.

	Args:
		enabled: `[sentry] enable_logs`.
		level: `[sentry:logging] logs`, the lowest level sent.
		open_level: The level was set explicitly: make records down to it even where ASAB's log
			level would not (as `[sentry:logging] breadcrumbs` does).
	"""
	global _Handler
	root = logging.getLogger()
	if _Handler is not None:
		root.removeHandler(_Handler)
		_Handler = None
	if not enabled:
		return
	_Handler = SentryLogsHandler(level)
	if open_level:
		logging_bridge.open_root_level(level)
	root.addHandler(_Handler)
