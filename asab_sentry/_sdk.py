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


def flush_profile_chunk() -> None:
	"""
	Hand the continuous profiler's current (partial) chunk to the transport and start a new one.

	The SDK sends a chunk only when 60 s of samples are buffered and never at close, so a service
	that stops (or is tested) sooner would lose them. Internal: the scheduler is the module-level
	`_scheduler` of `sentry_sdk.profiler.continuous_profiler`, its `buffer` a `ProfileBuffer`
	whose public `flush()` sends `chunk`; we start a fresh chunk as `ProfileBuffer.write()` does.
	"""
	import sentry_sdk.envelope
	from sentry_sdk.profiler import continuous_profiler

	scheduler = getattr(continuous_profiler, "_scheduler", None)
	buffer = getattr(scheduler, "buffer", None)
	if buffer is None or not buffer.chunk.samples:
		return
	# Swap first: the sampler thread writes to the new chunk from here on.
	chunk, buffer.chunk = buffer.chunk, continuous_profiler.ProfileChunk()
	envelope = sentry_sdk.envelope.Envelope()
	envelope.add_profile_chunk(chunk.to_json(buffer.profiler_id, buffer.options, buffer.sdk_info))
	buffer.capture_func(envelope)


def reset_local_scopes() -> None:
	"""
	Forget the isolation and current scopes (tags, user, contexts, breadcrumbs set by code), keeping
	the global scope (the client and the service's identity tags).

	For the pytest plugin, between tests. Internal: as in `reset_scopes()`.
	"""
	sentry_sdk.scope._isolation_scope.set(None)  # type: ignore[attr-defined]
	sentry_sdk.scope._current_scope.set(None)  # type: ignore[attr-defined]
