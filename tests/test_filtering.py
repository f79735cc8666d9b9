"""
The user's own filtering: add_event_processor(), ignore_errors, sample_rate, max_breadcrumbs.
In-process; each asserts on what reached the (in-memory) transport.
"""

import logging

import pytest
import sentry_sdk


class HTTPException(Exception):
	def __init__(self, status_code):
		super().__init__("HTTP {}".format(status_code))
		self.status_code = status_code


class NotFound(HTTPException):
	pass


def raise_and_capture(service, error):
	try:
		raise error
	except Exception as e:
		return service.capture_exception(e)


def test_processor_changes_an_event(sentry_app):
	s = sentry_app()

	def mark(event, hint):
		event.setdefault("tags", {})["filtered"] = "yes"
		return event

	s.Service.add_event_processor(mark)
	s.Service.capture_message("hello")
	assert s.events()[0]["tags"]["filtered"] == "yes"


def test_processor_drops_events_and_transactions(sentry_app):
	s = sentry_app({"sentry": {"traces_sample_rate": "1"}})
	s.Service.add_event_processor(lambda event, hint: None if event.get("transaction") == "/health" or event.get("message") == "drop me" else event)
	s.Service.capture_message("drop me")
	s.Service.capture_message("keep me")
	with s.Service.transaction("http.server", "/health"):
		pass
	with s.Service.transaction("http.server", "/orders"):
		pass
	assert [e["message"] for e in s.events()] == ["keep me"]
	assert [t["transaction"] for t in s.transactions()] == ["/orders"]


def test_processor_runs_after_scrubbing(sentry_app):
	s = sentry_app()
	seen = []
	s.Service.add_event_processor(lambda event, hint: seen.append(event["extra"]["password"]) or event)
	s.Service.capture_message("login", extras={"password": "hunter2"})
	assert seen == ["[Filtered]"]
	assert s.events()[0]["extra"]["password"] == "[Filtered]"


def test_seed_004_filters_as_in_the_readme(sentry_app):
	"""The README's example: seed 004's password filter and 4xx filter as event processors."""
	s = sentry_app()

	def filter_passwords(event, hint):
		data = event.get("request", {}).get("data")
		if isinstance(data, dict):
			for key in list(data):
				if "password" in key.lower() or "secret" in key.lower():
					data[key] = "[FILTERED]"
		return event

	def skip_client_errors(event, hint):
		error = (hint.get("exc_info") or (None, None, None))[1]
		if isinstance(error, HTTPException) and error.status_code < 500:
			return None
		return event

	s.Service.add_event_processor(filter_passwords)
	s.Service.add_event_processor(skip_client_errors)
	# a request body as a web integration would attach it (keys the SDK's denylist does not know)
	sentry_sdk.get_isolation_scope().add_event_processor(
		lambda event, hint: dict(event, request={"data": {"new_password": "s3cret!", "client_secret_2": "x", "user": "joe"}})
	)
	raise_and_capture(s.Service, HTTPException(404))
	raise_and_capture(s.Service, NotFound(410))
	raise_and_capture(s.Service, HTTPException(503))
	events = s.events()
	assert [e["exception"]["values"][0]["value"] for e in events] == ["HTTP 503"]
	assert events[0]["request"]["data"] == {"new_password": "[FILTERED]", "client_secret_2": "[FILTERED]", "user": "joe"}


def test_failing_processor_is_logged_once_and_the_event_sent_unchanged(sentry_app, caplog):
	s = sentry_app()

	def broken(event, hint):
		event["message"] = "half-changed"
		raise RuntimeError("bug in my filter")

	s.Service.add_event_processor(broken)
	with caplog.at_level(logging.WARNING, logger="asab_sentry"):
		s.Service.capture_message("one")
		s.Service.capture_message("two")
	assert [e["message"] for e in s.events()] == ["one", "two"]
	complaints = [r for r in caplog.records if "bug in my filter" in r.getMessage()]
	assert len(complaints) == 1 and complaints[0].name.startswith("asab_sentry")


def test_processor_returning_garbage_is_ignored(sentry_app, caplog):
	s = sentry_app()
	s.Service.add_event_processor(lambda event, hint: "nope")
	with caplog.at_level(logging.WARNING, logger="asab_sentry"):
		s.Service.capture_message("still sent")
	assert [e["message"] for e in s.events()] == ["still sent"]
	assert any("returned str" in r.getMessage() for r in caplog.records)


def test_not_callable_is_refused_with_a_warning(sentry_app, caplog):
	s = sentry_app()
	with caplog.at_level(logging.WARNING, logger="asab_sentry"):
		assert s.Service.add_event_processor("not a function") is None
	s.Service.capture_message("sent")
	assert [e["message"] for e in s.events()] == ["sent"]
	assert any("is not callable" in r.getMessage() for r in caplog.records)


def test_processors_do_not_outlive_the_client():
	from asab_sentry.testing import sentry_app as build
	with build() as s:
		s.Service.add_event_processor(lambda event, hint: None)
		s.Service.capture_message("dropped")
		assert s.events() == []
	with build() as s2:
		s2.Service.capture_message("sent")
		assert [e["message"] for e in s2.events()] == ["sent"]


def test_ignore_errors_by_name_path_and_subclass(sentry_app):
	s = sentry_app({"sentry": {"ignore_errors": "ZeroDivisionError, test_filtering.HTTPException"}})
	raise_and_capture(s.Service, ZeroDivisionError("ignored by name"))
	raise_and_capture(s.Service, NotFound(404))  # a subclass of a listed class
	raise_and_capture(s.Service, KeyError("sent"))
	logging.getLogger("svc").error("logged", exc_info=ZeroDivisionError("also ignored"))
	logging.getLogger("svc").error("logged without exception")
	sent = s.events()
	types = [e["exception"]["values"][0]["type"] for e in sent if "exception" in e]
	assert types == ["KeyError"]
	assert [e.get("logentry", {}).get("message") or e.get("message") for e in sent if "exception" not in e] == ["logged without exception"]


def test_ignore_errors_by_an_alias_path(sentry_app):
	"""`asyncio.TimeoutError` is the builtin `TimeoutError` since Python 3.11: either spelling works."""
	import asyncio
	s = sentry_app({"sentry": {"ignore_errors": "asyncio.TimeoutError"}})
	raise_and_capture(s.Service, asyncio.TimeoutError())
	raise_and_capture(s.Service, KeyError("sent"))
	assert [e["exception"]["values"][0]["type"] for e in s.events()] == ["KeyError"]


@pytest.mark.parametrize("value", ["2", "-0.1", "abc"])
def test_bad_sample_rate_stops_the_app(sentry_app, value):
	with pytest.raises(SystemExit) as exit_info:
		sentry_app({"sentry": {"sample_rate": value}})
	assert str(exit_info.value) == "asab-sentry: [sentry] sample_rate = '{}' is invalid; expected a number between 0 and 1".format(value)


def test_sample_rate_zero_sends_no_errors_but_transactions(sentry_app):
	s = sentry_app({"sentry": {"sample_rate": "0", "traces_sample_rate": "1"}})
	for _ in range(20):
		s.Service.capture_message("sampled out")
	with s.Service.transaction("task", "kept"):
		pass
	assert s.events() == []
	assert len(s.transactions()) == 1


def test_sample_rate_from_the_environment(sentry_app):
	s = sentry_app(environ={"SENTRY_DSN": "http://0123456789abcdef0123456789abcdef@127.0.0.1:9/1", "SENTRY_SAMPLE_RATE": "0"})
	s.Service.capture_message("sampled out")
	assert s.Service.Config.sample_rate == 0.0
	assert s.events() == []


def test_max_breadcrumbs(sentry_app):
	s = sentry_app({"sentry": {"max_breadcrumbs": "3"}})
	for i in range(10):
		s.Service.add_breadcrumb(message="crumb {}".format(i))
	s.Service.capture_message("with crumbs")
	assert [c["message"] for c in s.events()[0]["breadcrumbs"]["values"]] == ["crumb 7", "crumb 8", "crumb 9"]


@pytest.mark.parametrize("key,value,expected", [
	("max_breadcrumbs", "-1", "a whole number, 0 or more"),
	("ignore_errors", "not a class!", "comma-separated exception class names or dotted paths"),
])
def test_bad_filter_values_stop_the_app(sentry_app, key, value, expected):
	with pytest.raises(SystemExit) as exit_info:
		sentry_app({"sentry": {key: value}})
	message = str(exit_info.value)
	assert message.startswith("asab-sentry: [sentry] {} = ".format(key)) and expected in message and "\n" not in message
