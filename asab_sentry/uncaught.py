"""
Uncaught exceptions: which exceptions are events, and each sent once per site it escapes.

The rule: an exception is an event when it leaves an event site unhandled, that is when it
escapes `main()`, an asab.web request handler, a loop callback, or an asyncio task whose
exception nobody retrieved (asyncio's "Task exception was never retrieved": not awaited, not
gathered, not asked for with `result()`/`exception()`). An exception that the caller handles
(`await task` inside `try`, `asyncio.gather(..., return_exceptions=True)`, `asyncio.wait_for`) is
not an event; a cancelled task is never one. Events are counted once per site, never per
exception object: five requests failing on one shared future are five events, each with its own
tags and user. What is not a second event: a log record about an exception that was reported as
unhandled in the same flow (the same asyncio task or thread), e.g. ASAB's or aiohttp's log line
about it, and the `sys.excepthook` report of an exception already reported when it left `main()`.

A task's exception is remembered with the task's scopes when it leaves the task, and sent with
them only when asyncio reports it as never retrieved, so the event carries the task's tags and
user although asyncio reports it later, from another flow.
"""

import asyncio
import contextlib
import contextvars
import logging
import threading
import typing
import weakref

import asab
import sentry_sdk

from . import _sdk

L = logging.getLogger(__name__)

_FLOWS = "_asab_sentry_flows"  # weak references to the flows (tasks, threads) that reported it
_UNHANDLED = "_asab_sentry_unhandled"  # True once reported as unhandled anywhere
_TASKS = "_asab_sentry_tasks"  # id(task) -> (isolation scope, current scope) of the task it left

_Suppressed = threading.local()

#: The isolation scope the task factory made for the running task, and whether a web request claimed it.
_TaskScope: "contextvars.ContextVar[typing.Optional[list]]" = contextvars.ContextVar("asab_sentry_task_scope", default=None)


def capture_unhandled(exc: BaseException, mechanism: str) -> typing.Optional[str]:
	"""
	Send one event for an exception that leaves an event site unhandled.

	Package-internal. Sends `exc` as a structured event with mechanism `{"type": mechanism,
	"handled": False}` on the current scopes, every time it is called (once per site: call it
	once where the exception leaves the site). Afterwards, a log record whose `exc_info` is this
	exception object, emitted in the same flow (the same asyncio task, or the same thread outside
	a task), is not sent as an event (it stays a breadcrumb); and the `sys.excepthook` report of
	the same exception object is not sent either. Never raises.

	Args:
		exc: The exception.
		mechanism: The site, e.g. `aiohttp`, `asyncio`, `asab.main`.

	Returns:
		The event id, or None when nothing was sent (no active client, or an error, logged).
	"""
	try:
		if not sentry_sdk.get_client().is_active():
			return None
		_mark(exc)
		event, hint = _sdk.unhandled_event(exc, mechanism={"type": mechanism, "handled": False})
		return sentry_sdk.capture_event(event, hint=hint)
	except Exception as e:
		L.warning("Cannot report an uncaught exception to Sentry ({!r}).".format(e))
		return None


def reported_in_this_flow(exc: typing.Optional[BaseException]) -> bool:
	"""True when `exc` was sent by `capture_unhandled()` in the current flow (asyncio task or thread)."""
	if exc is None:
		return False
	flows = getattr(exc, _FLOWS, None)
	if not flows:
		return False
	flow = current_flow()
	return any(ref() is flow for ref in flows)


def suppressed() -> bool:
	"""True while the loop's exception handler logs about an exception that was just sent."""
	return getattr(_Suppressed, "active", False)


def dedupe(event: dict, hint: dict) -> typing.Optional[dict]:
	"""
	Drop the `sys.excepthook` event of an exception already sent as unhandled (a `before_send` step).

	An exception that escapes `main()` is sent there, with main's scope; it then leaves
	`app.run()` and reaches `sys.excepthook`, which is the same escape, not a second site.
	"""
	exc_info = hint.get("exc_info") if hint else None
	if not exc_info or exc_info[1] is None or not getattr(exc_info[1], _UNHANDLED, False):
		return event
	for value in (event.get("exception") or {}).get("values") or ():
		if (value.get("mechanism") or {}).get("type") == "excepthook":
			return None
	return event


def install_loop_handler(loop: asyncio.AbstractEventLoop) -> None:
	"""
	Instrument the loop: every task runs in its own isolation scope (a tag set in one task never
	shows on another's events), and the loop's exception handler (ASAB's) sends what asyncio
	reports as uncaught, once, before it logs it.

	Log lines of the handler about an exception it just sent become breadcrumbs, not second
	events; what it logs without an exception ("Unclosed client session", "Task was destroyed but
	it is pending!") goes through the logging bridge as any ERROR record does.
	"""
	_install_task_factory(loop)
	previous = loop.get_exception_handler()
	if getattr(previous, "_asab_sentry", False):
		return

	def handler(loop, context):
		exc = context.get("exception")
		sent = False
		if isinstance(exc, Exception):
			scopes = _take_task_scopes(exc, context.get("future") or context.get("task"))
			try:
				with (_sdk.use_scopes(*scopes) if scopes is not None else contextlib.nullcontext()):
					sent = capture_unhandled(exc, "asyncio") is not None
			except Exception as e:
				L.warning("Cannot report an uncaught exception to Sentry ({!r}).".format(e))
		_Suppressed.active = sent
		try:
			if previous is not None:
				previous(loop, context)
			else:
				loop.default_exception_handler(context)
		finally:
			_Suppressed.active = False

	setattr(handler, "_asab_sentry", True)
	loop.set_exception_handler(handler)


def _install_task_factory(loop: asyncio.AbstractEventLoop) -> None:
	previous = loop.get_task_factory()
	if getattr(previous, "_asab_sentry", False):
		return

	def factory(loop, coro, **kwargs):
		wrapped = _watch(coro, _is_main(coro))
		try:  # task reprs and asyncio's messages name the service's coroutine, not the wrapper
			wrapped.__name__ = coro.__name__
			wrapped.__qualname__ = coro.__qualname__
		except Exception:
			pass
		if previous is not None:
			return previous(loop, wrapped, **kwargs)
		return asyncio.Task(wrapped, loop=loop, **kwargs)

	setattr(factory, "_asab_sentry", True)
	loop.set_task_factory(factory)  # type: ignore[arg-type]


async def _watch(coro, main: bool):
	"""Run a task's coroutine in its own isolation scope; note (or, for main(), send) what escapes it."""
	scope, token = _sdk.fork_isolation_scope()
	_TaskScope.set([scope, False])
	try:
		return await coro
	except Exception as e:
		if main:
			capture_unhandled(e, "asab.main")
		else:
			_remember(e)
		raise
	finally:
		_sdk.restore_isolation_scope(token)


def claim_task_scope() -> bool:
	"""
	True, once per task, when the running task's isolation scope is fresh from the task factory:
	the first web request handled in a task can use it instead of forking another. (aiohttp runs
	each request in a task of its own; where it does not, the next request in the task forks.)
	"""
	entry = _TaskScope.get()
	if entry is None or entry[1] or entry[0] is not sentry_sdk.get_isolation_scope():
		return False
	entry[1] = True
	return True


def _is_main(coro) -> bool:
	"""True for the coroutine of an ASAB application's `main()` (ASAB runs it as a task)."""
	code = getattr(coro, "cr_code", None)
	if code is None or code.co_name != "main":
		return False
	frame = getattr(coro, "cr_frame", None)
	return frame is not None and isinstance(frame.f_locals.get("self"), asab.Application)


def _remember(exc: BaseException) -> None:
	"""Keep the scopes of the task `exc` leaves, to send them if asyncio says nobody retrieved it."""
	try:
		task = asyncio.current_task()
		if task is not None:
			vars(exc).setdefault(_TASKS, {})[id(task)] = (sentry_sdk.get_isolation_scope(), sentry_sdk.get_current_scope())
	except Exception:
		pass


def _take_task_scopes(exc: BaseException, future) -> typing.Optional[tuple]:
	tasks = getattr(exc, _TASKS, None)
	if not tasks or future is None:
		return None
	return tasks.pop(id(future), None)


def current_flow():
	"""The asyncio task running now, else the thread: the unit of work a rule here is kept per."""
	try:
		task = asyncio.current_task()
	except RuntimeError:
		task = None
	return task if task is not None else threading.current_thread()


def _mark(exc: BaseException) -> None:
	try:
		state = vars(exc)
		state[_UNHANDLED] = True
		state.setdefault(_FLOWS, []).append(weakref.ref(current_flow()))
	except Exception:
		pass  # an exception object that takes no attributes: its log lines may become events
