"""
Transactions and spans that work as `with`, `async with` and as decorators of sync and async
functions, generators and async generators, built on sentry-sdk's current (non-deprecated) span
API; and, for code written for ASAB's built-in service, usable as the SDK's `Transaction`/`Span`.
"""

import asyncio
import functools
import inspect
import logging
import typing
import weakref

import sentry_sdk

from . import _sdk
from .uncaught import current_flow

L = logging.getLogger(__name__)


class Timing(object):
	"""
	A transaction or a span to be started when entered.

	Returned by `SentryService.transaction()` and `SentryService.span()`. Entering it starts a new
	sentry-sdk span and returns it (so `as t` gives the SDK's `Transaction` or `Span`); leaving it
	finishes the span. An exception inside marks the span `internal_error` (a cancelled task:
	`cancelled`) and propagates unchanged. One `Timing` may be entered by several tasks at once:
	each task times its own span. Used as a decorator, every call of the function is timed on its
	own; for a generator or an async generator, from the first item to the last.

	Everything else is the SDK object's: `tx.set_tag(...)`, `tx.start_child(...)`, `tx.finish()`,
	`span.set_data(...)`, `tx.name`, ... act on the span this task entered, or, outside `with`, on
	one started at the first such use (as ASAB's built-in `transaction()` returned a started one).

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
		object.__setattr__(self, "_Start", start)
		object.__setattr__(self, "_Active", weakref.WeakKeyDictionary())  # flow -> entered spans
		object.__setattr__(self, "_Detached", None)  # started by attribute use outside `with`

	def _new(self):
		try:
			return self._Start()
		except Exception as e:
			L.warning("Cannot start a Sentry span ({!r}); the work is not timed.".format(e))
			return _sdk.noop_span()

	def _target(self):
		stack = self._Active.get(current_flow())
		if stack:
			return stack[-1]
		if self._Detached is None:
			object.__setattr__(self, "_Detached", self._new())
		return self._Detached

	def __getattr__(self, name: str):
		if name.startswith("_"):
			raise AttributeError(name)
		return getattr(self._target(), name)

	def __setattr__(self, name: str, value) -> None:
		if name.startswith("_"):
			object.__setattr__(self, name, value)
		else:
			setattr(self._target(), name, value)

	def __enter__(self):
		span = self._Detached
		if span is not None and getattr(span, "timestamp", None) is None:
			object.__setattr__(self, "_Detached", None)  # the one started early is the one timed
		else:
			span = self._new()
		try:
			span.__enter__()
		except Exception as e:
			L.warning("Cannot start a Sentry span ({!r}); the work is not timed.".format(e))
			span = _sdk.noop_span()
		self._Active.setdefault(current_flow(), []).append(span)
		return span

	def __exit__(self, exc_type, exc, tb) -> "typing.Literal[False]":
		stack = self._Active.get(current_flow())
		span = stack.pop() if stack else None
		if span is not None:
			try:
				if exc_type is not None and issubclass(exc_type, asyncio.CancelledError):
					span.set_status("cancelled")
					span.__exit__(None, None, None)
				else:
					span.__exit__(exc_type, exc, tb)
			except Exception as e:
				L.warning("Cannot finish a Sentry span ({!r}).".format(e))
		return False  # never swallow the service's exception

	async def __aenter__(self):
		return self.__enter__()

	async def __aexit__(self, exc_type, exc, tb) -> "typing.Literal[False]":
		return self.__exit__(exc_type, exc, tb)

	def __call__(self, function):
		start = self._Start

		if inspect.isasyncgenfunction(function):
			@functools.wraps(function)
			async def async_generator_wrapper(*args, **kwargs):
				with Timing(start):
					agen = function(*args, **kwargs)
					try:
						item = await agen.__anext__()
						while True:
							try:
								sent = yield item
							except GeneratorExit:
								await agen.aclose()
								raise
							except BaseException as e:
								item = await agen.athrow(e)
							else:
								item = await agen.asend(sent)
					except StopAsyncIteration:
						return
			return async_generator_wrapper

		if inspect.isgeneratorfunction(function):
			@functools.wraps(function)
			def generator_wrapper(*args, **kwargs):
				with Timing(start):
					return (yield from function(*args, **kwargs))
			return generator_wrapper

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
	return Timing(_sdk.noop_span)
