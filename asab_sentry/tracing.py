"""
Transactions and spans that work as `with`, `async with` and as decorators of sync and async
functions, built on sentry-sdk's current (non-deprecated) span API.
"""

import functools
import inspect
import logging
import typing

import sentry_sdk
import sentry_sdk.tracing

L = logging.getLogger(__name__)


class Timing(object):
	"""
	A transaction or a span to be started when entered.

	Returned by `SentryService.transaction()` and `SentryService.span()`. Entering it starts a new
	sentry-sdk span and returns it (so `as t` gives an object with `set_tag`, `set_data`, ...);
	leaving it finishes the span. An exception inside marks the span `internal_error` and
	propagates unchanged. Used as a decorator, every call of the function is timed on its own.

	Examples:
	```python
	with app.SentryService.transaction("task", "rebuild index"):
		...

	async with app.SentryService.span("db", "load users"):
		...

	@app.SentryService.transaction("task", "nightly job")
	async def nightly_job():
		...
	```
	"""

	def __init__(self, start: typing.Callable[[], typing.Any]):
		self._Start = start
		self._Active: typing.List[typing.Any] = []

	def __enter__(self):
		try:
			span = self._Start()
			span.__enter__()
		except Exception as e:
			L.warning("Cannot start a Sentry span ({}); the work is not timed.".format(e))
			span = sentry_sdk.tracing.NoOpSpan()
		self._Active.append(span)
		return span

	def __exit__(self, exc_type, exc, tb) -> typing.Literal[False]:
		span = self._Active.pop() if self._Active else None
		if span is not None:
			try:
				span.__exit__(exc_type, exc, tb)
			except Exception as e:
				L.warning("Cannot finish a Sentry span ({}).".format(e))
		return False  # never swallow the service's exception

	async def __aenter__(self):
		return self.__enter__()

	async def __aexit__(self, exc_type, exc, tb) -> typing.Literal[False]:
		return self.__exit__(exc_type, exc, tb)

	def __call__(self, function):
		start = self._Start

		if inspect.iscoroutinefunction(function):
			@functools.wraps(function)
			async def async_wrapper(*args, **kwargs):
				with Timing(start):
					return await function(*args, **kwargs)
			return async_wrapper

		@functools.wraps(function)
		def wrapper(*args, **kwargs):
			with Timing(start):
				return function(*args, **kwargs)
		return wrapper


def transaction(op: str, name: str) -> Timing:
	"""A `Timing` that starts a new transaction (`op`, `name`) on enter."""
	return Timing(lambda: sentry_sdk.start_transaction(op=op, name=name))


def span(op: str, description: str) -> Timing:
	"""A `Timing` that starts a child span of the current span (`op`, `description` as its name) on enter."""
	return Timing(lambda: sentry_sdk.start_span(op=op, name=description))


def disabled() -> Timing:
	"""A `Timing` that times nothing, for a disabled service."""
	return Timing(sentry_sdk.tracing.NoOpSpan)
