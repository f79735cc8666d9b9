"""
SentryService's own rules, in-process: what a call that cannot do its job says (a WARNING, never
an exception into service code) and what still reaches Sentry.
"""

import asyncio
import logging

import pytest

from asab_sentry import client as sentry_client
from asab_sentry import crons, filtering, scrubbing
from asab_sentry.testing import capture_events


def warnings(caplog):
	return [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING and r.name.startswith("asab_sentry")]


class TestEventProcessors(object):
	"""A processor is a callable; one that cannot be added is refused with a WARNING; one added while disabled works once the service is bound."""

	def test_not_callable_is_refused_with_a_warning(self, sentry_app, caplog):
		s = sentry_app()
		s.Service.add_event_processor("not a function")
		s.Service.capture_message("m")
		assert warnings(caplog) == ["add_event_processor(): 'not a function' is not callable; it is not added."]
		assert s.events()[0]["message"] == "m"

	def test_a_failure_to_add_is_a_warning(self, sentry_app, caplog, monkeypatch):
		s = sentry_app()

		def broken(fn):
			raise RuntimeError("no room")

		monkeypatch.setattr(filtering, "add_event_processor", broken)
		s.Service.add_event_processor(lambda event, hint: None)
		assert warnings(caplog) == ["SentryService.add_event_processor() failed: RuntimeError('no room')"]
		s.Service.capture_message("still sent")
		assert [e["message"] for e in s.events()] == ["still sent"]

	def test_added_while_disabled_applies_when_bound_for_a_test(self, sentry_app):
		s = sentry_app({"sentry": {"enabled": "false"}})

		def tag(event, hint):
			event.setdefault("tags", {})["seen_by"] = "processor"
			return event

		s.Service.add_event_processor(tag)
		with capture_events(s.App) as sent:
			s.Service.capture_message("m")
		assert sent.events()[0]["tags"]["seen_by"] == "processor"


class TestMonitor(object):
	"""monitor() never raises: a monitor that cannot be made is a WARNING and the job runs unmonitored."""

	def test_failure_is_a_warning_and_the_job_runs(self, sentry_app, caplog, monkeypatch):
		s = sentry_app()

		def broken(*args, **kwargs):
			raise ValueError("bad clock")

		monkeypatch.setattr(crons, "monitor", broken)
		ran = []
		with s.Service.monitor("nightly", schedule="1h") as m:
			ran.append(True)
		assert ran == [True] and m.Slug == "nightly"
		assert warnings(caplog) == ["SentryService.monitor() failed: ValueError('bad clock'); the job is not monitored."]
		assert s.items("check_in") == []

	def test_checks_in_under_its_slug(self, sentry_app):
		s = sentry_app()
		with s.Service.monitor("nightly", schedule="1h"):
			pass
		assert [c["monitor_slug"] for c in s.items("check_in")] == ["nightly", "nightly"]
		assert [c["status"] for c in s.items("check_in")] == ["in_progress", "ok"]


class TestSpan(object):
	"""span() times a child of the current transaction under the operation and description given."""

	def test_operation_and_description(self, sentry_app):
		s = sentry_app({"sentry": {"traces_sample_rate": "1"}})
		with s.Service.transaction("task", "job"):
			with s.Service.span("db.query", "load users"):
				pass
		[transaction] = s.transactions()
		assert [(span["op"], span["description"]) for span in transaction["spans"]] == [("db.query", "load users")]


class TestScrubbedLogs(object):
	"""A log that cannot be scrubbed is not sent, with a WARNING."""

	def test_failing_scrubber_withholds_the_log(self, caplog, monkeypatch):
		def broken(self, log):
			raise KeyError("body")

		monkeypatch.setattr(scrubbing.Scrubber, "scrub_log", broken)
		assert sentry_client._scrubbed_log(scrubbing.Scrubber(), {"body": "password=1"}) is None
		assert warnings(caplog) == ["Cannot scrub a log for Sentry (KeyError('body')); it is not sent."]


class TestPending(object):
	"""client.pending(): what the delivery transport still holds; 0 for a transport that does not say."""

	def test_memory_transport_says_nothing(self, sentry_app):
		s = sentry_app()
		s.Service.capture_message("m")
		assert sentry_client.pending() == 0

	def test_delivery_transport_counts_what_waits(self, sentry_app, tmp_path):
		s = sentry_app({"sentry": {"spool_dir": str(tmp_path / "spool"), "data_source_name": "http://0123456789abcdef0123456789abcdef@127.0.0.1:9/1"}}, transport=False)
		for i in range(3):
			s.Service.capture_message("m{}".format(i))
		assert sentry_client.pending() == 3


class TestDisabledFlush(object):
	"""flush() on a disabled service: nothing to wait for; awaitable in the loop, None outside it."""

	def test_outside_the_loop(self, sentry_app):
		s = sentry_app({"sentry": {"enabled": "false"}})
		assert s.Service.flush() is None

	def test_in_the_loop_an_awaitable_already_done(self, sentry_app):
		s = sentry_app({"sentry": {"enabled": "false"}})
		seen = []

		async def main(app):
			result = s.Service.flush()
			seen.append(result.done())
			seen.append(await result)

		s.run(main)
		assert seen == [True, None]


@pytest.mark.parametrize("timeout", ["5s", "500ms", 2, 0.5])
def test_flush_timeouts_in_every_form(sentry_app, timeout, monkeypatch):
	s = sentry_app()
	seen = []
	monkeypatch.setattr(sentry_client, "flush", lambda t: seen.append(t))
	s.Service.flush(timeout)
	assert seen == [{"5s": 5.0, "500ms": 0.5}.get(timeout, timeout)]


def test_loop_detection_outside_a_loop():
	from asab_sentry import service
	assert service._loop_running() is False
	loop = asyncio.new_event_loop()  # not asyncio.run(): it would leave this thread without a current loop
	try:
		assert loop.run_until_complete(_running()) is True
	finally:
		loop.close()


async def _running():
	from asab_sentry import service
	return service._loop_running()
