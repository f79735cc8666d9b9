"""
Scrubbing: credentials and personal data removed before an event leaves the process.

sentry-sdk's `EventScrubber` does the work (its denylist: password, secret, token, cookie,
authorization, ...), recursively. It sees only dicts, though: a request body that the aiohttp
integration keeps as a raw string (a form post, a JSON text) would pass it in clear. Here such a
body is parsed into a dict and scrubbed by the same scrubber, or withheld when it cannot be parsed
and mentions a denylisted word; and the client address is dropped unless `send_default_pii`.
"""

import json
import typing
import urllib.parse

import sentry_sdk.scrubber
import sentry_sdk.utils

FILTERED = "[Filtered]"


class Scrubber(object):
	"""
	The SDK's `EventScrubber` (recursive) plus the request-body step above.

	Args:
		send_default_pii: Keep personal data (client address, user ids) as the SDK would.
	"""

	def __init__(self, send_default_pii: bool):
		self.SendDefaultPii = send_default_pii
		self.EventScrubber = sentry_sdk.scrubber.EventScrubber(recursive=True, send_default_pii=send_default_pii)
		self._Words = tuple(word.lower() for word in self.EventScrubber.denylist)

	def scrub_request(self, event: dict) -> dict:
		"""Scrub `event["request"]`'s body and client address; return the event."""
		request = event.get("request")
		if not isinstance(request, dict):
			return event
		data = request.get("data")
		if isinstance(data, (str, bytes)) and len(data) > 0:
			request["data"] = self._scrub_body(data if isinstance(data, str) else data.decode("utf-8", "replace"))
		if not self.SendDefaultPii:
			env = request.get("env")
			if isinstance(env, dict):
				env.pop("REMOTE_ADDR", None)
		return event

	def _scrub_body(self, body: str) -> typing.Any:
		parsed: typing.Any = None
		try:
			parsed = json.loads(body)
		except ValueError:
			if "=" in body:
				pairs = urllib.parse.parse_qsl(body, keep_blank_values=True)
				if pairs:
					parsed = dict(pairs)
		if isinstance(parsed, (dict, list)):
			# The scrubber marks what it removed with AnnotatedValue, which only the SDK's serializer
			# understands; it has already run at this point, so the marks are resolved here.
			if isinstance(parsed, dict):
				self.EventScrubber.scrub_dict(parsed)
			else:
				self.EventScrubber.scrub_list(parsed)
			return _resolve(parsed)
		lowered = body.lower()
		if any(word in lowered for word in self._Words):
			return FILTERED
		return body


def _resolve(value: typing.Any) -> typing.Any:
	if isinstance(value, sentry_sdk.utils.AnnotatedValue):
		return value.value
	if isinstance(value, dict):
		return {k: _resolve(v) for k, v in value.items()}
	if isinstance(value, list):
		return [_resolve(v) for v in value]
	return value
