"""
The quick transaction serializer, rule by rule: it declines exactly what the SDK's serializer would
trim or treat specially, and whatever it returns is what the SDK would have returned.
"""

import datetime

import multidict
import pytest
import sentry_sdk.serializer

from asab_sentry import serializer

LIMIT = 100

#: The SDK's own serializer (the service wraps the module's function once it has started).
SDK_SERIALIZE = getattr(sentry_sdk.serializer.serialize, "__wrapped__", sentry_sdk.serializer.serialize)


def _sdk(event, **kwargs):
	kwargs.setdefault("max_value_length", LIMIT)
	return SDK_SERIALIZE(event, **kwargs)


def _quick(event, **kwargs):
	"""(the wrapper's result, whether it handed the event to the SDK's serializer)."""
	kwargs.setdefault("max_value_length", LIMIT)
	calls = []

	def original(e, **kw):
		calls.append(kw)
		return SDK_SERIALIZE(e, **kw)

	result = serializer.make_serializer(original)(event, **kwargs)
	return result, bool(calls)


def _transaction(**fields):
	event = {"type": "transaction", "transaction": "GET /t", "contexts": {"trace": {"trace_id": "a" * 32, "span_id": "b" * 16}}}
	event.update(fields)
	return event


def _dicts(levels, leaf=1):
	value = leaf
	for _ in range(levels):
		value = {"k": value}
	return value


def _lists(levels, leaf=1):
	value = leaf
	for _ in range(levels):
		value = [value]
	return value


class TestStringLength(object):
	"""A string the SDK would trim (longer than max_value_length in UTF-8 bytes) makes the quick pass decline."""

	@pytest.mark.parametrize("char, count", [("a", LIMIT - 1), ("a", LIMIT), ("a", LIMIT + 1), ("é", LIMIT // 2), ("é", LIMIT // 2 + 1), ("€", LIMIT // 3 + 1), ("é", LIMIT - 1), ("\ud800", 3)])
	def test_declines_exactly_what_the_sdk_trims(self, char, count):
		value = char * count
		result, fell_back = _quick(_transaction(tags={"t": value}))
		expected = _sdk(_transaction(tags={"t": value}))
		assert result == expected
		assert fell_back == ("_meta" in expected)

	def test_without_max_value_length_nothing_is_too_long(self):
		event = _transaction(tags={"t": "x" * 100000})
		result, fell_back = _quick(event, max_value_length=None)
		assert not fell_back
		assert result == _sdk(_transaction(tags={"t": "x" * 100000}), max_value_length=None)

	def test_span_descriptions_are_never_trimmed(self):
		span = {"op": "db", "description": "SELECT " + "x" * (LIMIT * 3)}
		result, fell_back = _quick(_transaction(spans=[span]))
		assert not fell_back
		assert result == _sdk(_transaction(spans=[dict(span)]))
		assert result["spans"][0]["description"] == span["description"]

	def test_a_long_string_elsewhere_in_a_span_is_declined(self):
		span = {"op": "x" * (LIMIT + 1)}
		result, fell_back = _quick(_transaction(spans=[span]))
		assert fell_back and result == _sdk(_transaction(spans=[dict(span)]))


class TestExtraDatabag(object):
	"""`extra` is trimmed by the SDK to 10 items per level (the quick pass trims it the same way, `_meta` included) and 5 levels (the quick pass declines those)."""

	@pytest.mark.parametrize("levels", range(0, 7))
	@pytest.mark.parametrize("nest", [_dicts, _lists])
	def test_depth(self, nest, levels):
		result, fell_back = _quick(_transaction(extra={"x": nest(levels)}))
		expected = _sdk(_transaction(extra={"x": nest(levels)}))
		assert result == expected
		assert fell_back == ("_meta" in expected)

	@pytest.mark.parametrize("size", [9, 10, 11])
	@pytest.mark.parametrize("make", [lambda n: {str(i): i for i in range(n)}, lambda n: list(range(n)), lambda n: tuple(range(n))])
	def test_breadth(self, make, size):
		result, fell_back = _quick(_transaction(extra={"x": make(size)}))
		expected = _sdk(_transaction(extra={"x": make(size)}))
		assert result == expected
		assert not fell_back
		assert ("_meta" in result) == (size > 10)

	@pytest.mark.parametrize("size", [10, 11])
	def test_top_level_breadth(self, size):
		extra = {"k%d" % i: i for i in range(size)}
		result, fell_back = _quick(_transaction(extra=dict(extra)))
		expected = _sdk(_transaction(extra=dict(extra)))
		assert result == expected
		assert not fell_back

	def test_a_long_command_line_is_trimmed_as_the_sdk_does(self):
		argv = ["app.py"] + ["-x%d" % i for i in range(14)]
		result, fell_back = _quick(_transaction(extra={"sys.argv": argv}))
		assert not fell_back
		assert result == _sdk(_transaction(extra={"sys.argv": list(argv)}))
		assert result["extra"]["sys.argv"] == argv[:10] and result["_meta"] == {"extra": {"sys.argv": {"": {"len": 15}}}}

	def test_repr_processors_make_it_decline(self, monkeypatch):
		def upper(value, hints):
			return value.upper() if isinstance(value, str) else NotImplemented
		monkeypatch.setattr(sentry_sdk.serializer, "global_repr_processors", [upper])
		result, fell_back = _quick(_transaction(extra={"who": "joe"}))
		assert fell_back
		assert result["extra"] == {"who": "JOE"} == _sdk(_transaction(extra={"who": "joe"}))["extra"]


class TestNesting(object):
	"""Outside databags the SDK keeps any depth; the quick pass copies up to 64 levels and declines deeper ones."""

	@pytest.mark.parametrize("levels, declined", [(64, False), (65, True)])
	@pytest.mark.parametrize("nest", [_dicts, _lists])
	def test_depth_limit(self, nest, levels, declined):
		result, fell_back = _quick(_transaction(contexts={"deep": nest(levels - 1)}))
		assert fell_back is declined
		assert result == _sdk(_transaction(contexts={"deep": nest(levels - 1)}))

	@pytest.mark.parametrize("levels, declined", [(62, False), (63, True)])
	def test_depth_limit_inside_a_span(self, levels, declined):
		# spans list (0), span (1), its "data" (2), then `levels` dicts below it
		span = {"op": "x", "data": _dicts(levels)}
		result, fell_back = _quick(_transaction(spans=[span]))
		assert fell_back is declined
		assert result == _sdk(_transaction(spans=[{"op": "x", "data": _dicts(levels)}]))

	@pytest.mark.parametrize("levels, declined", [(62, False), (63, True)])
	def test_depth_limit_of_other_span_fields(self, levels, declined):
		span = {"op": "x", "tags": _dicts(levels)}
		result, fell_back = _quick(_transaction(spans=[span]))
		assert fell_back is declined
		assert result == _sdk(_transaction(spans=[{"op": "x", "tags": _dicts(levels)}]))


class TestKeysAndValues(object):
	"""Plain values are copied; anything else goes to the SDK."""

	def test_str_subclass_keys_become_plain_strings(self):
		headers = multidict.CIMultiDict({"X-Custom": "1"})
		key, = list(headers.keys())
		assert type(key) is not str
		event = _transaction(contexts={"trace": {"trace_id": "a" * 32}, "h": {key: "1"}})
		result, fell_back = _quick(event)
		assert not fell_back
		assert result["contexts"]["h"] == {"X-Custom": "1"}
		assert [type(k) for k in result["contexts"]["h"]] == [str]
		assert result == _sdk(event)

	def test_str_subclass_keys_in_spans_and_extra(self):
		key, = list(multidict.CIMultiDict({"Accept": "*/*"}).keys())
		event = _transaction(spans=[{"op": "x", key: "v"}], extra={key: "w"})
		result, fell_back = _quick(event)
		assert not fell_back
		assert result["spans"] == [{"op": "x", "Accept": "v"}] and result["extra"] == {"Accept": "w"}

	def test_non_string_keys_are_declined(self):
		for event in (_transaction(spans=[{1: "x"}]), _transaction(extra={1: "x"}), _transaction(spans=["not a dict"])):
			result, fell_back = _quick(event)
			assert fell_back

	def test_infinity_is_declined(self):
		result, fell_back = _quick(_transaction(measurements={"lcp": {"value": float("inf")}}))
		assert fell_back and result == _sdk(_transaction(measurements={"lcp": {"value": float("inf")}}))

	def test_scalars_and_datetimes_are_copied_as_the_sdk_does(self):
		when = datetime.datetime(2026, 12, 2, 1, 2, 3, 4, tzinfo=datetime.timezone.utc)
		event = _transaction(contexts={"v": {"none": None, "yes": True, "n": 7, "f": 1.25, "list": [1, "a"], "tuple": (2, 3), "when": when}})
		result, fell_back = _quick(event)
		assert not fell_back
		assert result == _sdk(event)
		assert result["contexts"]["v"]["when"] == "2026-12-02T01:02:03.000004Z"
		assert result["contexts"]["v"]["tuple"] == [2, 3]

	def test_an_empty_breadcrumb_list_and_a_request_without_body_take_the_quick_pass(self):
		event = _transaction(breadcrumbs=[], request={"method": "GET", "url": "http://h/"})
		result, fell_back = _quick(event)
		assert not fell_back and result == _sdk(_transaction(breadcrumbs=[], request={"method": "GET", "url": "http://h/"}))


class TestSpanData(object):
	"""Span data goes through the SDK's repr processors when there are any: then the SDK serializes the event."""

	@staticmethod
	def _processors(monkeypatch):
		def tag(value, hints):
			return "<%s>" % value if isinstance(value, int) and not isinstance(value, bool) else NotImplemented
		monkeypatch.setattr(sentry_sdk.serializer, "global_repr_processors", [tag])

	def test_span_data_with_repr_processors_is_declined(self, monkeypatch):
		self._processors(monkeypatch)
		span = {"op": "x", "data": {"n": 1}}
		result, fell_back = _quick(_transaction(spans=[span]))
		assert fell_back
		assert result["spans"][0]["data"] == {"n": "<1>"}

	def test_spans_without_data_still_take_the_quick_pass(self, monkeypatch):
		self._processors(monkeypatch)
		span = {"op": "x", "description": "d", "start_timestamp": 1}
		result, fell_back = _quick(_transaction(spans=[span]))
		assert not fell_back
		assert result == _sdk(_transaction(spans=[dict(span)]))

	def test_even_empty_span_data_is_declined(self, monkeypatch):
		# a repr processor may answer for the data dict itself
		def fill(value, hints):
			return {"filled": True} if value == {} else NotImplemented
		monkeypatch.setattr(sentry_sdk.serializer, "global_repr_processors", [fill])
		result, fell_back = _quick(_transaction(spans=[{"op": "x", "data": {}}]))
		assert fell_back and result["spans"][0]["data"] == {"filled": True}

	def test_span_data_without_repr_processors_takes_the_quick_pass(self, monkeypatch):
		monkeypatch.setattr(sentry_sdk.serializer, "global_repr_processors", [])
		result, fell_back = _quick(_transaction(spans=[{"op": "x", "data": {"n": 1}}]))
		assert not fell_back and result["spans"][0]["data"] == {"n": 1}


class TestWrapper(object):
	"""Only plain transaction serialisation takes the quick pass; other calls reach the SDK's function unchanged."""

	@pytest.mark.parametrize("kwargs", [{"is_vars": True}, {"custom_repr": repr}])
	def test_special_calls_go_to_the_sdk(self, kwargs):
		calls = []

		def original(event, **kw):
			calls.append(kw)
			return {"from": "sdk"}

		wrapped = serializer.make_serializer(original)
		assert wrapped(_transaction(), max_value_length=LIMIT, **kwargs) == {"from": "sdk"}
		assert calls == [dict(kwargs, max_value_length=LIMIT)]

	def test_plain_calls_do_not_reach_the_sdk(self):
		calls = []
		wrapped = serializer.make_serializer(lambda event, **kw: calls.append(kw))
		assert wrapped(_transaction(), max_value_length=LIMIT, is_vars=False, custom_repr=None)["transaction"] == "GET /t"
		assert calls == []

	def test_a_recursion_error_falls_back(self, monkeypatch):
		def too_deep(event, limit):
			raise RecursionError()
		monkeypatch.setattr(serializer, "quick", too_deep)
		calls = []
		wrapped = serializer.make_serializer(lambda event, **kw: calls.append(kw) or {"from": "sdk"})
		assert wrapped(_transaction(), max_value_length=LIMIT) == {"from": "sdk"}
		assert calls == [{"max_value_length": LIMIT}]

	def test_installed_once(self, monkeypatch):
		import sentry_sdk.client
		from asab_sentry import _sdk
		calls = []

		def original(event, **kw):
			calls.append(event)
			return SDK_SERIALIZE(event, **kw)

		monkeypatch.setattr(sentry_sdk.client, "serialize", original)
		_sdk.install_fast_serializer()
		first = sentry_sdk.client.serialize
		_sdk.install_fast_serializer()
		assert sentry_sdk.client.serialize is first
		first({"message": "m", "contexts": {"odd": {1: "int key"}}}, max_value_length=LIMIT)
		assert calls == [{"message": "m", "contexts": {"odd": {1: "int key"}}}]  # the SDK's function, called once (not wrapped twice)
		assert first(_transaction(), max_value_length=LIMIT)["transaction"] == "GET /t" and len(calls) == 1
