"""
Helpers for testing code that reports to Sentry through asab-sentry, without a server.

Examples:
```python
transport = asab_sentry.testing.MemoryTransport()
svc = asab_sentry.SentryService(app, transport=transport)
svc.capture_message("hello")
assert transport.events()[0]["message"] == "hello"
```
"""

import json
import threading
import typing

import sentry_sdk.envelope
import sentry_sdk.transport


class MemoryTransport(sentry_sdk.transport.Transport):
	"""
	A sentry-sdk transport that keeps every envelope in memory instead of sending it.

	Pass an instance as `SentryService(app, transport=...)`. Thread-safe.
	"""

	def __init__(self, options=None):
		super().__init__(options)
		self.Envelopes: typing.List[sentry_sdk.envelope.Envelope] = []
		self._Lock = threading.Lock()

	def capture_envelope(self, envelope: sentry_sdk.envelope.Envelope) -> None:
		"""Keep the envelope (a round trip through its wire form, as a server would see it)."""
		wire = envelope.serialize()
		with self._Lock:
			self.Envelopes.append(sentry_sdk.envelope.Envelope.deserialize(wire))

	def flush(self, timeout, callback=None) -> None:
		"""Nothing to wait for: envelopes are kept as soon as they are captured."""

	def items(self, item_type: typing.Optional[str] = None) -> typing.List[dict]:
		"""Payloads of the kept envelopes' items (all, or of one type such as `event` or `transaction`)."""
		with self._Lock:
			envelopes = list(self.Envelopes)
		return payloads(envelopes, item_type)

	def events(self) -> typing.List[dict]:
		"""The error and message events kept so far."""
		return self.items("event")

	def transactions(self) -> typing.List[dict]:
		"""The transactions kept so far."""
		return self.items("transaction")


def payloads(envelopes: typing.Iterable[sentry_sdk.envelope.Envelope], item_type: typing.Optional[str] = None) -> typing.List[dict]:
	"""
	The JSON payloads of the envelopes' items.

	Args:
		envelopes: Envelopes, as kept by `MemoryTransport` or parsed from the wire.
		item_type: Only items of this type (`event`, `transaction`, ...); all when None.
	"""
	result = []
	for envelope in envelopes:
		for item in envelope.items:
			if item_type is not None and item.type != item_type:
				continue
			raw = item.payload.get_bytes()
			try:
				result.append(json.loads(raw))
			except ValueError:
				continue
	return result
