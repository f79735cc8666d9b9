"""
The delivery transport's rules, driven step by step: a fake clock, a scripted server, no threads
(`threads=0`, `pump()`), no network and no wall-clock sleeps. Each test asserts on the requests the
server got and on the counts.
"""

import errno
import logging

import pytest
import sentry_sdk.envelope

from asab_sentry import ratelimits
from asab_sentry.scheduler import DEFAULT_MAX_ATTEMPTS
from asab_sentry import spool
from asab_sentry.spool import DiskSpool
from asab_sentry.stats import DeliveryStats
from asab_sentry.testing import TEST_DSN
from asab_sentry.transport import DeliveryTransport

from recorder import FakeClock, ScriptedSender


def event(message: str) -> sentry_sdk.envelope.Envelope:
	envelope = sentry_sdk.envelope.Envelope()
	envelope.add_event({"event_id": "{:032x}".format(abs(hash(message))), "message": message, "level": "error"})
	return envelope


def transaction(name: str) -> sentry_sdk.envelope.Envelope:
	envelope = sentry_sdk.envelope.Envelope()
	envelope.add_transaction({"event_id": "{:032x}".format(abs(hash(name))), "type": "transaction", "transaction": name, "spans": []})
	return envelope


class Rig(object):
	"""A transport on a fake clock and a scripted server."""

	def __init__(self, script=(), default=(200, {}), spool_dir=None, **kwargs):
		self.Clock = FakeClock()
		self.Sender = ScriptedSender(self.Clock, script, default)
		self.Stats = DeliveryStats()
		self.Spool = DiskSpool(spool_dir) if spool_dir else None
		self.Transport = DeliveryTransport({"dsn": TEST_DSN}, self.Spool, self.Stats, sender=self.Sender, clock=self.Clock, threads=0, **kwargs)

	def pump_all(self) -> int:
		"""Send everything that may be sent now; returns how many requests went out."""
		count = 0
		while self.Transport.pump():
			count += 1
		return count

	def run_for(self, seconds: float, step: float = 0.01, capture=None) -> None:
		"""Move the clock `seconds` in steps; each step captures what `capture(i)` returns (if any), then sends."""
		steps = int(round(seconds / step))
		for i in range(steps):
			if capture is not None:
				envelope = capture(i)
				if envelope is not None:
					self.Transport.capture_envelope(envelope)
			self.pump_all()
			self.Clock.advance(step)

	def messages(self):
		return [e["message"] for e in self.Sender.delivered()]

	def close(self):
		self.Transport.kill()


@pytest.fixture
def rig():
	made = []

	def make(*args, **kwargs):
		r = Rig(*args, **kwargs)
		made.append(r)
		return r

	yield make
	for r in made:
		r.close()


class TestBackoff(object):
	"""After a failure no request goes out until the backoff ends; captures never shorten it."""

	def test_outage_at_500_events_per_second_makes_a_handful_of_requests(self, rig):
		r = rig(default=(503, {}))
		r.run_for(10.0, step=0.002, capture=lambda i: event("e{}".format(i)))
		assert r.Stats.snapshot()["captured"] == 5000
		# 1, 2, 4, 8 s steps (with +-20% jitter): at most 5 requests in 10 s, not one per capture.
		assert 3 <= len(r.Sender.Requests) <= 5
		assert r.Stats.snapshot()["dropped"] == 0

	def test_backoff_doubles_between_requests(self, rig):
		r = rig(default=(500, {}))
		r.Transport.capture_envelope(event("one"))
		r.run_for(40.0, step=0.05)
		times = [t for t, _ in r.Sender.Requests]
		gaps = [b - a for a, b in zip(times, times[1:])]
		assert len(gaps) >= 3
		for earlier, later in zip(gaps, gaps[1:]):
			assert later > earlier * 1.3, gaps

	def test_success_resets_the_backoff(self, rig):
		r = rig(script=[(503, {})], default=(200, {}))
		r.Transport.capture_envelope(event("a"))
		r.run_for(3.0, step=0.05)
		r.Transport.capture_envelope(event("b"))
		before = len(r.Sender.Requests)
		r.pump_all()
		assert len(r.Sender.Requests) == before + 1 and r.messages()[-1] == "b"

	@pytest.mark.parametrize("value, wait", [("0", 1.0), ("-5", 1.0), ("nan", 1.0), ("garbage", 60.0), ("", 60.0)])
	def test_429_with_a_useless_retry_after_is_no_tight_loop(self, rig, value, wait):
		"""0 and negative: the floor (1 s); garbage: the default (60 s); the error is kept, not dropped."""
		r = rig(script=[(429, {"Retry-After": value})], default=(200, {}))
		r.Transport.capture_envelope(event("x"))
		r.run_for(wait + 5.0, step=0.05, capture=lambda i: event("n{}".format(i)) if i % 10 == 0 else None)
		times = [t for t, _ in r.Sender.Requests]
		assert times[1] - times[0] >= wait - 0.051
		assert times[1] - times[0] <= wait + 0.051
		assert "x" in r.messages()[1:] and r.Stats.snapshot()["dropped"] == 0

	def test_503_retry_after_is_honoured(self, rig):
		r = rig(script=[(503, {"Retry-After": "30"})], default=(200, {}))
		r.Transport.capture_envelope(event("x"))
		r.run_for(40.0, step=0.1, capture=lambda i: event("n{}".format(i)))
		times = [t for t, _ in r.Sender.Requests]
		assert times[1] - times[0] >= 30.0 - 0.11


class TestRetryAfterParsing(object):
	"""`Retry-After` and `X-Sentry-Rate-Limits` are parsed with a floor and a ceiling."""

	@pytest.mark.parametrize("value, seconds", [
		("0", 1.0), ("-10", 1.0), ("garbage", 60.0), (None, 60.0), ("nan", 1.0), ("inf", 3600.0),
		("1e12", 3600.0), ("2.5", 2.5), ("120", 120.0),
	])
	def test_values(self, value, seconds):
		assert ratelimits.parse_retry_after(value) == seconds

	def test_http_date(self):
		now = 1_700_000_000.0
		import email.utils
		assert ratelimits.parse_retry_after(email.utils.formatdate(now + 90, usegmt=True), wall_now=now) == pytest.approx(90, abs=1)
		assert ratelimits.parse_retry_after(email.utils.formatdate(now - 90, usegmt=True), wall_now=now) == 1.0

	def test_rate_limits_header(self):
		assert ratelimits.parse_rate_limits("60:transaction;span:organization, 10::key, junk:error, 0:error, 1e9:") == [
			(60.0, ["transaction", "span"]), (10.0, [None]), (1.0, ["error"]), (86400.0, [None]),
		]


class TestRetryInRounds(object):
	"""An envelope the server always fails blocks no other; it is dropped after its budget."""

	def test_poison_envelope_does_not_block_the_others(self, rig):
		r = rig(default=lambda raw: (500, {}) if b"poison" in raw else (200, {}))
		r.Transport.capture_envelope(event("poison"))
		for i in range(20):
			r.Transport.capture_envelope(event("good {}".format(i)))
		r.run_for(60.0, step=0.1)
		delivered = [m for m in r.messages() if m.startswith("good")]
		assert sorted(set(delivered)) == sorted("good {}".format(i) for i in range(20))

	def test_poison_envelope_is_dropped_as_expired_after_max_attempts(self, rig):
		r = rig(default=lambda raw: (500, {}) if b"poison" in raw else (200, {}))
		r.Transport.capture_envelope(event("poison"))
		r.run_for(30 * 3600.0, step=30.0)
		attempts = [m for m in r.messages() if m == "poison"]
		assert len(attempts) == DEFAULT_MAX_ATTEMPTS
		s = r.Stats.snapshot()
		assert s["dropped.expired"] == 1 and r.Transport.pending() == 0

	def test_envelope_older_than_max_retry_age_is_dropped(self, rig):
		r = rig(default=(503, {}), max_retry_age=600.0)
		r.Transport.capture_envelope(event("old"))
		r.run_for(700.0, step=1.0)
		assert r.Stats.snapshot()["dropped.expired"] == 1 and r.Transport.pending() == 0
		assert 0 < len(r.Sender.Requests) < 20


class TestRateLimits(object):
	"""Rate-limited telemetry is dropped at capture and counted per category; errors wait."""

	def test_limited_transactions_are_dropped_at_capture_errors_sent(self, rig):
		r = rig(script=[(200, {"X-Sentry-Rate-Limits": "3600:transaction:organization"})])
		r.Transport.capture_envelope(event("first"))
		r.pump_all()
		for i in range(5):
			r.Transport.capture_envelope(transaction("t{}".format(i)))
		r.Transport.capture_envelope(event("second"))
		r.pump_all()
		assert r.messages() == ["first", "second"]
		assert r.Stats.snapshot()["dropped.ratelimit.transaction"] == 5
		assert r.Transport.pending() == 0

	def test_limited_errors_wait_and_are_sent_after(self, rig):
		r = rig(script=[(429, {"X-Sentry-Rate-Limits": "10:error:organization"})])
		r.Transport.capture_envelope(event("held"))
		r.run_for(9.0, step=0.1)
		assert len(r.Sender.Requests) == 1
		r.run_for(2.0, step=0.1)
		assert r.messages() == ["held", "held"] and r.Stats.snapshot()["dropped"] == 0

	def test_queries_never_drop_or_count(self, rig):
		r = rig(script=[(429, {"X-Sentry-Rate-Limits": "3600::organization"})])
		r.Transport.capture_envelope(event("e"))
		r.pump_all()
		r.Scheduler = r.Transport.Scheduler
		r.Scheduler.add(__import__("asab_sentry.scheduler", fromlist=["Entry"]).Entry("transaction", 10, r.Clock.time(), body=b"{}\n"))
		before = r.Stats.snapshot()
		for _ in range(3):
			assert r.Transport.is_healthy() is False
			assert r.Transport.pending() == 2
			r.Transport.flush(0.0)
			r.Scheduler.settled(r.Clock.monotonic() + 1, r.Clock.monotonic())
		assert r.Stats.snapshot() == before and r.Transport.pending() == 2


class TestAnswers(object):
	"""What each kind of answer does."""

	def test_refused_envelope_is_dropped_and_counted(self, rig, caplog):
		r = rig(script=[(400, {})])
		r.Transport.capture_envelope(event("bad"))
		r.Transport.capture_envelope(event("good"))
		r.pump_all()
		assert r.messages() == ["bad", "good"]
		assert r.Stats.snapshot()["dropped.rejected"] == 1
		assert "refused an envelope (400" in caplog.text

	def test_connection_errors_are_retried(self, rig):
		r = rig(script=[ConnectionResetError(errno.ECONNRESET, "reset"), ConnectionRefusedError(errno.ECONNREFUSED, "refused")])
		r.Transport.capture_envelope(event("x"))
		r.run_for(10.0, step=0.05)
		assert r.messages() == ["x", "x", "x"]
		s = r.Stats.snapshot()
		assert s["sent"] == 1 and s["retried"] == 2 and s["dropped"] == 0

	def test_bug_in_the_sender_is_logged_once_with_traceback_and_not_retried(self, rig, caplog):
		r = rig(default=TypeError("a bug"))
		for i in range(3):
			r.Transport.capture_envelope(event("e{}".format(i)))
		with caplog.at_level(logging.DEBUG, logger="asab_sentry"):
			r.run_for(30.0, step=0.5)
		assert len(r.Sender.Requests) == 3  # once each, never again
		errors = [rec for rec in caplog.records if rec.levelno == logging.ERROR]
		assert len(errors) == 1 and errors[0].exc_info is not None and errors[0].name.startswith("asab_sentry")
		assert r.Stats.snapshot()["dropped.internal_error"] == 3

	def test_network_failure_is_a_warning_once_per_kind(self, rig, caplog):
		import ssl
		r = rig(default=ssl.SSLCertVerificationError(1, "certificate verify failed"))
		r.Transport.capture_envelope(event("x"))
		with caplog.at_level(logging.DEBUG, logger="asab_sentry"):
			r.run_for(120.0, step=0.5)
		warnings = [rec for rec in caplog.records if rec.levelno == logging.WARNING and "tls" in rec.getMessage()]
		assert len(r.Sender.Requests) > 3 and len(warnings) == 1
		assert "certificate verify failed" in warnings[0].getMessage()


class TestStopLine(object):
	"""The line logged at close says what was lost and what is left."""

	def test_without_a_spool_what_is_left_is_counted_as_dropped(self, rig, caplog):
		r = rig(default=(503, {}))
		for i in range(3):
			r.Transport.capture_envelope(event("e{}".format(i)))
		r.pump_all()
		with caplog.at_level(logging.INFO, logger="asab_sentry"):
			r.Transport.kill()
		line, = [rec.getMessage() for rec in caplog.records if rec.getMessage().startswith("Sentry delivery")]
		assert "dropped 3 (at_exit 3)" in line and line.endswith("0 left to send")

	def test_with_a_spool_what_is_left_stays_on_disk(self, rig, caplog, tmp_path):
		r = rig(default=(503, {}), spool_dir=str(tmp_path / "spool"))
		for i in range(3):
			r.Transport.capture_envelope(event("e{}".format(i)))
		r.pump_all()
		with caplog.at_level(logging.INFO, logger="asab_sentry"):
			r.Transport.kill()
		line, = [rec.getMessage() for rec in caplog.records if rec.getMessage().startswith("Sentry delivery")]
		assert "dropped 0" in line and line.endswith("3 left to send")
		assert len(spool.pending(str(tmp_path / "spool"))) == 3


class TestConcurrency(object):
	"""One request at a time until the server answered (its limits known) and after a failure; then up to the pool."""

	def test_window_opens_on_an_answer_and_closes_on_a_failure(self):
		from asab_sentry import scheduler
		s = scheduler.Scheduler(DeliveryStats(), 10 ** 6, max_in_flight=3, parallel_above=0, backoff=ratelimits.Backoff(jitter=lambda: 1.0))
		for i in range(6):
			s.add(scheduler.Entry("error", 10, 0.0, body=b"{}"))
		first, _ = s.next(0.0, 0.0)
		assert first is not None and s.next(0.0, 0.0) == (None, None)
		s.done(first, scheduler.SENT, 0.0, 200, {})
		batch = [s.next(0.0, 0.0)[0] for _ in range(4)]
		assert [e is not None for e in batch] == [True, True, True, False]
		s.done(batch[0], scheduler.FAILED, 0.0, 503, {})
		s.done(batch[1], scheduler.SENT, 0.0, 200, {})  # an answer to a request sent before the failure
		s.done(batch[2], scheduler.FAILED, 0.5, 503, {})
		assert s.next(0.5, 0.0)[0] is None  # the backoff runs
		again, _ = s.next(2.5, 0.0)
		assert again is not None and s.next(2.5, 0.0) == (None, None)  # one at a time after a failure


	def test_few_waiting_go_one_at_a_time_in_capture_order(self):
		from asab_sentry import scheduler
		s = scheduler.Scheduler(DeliveryStats(), 10 ** 6, max_in_flight=4, parallel_above=3)
		entries = [scheduler.Entry("error", 10, 0.0, body=b"{}") for _ in range(5)]
		for entry in entries:
			s.add(entry)
		first, _ = s.next(0.0, 0.0)
		s.done(first, scheduler.SENT, 0.0, 200, {})
		assert [s.next(0.0, 0.0)[0] for _ in range(2)] == entries[1:3]  # 4 waiting: behind, several at a time
		s.done(entries[1], scheduler.SENT, 0.0, 200, {})
		s.done(entries[2], scheduler.SENT, 0.0, 200, {})
		assert s.next(0.0, 0.0)[0] is entries[3] and s.next(0.0, 0.0) == (None, None)  # 2 waiting: in order, one at a time


class TestFailureKinds(object):
	"""A network failure's WARNING names what went wrong."""

	@pytest.mark.parametrize("make, kind", [
		(lambda: ConnectionRefusedError(111, "Connection refused"), "connection"),
		(lambda: _wrapped(ConnectionRefusedError(111, "Connection refused")), "connection"),
		(lambda: __import__("socket").gaierror(-2, "Name or service not known"), "dns"),
		(lambda: __import__("ssl").SSLCertVerificationError(1, "certificate verify failed"), "tls"),
		(lambda: __import__("socket").timeout("timed out"), "timeout"),
	])
	def test_kind(self, make, kind):
		from asab_sentry.sender import failure_kind
		assert failure_kind(make())[0] == kind


def _wrapped(cause):
	"""An error as urllib3 raises it for a refused connection (NewConnectionError, also a ConnectTimeoutError)."""
	import urllib3
	try:
		try:
			raise cause
		except OSError as e:
			raise urllib3.exceptions.NewConnectionError(None, "Failed to establish a new connection: {}".format(e)) from e
	except urllib3.exceptions.NewConnectionError as error:
		return error


class TestOffTheCallersThread(object):
	"""Without a spool a capture only queues the envelope; a sender serialises it (up to LAZY_MAX waiting)."""

	def test_serialised_by_the_sender_not_the_caller(self, rig):
		from asab_sentry import transport
		r = rig(default=(503, {}))
		calls = []
		envelope = event("lazy")
		real = envelope.serialize
		envelope.serialize = lambda: calls.append("serialize") or real()
		r.Transport.capture_envelope(envelope)
		assert calls == [] and r.Transport.Scheduler.Lazy == 1
		r.pump_all()
		assert calls == ["serialize"] and r.messages() == ["lazy"]
		for i in range(transport.LAZY_MAX + 10):
			r.Transport.capture_envelope(event("e{}".format(i)))
		assert r.Transport.Scheduler.Lazy == transport.LAZY_MAX  # past it, the caller serialised
		r.Transport.Scheduler.Backoff.Until = 0.0
		r.Sender.Default = (200, {})
		r.run_for(5.0, step=0.5)
		assert r.Transport.pending() == 0 and r.Transport.Scheduler.Lazy == 0
		assert len(set(r.messages())) == transport.LAZY_MAX + 11
