"""
Property test (issue 10): random API calls through the real pipeline (service -> sentry-sdk ->
asab-sentry's processors -> the envelope's wire form) and Sentry's own ingest normaliser,
`sentry_relay.StoreNormalizer`, reports no processing error on anything that arrives.

At least 10,000 calls per run: random tags, users, contexts, breadcrumbs, levels, environments,
releases, messages, exceptions, log records and transactions/spans.
"""

import json
import logging
import time

import pytest

hypothesis = pytest.importorskip("hypothesis", reason="hypothesis is in the test extras: pip install -e '.[test]'")
sentry_relay = pytest.importorskip("sentry_relay", reason="sentry-relay (Sentry's ingest normaliser) has no wheel for this platform/Python")

from hypothesis import HealthCheck, given, settings, strategies as st  # noqa: E402

import asab_sentry.testing  # noqa: E402

EXAMPLES = 400
MIN_CALLS = 10000
L = logging.getLogger("relay_property")

TEXT = st.one_of(
	st.text(max_size=16),
	st.text(alphabet="abcXYZ09_.:-/@ \n\t\r", max_size=12),
	st.builds(lambda c, n: c * n, st.characters(), st.integers(30, 260)),  # long values, cheap to draw
	st.sampled_from(["", " ", "none", "latest", ".", "..", "prod/eu", "feature/x-1.2", "App@1.0", "é", "os", "trace", "notice", "{{auto}}"]),
)
SCALAR = st.one_of(TEXT, st.integers(), st.floats(allow_nan=True), st.booleans(), st.none())
JSONISH = st.recursive(SCALAR, lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(TEXT, inner, max_size=3)), max_leaves=4)
LEVEL = st.one_of(st.sampled_from(["debug", "info", "notice", "warning", "warn", "error", "critical", "fatal", "log", "LOUD"]), TEXT, st.none())
USER_FIELD = st.sampled_from(["id", "email", "username", "name", "ip_address", "segment", "geo", "data"])
USER = st.one_of(st.none(), st.dictionaries(st.one_of(USER_FIELD, TEXT), st.one_of(JSONISH, st.sampled_from(["127.0.0.1", "::1", "{{auto}}"])), max_size=5))

CALL = st.one_of(
	st.tuples(st.just("set_tag"), st.one_of(TEXT, st.integers()), SCALAR),
	st.tuples(st.just("set_tags"), st.dictionaries(TEXT, SCALAR, max_size=4)),
	st.tuples(st.just("set_user"), USER),
	st.tuples(st.just("set_context"), TEXT, st.dictionaries(TEXT, JSONISH, max_size=4)),
	st.tuples(st.just("add_breadcrumb"), TEXT, TEXT, LEVEL, st.dictionaries(TEXT, JSONISH, max_size=3)),
	st.tuples(st.just("capture_message"), TEXT, LEVEL),
	st.tuples(st.just("capture_exception"), st.sampled_from([ValueError, KeyError, RuntimeError, ZeroDivisionError]), TEXT),
	st.tuples(st.just("log"), st.sampled_from([logging.INFO, 25, logging.WARNING, logging.ERROR, logging.CRITICAL]), TEXT),
	st.tuples(st.just("transaction"), TEXT, TEXT, TEXT, SCALAR),
)
CONFIG = st.tuples(TEXT, TEXT)  # environment, release

_Normalizer = None
_Stats = {"calls": 0, "items": 0, "examples": 0}


def _errors(item: dict) -> list:
	"""Relay's processing errors for one event or transaction (its `errors` and every `err` in `_meta`)."""
	global _Normalizer
	if _Normalizer is None:
		_Normalizer = sentry_relay.StoreNormalizer(project_id=1)
	normalized = _Normalizer.normalize_event(item)
	found = list(normalized.get("errors") or [])

	def walk(meta, path):
		if isinstance(meta, dict):
			for key, value in meta.items():
				if key == "" and isinstance(value, dict) and value.get("err"):
					found.append({"path": path, "err": value["err"], "val": value.get("val")})
				else:
					walk(value, path + "." + str(key))

	walk(normalized.get("_meta") or {}, "")
	return found


def _call(svc, call) -> None:
	name = call[0]
	if name == "set_tag":
		svc.set_tag(call[1], call[2])
	elif name == "set_tags":
		svc.set_tags(call[1])
	elif name == "set_user":
		svc.set_user(call[1])
	elif name == "set_context":
		svc.set_context(call[1], call[2])
	elif name == "add_breadcrumb":
		svc.add_breadcrumb(message=call[1], category=call[2], level=call[3], data=call[4])
	elif name == "capture_message":
		svc.capture_message(call[1], level=call[2])
	elif name == "capture_exception":
		try:
			raise call[1](call[2])
		except Exception as e:
			svc.capture_exception(e)
	elif name == "log":
		L.log(call[1], call[2])
	elif name == "transaction":
		with svc.transaction(call[1], call[2]) as t:
			t.set_data("value", call[4])
			with svc.span(call[1], call[3]):
				pass


@settings(max_examples=EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck))
@given(config=CONFIG, calls=st.lists(CALL, min_size=20, max_size=40))
def _one_example(config, calls):
	environment, release = config
	sections = {"sentry": {"traces_sample_rate": "1", "environment": environment.replace("$", "$$"), "release": release.replace("$", "$$")}}
	try:
		harness = asab_sentry.testing.sentry_app(sections)
		s = harness.__enter__()
	except SystemExit:
		# A refused environment/release stops the app with one line (that is its boundary check);
		# the calls then go through an app with the default environment and release.
		harness = asab_sentry.testing.sentry_app({"sentry": {"traces_sample_rate": "1"}})
		s = harness.__enter__()
	try:
		for call in calls:
			_call(s.Service, call)
		_call(s.Service, ("capture_message", "end of example", None))
		_Stats["calls"] += len(calls) + 1
		_Stats["examples"] += 1
		for item in s.items("event") + s.items("transaction"):
			_Stats["items"] += 1
			errors = _errors(item)
			assert errors == [], json.dumps(errors, default=repr)[:2000]
	finally:
		harness.__exit__(None, None, None)


def test_relay_reports_no_processing_error_on_random_api_calls():
	logging.getLogger("asab_sentry").setLevel(logging.ERROR)  # the refusals' WARNINGs: thousands of lines
	started = time.monotonic()
	try:
		_one_example()
	finally:
		logging.getLogger("asab_sentry").setLevel(logging.NOTSET)
	elapsed = time.monotonic() - started
	print("relay property test: {calls} API calls, {items} events/transactions in {examples} examples, {s:.1f} s".format(s=elapsed, **_Stats))
	assert _Stats["calls"] >= MIN_CALLS
