"""
The one door to sentry-sdk's internals.

Everything asab-sentry needs from sentry-sdk that is not its public API goes through this module,
with a comment per use saying why, so that a minor SDK release that moves one of them breaks
one file. The rest of the package uses only `sentry_sdk`'s public functions and classes.
"""

import logging

import sentry_sdk
import sentry_sdk.scope

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
