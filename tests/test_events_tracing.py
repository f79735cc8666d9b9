"""
Timing as the SDK's Transaction/Span (finding 4) and timing that is true (finding 9): generators,
async generators and one Timing entered by two tasks at once.
"""

import asyncio
import datetime
import time

import pytest
import sentry_sdk


def _seconds(value):
	if isinstance(value, str):
		return datetime.datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
	return value


def _duration(item):
	return _seconds(item["timestamp"]) - _seconds(item["start_timestamp"])


class TestSdkObjectApi(object):
	"""Code written for ASAB's built-in (which returned the SDK's Transaction) keeps working."""

	def test_every_public_attribute_of_transaction_and_span_is_there(self, sentry_app):
		s = sentry_app({"sentry": {"traces_sample_rate": "1"}})
		real_tx = sentry_sdk.start_transaction(op="op", name="n")
		real_span = sentry_sdk.start_span(op="op", name="d")
		for real, timing in ((real_tx, s.Service.transaction("op", "n")), (real_span, s.Service.span("op", "d"))):
			names = [name for name in dir(real) if not name.startswith("_") and hasattr(real, name)]
			assert len(names) > 20
			assert [name for name in names if not hasattr(timing, name)] == []

	def test_built_in_style_calls_reach_sentry(self, sentry_app):
		s = sentry_app({"sentry": {"traces_sample_rate": "1"}})
		tx = s.Service.transaction("task", "migrated")
		tx.set_tag("phase", "one")
		child = tx.start_child(op="db", name="query")
		child.set_data("rows", 3)
		child.finish()
		tx.name = "renamed"
		tx.finish()
		t, = s.transactions()
		assert t["transaction"] == "renamed" and t["tags"]["phase"] == "one"
		assert [(sp["op"], sp["data"]["rows"]) for sp in t["spans"]] == [("db", 3)]

	def test_set_before_with_applies_to_the_timed_transaction(self, sentry_app):
		s = sentry_app({"sentry": {"traces_sample_rate": "1"}})
		tx = s.Service.transaction("task", "tagged first")
		tx.set_tag("early", "yes")
		with tx:
			sp = s.Service.span("db", "load")
			with sp:
				sp.set_data("k", "v")
		t, = s.transactions()
		assert t["tags"]["early"] == "yes" and t["spans"][0]["data"]["k"] == "v"

	def test_disabled_service_accepts_the_same_calls(self, sentry_app):
		s = sentry_app({"sentry": {"enabled": "false"}})
		tx = s.Service.transaction("task", "x")
		tx.set_tag("a", "b")
		tx.start_child(op="c").finish()
		tx.finish()
		assert s.Transport.Envelopes == []


class TestTrueDurations(object):
	"""Finding 9: what is timed is the work, per task and per iteration."""

	def test_generator_is_timed_to_its_last_item(self, sentry_app):
		s = sentry_app({"sentry": {"traces_sample_rate": "1"}})

		@s.Service.transaction("task", "gen")
		def gen():
			for i in range(3):
				time.sleep(0.05)
				yield i

		assert list(gen()) == [0, 1, 2]
		t, = s.transactions()
		assert _duration(t) >= 0.15

	def test_async_generator_is_timed_to_its_last_item_and_send_works(self, sentry_app):
		s = sentry_app({"sentry": {"traces_sample_rate": "1"}})
		got = []

		@s.Service.transaction("task", "agen")
		async def agen():
			received = None
			for _ in range(3):
				await asyncio.sleep(0.05)
				received = yield received

		async def main(app):
			g = agen()
			got.append(await g.__anext__())
			got.append(await g.asend("a"))
			got.append(await g.asend("b"))
			with pytest.raises(StopAsyncIteration):
				await g.asend("c")

		s.run(main)
		assert got == [None, "a", "b"]
		t, = [t for t in s.transactions() if t["transaction"] == "agen"]
		assert _duration(t) >= 0.15

	def test_one_timing_entered_by_two_tasks(self, sentry_app):
		s = sentry_app({"sentry": {"traces_sample_rate": "1"}})

		async def main(app):
			timing = app.SentryService.transaction("task", "shared")

			async def work(name, seconds):
				async with timing as t:
					t.set_tag("who", name)
					await asyncio.sleep(seconds)

			short = asyncio.ensure_future(work("short", 0.05))  # enters first, leaves first
			await asyncio.sleep(0.01)
			await asyncio.gather(work("long", 0.3), short)

		s.run(main)
		durations = {t["tags"]["who"]: _duration(t) for t in s.transactions()}
		assert durations["long"] >= 0.3 > durations["short"], durations
