"""
Sentry Logs (asab_sentry/logs.py), rule by rule, in-process: which records become logs, at which
Sentry level, with which body and attributes; the handler never raises nor recurses; `install()`
keeps one handler on the root logger and opens the root level only when asked.
"""

import logging
import threading

import asab
import pytest
import sentry_sdk

from asab_sentry import logs

ON = {"sentry": {"enable_logs": "true"}}


def with_level(level: str) -> dict:
	return {"sentry": {"enable_logs": "true"}, "sentry:logging": {"logs": level}}


def sent(s) -> list:
	"""The Sentry Logs sent so far (the SDK's batch handed to the transport now)."""
	sentry_sdk.get_client().log_batcher.flush()
	return [log for batch in s.items("log") for log in batch["items"]]


def bodies(s) -> list:
	return [log["body"] for log in sent(s)]


def attribute(log: dict, name: str):
	return log["attributes"][name]["value"]


def record(name="orders", level=logging.WARNING, msg="order rejected", args=(), struct_data=None) -> logging.LogRecord:
	rec = logging.LogRecord(name, level, __file__, 1, msg, args, None)
	if struct_data is not None:
		rec._struct_data = struct_data
	return rec


def handlers() -> list:
	return [h for h in logging.getLogger().handlers if isinstance(h, logs.SentryLogsHandler)]


@pytest.fixture
def calls(monkeypatch):
	"""Every `(level, body, attributes)` the handler hands to the SDK, instead of sending it."""
	made = []
	for level in ("debug", "info", "warning", "error", "fatal"):
		monkeypatch.setitem(logs._SEND, level, lambda body, attributes, level=level: made.append((level, body, attributes)))
	return made


@pytest.fixture
def root_logger():
	"""The root logger's level, handlers and their filters put back, and no Sentry Logs handler left, after the test."""
	root = logging.getLogger()
	saved = (root.level, [(h, list(h.filters)) for h in root.handlers])
	try:
		yield root
	finally:
		logs.install(False, logging.INFO, False)
		root.setLevel(saved[0])
		for handler in list(root.handlers):
			if handler not in [h for h, _ in saved[1]]:
				root.removeHandler(handler)
		for handler, filters in saved[1]:
			handler.filters[:] = filters


class TestLevels(object):
	"""A record's level becomes the log's: below INFO `debug`, up to WARNING (NOTICE too) `info`, then `warn`, `error`, and CRITICAL `fatal`."""

	@pytest.mark.parametrize("levelno,level", [
		(logging.DEBUG, "debug"),
		(15, "debug"),
		(logging.INFO, "info"),
		(asab.LOG_NOTICE, "info"),
		(logging.WARNING, "warn"),
		(35, "warn"),
		(logging.ERROR, "error"),
		(45, "error"),
		(logging.CRITICAL, "fatal"),
	])
	def test_level(self, sentry_app, levelno, level):
		s = sentry_app(with_level("debug"))
		logging.getLogger("orders").log(levelno, "at {}".format(levelno))
		assert [(log["body"], log["level"]) for log in sent(s)] == [("at {}".format(levelno), level)]


class TestBody(object):
	"""The body is the record's message with its arguments put in, and nothing else done to it."""

	def test_arguments_are_put_in(self, sentry_app):
		s = sentry_app(ON)
		logging.getLogger("orders").warning("order %s has %d items", "o-1", 3)
		assert bodies(s) == ["order o-1 has 3 items"]

	def test_braces_are_kept(self, sentry_app):
		s = sentry_app(ON)
		logging.getLogger("orders").warning("total {amount} of {}")
		assert bodies(s) == ["total {amount} of {}"]

	def test_each_record_once(self, sentry_app):
		s = sentry_app(ON)
		logging.getLogger("orders").warning("first")
		logging.getLogger("orders.audit").error("second")
		assert bodies(s) == ["first", "second"]


class TestAttributes(object):
	"""Attributes: the logger's name, the origin `auto.log.asab`, and each `struct_data` item (str, int, float and bool as they are, anything else as its repr, keys as text)."""

	def test_without_struct_data(self):
		assert logs.attributes(record("orders.audit")) == {"logger.name": "orders.audit", "sentry.origin": "auto.log.asab"}

	def test_empty_struct_data(self):
		assert logs.attributes(record(struct_data={})) == {"logger.name": "orders", "sentry.origin": "auto.log.asab"}

	def test_simple_values_as_they_are(self):
		attrs = logs.attributes(record(struct_data={"id": "o-1", "items": 3, "total": 9.5, "paid": True}))
		assert attrs == {"logger.name": "orders", "sentry.origin": "auto.log.asab", "id": "o-1", "items": 3, "total": 9.5, "paid": True}
		assert type(attrs["paid"]) is bool and type(attrs["items"]) is int

	@pytest.mark.parametrize("value,text", [
		([1, 2], "[1, 2]"),
		(None, "None"),
		({"a": 1}, "{'a': 1}"),
		(b"raw", "b'raw'"),
	])
	def test_other_values_as_their_repr(self, value, text):
		assert logs.attributes(record(struct_data={"value": value}))["value"] == text

	def test_keys_as_text(self):
		assert logs.attributes(record(struct_data={3: "three"}))["3"] == "three"

	def test_on_the_wire(self, sentry_app):
		s = sentry_app(ON)
		logging.getLogger("orders").warning("order rejected", struct_data={"order_id": "o-1", "items": 3, "lines": [1]})
		[log] = sent(s)
		assert attribute(log, "logger.name") == "orders"
		assert attribute(log, "sentry.origin") == "auto.log.asab"
		assert (attribute(log, "order_id"), attribute(log, "items"), attribute(log, "lines")) == ("o-1", 3, "[1]")


class TestNeverSent(object):
	"""Records of the plugin's own loggers, the SDK's, and the other loggers that never become events are never sent as logs."""

	@pytest.mark.parametrize("name", ["asab_sentry", "asab_sentry.crons", "sentry_sdk.errors", "urllib3.connectionpool", "asyncio", "asab.web.al"])
	def test_not_sent(self, sentry_app, name):
		s = sentry_app(ON)
		logging.getLogger(name).warning("about sending")
		logging.getLogger("orders").warning("from the service")
		assert bodies(s) == ["from the service"]

	@pytest.mark.parametrize("name", ["asab_sentry.client", "sentry_sdk"])
	def test_not_handed_to_the_sdk(self, calls, name):
		logs.SentryLogsHandler(logging.DEBUG).emit(record(name))
		assert calls == []

	def test_a_logger_that_only_starts_alike_is_sent(self, calls):
		logs.SentryLogsHandler(logging.DEBUG).emit(record("asab_sentryish"))
		assert [body for _, body, _ in calls] == ["order rejected"]


class TestHandOver(object):
	"""`emit` hands the SDK the level, the message and the attributes of the record."""

	def test_what_is_handed_over(self, calls):
		logs.SentryLogsHandler(logging.DEBUG).emit(record("orders", logging.ERROR, "order %s lost", ("o-1",), {"id": 7}))
		assert calls == [("error", "order o-1 lost", {"logger.name": "orders", "sentry.origin": "auto.log.asab", "id": 7})]

	def test_returns_none(self, calls):
		assert logs.SentryLogsHandler(logging.DEBUG).emit(record()) is None


class TestNoRecursion(object):
	"""A record made while the handler is sending one (in the same thread) is not sent; the next one is; another thread's is."""

	def test_a_record_made_while_sending_is_not_sent(self, monkeypatch):
		handler = logs.SentryLogsHandler(logging.DEBUG)
		made = []

		def send(body, attributes):
			made.append(body)
			handler.emit(record(msg="inside " + body))

		monkeypatch.setitem(logs._SEND, "warning", send)
		handler.emit(record(msg="first"))
		handler.emit(record(msg="second"))
		assert made == ["first", "second"]

	def test_another_threads_record_is_sent_meanwhile(self, monkeypatch):
		handler = logs.SentryLogsHandler(logging.DEBUG)
		made = []

		def send(body, attributes):
			made.append(body)
			if body == "outer":
				thread = threading.Thread(target=handler.emit, args=(record(msg="from a thread"),))
				thread.start()
				thread.join()

		monkeypatch.setitem(logs._SEND, "warning", send)
		handler.emit(record(msg="outer"))
		assert made == ["outer", "from a thread"]


class TestNeverRaises(object):
	"""A record that cannot be sent is dropped silently: no exception, no logging error; the next one is sent."""

	def test_send_failure(self, monkeypatch, capsys):
		handler = logs.SentryLogsHandler(logging.DEBUG)
		made = []

		def send(body, attributes):
			if body == "bad":
				raise RuntimeError("cannot send")
			made.append(body)

		monkeypatch.setitem(logs._SEND, "warning", send)
		handler.emit(record(msg="bad"))
		handler.emit(record(msg="good"))
		assert made == ["good"]
		assert "Logging error" not in capsys.readouterr().err

	def test_message_that_cannot_be_formatted(self, calls, capsys):
		handler = logs.SentryLogsHandler(logging.DEBUG)
		handler.emit(record(msg="%d items", args=("many",)))
		handler.emit(record(msg="good"))
		assert [body for _, body, _ in calls] == ["good"]
		assert "Logging error" not in capsys.readouterr().err


class TestThreshold(object):
	"""`[sentry:logging] logs` is the lowest level sent (default INFO); set explicitly, records down to it are made even below ASAB's log level."""

	def test_handler_level(self):
		assert logs.SentryLogsHandler(logging.ERROR).level == logging.ERROR

	def test_default_is_info(self, sentry_app):
		sentry_app(ON)
		[handler] = handlers()
		assert handler.level == logging.INFO

	def test_below_the_level_is_not_sent(self, sentry_app):
		s = sentry_app(with_level("warning"))
		logging.getLogger("orders").log(asab.LOG_NOTICE, "a notice")
		logging.getLogger("orders").warning("a warning")
		assert bodies(s) == ["a warning"]

	def test_set_explicitly_info_records_are_sent(self, sentry_app):
		s = sentry_app(with_level("info"))
		logging.getLogger("orders").info("an info line")
		assert bodies(s) == ["an info line"]

	def test_unset_asabs_level_decides(self, sentry_app):
		s = sentry_app(ON)
		logging.getLogger("orders").info("an info line")
		logging.getLogger("orders").log(asab.LOG_NOTICE, "a notice")
		assert bodies(s) == ["a notice"]

	def test_off_by_default(self, sentry_app):
		s = sentry_app()
		logging.getLogger("orders").warning("not a log")
		assert handlers() == [] and s.items("log") == []


class TestInstall(object):
	"""`install()` keeps at most one handler on the root logger, at the level given; off, it only detaches; it lowers the root level only when asked."""

	def test_attaches_one_at_the_level(self, root_logger):
		logs.install(True, logging.WARNING, False)
		[handler] = handlers()
		assert handler is logs._Handler and handler.level == logging.WARNING

	def test_a_second_install_replaces_the_first(self, root_logger):
		logs.install(True, logging.WARNING, False)
		first = logs._Handler
		logs.install(True, logging.ERROR, False)
		[handler] = handlers()
		assert handler is logs._Handler and handler is not first and handler.level == logging.ERROR

	def test_off_detaches(self, root_logger):
		logs.install(True, logging.WARNING, False)
		logs.install(False, logging.WARNING, False)
		assert handlers() == [] and logs._Handler is None

	def test_off_twice(self, root_logger):
		logs.install(False, logging.WARNING, False)
		logs.install(False, logging.WARNING, False)
		assert handlers() == [] and logs._Handler is None

	def test_opens_the_root_level_when_asked(self, root_logger):
		root_logger.setLevel(asab.LOG_NOTICE)
		logs.install(True, logging.INFO, True)
		assert root_logger.level == logging.INFO

	def test_leaves_the_root_level_otherwise(self, root_logger):
		root_logger.setLevel(asab.LOG_NOTICE)
		logs.install(True, logging.INFO, False)
		assert root_logger.level == asab.LOG_NOTICE

	def test_off_leaves_the_root_level(self, root_logger):
		root_logger.setLevel(asab.LOG_NOTICE)
		logs.install(False, logging.INFO, True)
		assert root_logger.level == asab.LOG_NOTICE

	def test_its_own_records_pass_the_opened_level(self, root_logger):
		"""The handler is added after the level is opened: the filter that keeps other handlers as they were is not on it."""
		root_logger.setLevel(asab.LOG_NOTICE)
		logs.install(True, logging.INFO, True)
		assert logs._Handler.filters == []

	def test_through_the_app(self, sentry_app):
		sentry_app(ON)
		sentry_app(with_level("error"))
		[handler] = handlers()
		assert handler.level == logging.ERROR
