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


def capture_unhandled(error: BaseException, mechanism: str) -> typing.Optional[str]:
	"""
	Send `error` as an unhandled exception caught by `mechanism` (e.g. `aiohttp`).

	The public `capture_exception()` always marks an event `handled`; Sentry's issue grouping and
	"unhandled" badge need `handled: False`. `event_from_exception` is public in `sentry_sdk.utils`
	but not documented; the SDK's own integrations build such events with it.
	"""
	event, hint = sentry_sdk.utils.event_from_exception(
		error,
		client_options=sentry_sdk.get_client().options,
		mechanism={"type": mechanism, "handled": False},
	)
	return sentry_sdk.capture_event(event, hint=hint)


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


def install_fast_transaction_serializer() -> None:
	"""
	Let transactions take asab-sentry's quick serialisation pass (`serializer.py`).

	The SDK calls `serialize()` by its module-global name in `sentry_sdk.client` while preparing
	every event; there is no option to choose a serializer. The wrapper gives every event that is
	not a plain-data transaction to the SDK's own function unchanged. Installed once per process.
	"""
	import sentry_sdk.client
	from . import serializer
	current = getattr(sentry_sdk.client, "serialize", None)
	if current is None or getattr(current, "_asab_sentry", False):
		return
	sentry_sdk.client.serialize = serializer.make_serializer(current)  # type: ignore[attr-defined]
