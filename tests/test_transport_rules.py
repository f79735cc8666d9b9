"""
Small rules of delivery, in-process: the server's limit headers at their edges, what the SDK
reports lost, the shared backoff's end, and a sender's own bug.
"""

import email.utils
import logging
import time

import pytest

from asab_sentry import ratelimits, scheduler
from asab_sentry.stats import DeliveryStats

from test_transport_scheduler import Rig, event


class TestRetryAfter(object):
	"""`Retry-After`: seconds, or an HTTP date measured from now (GMT when it names no zone)."""

	def test_http_date_from_the_clock(self):
		when = email.utils.formatdate(time.time() + 90, usegmt=True)
		assert ratelimits.parse_retry_after(when) == pytest.approx(90, abs=2)

	def test_date_without_a_zone_is_gmt(self, monkeypatch):
		"""`-0000` (no zone given) is GMT, whatever the machine's zone is."""
		monkeypatch.setenv("TZ", "Asia/Tokyo")
		time.tzset()
		try:
			now = 1_700_000_000.0
			text = email.utils.formatdate(now + 120)  # "... -0000"
			assert text.endswith("-0000")
			assert ratelimits.parse_retry_after(text, wall_now=now) == pytest.approx(120, abs=1)
		finally:
			monkeypatch.delenv("TZ")
			time.tzset()

	def test_floor_exactly(self):
		assert ratelimits.parse_retry_after("1") == ratelimits.LIMIT_FLOOR
		assert ratelimits.parse_retry_after("1.5") == 1.5


class TestRateLimitsHeader(object):
	"""`X-Sentry-Rate-Limits`: garbage parts are skipped, the rest kept; no category means all."""

	def test_seconds_alone_limit_everything(self):
		assert ratelimits.parse_rate_limits("10") == [(10.0, [None])]

	def test_empty_categories_limit_everything(self):
		assert ratelimits.parse_rate_limits("10: :key") == [(10.0, [None])]

	def test_garbage_first_does_not_hide_the_rest(self):
		assert ratelimits.parse_rate_limits("nan:error, junk:error, 30:transaction") == [(30.0, ["transaction"])]


class TestLimits(object):
	"""A category is limited until its end (not at it); a limit on one category leaves the others."""

	def limits(self, header, now=0.0):
		r = ratelimits.RateLimits()
		r.update(429, {"X-Sentry-Rate-Limits": header}, now)
		return r

	def test_limited_until_the_end_not_at_it(self):
		r = self.limits("60:error")
		assert r.limited("error", 59.9) and not r.limited("error", 60.0)

	def test_other_categories_are_free(self):
		r = self.limits("60:transaction")
		assert r.limited("transaction", 1.0) and not r.limited("error", 1.0)

	def test_next_end_is_the_earliest_running(self):
		r = self.limits("60:transaction, 30:error")
		assert r.next_end(0.0) == 30.0
		assert r.next_end(30.0) == 60.0  # the error limit ended at 30
		assert r.next_end(60.0) is None

	def test_next_end_without_limits(self):
		assert ratelimits.RateLimits().next_end(0.0) is None


class TestHealthy(object):
	"""Healthy again exactly when the shared backoff ends."""

	def test_at_the_end_of_the_backoff(self):
		s = scheduler.Scheduler(DeliveryStats(), 10 ** 6, backoff=ratelimits.Backoff(jitter=lambda: 1.0))
		s.Backoff.failed(100.0)
		assert not s.healthy(100.5) and s.healthy(101.0)


class TestLostBySdk(object):
	"""What the SDK reports lost before the transport is counted by reason; sampling and filtering are not losses, nor spans or reports without a category."""

	@pytest.fixture
	def rig(self):
		r = Rig()
		yield r
		r.close()

	def test_counted_by_reason(self, rig):
		rig.Transport.record_lost_event("queue_overflow", data_category="error")
		assert rig.Stats.snapshot()["dropped.queue_overflow"] == 1

	@pytest.mark.parametrize("reason", ["sample_rate", "before_send", "event_processor", "backpressure"])
	def test_filtered_by_design_is_not_a_loss(self, rig, reason):
		rig.Transport.record_lost_event(reason, data_category="error")
		assert rig.Stats.snapshot()["dropped"] == 0

	@pytest.mark.parametrize("category", ["span", None])
	def test_spans_and_unknown_categories_are_not_counted(self, rig, category):
		rig.Transport.record_lost_event("network_error", data_category=category)
		assert rig.Stats.snapshot()["dropped"] == 0


class TestSenderBug(object):
	"""A bug in sending is one ERROR with the traceback, for the first one only; the envelope is dropped, not retried."""

	def test_one_error_with_traceback(self, caplog):
		r = Rig()
		try:
			def broken(body):
				raise ZeroDivisionError("oops")

			r.Sender.send = broken
			for i in range(3):
				r.Transport.capture_envelope(event("e{}".format(i)))
			with caplog.at_level(logging.ERROR, logger="asab_sentry"):
				r.pump_all()
			errors = [rec for rec in caplog.records if rec.levelno == logging.ERROR]
			assert [rec.getMessage() for rec in errors] == ["Sending an envelope to Sentry failed on a bug; the envelope is dropped"]
			assert errors[0].exc_info is not None and errors[0].exc_info[0] is ZeroDivisionError
			assert r.Stats.snapshot()["dropped.internal_error"] == 3
		finally:
			r.close()
