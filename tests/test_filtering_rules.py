"""
filtering.py rule by rule: `ignore_errors` (by name, by dotted path, by another path to the same
class), the user's event processors (order, dropping, a failing one skipped and complained about
once), `before_send` / `before_send_transaction` and the module's current `Filter`. Mostly direct
tests of `Filter`; a few in-process ones (`sentry_app`) for what reaches Sentry.
"""

import functools
import logging
import sys

import pytest

from asab_sentry import filtering
from asab_sentry.filtering import Filter

SAID_ONCE = "; events are sent as if it were not there (said once)."


class Outer(object):
	class Nested(Exception):
		"""Its dotted path (module.Outer.Nested) can be matched but not imported."""


class Local(Exception):
	pass


class SubOfLocal(Local):
	pass


class CallableObject(object):
	"""A processor with no __qualname__ of its own."""

	def __repr__(self):
		return "<callable object>"

	def __call__(self, event, hint):
		return event


def exc_info(error):
	return (type(error), error, None)


def filter_warnings(caplog):
	return [r.getMessage() for r in caplog.records if r.name == "asab_sentry.filtering" and r.levelno == logging.WARNING]


@pytest.fixture
def warnings(caplog):
	"""The WARNINGs asab_sentry.filtering logged during the test."""
	with caplog.at_level(logging.WARNING, logger="asab_sentry.filtering"):
		yield lambda: filter_warnings(caplog)


class TestIgnoredByName(object):
	"""An exception whose class (or a base class) has a listed name is ignored."""

	def test_own_class_name(self):
		assert Filter(["Local"]).ignored({"exc_info": exc_info(Local("x"))}) is True

	def test_base_class_name(self):
		assert Filter(["Local"]).ignored({"exc_info": exc_info(SubOfLocal("x"))}) is True

	def test_builtin_base_name(self):
		assert Filter(["LookupError"]).ignored({"exc_info": exc_info(KeyError("x"))}) is True

	def test_a_subclass_name_does_not_ignore_the_base(self):
		assert Filter(["SubOfLocal"]).ignored({"exc_info": exc_info(Local("x"))}) is False

	def test_other_name_is_not_ignored(self):
		assert Filter(["Local", "ZeroDivisionError"]).ignored({"exc_info": exc_info(KeyError("x"))}) is False

	def test_names_are_case_sensitive(self):
		assert Filter(["local"]).ignored({"exc_info": exc_info(Local("x"))}) is False


class TestIgnoredByPath(object):
	"""An exception whose class (or a base class) has a listed `module.qualname` is ignored, importable or not."""

	def test_nested_class_path(self):
		f = Filter(["{}.Outer.Nested".format(__name__)])
		assert f.ignored({"exc_info": exc_info(Outer.Nested("x"))}) is True

	def test_base_class_path(self):
		f = Filter(["{}.Local".format(__name__)])
		assert f.ignored({"exc_info": exc_info(SubOfLocal("x"))}) is True

	def test_builtin_path(self):
		assert Filter(["builtins.KeyError"]).ignored({"exc_info": exc_info(KeyError("x"))}) is True

	def test_a_path_only_its_own_class(self):
		f = Filter(["{}.Outer.Nested".format(__name__)])
		assert f.ignored({"exc_info": exc_info(Local("x"))}) is False

	def test_wrong_module_is_not_ignored(self):
		assert Filter(["elsewhere.Local"]).ignored({"exc_info": exc_info(Local("x"))}) is False


class TestIgnoredByAnotherPath(object):
	"""A dotted path that names the class by another module (`os.error` is `OSError`) ignores it and its subclasses; the modules are imported once, when needed."""

	def test_alias(self):
		assert Filter(["os.error"]).ignored({"exc_info": exc_info(FileNotFoundError("x"))}) is True

	def test_alias_does_not_ignore_other_classes(self):
		assert Filter(["os.error"]).ignored({"exc_info": exc_info(KeyError("x"))}) is False

	def test_alias_in_a_package(self):
		import asyncio.exceptions
		error = asyncio.exceptions.TimeoutError()
		assert Filter(["asyncio.exceptions.TimeoutError"]).ignored({"exc_info": exc_info(error)}) is True

	def test_module_not_imported_yet(self, tmp_path, monkeypatch):
		name = "filtering_rules_alias_module"
		(tmp_path / (name + ".py")).write_text("Alias = KeyError\n")
		monkeypatch.syspath_prepend(str(tmp_path))
		monkeypatch.delitem(sys.modules, name, raising=False)
		try:
			f = Filter([name + ".Alias"])
			assert f.ignored({"exc_info": exc_info(KeyError("x"))}) is True
			assert name in sys.modules
		finally:
			sys.modules.pop(name, None)

	def test_classes_are_looked_up_once(self):
		f = Filter(["os.error"])
		assert f._Classes is None
		assert f.ignored({"exc_info": exc_info(KeyError("x"))}) is False
		assert f._Classes == (OSError,)
		f._Classes = (KeyError,)
		assert f.ignored({"exc_info": exc_info(KeyError("x"))}) is True

	def test_nothing_is_looked_up_without_ignore_errors(self):
		f = Filter()
		assert f.ignored({"exc_info": exc_info(KeyError("x"))}) is False
		assert f._Classes is None

	def test_nothing_is_looked_up_for_a_name_match(self):
		f = Filter(["KeyError", "os.error"])
		assert f.ignored({"exc_info": exc_info(KeyError("x"))}) is True
		assert f._Classes is None


class TestIgnoredWithoutAnException(object):
	"""No hint, no exc_info or an exc_info without a class: not ignored."""

	@pytest.mark.parametrize("hint", [None, {}, {"exc_info": None}, {"exc_info": ()}, {"exc_info": (None, None, None)}, {"other": 1}])
	def test_not_ignored(self, hint):
		assert Filter(["builtins.ZeroDivisionError", "os.error"]).ignored(hint) is False

	def test_nothing_to_ignore(self):
		assert Filter().IgnoreErrors == frozenset()
		assert Filter([]).ignored({"exc_info": exc_info(KeyError("x"))}) is False

	def test_a_class_without_mro_and_no_importable_names(self):
		assert Filter(["Nope"]).ignored({"exc_info": ("not a class", None, None)}) is False

	def test_ignore_errors_is_a_set(self):
		assert Filter(["A", "B", "A"]).IgnoreErrors == frozenset({"A", "B"})


class TestImportable(object):
	"""`_importable`: the exception classes that dotted names refer to; anything else is left out."""

	def test_aliases(self):
		assert filtering._importable(["os.error", "socket.timeout"]) == (OSError, TimeoutError)

	def test_in_a_package(self):
		import asyncio.exceptions
		assert filtering._importable(["asyncio.exceptions.CancelledError"]) == (asyncio.exceptions.CancelledError,)

	def test_a_bad_module_does_not_stop_the_others(self):
		assert filtering._importable(["no_such_module_for_filtering_rules.Error", "os.error"]) == (OSError,)

	@pytest.mark.parametrize("name", ["os.sep", "os.path", "collections.OrderedDict", "os.NoSuchError", "KeyError", "", "builtins.len", "no.such.module.Error"])
	def test_not_an_exception_class(self, name):
		assert filtering._importable([name]) == ()

	def test_order_is_kept(self):
		assert filtering._importable(["builtins.KeyError", "os.sep", "builtins.ValueError"]) == (KeyError, ValueError)


class TestAdd(object):
	"""A callable is added (True); anything else is refused (False) with a WARNING."""

	def test_callable(self, warnings):
		f = Filter()

		def fn(event, hint):
			return event

		assert f.add(fn) is True
		assert f.Processors == [fn]
		assert warnings() == []

	@pytest.mark.parametrize("value", ["not a function", None, 5])
	def test_not_callable(self, warnings, value):
		f = Filter()
		assert f.add(value) is False
		assert f.Processors == []
		assert warnings() == ["add_event_processor(): {!r} is not callable; it is not added.".format(value)]

	def test_order(self):
		f = Filter()
		a, b = (lambda e, h: e), (lambda e, h: e)
		f.add(a)
		f.add(b)
		assert f.Processors == [a, b]


class TestProcess(object):
	"""Processors run in the order added, each on the event the one before returned, with the hint; None drops the event and stops the rest."""

	def test_no_processors(self):
		event = {"message": "m"}
		assert Filter().process(event, {}) is event

	def test_none_event_stays_none(self):
		f = Filter()
		f.add(lambda e, h: {"unexpected": True})
		assert f.process(None, {}) is None

	def test_chain_and_hint(self):
		f = Filter()
		seen = []
		hint = {"exc_info": None, "mark": 1}

		def first(event, hint):
			seen.append(("first", dict(event), hint))
			return dict(event, first=True)

		def second(event, hint):
			seen.append(("second", dict(event), hint))
			return dict(event, second=True)

		f.add(first)
		f.add(second)
		assert f.process({"message": "m"}, hint) == {"message": "m", "first": True, "second": True}
		assert seen == [("first", {"message": "m"}, hint), ("second", {"message": "m", "first": True}, hint)]
		assert seen[0][2] is hint and seen[1][2] is hint

	def test_none_drops_and_stops(self):
		f = Filter()
		called = []
		f.add(lambda e, h: None)
		f.add(lambda e, h: called.append(e) or e)
		assert f.process({"message": "m"}, {}) is None
		assert called == []

	def test_returned_event_is_the_one_sent(self):
		f = Filter()
		replacement = {"message": "other"}
		f.add(lambda e, h: replacement)
		assert f.process({"message": "m"}, {}) is replacement


class TestFailingProcessor(object):
	"""A processor that raises or returns a non-dict is skipped (the event as before it, nested values too), the next one runs, and it is complained about once."""

	def test_raising_is_undone_and_skipped(self, warnings):
		f = Filter()

		def broken(event, hint):
			event["message"] = "half-changed"
			event["tags"]["broken"] = "yes"
			raise RuntimeError("bug")

		f.add(broken)
		f.add(lambda e, h: dict(e, after=True))
		result = f.process({"message": "m", "tags": {"a": "b"}}, {})
		assert result == {"message": "m", "tags": {"a": "b"}, "after": True}
		assert warnings() == ["Event processor {} raised RuntimeError('bug'){}".format(broken.__qualname__, SAID_ONCE)]

	@pytest.mark.parametrize("value,type_name", [("nope", "str"), ([], "list"), (0, "int"), (False, "bool")])
	def test_returning_a_non_dict_is_undone_and_skipped(self, warnings, value, type_name):
		f = Filter()

		def garbage(event, hint):
			event["tags"]["garbage"] = "yes"
			return value

		f.add(garbage)
		f.add(lambda e, h: dict(e, after=True))
		assert f.process({"tags": {}}, {}) == {"tags": {}, "after": True}
		assert warnings() == ["Event processor {} returned {} instead of the event or None{}".format(garbage.__qualname__, type_name, SAID_ONCE)]

	def test_complained_about_once(self, warnings):
		f = Filter()

		def broken(event, hint):
			raise ValueError("again")

		f.add(broken)
		for _ in range(3):
			assert f.process({"message": "m"}, {}) == {"message": "m"}
		assert warnings() == ["Event processor {} raised ValueError('again'){}".format(broken.__qualname__, SAID_ONCE)]

	def test_each_failing_processor_is_complained_about(self, warnings):
		f = Filter()

		def one(event, hint):
			raise ValueError("one")

		def two(event, hint):
			return "two"

		f.add(one)
		f.add(two)
		f.process({}, {})
		f.process({}, {})
		assert warnings() == [
			"Event processor {} raised ValueError('one'){}".format(one.__qualname__, SAID_ONCE),
			"Event processor {} returned str instead of the event or None{}".format(two.__qualname__, SAID_ONCE),
		]

	def test_named_by_repr_without_a_qualname(self, warnings):
		f = Filter()
		f._complain(CallableObject(), "raised X")
		assert warnings() == ["Event processor <callable object> raised X" + SAID_ONCE]

	def test_a_partial_is_named_by_its_repr(self):
		fn = functools.partial(max, 1)
		assert filtering._name(fn) == repr(fn)

	def test_a_function_is_named_by_its_qualname(self):
		assert filtering._name(CallableObject.__call__) == "CallableObject.__call__"
		assert filtering._name(CallableObject()) == "<callable object>"


class TestBeforeSend(object):
	"""`before_send`: an ignored error is dropped before `prepare`; otherwise `prepare`, then the processors, see the event and the hint."""

	def test_ignored_is_dropped_before_prepare(self):
		f = Filter(["KeyError"])
		prepared = []
		f.add(lambda e, h: pytest.fail("a processor saw an ignored error"))
		assert f.before_send(lambda e, h: prepared.append(e) or e, {"m": 1}, {"exc_info": exc_info(KeyError("x"))}) is None
		assert prepared == []

	def test_prepare_then_processors(self):
		f = Filter(["KeyError"])
		calls = []
		hint = {"exc_info": exc_info(ValueError("x"))}
		event = {"m": 1}

		def prepare(e, h):
			calls.append(("prepare", e, h))
			return dict(e, prepared=True)

		def processor(e, h):
			calls.append(("processor", dict(e), h))
			return dict(e, processed=True)

		f.add(processor)
		assert f.before_send(prepare, event, hint) == {"m": 1, "prepared": True, "processed": True}
		assert calls == [("prepare", event, hint), ("processor", {"m": 1, "prepared": True}, hint)]
		assert calls[0][1] is event and calls[0][2] is hint and calls[1][2] is hint

	def test_prepare_dropping_skips_the_processors(self):
		f = Filter()
		f.add(lambda e, h: pytest.fail("a processor saw a dropped event"))
		assert f.before_send(lambda e, h: None, {"m": 1}, {}) is None

	def test_failing_ignored_sends_the_event(self, warnings):
		f = Filter(["os.error"])
		result = f.before_send(lambda e, h: dict(e, prepared=True), {"m": 1}, {"exc_info": ("not a class", None, None)})
		assert result == {"m": 1, "prepared": True}
		found = warnings()
		assert len(found) == 1
		assert found[0].startswith("Event processor Filter.ignored raised TypeError(") and found[0].endswith(SAID_ONCE)

	def test_transaction(self):
		f = Filter(["KeyError"])
		hint = {"exc_info": exc_info(KeyError("x"))}
		seen = []
		f.add(lambda e, h: seen.append(h) or dict(e, processed=True))
		assert f.before_send_transaction({"transaction": "/t"}, hint) == {"transaction": "/t", "processed": True}
		assert seen == [hint] and seen[0] is hint

	def test_transaction_dropped(self):
		f = Filter()
		f.add(lambda e, h: None)
		assert f.before_send_transaction({"transaction": "/t"}, {}) is None


class TestCurrentFilter(object):
	"""`install()` makes a new current `Filter`; `add_event_processor()` adds to it."""

	@pytest.fixture(autouse=True)
	def keep_current(self, monkeypatch):
		monkeypatch.setattr(filtering, "_Current", filtering._Current)

	def test_install(self):
		f = filtering.install(["KeyError", "os.error"])
		assert isinstance(f, Filter) and filtering._Current is f
		assert f.IgnoreErrors == frozenset({"KeyError", "os.error"})
		assert f.Processors == []

	def test_add_to_the_current(self, warnings):
		f = filtering.install([])

		def fn(event, hint):
			return event

		assert filtering.add_event_processor(fn) is True
		assert filtering.add_event_processor("nope") is False
		assert f.Processors == [fn]
		assert warnings() == ["add_event_processor(): 'nope' is not callable; it is not added."]

	def test_a_new_install_forgets_processors(self):
		filtering.install([])
		filtering.add_event_processor(lambda e, h: None)
		assert filtering.install([]).Processors == []


class TestThroughTheService(object):
	"""What reaches Sentry with ignore_errors and processors on a running service."""

	def test_ignore_errors_by_path_and_alias(self, sentry_app):
		s = sentry_app({"sentry": {"ignore_errors": "{}.Outer.Nested, os.error".format(__name__)}})
		for error in (Outer.Nested("n"), FileNotFoundError("f"), KeyError("sent")):
			try:
				raise error
			except Exception as e:
				s.Service.capture_exception(e)
		assert [e["exception"]["values"][0]["type"] for e in s.events()] == ["KeyError"]

	def test_failing_processor_is_named_once(self, sentry_app, caplog):
		s = sentry_app()

		def broken(event, hint):
			raise RuntimeError("in my filter")

		s.Service.add_event_processor(broken)
		with caplog.at_level(logging.WARNING, logger="asab_sentry"):
			s.Service.capture_message("one")
			s.Service.capture_message("two")
		assert [e["message"] for e in s.events()] == ["one", "two"]
		assert filter_warnings(caplog) == ["Event processor {} raised RuntimeError('in my filter'){}".format(broken.__qualname__, SAID_ONCE)]

	def test_transaction_processor(self, sentry_app):
		s = sentry_app({"sentry": {"traces_sample_rate": "1"}})
		s.Service.add_event_processor(lambda event, hint: dict(event, tags=dict(event.get("tags") or {}, seen="yes")))
		with s.Service.transaction("task", "work"):
			pass
		assert s.transactions()[0]["tags"]["seen"] == "yes"
