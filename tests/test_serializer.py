"""The quick transaction serializer gives exactly what the SDK's serializer gives, or hands over to it."""

import array
import collections
import collections.abc
import copy
import datetime
import enum
import random

import pytest
import sentry_sdk.client
import sentry_sdk.serializer

from asab_sentry import serializer

#: The SDK's own serializer (the service wraps the module's function once it has started).
SDK_SERIALIZE = getattr(sentry_sdk.serializer.serialize, "__wrapped__", sentry_sdk.serializer.serialize)


def _sdk(event, limit=8192):
	return SDK_SERIALIZE(event, max_value_length=limit)


def _quick(event, limit=8192):
	calls = []

	def original(e, **kwargs):
		calls.append(e)
		return SDK_SERIALIZE(e, **kwargs)

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
		{"breadcrumbs": {"values": [{"message": "m", "data": {"a": {"b": {"c": {"d": {"e": 1}}}}}}]}},
		{"breadcrumbs": {"values": ({"message": "m"},)}},
		{"_meta": {"extra": {"": {"len": 20}}}},
		{"contexts": {"odd": {"bytes": b"raw"}}},
	])
	def test_falls_back_and_equals_the_sdk_result(self, change):
		event = _transaction(**change)
		result, fell_back = _quick(event)
		assert fell_back
		assert result == _sdk(_transaction(**change))

	def test_frames_variables_with_a_custom_repr_or_a_length_limit_go_to_the_sdk(self):
		calls = []
		wrapped = serializer.make_serializer(lambda e, **kw: calls.append(kw) or SDK_SERIALIZE(e, **kw))
		local = {"name": "value", "n": 1}
		assert wrapped(local, is_vars=True, custom_repr=lambda v: None) == SDK_SERIALIZE(local, is_vars=True)
		assert wrapped(local, is_vars=True, max_value_length=3) == SDK_SERIALIZE(local, is_vars=True, max_value_length=3)
		assert len(calls) == 2

	def test_a_cycle_falls_back(self):
		cyclic = {}
		cyclic["self"] = cyclic
		event = _transaction(contexts={"cyc": cyclic})
		result, fell_back = _quick(event)
		assert fell_back


def _crumb(i, **extra):
	crumb = {"type": "log", "category": "app", "level": "info", "message": "crumb %d" % i, "timestamp": datetime.datetime(2026, 12, 2, 1, 2, i % 60, tzinfo=datetime.timezone.utc), "data": {}}
	crumb.update(extra)
	return crumb


class TestErrorEvents(object):
	"""Error and message events take the quick pass too, breadcrumbs trimmed as the SDK trims them."""

	def test_message_event_equals_the_sdk_result_without_calling_it(self):
		event = {"message": "m", "level": "error", "tags": {"a": "b"}, "breadcrumbs": {"values": [_crumb(i) for i in range(3)]}, "extra": {"sys.argv": ["x"]}}
		result, fell_back = _quick(event)
		assert not fell_back and result == _sdk(event)

	def test_wide_breadcrumb_data_is_trimmed_with_its_meta(self):
		def make():
			return {"message": "m", "breadcrumbs": {"values": [_crumb(0), _crumb(1, data={"k%d" % j: j for j in range(12)}), _crumb(2, data={"list": list(range(15))})]}}
		result, fell_back = _quick(make())
		assert not fell_back
		assert result == _sdk(make())
		assert result["_meta"] == {"breadcrumbs": {"values": {"1": {"data": {"": {"len": 12}}}, "2": {"data": {"list": {"": {"len": 15}}}}}}}

	def test_breadcrumb_with_more_than_ten_fields_is_trimmed(self):
		def make():
			return {"breadcrumbs": {"values": [_crumb(0, **{"f%d" % j: j for j in range(8)})]}}
		result, fell_back = _quick(make())
		assert not fell_back and result == _sdk(make()) and len(result["breadcrumbs"]["values"][0]) == 10

	def test_extra_and_breadcrumbs_trimmed_together_share_one_meta(self):
		def make():
			return {"extra": {"k%d" % i: i for i in range(11)}, "breadcrumbs": {"values": [_crumb(0, data={"k%d" % j: j for j in range(11)})]}}
		result, fell_back = _quick(make())
		assert not fell_back and result == _sdk(make())
		assert set(result["_meta"]) == {"extra", "breadcrumbs"}

	def test_breadcrumbs_as_a_plain_list_are_copied(self):
		event = {"breadcrumbs": [{"message": "m"}]}
		result, fell_back = _quick(event)
		assert not fell_back and result == _sdk(event)

	def test_random_events_equal_the_sdk_result(self):
		rng = random.Random(11)
		leaves = [1, "s", None, True, 1.5, [1, 2], {"a": 1}, datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)]
		for _ in range(300):
			def make(seed):
				r = random.Random(seed)
				return {
					"level": "error", "message": "m",
					"extra": {"k%d" % i: r.choice(leaves) for i in range(r.randint(0, 13))},
					"breadcrumbs": {"values": [_crumb(j, data={"d%d" % i: r.choice(leaves) for i in range(r.randint(0, 13))}) for j in range(r.randint(0, 5))]},
					"contexts": {"c": {"n": [r.random() for _ in range(r.randint(0, 15))]}},
				}
			seed = rng.random()
			result, fell_back = _quick(make(seed))
			assert not fell_back
			assert result == _sdk(make(seed))

	def test_captured_exception_equals_the_sdk_result(self, sentry_app, monkeypatch):
		"""A real exception with 20 frames of local variables: the quick pass, and what the SDK would make."""
		declined, compared = [], []
		original = SDK_SERIALIZE
		fast = serializer.make_serializer(lambda event, **kwargs: declined.append(event) or original(event, **kwargs))

		def checking(event, **kwargs):
			expected = original(copy.deepcopy(event), **kwargs)
			got = fast(event, **kwargs)
			compared.append(got == expected)
			return got

		checking._asab_sentry = True  # the service leaves it in place of its own
		monkeypatch.setattr(sentry_sdk.client, "serialize", checking)
		s = sentry_app()

		def deep(n):
			text, numbers = "x" * 50, list(range(12))  # noqa: F841 (locals the event shows)
			if n == 0:
				raise ValueError("deep")
			return deep(n - 1)

		s.Service.add_breadcrumb(category="app", message="before", data={"k%d" % i: i for i in range(11)})
		try:
			deep(20)
		except ValueError as e:
			s.Service.capture_exception(e)
		event = s.events()[0]
		assert compared == [True] and declined == []
		frames = event["exception"]["values"][0]["stacktrace"]["frames"]
		assert len(frames) > 20 and frames[-1]["vars"]["numbers"][:2] == ["0", "1"]
		assert event["_meta"]["breadcrumbs"]["values"]["0"]["data"] == {"": {"len": 11}}


class _Repr(object):
	def __init__(self, text):
		self.Text = text

	def __repr__(self):
		return self.Text


class _Broken(object):
	def __repr__(self):
		raise RuntimeError("no repr")


class _SentryRepr(dict):
	def __sentry_repr__(self):
		return "sentry repr"


class _Level(enum.IntEnum):
	HIGH = 3


class _Text(str):
	pass


class _Bag(collections.abc.Mapping):
	def __init__(self, data):
		self.Data = data

	def __getitem__(self, key):
		return self.Data[key]

	def __iter__(self):
		return iter(self.Data)

	def __len__(self):
		return len(self.Data)


def _vars_sample():
	cyclic = [1]
	cyclic.append(cyclic)
	nested = {"a": {"b": {"c": {"d": {"e": {"f": 1}}}}}}
	return {
		"text": "x" * 50, "number": 7, "ratio": 0.5, "nothing": None, "flag": True, "inf": float("inf"),
		"wide": list(range(15)), "wide_map": {"k%d" % i: i for i in range(12)}, "nested": nested,
		"a_set": {3}, "frozen": frozenset(["f"]), "a_tuple": (1, "two"), "raw": b"bytes", "buf": bytearray(b"ab"),
		"when": datetime.datetime(2026, 1, 2, 3, 4, 5), "day": datetime.date(2026, 1, 2), "level": _Level.HIGH,
		"sub_text": _Text("sub"), "obj": _Repr("<obj>"), "broken": _Broken(), "sentry": _SentryRepr(a=1),
		"bag": _Bag({"x": [1, {"y": "z"}]}), "numbers": array.array("i", [1, 2]), "queue": collections.deque([1, 2]),
		"cyclic": cyclic, 1: "int key",
	}


class TestFrameVariables(object):
	"""A frame's local variables (`is_vars=True`) take the quick pass and come out as the SDK makes them."""

	@pytest.mark.parametrize("name", sorted(str(k) for k in _vars_sample()))
	def test_each_kind_of_value(self, name):
		sample = {str(k): v for k, v in _vars_sample().items()}
		local = {name: sample[name]}
		result, fell_back = _quick_vars(local)
		assert not fell_back
		assert result == SDK_SERIALIZE({name: _vars_sample_by_name(name)}, is_vars=True, custom_repr=None)

	def test_only_the_first_ten_variables_are_kept_as_in_the_sdk(self):
		local = {"v%d" % i: i for i in range(14)}
		result, fell_back = _quick_vars(local)
		assert not fell_back and result == SDK_SERIALIZE(dict(local), is_vars=True, custom_repr=None) and len(result) == 10

	def test_random_variables_equal_the_sdk_result(self):
		rng = random.Random(5)
		for _ in range(300):
			def make(seed):
				r = random.Random(seed)
				pool = list(_vars_sample().values())
				return {"v%d" % i: r.choice(pool) for i in range(r.randint(0, 12))}
			seed = rng.random()
			result, fell_back = _quick_vars(make(seed))
			assert not fell_back
			assert result == SDK_SERIALIZE(make(seed), is_vars=True, custom_repr=None)

	def test_repr_processors_make_it_decline(self, monkeypatch):
		monkeypatch.setattr(sentry_sdk.serializer, "global_repr_processors", [lambda value, hints: NotImplemented])
		result, fell_back = _quick_vars({"a": 1})
		assert fell_back and result == {"a": "1"}

	def test_a_mapping_that_fails_is_left_to_the_sdk(self):
		class Failing(_Bag):
			def __iter__(self):
				raise RuntimeError("no items")
		result, fell_back = _quick_vars({"bad": Failing({})})
		assert fell_back and result == SDK_SERIALIZE({"bad": Failing({})}, is_vars=True, custom_repr=None)

	def test_a_repr_cannot_capture_an_event(self, sentry_app):
		s = sentry_app()

		class Noisy(object):
			def __repr__(self):
				sentry_sdk.capture_message("from a repr")
				return "noisy"

		def fail(value):
			raise ValueError("with a noisy local")

		try:
			fail(Noisy())
		except ValueError as e:
			s.Service.capture_exception(e)
		events = s.events()
		assert [e.get("message") for e in events] == [None]
		assert events[0]["exception"]["values"][0]["stacktrace"]["frames"][-1]["vars"]["value"] == "noisy"


def _vars_sample_by_name(name):
	return {str(k): v for k, v in _vars_sample().items()}[name]


def _quick_vars(local):
	calls = []
	result = serializer.make_serializer(lambda e, **kw: calls.append(e) or SDK_SERIALIZE(e, **kw))(local, is_vars=True, custom_repr=None)
	return result, bool(calls)


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
