"""asab_sentry.testing, the helpers for users' tests: the MemoryTransport keeps what would be sent, and the harness runs an app."""

import threading

import sentry_sdk
import sentry_sdk.envelope

from asab_sentry import testing


def _envelope(*items):
	envelope = sentry_sdk.envelope.Envelope(headers={"event_id": "e" * 32})
	for item in items:
		envelope.add_item(item)
	return envelope


def _json_item(payload, item_type):
	return sentry_sdk.envelope.Item(payload=sentry_sdk.envelope.PayloadRef(json=payload), type=item_type)


class TestMemoryTransport(object):
	"""The transport keeps every envelope as a server would receive it."""

	def test_events_transactions_and_items_by_type(self, sentry_app):
		s = sentry_app({"sentry": {"traces_sample_rate": "1"}})
		s.Service.capture_message("hello")
		with sentry_sdk.start_transaction(name="job", op="task"):
			pass
		assert [e["message"] for e in s.events()] == ["hello"] == [e["message"] for e in s.Transport.events()]
		assert [t["transaction"] for t in s.transactions()] == ["job"] == [t["transaction"] for t in s.Transport.transactions()]
		assert [p.get("message") or p.get("transaction") for p in s.items()] == ["hello", "job"]
		assert s.items("transaction") == s.transactions() and s.items("event") == s.events()
		assert s.Transport.items() == s.items()

	def test_an_envelope_is_kept_as_parsed_from_its_wire_form(self):
		transport = testing.MemoryTransport()
		sent = _envelope(_json_item({"message": "m"}, "event"))
		transport.capture_envelope(sent)
		kept, = transport.Envelopes
		assert kept is not sent
		assert kept.serialize() == sent.serialize()
		assert transport.events() == [{"message": "m"}]

	def test_options_are_the_transports(self):
		options = {"dsn": testing.TEST_DSN}
		assert testing.MemoryTransport(options).options is options

	def test_flush_keeps_everything(self):
		transport = testing.MemoryTransport()
		transport.capture_envelope(_envelope(_json_item({"message": "m"}, "event")))
		assert transport.flush(1.0) is None
		assert transport.flush(0, callback=lambda *a: None) is None
		assert len(transport.Envelopes) == 1

	def test_envelopes_from_many_threads_are_all_kept(self):
		transport = testing.MemoryTransport()

		def send(n):
			for i in range(50):
				transport.capture_envelope(_envelope(_json_item({"message": "%d-%d" % (n, i)}, "event")))

		threads = [threading.Thread(target=send, args=(n,)) for n in range(4)]
		for t in threads:
			t.start()
		for t in threads:
			t.join()
		assert sorted(e["message"] for e in transport.events()) == sorted("%d-%d" % (n, i) for n in range(4) for i in range(50))


class TestPayloads(object):
	"""payloads() gives the JSON payloads of envelope items, of all types or of one."""

	def test_filter_by_type_and_skip_what_is_not_json(self):
		raw = sentry_sdk.envelope.Item(payload=sentry_sdk.envelope.PayloadRef(bytes=b"\x00not json"), type="attachment")
		envelopes = [
			_envelope(raw, _json_item({"message": "a"}, "event")),
			_envelope(_json_item({"transaction": "t"}, "transaction"), _json_item({"message": "b"}, "event")),
		]
		assert testing.payloads(envelopes) == [{"message": "a"}, {"transaction": "t"}, {"message": "b"}]
		assert testing.payloads(envelopes, "event") == [{"message": "a"}, {"message": "b"}]
		assert testing.payloads(envelopes, "transaction") == [{"transaction": "t"}]
		assert testing.payloads(envelopes, "attachment") == []
		assert testing.payloads([]) == []


class TestHarnessRun(object):
	"""SentryApp.run() runs the application around `main` and returns its exit code."""

	def test_without_main_the_app_starts_and_stops(self, sentry_app):
		s = sentry_app()
		assert s.run() == 0

	def test_exit_code_of_the_app(self, sentry_app):
		s = sentry_app()

		async def main(app):
			app.set_exit_code(3)

		assert s.run(main) == 3

	def test_main_gets_the_app(self, sentry_app):
		s = sentry_app()
		seen = []

		async def main(app):
			seen.append(app)

		s.run(main)
		assert seen == [s.App]

	def test_the_service_is_the_apps(self, sentry_app):
		s = sentry_app()
		assert s.App.SentryService is s.Service
		assert isinstance(s.Transport, testing.MemoryTransport)

	def test_a_transport_of_ones_own(self, sentry_app):
		mine = testing.MemoryTransport()
		s = sentry_app(transport=mine)
		s.Service.capture_message("to mine")
		assert s.Transport is mine
		assert [e["message"] for e in mine.events()] == ["to mine"]


class TestMemoryTransportReentry(object):
	"""A capture made while the MemoryTransport is keeping another (on the same thread) does not deadlock."""

	def test_capture_during_capture_is_kept(self, sentry_app, monkeypatch):
		import sentry_sdk.envelope
		s = sentry_app()
		original = sentry_sdk.envelope.Envelope.deserialize
		inner = []

		def deserialize(data):
			if not inner:
				inner.append(True)
				s.Service.capture_message("from inside")  # what a task finalised by the GC can cause
			return original(data)

		monkeypatch.setattr(sentry_sdk.envelope.Envelope, "deserialize", staticmethod(deserialize))
		s.Service.capture_message("outer")
		assert sorted(e["message"] for e in s.events()) == ["from inside", "outer"]
