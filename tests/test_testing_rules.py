"""
`asab_sentry.testing.capture_events()` (the `sentry_events` fixture), in-process: what each accessor
of `CapturedEvents` gives, from an application built here or bound for the block.
"""

import logging

from asab_sentry.testing import CapturedEvents, capture_events


class TestCapturedEvents(object):
	"""Each accessor returns its own kind of item, exactly what was sent inside the block."""

	def test_events_transactions_check_ins(self):
		with capture_events(config={"sentry": {"traces_sample_rate": "1"}}) as sent:
			assert isinstance(sent, CapturedEvents) and sent.Service is sent.App.SentryService
			sent.Service.capture_message("m")
			with sent.Service.transaction("task", "job"):
				pass
			with sent.Service.monitor("nightly", schedule="1h"):
				pass
			assert [e["message"] for e in sent.events()] == ["m"]
			assert [t["transaction"] for t in sent.transactions()] == ["job"]
			assert [(c["monitor_slug"], c["status"]) for c in sent.check_ins()] == [("nightly", "in_progress"), ("nightly", "ok")]
			assert {item.get("type") for item in sent.items()} >= {"transaction"}
			assert sent.items("check_in") == sent.check_ins()

	def test_logs_after_flush(self):
		with capture_events(config={"sentry": {"enable_logs": "true"}, "sentry:logging": {"logs": "warning"}}) as sent:
			logging.getLogger("orders").warning("stock low for %s", "o-1")
			sent.flush()
			assert [(log["body"], log["level"]) for log in sent.logs()] == [("stock low for o-1", "warn")]

	def test_clear_forgets_what_was_sent(self):
		with capture_events() as sent:
			sent.Service.capture_message("before")
			sent.clear()
			sent.Service.capture_message("after")
			assert [e["message"] for e in sent.events()] == ["after"]

	def test_bound_service_gets_a_transport_for_the_block(self, sentry_app):
		s = sentry_app()
		s.Service.capture_message("outside")
		with capture_events(s.App) as sent:
			s.Service.capture_message("inside")
			assert [e["message"] for e in sent.events()] == ["inside"]
		s.Service.capture_message("after")
		assert [e["message"] for e in s.events()] == ["outside", "after"]
