"""The service API: what capture_*, set_* and add_breadcrumb put into the envelopes that reach Sentry."""


class TestCapture(object):
	"""capture_message / capture_exception return the id of the event that is sent."""

	def test_message_returns_the_sent_event_id(self, recorder, run_app):
		run = run_app("message", recorder.dsn)
		events = recorder.wait_for(1)
		assert [e["event_id"] for e in events] == run.values("EVENT_ID")
		assert events[0]["message"] == "hello from scenario"
		assert events[0]["level"] == "info"

	def test_exception_is_structured(self, recorder, run_app):
		run = run_app("exception", recorder.dsn)
		event = recorder.wait_for(1)[0]
		assert event["event_id"] == run.values("EVENT_ID")[0]
		exc = event["exception"]["values"][-1]
		assert exc["type"] == "ZeroDivisionError"
		assert exc["stacktrace"]["frames"][-1]["function"] == "exception"

	def test_user_breadcrumb_context_and_levels(self, recorder, run_app):
		run = run_app("user_and_breadcrumb", recorder.dsn)
		assert run.returncode == 0, run.stderr
		events = recorder.wait_for(2)
		first, second = events
		assert first["user"] == {"id": "42", "username": "joe"}
		assert first["contexts"]["order"] == {"id": 7}
		assert first["level"] == "info"  # 'notice' is sent as info
		crumbs = [c for c in first["breadcrumbs"]["values"] if c.get("category") == "test"]
		assert crumbs[0]["message"] == "manual crumb" and crumbs[0]["data"] == {"k": 1}
		assert second["level"] == "info"
		assert "unknown level 'loud'" in run.stderr


class TestTags(object):
	"""set_tag refuses invalid tags with a WARNING and sets valid ones as strings."""

	def test_invalid_tags_are_refused_and_valid_ones_set(self, recorder, run_app):
		run = run_app("bad_tags", recorder.dsn)
		assert run.returncode == 0, run.stderr
		events = recorder.wait_for(1)
		assert len(events) == 1, "the plugin's warnings must not become events"
		tags = events[0]["tags"]
		assert {k: v for k, v in tags.items() if k != "appclass"} == {"int": "42", "float": "1.5", "bool": "True", "ok": "fine"}
		assert "contexts" not in events[0] or "not-a-dict" not in events[0]["contexts"]
		assert "user" not in events[0]
		for needle in ["'kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk' must be 1 to 32", "'bad key' may contain only", "'k\\n' may contain only", "'newline': value must not contain a newline", "'long': value must be 1 to 200", "'empty': value must be 1 to 200", "'obj': value of type object", "Tag key 42 is not a string"]:
			assert needle in run.stderr
		# a warning is a breadcrumb at most, never an event, and never at ERROR
		assert " ERROR " not in run.stderr.replace("\x1b[1;31mERROR\x1b[0m", " ERROR ")


class TestMemoryTransportHelper(object):
	"""asab_sentry.testing.MemoryTransport keeps what would have been sent, for users' own tests."""

	def test_keeps_events_and_transactions(self, run_app):
		import json
		run = run_app("memory", "http://0123456789abcdef0123456789abcdef@127.0.0.1:9/1", BUILD="memory", SENTRY_TRACES_SAMPLE_RATE="1")
		assert run.returncode == 0, run.stderr
		events = json.loads(run.values("EVENTS")[0])
		assert [e["event_id"] for e in events] == run.values("EVENT_ID")
		assert events[0]["message"] == "kept in memory" and events[0]["tags"]["helper"] == "memory"
		assert [t["transaction"] for t in json.loads(run.values("TRANSACTIONS")[0])] == ["kept transaction"]
