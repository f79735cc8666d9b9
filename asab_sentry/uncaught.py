"""
Uncaught exceptions: exactly one structured event each, wherever they escape (an asyncio task,
an asab.web handler, `main()`).

sentry-sdk can see the same exception several times: the asyncio integration when it leaves a
task, ASAB's loop exception handler (which logs it at ERROR as text), and `sys.excepthook` when it
escapes `app.run()`. The SDK's own dedupe remembers the last exception per context, which misses
the task-then-excepthook case. Here an exception object is marked once it was sent, and the loop
exception handler logs without making a second, unstructured event.
"""

import asyncio
import logging
import typing

import sentry_sdk
import sentry_sdk.utils

from . import logging_bridge

L = logging.getLogger(__name__)

_MARK = "__asab_sentry_reported__"


def dedupe(event: dict, hint: dict) -> typing.Optional[dict]:
	"""
	Drop an event for an exception object that was already sent (a `before_send` step).

	Returns:
		The event, or None when its exception was reported before.
	"""
	exc_info = hint.get("exc_info") if hint else None
	if not exc_info or exc_info[1] is None:
		return event
	exc = exc_info[1]
	if getattr(exc, _MARK, False):
		return None
	try:
		setattr(exc, _MARK, True)
	except Exception:
		pass  # an exception type with __slots__: leave it to the SDK's own dedupe
	return event


def install_loop_handler(loop: asyncio.AbstractEventLoop) -> None:
	"""
	Wrap the loop's exception handler (ASAB's, by default) so that an exception it reports is sent
	once, structured, and its log line becomes a breadcrumb instead of a second event.
	"""
	previous = loop.get_exception_handler()
	if getattr(previous, "_asab_sentry", False):
		return

	def handler(loop, context):
		exc = context.get("exception")
		if isinstance(exc, Exception) and not getattr(exc, _MARK, False):
			try:
				event, hint = sentry_sdk.utils.event_from_exception(
					exc,
					client_options=sentry_sdk.get_client().options,
					mechanism={"type": "asyncio", "handled": False},
				)
				sentry_sdk.capture_event(event, hint=hint)
			except Exception as e:
				L.warning("Cannot report an uncaught exception to Sentry ({}).".format(e))
		with logging_bridge.no_events():
			if previous is not None:
				previous(loop, context)
			else:
				loop.default_exception_handler(context)

	setattr(handler, "_asab_sentry", True)
	loop.set_exception_handler(handler)
