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


def sdk_version() -> str:
	"""sentry-sdk's version, for the `User-Agent` and auth header (public constant, kept here with the auth helpers)."""
	import sentry_sdk.consts
	return sentry_sdk.consts.VERSION


def envelope_endpoint(parsed_dsn) -> typing.Tuple[str, str]:
	"""
	The envelope endpoint's URL and the `X-Sentry-Auth` header for a DSN, as sentry-sdk computes them.

	Internal: `Dsn.to_auth()`, `Auth.get_api_url()`, `Auth.to_header()` and `EndpointType` are not
	public API, but they are how the SDK's own HTTP transport builds its requests; using them keeps
	self-hosted path prefixes and the auth format exactly the SDK's.
	"""
	import sentry_sdk.consts
	auth = parsed_dsn.to_auth("sentry.python/{}".format(sdk_version()))
	return str(auth.get_api_url(sentry_sdk.consts.EndpointType.ENVELOPE)), auth.to_header()


#: `record_lost_event` reasons that are filtering by design, not losses. Internal: the SDK's reason
#: strings are not a documented API (sentry-python `client.py` passes these literals).
FILTERED_LOSS_REASONS = frozenset(("sample_rate", "before_send", "event_processor", "backpressure"))
