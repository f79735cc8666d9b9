"""The quick transaction serializer gives exactly what the SDK's serializer gives, or hands over to it."""

import datetime
import random

import pytest
import sentry_sdk.serializer

from asab_sentry import serializer


def _sdk(event, limit=8192):
	return sentry_sdk.serializer.serialize(event, max_value_length=limit)


def _quick(event, limit=8192):
	calls = []

	def original(e, **kwargs):
		calls.append(e)
		return sentry_sdk.serializer.serialize(e, **kwargs)

	result = serializer.make_serializer(original)(event, max_value_length=limit)
	return result, bool(calls)


def _transaction(**extra):
	event = {
		"type": "transaction", "transaction": "GET /items/{id}", "transaction_info": {"source": "route"},
		"contexts": {"trace": {"trace_id": "a" * 32, "span_id": "b" * 16, "op": "http.server", "status": "ok", "data": {"thread.id": "1"}}},
		"tags": {"appclass": "App", "http.status_code": "200"},
		"timestamp": datetime.datetime(2026, 12, 2, 1, 2, 3, 456789, tzinfo=datetime.timezone.utc),
		"start_timestamp": datetime.datetime(2026, 12, 2, 1, 2, 3, tzinfo=datetime.timezone.utc),
		"spans": [{"op": "http.client", "description": "GET http://x/" + "d" * 10000, "data": {"url": "http://x/", "http.method": "GET"}, "start_timestamp": datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)}],
		"extra": {"sys.argv": ["app.py", "-c", "x.conf"]},
		"request": {"method": "GET", "url": "http://h/items/1", "query_string": "a=1", "headers": {"H%d" % i: "v" for i in range(30)}},
		"event_id": "c" * 32, "platform": "python", "release": "App@1.0", "measurements": {}, "sdk": {"name": "s", "packages": [{"name": "p"}]},
	}
	event.update(extra)
	return event


class TestQuickPass(object):
	"""Plain-data transactions take the quick pass and come out as the SDK would make them."""

	def test_plain_transaction_equals_the_sdk_result_without_calling_it(self):
		event = _transaction()
		result, fell_back = _quick(event)
		assert not fell_back
		assert result == _sdk(_transaction())

	def test_random_plain_transactions_equal_the_sdk_result(self):
		rng = random.Random(7)
		for _ in range(300):
			event = _transaction(extra={"k%d" % i: rng.choice([1, "s", None, True, 1.5, [1, 2]]) for i in range(rng.randint(0, 10))})
			event["tags"] = {"t%d" % i: str(rng.random()) for i in range(rng.randint(0, 20))}
			event["contexts"]["custom"] = {"n": {"m": [rng.random() for _ in range(rng.randint(0, 15))]}}
			result, fell_back = _quick(event)
			assert not fell_back
			assert result == _sdk(event)


class TestTrimmedExtra(object):
	"""An `extra` wider than 10 items is trimmed by the quick pass exactly as by the SDK (with its `_meta`)."""

	def test_wide_extra_equals_the_sdk_result_without_calling_it(self):
		result, fell_back = _quick(_transaction(extra={"k%d" % i: [j for j in range(i)] for i in range(14)}))
		assert not fell_back
		assert result == _sdk(_transaction(extra={"k%d" % i: [j for j in range(i)] for i in range(14)}))
		assert "_meta" in result


class TestFallback(object):
	"""Whatever the quick pass cannot promise goes to the SDK's serializer."""

	@pytest.mark.parametrize("change", [
		{"tags": {"long": "x" * 9000}},
		{"extra": {"a": {"b": {"c": {"d": {"e": {"f": 1}}}}}}},
		{"contexts": {"odd": {"value": object()}}},
		{"contexts": {"odd": {"value": float("nan")}}},
		{"contexts": {"odd": {1: "int key"}}},
		{"request": {"method": "POST", "data": {"password": "x"}}},
		{"breadcrumbs": {"values": [{"message": "m"}]}},
		{"contexts": {"odd": {"bytes": b"raw"}}},
	])
	def test_falls_back_and_equals_the_sdk_result(self, change):
		event = _transaction(**change)
		result, fell_back = _quick(event)
		assert fell_back
		assert result == _sdk(_transaction(**change))

	def test_errors_always_use_the_sdk_serializer(self):
		event = {"message": "m", "level": "error"}
		result, fell_back = _quick(event)
		assert fell_back and result == _sdk(event)

	def test_a_cycle_falls_back(self):
		cyclic = {}
		cyclic["self"] = cyclic
		event = _transaction(contexts={"cyc": cyclic})
		result, fell_back = _quick(event)
		assert fell_back


class TestRealTransaction(object):
	"""A transaction of a real asab.web request takes the quick pass."""

	def test_web_transaction_is_not_handed_to_the_sdk(self, sentry_app, monkeypatch):
		import asab.web
		import aiohttp.web
		from webharness import serve
		fallbacks = []
		original = serializer.quick

		def counting(event, limit):
			try:
				return original(event, limit)
			except serializer._Fallback:
				fallbacks.append(event)
				raise

		monkeypatch.setattr(serializer, "quick", counting)
		s = sentry_app({"sentry": {"traces_sample_rate": "1"}}, modules=[asab.web.Module])

		def routes(router, app):
			async def ok(request):
				return aiohttp.web.json_response({})
			router.add_get("/hello", ok)

		async def client(session, base, app):
			async with session.get(base + "/hello", headers={"X-Custom": "1"}) as r:
				await r.read()

		serve(s, routes, client)
		assert [t["transaction"] for t in s.transactions()] == ["GET /hello"]
		assert fallbacks == []
