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
import sentry_sdk.tracing_utils
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


def cache_default_integrations() -> None:
	"""
	Make `sentry_sdk.init()` look for its default integrations once per process, not on every call.

	For in-process tests, where one process calls `init()` hundreds of times: the SDK imports
	each of its ~60 auto-enabling integration modules on every `init()`, and a module whose
	library is not installed fails and is imported again next time (40 ms per `init()` here).
	The wrapper gives the same classes in the same order (installed packages do not change
	while the process runs). Internal: `setup_integrations` calls the module's
	`iter_default_integrations` by its global name; there is no public option for this.
	"""
	import sentry_sdk.integrations as integrations

	original = integrations.iter_default_integrations
	if getattr(original, "_asab_sentry_cached", False):
		return
	found: typing.Dict[bool, list] = {}

	def iter_default_integrations(with_auto_enabling_integrations: bool):
		key = bool(with_auto_enabling_integrations)
		if key not in found:
			found[key] = list(original(key))
		return iter(found[key])

	iter_default_integrations._asab_sentry_cached = True  # type: ignore[attr-defined]
	integrations.iter_default_integrations = iter_default_integrations


def should_propagate_trace(url: str) -> bool:
	"""
	Whether an outgoing call to `url` may carry `sentry-trace`/`baggage` (the SDK's
	`trace_propagation_targets` option). Internal helper of `sentry_sdk.tracing_utils`, used so
	the option means what the SDK documents.
	"""
	return sentry_sdk.tracing_utils.should_propagate_trace(sentry_sdk.get_client(), url)


def request_transaction(
	headers: typing.Optional[typing.Mapping[str, str]], trace_id: str, name: str, source: str,
	sample_rand: typing.Optional[float], rate: float,
) -> sentry_sdk.tracing.Transaction:
	"""
	A started `http.server` transaction for a request that asab-sentry already decided to sample.

	With an incoming `sentry-trace` (`headers`) the trace is continued the SDK's way
	(`continue_trace`). Otherwise the transaction gets the trace id the request state made, and
	the sampling decision and its random number are the ones asab-sentry drew: the SDK would draw
	its own and make the effective rate rate * rate. `_sample_rand` is internal (there is no
	public setter); it keeps the dynamic sampling context (`sentry-sample_rand` in baggage)
	consistent with the decision, so downstream services sample the same trace.
	"""
	if headers is not None:
		transaction = sentry_sdk.continue_trace(dict(headers), op="http.server", name=name, source=source, origin="auto.http.asab_sentry")
	else:
		transaction = sentry_sdk.tracing.Transaction(op="http.server", name=name, source=source, trace_id=trace_id, origin="auto.http.asab_sentry")
	parent_decided = transaction.parent_sampled is not None
	transaction.sampled = True
	sentry_sdk.start_transaction(transaction)
	if not parent_decided:
		transaction.sample_rate = rate
		if sample_rand is not None:
			transaction._sample_rand = sample_rand  # type: ignore[attr-defined]
	return transaction


def install_fast_serializer() -> None:
	"""
	Let events, transactions and frames' local variables take asab-sentry's quick serialisation
	pass (`serializer.py`).

	The SDK calls `serialize()` by its module-global name in `sentry_sdk.client` while preparing
	every event, and as `sentry_sdk.serializer.serialize` (imported at each call) for each frame's
	variables in `serialize_frame`; there is no option to choose a serializer. The wrapper gives
	everything that is not plain data to the SDK's own function unchanged. Installed once per
	process.
	"""
	import sentry_sdk.client
	import sentry_sdk.serializer
	from . import serializer
	for module in (sentry_sdk.client, sentry_sdk.serializer):
		current = getattr(module, "serialize", None)
		if current is None or getattr(current, "_asab_sentry", False):
			continue
		module.serialize = serializer.make_serializer(current)  # type: ignore[attr-defined]


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


def unhandled_event(exc: BaseException, mechanism: dict) -> typing.Tuple[typing.Any, typing.Dict[str, typing.Any]]:
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


def sdk_version() -> str:
	"""sentry-sdk's version, for the `User-Agent` and auth header (public constant, kept here with the auth helpers)."""
	import sentry_sdk.consts
	return sentry_sdk.consts.VERSION


def transport_endpoint(transport) -> typing.Optional[typing.Tuple[str, str]]:
	"""
	The envelope endpoint and auth header of a `sentry_sdk.transport.Transport` subclass's DSN, or
	None without a DSN.

	Internal: `Transport.parsed_dsn` is what the SDK's transport base class parses from the client's
	options; reading it keeps the DSN's interpretation the SDK's.
	"""
	parsed = getattr(transport, "parsed_dsn", None)
	return None if parsed is None else envelope_endpoint(parsed)


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


def set_exit_wait(seconds: float) -> None:
	"""
	Bound how long the SDK's exit hook waits for delivery (it flushes again at interpreter exit).

	Internal: the hook reads `client.options["shutdown_timeout"]` when it runs; there is no public
	setter once the client is started, and what is left of asab-sentry's one stop budget is only
	known after the service's own flush.
	"""
	client = sentry_sdk.get_client()
	if client.is_active():
		client.options["shutdown_timeout"] = seconds


def log_record(hint: typing.Optional[dict]) -> typing.Any:
	"""
	The `logging.LogRecord` an event or breadcrumb was made from, or None.

	Internal: the SDK's logging integration passes it in the hint under the undocumented key
	`log_record`.
	"""
	return hint.get("log_record") if hint else None


def fork_isolation_scope() -> typing.Tuple[typing.Any, typing.Any]:
	"""
	Give the running flow a fork of its isolation scope, as `sentry_sdk.isolation_scope()` does,
	without the generator-based context manager (per asyncio task and per web request, where its
	overhead counts). Returns (the new scope, a token for `restore_isolation_scope`).

	Internal: the isolation scope lives in the context variable `sentry_sdk.scope._isolation_scope`
	(what `isolation_scope()` sets and resets); the current scope is forked with it, as there.
	"""
	isolation = sentry_sdk.get_isolation_scope().fork()
	current = sentry_sdk.get_current_scope().fork()
	return isolation, (sentry_sdk.scope._isolation_scope.set(isolation), sentry_sdk.scope._current_scope.set(current))  # type: ignore[attr-defined]


def restore_isolation_scope(token: typing.Any) -> None:
	"""Undo `fork_isolation_scope()` (its token)."""
	isolation_token, current_token = token
	try:
		sentry_sdk.scope._current_scope.reset(current_token)  # type: ignore[attr-defined]
		sentry_sdk.scope._isolation_scope.reset(isolation_token)  # type: ignore[attr-defined]
	except ValueError:
		pass  # reset in another context (a generator finalised elsewhere): nothing to undo here
