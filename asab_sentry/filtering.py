"""
The user's own filtering of what is sent: `[sentry] ignore_errors` and the event processors added
with `SentryService.add_event_processor()`.

Both run in sentry-sdk's `before_send` / `before_send_transaction`, the last step before an event
is handed to the transport: `ignore_errors` before asab-sentry's own preparation (a dropped error
costs nothing more), the user's processors after it (they see the scrubbed event).
"""

import copy
import logging
import typing

L = logging.getLogger(__name__)

Processor = typing.Callable[[dict, dict], typing.Optional[dict]]


class Filter(object):
	"""
	What the user filters: error classes to ignore and event processors. One per started client.

	Args:
		ignore_errors: Exception class names (`TimeoutError`) or dotted paths
			(`aiohttp.web.HTTPNotFound`); an exception of such a class or of a subclass is not sent.
	"""

	def __init__(self, ignore_errors: typing.Sequence[str] = ()):
		self.IgnoreErrors = frozenset(ignore_errors)
		self._Classes: typing.Optional[typing.Tuple[type, ...]] = None
		self.Processors: typing.List[Processor] = []
		self._Complained: typing.Set[int] = set()

	def add(self, fn: Processor) -> bool:
		"""Add an event processor; False (with a WARNING) when `fn` is not callable."""
		if not callable(fn):
			L.warning("add_event_processor(): {!r} is not callable; it is not added.".format(fn))
			return False
		self.Processors.append(fn)
		return True

	def ignored(self, hint: typing.Optional[dict]) -> bool:
		"""True when the event's exception is of a class in `ignore_errors` (or a subclass of one)."""
		if not self.IgnoreErrors or not hint:
			return False
		exc_info = hint.get("exc_info")
		if not exc_info or exc_info[0] is None:
			return False
		for cls in getattr(exc_info[0], "__mro__", ()):
			if cls.__name__ in self.IgnoreErrors or "{}.{}".format(cls.__module__, cls.__qualname__) in self.IgnoreErrors:
				return True
		if self._Classes is None:
			self._Classes = _importable(self.IgnoreErrors)
		return bool(self._Classes) and issubclass(exc_info[0], self._Classes)

	def process(self, event: typing.Optional[dict], hint: dict) -> typing.Optional[dict]:
		"""
		Run the user's processors in the order added. A processor that returns None drops the
		event; one that raises (or returns something other than a dict) is skipped, the event
		going on as it was before it, and is complained about once.
		"""
		for fn in self.Processors:
			if event is None:
				return None
			before = copy.deepcopy(event)
			try:
				result = fn(event, hint)
			except Exception as e:
				self._complain(fn, "raised {!r}".format(e))
				event = before
				continue
			if result is not None and not isinstance(result, dict):
				self._complain(fn, "returned {} instead of the event or None".format(type(result).__name__))
				event = before
				continue
			event = result
		return event

	def before_send(self, prepare: typing.Callable[[dict, dict], typing.Optional[dict]], event: dict, hint: dict) -> typing.Optional[dict]:
		"""sentry-sdk's `before_send`: ignore_errors, then `prepare` (asab-sentry's own), then the user's processors."""
		try:
			if self.ignored(hint):
				return None
		except Exception as e:  # an exception here would make the SDK drop the event
			self._complain(self.ignored, "raised {!r}".format(e))
		return self.process(prepare(event, hint), hint)

	def before_send_transaction(self, event: dict, hint: dict) -> typing.Optional[dict]:
		"""sentry-sdk's `before_send_transaction`: the user's processors."""
		return self.process(event, hint)

	def _complain(self, fn, what: str) -> None:
		if id(fn) in self._Complained:
			return
		self._Complained.add(id(fn))
		L.warning("Event processor {} {}; events are sent as if it were not there (said once).".format(_name(fn), what))


def _importable(names: typing.Iterable[str]) -> typing.Tuple[type, ...]:
	"""The exception classes that dotted names refer to by another path (`asyncio.TimeoutError` is `TimeoutError`)."""
	import importlib
	import sys
	classes = []
	for name in names:
		module_name, _, attribute = name.rpartition(".")
		module = sys.modules.get(module_name)
		if module is None and module_name:
			try:
				module = importlib.import_module(module_name)
			except Exception:
				continue
		cls = getattr(module, attribute, None)
		if isinstance(cls, type) and issubclass(cls, BaseException):
			classes.append(cls)
	return tuple(classes)


def _name(fn) -> str:
	return getattr(fn, "__qualname__", None) or repr(fn)


_Current = Filter()


def install(ignore_errors: typing.Sequence[str]) -> Filter:
	"""Make a new `Filter` the current one (a started client has its own); returns it."""
	global _Current
	_Current = Filter(ignore_errors)
	return _Current


def add_event_processor(fn: Processor) -> bool:
	"""Add `fn` to the current client's processors; see `SentryService.add_event_processor`."""
	return _Current.add(fn)
