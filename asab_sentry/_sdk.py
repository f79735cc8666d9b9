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


def flush_profile_chunk(wait: float = 0.5) -> None:
	"""
	Get the continuous profiler's samples to the transport now.

	In the trace lifecycle the SDK's sampler thread stops, and sends its chunk, shortly after the
	last profiled transaction ends; while transactions keep running it sends a chunk per 60 s of
	samples only, and never at close. So: with no profiled transaction running, wait (up to
	`wait` seconds) for the thread to stop, which makes its chunk part of this flush; with one
	running, send the partial chunk and start a new one.

	Internal: the scheduler is the module-level `_scheduler` of
	`sentry_sdk.profiler.continuous_profiler`; we read its `thread`, `active_profiles`,
	`new_profiles` and `buffer` (a `ProfileBuffer`: `chunk`, `profiler_id`, `options`,
	`sdk_info`, `capture_func`) and start a fresh `ProfileChunk` as `ProfileBuffer.write()` does.
	"""
	import threading

	import sentry_sdk.envelope
	from sentry_sdk.profiler import continuous_profiler

	scheduler = getattr(continuous_profiler, "_scheduler", None)
	if scheduler is None:
		return
	profiles = list(getattr(scheduler, "active_profiles", ())) + list(getattr(scheduler, "new_profiles", ()))
	if not any(getattr(profile, "active", False) for profile in profiles):
		thread = getattr(scheduler, "thread", None)
		if thread is not None and thread is not threading.current_thread():
			thread.join(wait)
		return
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
