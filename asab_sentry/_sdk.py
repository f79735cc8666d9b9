"""
The one door to sentry-sdk's internals.

Everything asab-sentry needs from sentry-sdk that is not its public API goes through this module,
with a comment per use saying why, so that a minor SDK release that moves one of them breaks
one file. The rest of the package uses only `sentry_sdk`'s public functions and classes.
"""

import logging
import typing

import sentry_sdk
import sentry_sdk.scope
import sentry_sdk.tracing
import sentry_sdk.utils

L = logging.getLogger(__name__)


def reset_scopes() -> None:
	"""
	Forget every scope's data and the client: what a fresh process would have.

	For in-process tests (`asab_sentry.testing`), where one process builds many services. The SDK
	has no public reset: its own test suite sets the scope context variables back to None the
	same way (sentry-python `tests/conftest.py`).
	"""
	sentry_sdk.get_global_scope().clear()
	sentry_sdk.get_global_scope().set_client(None)
	# Internal: the isolation and current scopes live in these context variables; None makes the
	# SDK create fresh ones on the next access.
	sentry_sdk.scope._isolation_scope.set(None)  # type: ignore[attr-defined]
	sentry_sdk.scope._current_scope.set(None)  # type: ignore[attr-defined]


def event_from_exception(exc: BaseException, mechanism: dict) -> typing.Tuple[typing.Any, typing.Dict[str, typing.Any]]:
	"""
	A structured event (and its hint) for `exc` with the given mechanism.

	Internal (not in `sentry_sdk.__all__`): `sentry_sdk.capture_exception()` always marks the
	exception `handled: true`; an uncaught exception must be sent with `handled: false` and the
	site's mechanism type, which only this helper (the one the SDK's own integrations use) builds.
	"""
	return sentry_sdk.utils.event_from_exception(
		exc, client_options=sentry_sdk.get_client().options, mechanism=mechanism,
	)


def use_scopes(isolation_scope, current_scope):
	"""
	Make the two scopes of another flow (a finished task) current for a block.

	`sentry_sdk.scope.use_isolation_scope`/`use_scope` are public in `sentry_sdk.scope` but not
	re-exported at the top level; they are the SDK's own way to re-enter a kept scope.
	"""
	import contextlib
	stack = contextlib.ExitStack()
	stack.enter_context(sentry_sdk.scope.use_isolation_scope(isolation_scope))
	stack.enter_context(sentry_sdk.scope.use_scope(current_scope))
	return stack


def noop_span() -> typing.Any:
	"""
	A span that records nothing, for a disabled service.

	`NoOpSpan` is not in `sentry_sdk.__all__`; it is what the SDK itself returns without a client,
	and it has every method of `Span`, so code written for a span works unchanged.
	"""
	return sentry_sdk.tracing.NoOpSpan()
