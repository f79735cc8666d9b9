"""
Values Sentry would discard, small API breaks and log storms (issue 10, findings 6, 10, 13).
"""

import enum
import logging

import pytest

from asab_sentry.logging_bridge import NEVER_EVENTS


class Key(str, enum.Enum):
	TENANT = "tenant"


class Count(enum.IntEnum):
	ONE = 1


class LoudKey(str):
	def __str__(self):
		raise RuntimeError("no text for you")


class TestNeverEvents(object):
	"""Finding 6: one list of loggers whose records never become events."""

	@pytest.mark.parametrize("name", [
		"asab_sentry.transport", "sentry_sdk.errors", "urllib3.connectionpool", "aiohttp.server", "aiohttp.web",
		"aiohttp.access", "aiohttp.client", "asyncio",
	])
	def test_error_records_of_listed_loggers_are_not_events(self, sentry_app, name):
		assert name.split(".")[0] in {n.split(".")[0] for n in NEVER_EVENTS}
		s = sentry_app()
		logging.getLogger(name).error("from %s", name)
		s.Service.capture_message("marker")
		assert [e.get("message") for e in s.events()] == ["marker"]

	def test_debug_events_make_no_storm(self, sentry_app, recorder):
		"""events=debug with DEBUG records on: one seed event is one event, not a self-feeding storm."""
		from asab_sentry import transport as delivery
		from asab_sentry.stats import DeliveryStats
		real = delivery.build({"dsn": recorder.dsn}, "", 1 << 20, DeliveryStats())
		s = sentry_app({"sentry:logging": {"events": "debug", "breadcrumbs": "debug"}}, environ={"SENTRY_DSN": recorder.dsn}, transport=real)
		logging.getLogger("app").debug("seed")
		recorder.wait_for(1)
		s.Service.flush(5)
		s.Service.capture_message("marker")
		events = recorder.wait_for(2)
		s.Service.flush(5)
		texts = [e.get("message") or e.get("logentry", {}).get("message") for e in recorder.events()]
		assert texts == ["seed", "marker"], texts[:10]
		assert len(events) == 2


class TestValuesSentryKeeps(object):
	"""Finding 10: nothing is sent that Sentry's ingest would discard."""

	def test_transaction_without_release_carries_none(self, sentry_app):
		s = sentry_app({"sentry": {"traces_sample_rate": "1"}})
		with s.Service.transaction("task", "no manifest"):
			pass
		t, = s.transactions()
		assert "release" not in t

	def test_notice_breadcrumb_is_sent_as_info(self, sentry_app, caplog):
		s = sentry_app()
		s.Service.add_breadcrumb(message="a", level="notice")
		s.Service.add_breadcrumb({"message": "b", "level": "loud"})
		s.Service.add_breadcrumb(message="c", level="warning")
		s.Service.capture_message("m")
		crumbs = s.events()[0]["breadcrumbs"]["values"]
		assert [(c["message"], c["level"]) for c in crumbs] == [("a", "info"), ("b", "info"), ("c", "warning")]
		assert "unknown level 'loud'" in caplog.text

	def test_user_fields_sentry_rejects_are_left_out(self, sentry_app, caplog):
		s = sentry_app()
		s.Service.set_user({"id": 7, "ip_address": "not-an-ip", "email": 5, "username": "joe", "data": 3})
		s.Service.capture_message("m")
		assert s.events()[0]["user"] == {"id": 7, "username": "joe"}
		assert "'ip_address' must be an IP address" in caplog.text

	def test_typed_context_names_are_refused(self, sentry_app, caplog):
		s = sentry_app()
		s.Service.set_context("os", {"name": 5})
		s.Service.set_context("order", {"id": 5})
		s.Service.capture_message("m")
		contexts = s.events()[0]["contexts"]
		assert contexts["order"] == {"id": 5} and "os" not in contexts
		assert "one Sentry gives a schema to" in caplog.text


class TestSmallBreaks(object):
	"""Finding 13: flush('5s'), (str, Enum) keys, keys whose __str__ raises."""

	def test_flush_takes_an_asab_duration(self, sentry_app, recorder):
		from asab_sentry import transport as delivery
		from asab_sentry.stats import DeliveryStats
		real = delivery.build({"dsn": recorder.dsn}, "", 1 << 20, DeliveryStats())
		s = sentry_app(environ={"SENTRY_DSN": recorder.dsn}, transport=real)
		done = []

		async def main(app):
			app.SentryService.capture_message("m")
			done.append(await app.SentryService.flush("5s"))

		s.run(main)
		assert done == [None] and len(recorder.events()) == 1  # delivered by the time flush returned

	def test_enum_keys_and_values_are_their_text(self, sentry_app):
		s = sentry_app()
		s.Service.set_tag(Key.TENANT, Key.TENANT)
		s.Service.set_tag("count", Count.ONE)
		s.Service.capture_message("m")
		tags = s.events()[0]["tags"]
		assert tags["tenant"] == "tenant" and tags["count"] == "1" and "Key.TENANT" not in tags

	def test_a_key_whose_str_raises_does_not_lose_the_other_tags(self, sentry_app):
		s = sentry_app(environ={"SERVICE_ID": "svc"})
		s.Service.set_tag("before", "1")
		s.Service.set_tag(LoudKey("loud"), "x")
		s.Service.set_tag("after", "2")
		s.Service.capture_message("m")
		s.Service.capture_message("n")
		for event in s.events():
			assert {k: event["tags"][k] for k in ("before", "loud", "after", "service_id")} == {"before": "1", "loud": "x", "after": "2", "service_id": "svc"}
