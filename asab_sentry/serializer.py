"""
A fast path for serialising events and transactions.

sentry-sdk turns every event into JSON-safe data with its own serializer, which walks every value
in Python with path bookkeeping, trimming rules and cycle detection. For a sampled web request
that walk is the largest single cost of the transaction (about a sixth of a request's CPU at
`traces_sample_rate=1`); for a captured exception it is more than half of what the capture costs
the caller (the frames' local variables, already serialised once by the SDK, are walked again).
An event is almost always plain data by then: dicts, lists, strings, numbers and datetimes. Here
such an event is copied in one quick recursive pass; the result is the same as the SDK's (the
tests compare the two). Anything the quick pass does not handle exactly the way the SDK does
(another type, a string longer than `max_value_length`, a deep databag, a request body, a
cycle, an existing `_meta`) makes it hand the whole event to the SDK's serializer instead, so no
event ever comes out different.
"""

import collections.abc
import datetime
import itertools
import math
import typing

import sentry_sdk.serializer
import sentry_sdk.utils

_MAX_DEPTH = 64
_DATABAG_DEPTH = 5
_DATABAG_BREADTH = 10
_CYCLE = "<cyclic>"
#: The arguments of the SDK's call for a frame's variables that the quick pass reproduces.
_VARS_CALL = frozenset(("is_vars", "custom_repr"))


class _Fallback(Exception):
	"""The quick pass cannot promise the SDK's result for this event."""


def make_serializer(original: typing.Callable[..., dict]) -> typing.Callable[..., dict]:
	"""
	Wrap the SDK's `serialize(event, **kwargs)`: events and transactions take the quick pass when
	they can; everything else (the frames' variables, a custom repr, and every event the quick pass
	declines) goes to `original`, which stays reachable as the wrapper's `__wrapped__`.
	"""

	def serialize(event, **kwargs):
		if type(event) is dict and kwargs.get("custom_repr") is None:
			try:
				if kwargs.get("is_vars"):
					if kwargs.keys() <= _VARS_CALL:  # how serialize_frame calls it: no length limit
						return quick_vars(event)
				else:
					return quick(event, kwargs.get("max_value_length"))
			except _Fallback:
				pass
			except RecursionError:
				pass
		return original(event, **kwargs)

	serialize._asab_sentry = True  # type: ignore[attr-defined]
	serialize.__wrapped__ = original  # type: ignore[attr-defined]
	return serialize


def quick(event: dict, max_value_length: typing.Optional[int]) -> dict:
	"""
	The SDK serializer's result for a plain-data event or transaction.

	The SDK trims its databags (`extra`, each breadcrumb) to 10 items per level and 5 levels,
	noting what it cut in `_meta` (whose paths mirror the event's); everything else is copied.

	Raises:
		_Fallback: The event holds something only the SDK's serializer handles exactly.
	"""
	limit = max_value_length if max_value_length is not None else math.inf
	result: dict = {}
	meta: dict = {}
	for key, value in event.items():
		if key == "extra":
			bag_meta: dict = {}
			result["extra"] = _databag(value, limit, bag_meta)
			if bag_meta:
				meta["extra"] = bag_meta
		elif key == "breadcrumbs":
			result["breadcrumbs"] = _breadcrumbs(value, limit, meta)
		elif key == "request" and isinstance(value, dict) and "data" in value:
			raise _Fallback()
		elif key == "_meta":
			raise _Fallback()  # the SDK replaces or keeps it depending on what it trims
		else:
			result[_key(key)] = _copy(value, limit, 0, key == "spans")
	if meta:  # what the SDK says of a trimmed databag: {"_meta": {"extra": {..path..: {"": {"len": N}}}}}
		result["_meta"] = meta
	return result


def quick_vars(local_vars: dict) -> dict:
	"""
	The SDK serializer's result for a frame's local variables (`is_vars=True`, as
	`serialize_frame` calls it): every value shown by its `repr()`, 10 items per level, 5 levels,
	and no `_meta` (the SDK keeps none for variables). The user's `__repr__` runs here as it would
	in the SDK, with event capture turned off the same way.

	Raises:
		_Fallback: Something only the SDK's serializer handles exactly (repr processors, a repr
			or a mapping that raises).
	"""
	if sentry_sdk.serializer.global_repr_processors:
		raise _Fallback()
	token = sentry_sdk.utils.disable_capture_event.set(True)
	try:
		return _var(local_vars, _DATABAG_DEPTH, set())
	except _Fallback:
		raise
	except Exception:
		raise _Fallback()  # the SDK writes its own placeholder for what fails
	finally:
		sentry_sdk.utils.disable_capture_event.reset(token)


def _var(obj, depth: int, path: set):
	"""One variable as the SDK's `_serialize_node_impl` makes it with `should_repr_strings`."""
	t = type(obj)
	if t is str or t is int or t is bool or t is float or obj is None:
		return repr(obj)  # what the SDK's safe_repr gives; these reprs cannot fail
	if id(obj) in path:
		return _CYCLE
	if depth <= 0:
		return sentry_sdk.utils.safe_repr(obj)
	if t is dict:
		return _var_items(obj, depth, path)
	if t is list or t is tuple:
		return _var_list(obj, depth, path)
	if isinstance(obj, (bool, int, float)):
		return sentry_sdk.utils.safe_repr(obj)
	sentry_repr = getattr(t, "__sentry_repr__", None)
	if callable(sentry_repr):
		return sentry_repr(obj)
	if isinstance(obj, datetime.datetime):
		return sentry_sdk.utils.safe_repr(obj)
	if isinstance(obj, collections.abc.Mapping):
		return _var_items(obj, depth, path)
	if not isinstance(obj, (str, bytes, bytearray, memoryview)) and isinstance(obj, tuple(sentry_sdk.serializer.sequence_types)):
		return _var_list(obj, depth, path)
	return sentry_sdk.utils.safe_repr(obj)


def _var_items(obj, depth: int, path: set) -> dict:
	path.add(id(obj))
	result = {}
	for k, v in list(itertools.islice(obj.items(), _DATABAG_BREADTH)):
		result[str(k)] = _var(v, depth - 1, path)
	path.discard(id(obj))
	return result


def _var_list(obj, depth: int, path: set) -> list:
	path.add(id(obj))
	result = [_var(v, depth - 1, path) for v in itertools.islice(obj, _DATABAG_BREADTH)]
	path.discard(id(obj))
	return result


def _breadcrumbs(value, limit: float, meta: dict) -> dict:
	"""`{"values": [crumb, ...]}`: each crumb is a databag of its own (the SDK copies any other shape as it is)."""
	if type(value) is not dict:
		return _copy(value, limit, 0)
	result = {}
	for key, crumbs in value.items():
		if key != "values":
			result[_key(key)] = _copy(crumbs, limit, 1)
			continue
		if type(crumbs) is not list:
			raise _Fallback()
		values = []
		trimmed: dict = {}
		for i, crumb in enumerate(crumbs):
			crumb_meta: dict = {}
			values.append(_databag(crumb, limit, crumb_meta))
			if crumb_meta:
				trimmed[str(i)] = crumb_meta
		result["values"] = values
		if trimmed:
			meta["breadcrumbs"] = {"values": trimmed}
	return result


def _copy(value, limit: float, depth: int, spans: bool = False):
	if depth > _MAX_DEPTH:
		raise _Fallback()
	t = type(value)
	if t is str:
		if _size(value) > limit:
			raise _Fallback()
		return value
	if value is None or t is bool or t is int:
		return value
	if t is float:
		if math.isinf(value) or math.isnan(value):
			raise _Fallback()
		return value
	if t is dict:
		return {_key(k): _copy(v, limit, depth + 1) for k, v in value.items()}
	if t is list or t is tuple:
		if spans:
			return [_span(v, limit, depth + 1) for v in value]
		return [_copy(v, limit, depth + 1) for v in value]
	if t is datetime.datetime:
		return str(sentry_sdk.utils.format_timestamp(value))
	raise _Fallback()


def _size(value: str) -> int:
	"""A string's length as the SDK measures it against `max_value_length`: UTF-8 bytes (characters if it cannot be encoded)."""
	if value.isascii():
		return len(value)
	try:
		return len(value.encode("utf-8"))
	except UnicodeError:
		return len(value)


def _span(span, limit: float, depth: int):
	if type(span) is not dict:
		raise _Fallback()
	result = {}
	for key, value in span.items():
		if key == "data" and sentry_sdk.serializer.global_repr_processors:
			raise _Fallback()  # span data would go through the SDK's repr processors
		if key == "description" and type(value) is str:
			result["description"] = value  # the SDK never trims span descriptions
		else:
			result[_key(key)] = _copy(value, limit, depth + 1)
	return result


def _key(key) -> str:
	if type(key) is str:
		return key
	if isinstance(key, str):  # e.g. aiohttp's case-insensitive header names
		return str(key)
	raise _Fallback()


def _databag(value, limit: float, meta: dict):
	"""One databag (`extra`, a breadcrumb) from its top; the SDK's repr processors would see it, so with any the pass declines."""
	if sentry_sdk.serializer.global_repr_processors:
		raise _Fallback()
	return _bag(value, limit, _DATABAG_DEPTH, meta)


def _bag(value, limit: float, depth: int, meta: dict):
	"""
	A databag (`extra`): the SDK keeps its first 10 items per level (noting the length it had in
	`meta`, which mirrors the bag's path) and 5 levels; within that, a plain copy.
	"""
	if depth <= 0:
		raise _Fallback()
	t = type(value)
	if t is dict:
		items = list(value.items())
		if len(items) > _DATABAG_BREADTH:
			meta[""] = {"len": len(items)}
			items = items[:_DATABAG_BREADTH]
		result = {}
		for k, v in items:
			key = _key(k)
			child: dict = {}
			result[key] = _bag(v, limit, depth - 1, child)
			if child:
				meta[key] = child
		return result
	if t is list or t is tuple:
		if len(value) > _DATABAG_BREADTH:
			meta[""] = {"len": len(value)}
		rv = []
		for i, v in enumerate(value[:_DATABAG_BREADTH]):
			child = {}
			rv.append(_bag(v, limit, depth - 1, child))
			if child:
				meta[str(i)] = child
		return rv
	return _copy(value, limit, _MAX_DEPTH)
