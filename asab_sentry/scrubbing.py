"""
Scrubbing: the one policy that removes credentials and personal data from everything asab-sentry
sends (error events, transactions and their spans, breadcrumbs, logs), and decides which request
bodies may be read at all.

It runs on the event after sentry-sdk has serialised it (`before_send`,
`before_send_transaction`, `before_send_log`), so every value is plain JSON: a header multidict, a
config section or any other mapping has become a dict by then and is scrubbed like one. The SDK's
own `EventScrubber` is switched off (`DisabledEventScrubber`): there is no second scrubber.

The rules:

- A key is secret when its name, split into parts (`newPassword` -> `new_password`,
`X-Access-Token` -> `x_access_token`), contains one of `DENYLIST`, has one of `DENYLIST_PARTS`
as a whole part, or contains one of the `[sentry] scrub_fields` as whole parts; unless the whole
name is one of `[sentry] scrub_allow`. Case never matters. A secret key keeps its name and its
value becomes `[Filtered]`, whatever the value's type.
- Keys naming the client's address (`PII_DENYLIST`: `X-Forwarded-For`, `Forwarded`, `X-Real-IP`,
`REMOTE_ADDR`, ...) are filtered the same way unless `send_default_pii`.
- In every string: the userinfo of a URL (`https://user:pass@host`) becomes `[Filtered]`, and so
does the value of every `key=value` pair (query strings, form bodies, log lines) and every
`"key": "value"` pair (JSON or a dict's repr inside a string) whose key is secret.
- A request body kept as text is parsed (JSON, or a form) and scrubbed as data; text that cannot
be parsed and mentions a secret word is withheld. Bodies of binary or multipart content, bodies
over `[sentry] max_request_body_size`, and bodies on transactions (unless
`[sentry] transaction_request_bodies`) are left out.
- The user (`set_user`) is sent as given, except for secret keys.

Key decisions are cached, so a key costs one dict lookup after the first time it is seen.
"""

import json
import logging
import re
import typing
import urllib.parse

import sentry_sdk.scrubber

L = logging.getLogger(__name__)

FILTERED = "[Filtered]"

#: Secret when the key's normalised name (lower case, parts joined by `_`) contains one of these.
DENYLIST: typing.Tuple[str, ...] = (
	"password", "passwd", "passphrase", "secret", "token", "api_key", "apikey", "private_key",
	"privatekey", "credential", "cookie", "authorization", "csrf", "xsrf", "sessionid", "sessid",
	"mysql_pwd", "connect_sid", "signature",
)

#: Secret when one of the key's parts is one of these (so `auth` hits `X-Auth-Token`, not `author`).
DENYLIST_PARTS: typing.Tuple[str, ...] = ("auth", "session", "pwd", "pass", "jwt")

#: The client's address: filtered unless `send_default_pii` (matched as whole parts).
PII_DENYLIST: typing.Tuple[str, ...] = (
	"x_forwarded_for", "x_real_ip", "real_ip", "remote_addr", "ip_address", "client_ip",
	"x_client_ip", "true_client_ip", "cf_connecting_ip",
)

#: PII keys that must be the whole name (`Forwarded`, but not `X-Forwarded-Proto`).
PII_WHOLE: typing.Tuple[str, ...] = ("forwarded",)

#: The request body limits of `[sentry] max_request_body_size`, in bytes (as sentry-sdk's).
BODY_SIZE_LIMITS: typing.Dict[str, typing.Optional[int]] = {
	"never": 0,
	"small": 1000,
	"medium": 10000,
	"always": None,
}

_SECRET = 1
_PII = 2
_CACHE_LIMIT = 10000
_CACHED_STRING_LENGTH = 500
_STRING_CACHE_LIMIT = 4096

_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])|(?<=[A-Za-z])(?=[0-9])")
_NON_ALNUM = re.compile(r"[^a-z0-9]+")
# `scheme://userinfo@`: the userinfo (up to the host) is replaced.
_USERINFO = re.compile(r"([A-Za-z][A-Za-z0-9+.\-]*://)[^\s/?#@]+@")
# `key=` of a `key=value` pair in a query string, a form body, a URL path or free text.
_PAIR = re.compile(r"([^\s=&;?#,'\"<>()\[\]{}/:]+)=")
# `"key":` or `'key':` of a pair in a JSON text or a dict's repr.
_QUOTED_PAIR = re.compile(r"([\"'])([^\"'\s]{1,100})\1\s*:\s*")
# Where an unquoted value ends.
_VALUE_END = re.compile(r"[\s&;#,'\"<>]")
_BARE_VALUE_END = re.compile(r"[\s,}\]]")

_BINARY_PREFIXES = ("multipart/", "image/", "audio/", "video/", "font/")
_TEXT_TYPES = (
	"application/json", "application/x-www-form-urlencoded", "application/xml",
	"application/graphql", "application/javascript", "application/x-ndjson",
)


def normalize_key(key: str) -> str:
	"""
	The name a key is matched by: parts split at camelCase and at every non-alphanumeric
	character, lower case, joined by `_`, with a `_` at both ends.

	Examples:
	```python
	>>> normalize_key("X-Access-Token"), normalize_key("newPassword"), normalize_key("APIKey")
	('_x_access_token_', '_new_password_', '_api_key_')
	```
	"""
	return "_" + _NON_ALNUM.sub("_", _CAMEL.sub("_", key).lower()).strip("_") + "_"


class DisabledEventScrubber(sentry_sdk.scrubber.EventScrubber):
	"""
	Given to sentry-sdk as `event_scrubber` so it does not run its own (an `EventScrubber` is
	created by default otherwise): `Scrubber` does all the scrubbing, after serialisation.
	"""

	def scrub_event(self, event) -> None:
		"""Do nothing: `Scrubber.scrub_event` runs in `before_send` / `before_send_transaction`."""


class Scrubber(object):
	"""
	The scrubbing policy (see the module's documentation) for one configuration.

	Args:
		send_default_pii: Keep the client's address (`X-Forwarded-For`, `REMOTE_ADDR`, ...).
		scrub_fields: More secret key names, matched as whole parts (`[sentry] scrub_fields`).
		scrub_allow: Key names never filtered, matched as the whole name (`[sentry] scrub_allow`).
		max_request_body_size: `never`, `small`, `medium` or `always` (`[sentry] max_request_body_size`).
		transaction_request_bodies: Keep request bodies on transactions too.

	Examples:
	```python
	>>> Scrubber().scrub_event({"extra": {"newPassword": "x", "url": "https://h/?api_key=k&a=1"}})["extra"]
	{'newPassword': '[Filtered]', 'url': 'https://h/?api_key=[Filtered]&a=1'}
	```
	"""

	def __init__(
		self,
		send_default_pii: bool = False,
		scrub_fields: typing.Iterable[str] = (),
		scrub_allow: typing.Iterable[str] = (),
		max_request_body_size: str = "medium",
		transaction_request_bodies: bool = False,
	):
		self.BodyLimit = BODY_SIZE_LIMITS[max_request_body_size]
		self.TransactionBodies = transaction_request_bodies
		patterns = [re.escape(w) for w in DENYLIST]
		patterns += ["_{}s?_".format(re.escape(w)) for w in DENYLIST_PARTS]
		patterns += [re.escape(normalize_key(f)) for f in scrub_fields]
		self._SecretKey = re.compile("|".join(patterns))
		pii = ["_{}_".format(re.escape(w)) for w in PII_DENYLIST]
		pii += ["(?:^| )_{}_(?: |$)".format(re.escape(w)) for w in PII_WHOLE]
		self._PiiKey = re.compile("|".join(pii))
		self._Allowed = frozenset(normalize_key(f) for f in scrub_allow) | frozenset(
			"_" + _NON_ALNUM.sub("_", f.lower()).strip("_") + "_" for f in scrub_allow)
		# What is filtered where personal data is not allowed, and in the user (set as given).
		self._Mask = _SECRET if send_default_pii else _SECRET | _PII
		self._Decisions: typing.Dict[str, int] = {}
		# Strings repeat (URLs, span descriptions, log lines): their results are kept, bounded.
		self._Strings: typing.Dict[str, str] = {}

	@classmethod
	def from_config(cls, config) -> "Scrubber":
		"""The scrubber for a `SentryConfig`."""
		return cls(
			send_default_pii=config.send_default_pii,
			scrub_fields=config.scrub_fields,
			scrub_allow=config.scrub_allow,
			max_request_body_size=config.max_request_body_size,
			transaction_request_bodies=config.transaction_request_bodies,
		)

	# -- keys -----------------------------------------------------------------------------------

	def decide(self, key: str) -> int:
		"""What a key is: 0 (nothing), `_SECRET` (1) or `_PII` (2). Cached."""
		decision = self._Decisions.get(key)
		if decision is None:
			# Matched as split at camelCase and as written (so `PaSsWoRd` is still a password).
			camel = normalize_key(key)
			plain = "_" + _NON_ALNUM.sub("_", key.lower()).strip("_") + "_"
			name = camel if plain == camel else camel + " " + plain
			if camel in self._Allowed or plain in self._Allowed:
				decision = 0
			elif self._SecretKey.search(name) is not None:
				decision = _SECRET
			elif self._PiiKey.search(name) is not None:
				decision = _PII
			else:
				decision = 0
			if len(self._Decisions) >= _CACHE_LIMIT:
				self._Decisions.clear()  # bounded: keys made of data (ids as keys) must not grow it forever
			self._Decisions[key] = decision
		return decision

	def is_secret(self, key: str) -> bool:
		"""True when a value under `key` is filtered (with this scrubber's `send_default_pii`)."""
		return bool(self.decide(key) & self._Mask)

	# -- values ---------------------------------------------------------------------------------

	def scrub_string(self, value: str, mask: typing.Optional[int] = None) -> str:
		"""A string with URL userinfo and the values of secret `key=value` / `"key": value` pairs filtered."""
		if mask is None or mask == self._Mask:
			cached = self._Strings.get(value)
			if cached is not None:
				return cached
			result = self._scrub_string(value, self._Mask)
			if len(value) <= _CACHED_STRING_LENGTH:
				if len(self._Strings) >= _STRING_CACHE_LIMIT:
					self._Strings.clear()
				self._Strings[value] = result
			return result
		return self._scrub_string(value, mask)

	def _scrub_string(self, value: str, mask: int) -> str:
		if "://" in value and "@" in value:
			value = _USERINFO.sub(r"\1" + FILTERED + "@", value)
		if "=" in value:
			value = self._pairs(value, mask)
		if ":" in value and ("\"" in value or "'" in value):
			value = self._quoted_pairs(value, mask)
		return value

	def _pairs(self, text: str, mask: int) -> str:
		# Only a secret pair's value is consumed, so a pair inside another's value is still seen
		# (`next=https://h/?token=x`).
		parts: typing.List[str] = []
		last = 0
		for m in _PAIR.finditer(text):
			if m.start() < last or not (self.decide(m.group(1)) & mask):
				continue
			end, quote = _value_end(text, m.end(), _VALUE_END)
			parts.append(text[last:m.end()])
			parts.append(quote + FILTERED + quote)
			last = end
		if not parts:
			return text
		parts.append(text[last:])
		return "".join(parts)

	def _quoted_pairs(self, text: str, mask: int) -> str:
		parts: typing.List[str] = []
		last = 0
		for m in _QUOTED_PAIR.finditer(text):
			if m.start() < last or not (self.decide(m.group(2)) & mask):
				continue
			start = m.end()
			end, quote = _value_end(text, start, _BARE_VALUE_END)
			parts.append(text[last:start])
			parts.append((quote or "\"") + FILTERED + (quote or "\""))
			last = end
		if not parts:
			return text
		parts.append(text[last:])
		return "".join(parts)

	def scrub(self, value: typing.Any, mask: typing.Optional[int] = None) -> typing.Any:
		"""
		Scrub a JSON-like value: dicts and lists in place (any depth), strings by `scrub_string`.

		Returns:
			The scrubbed value (a new object only for a string).
		"""
		if mask is None:
			mask = self._Mask
		if isinstance(value, dict):
			self._dict(value, mask)
		elif isinstance(value, list):
			self._list(value, mask)
		elif isinstance(value, str):
			return self._string(value, mask)
		return value

	def _string(self, value: str, mask: typing.Optional[int] = None) -> str:
		if "=" in value or "@" in value or "'" in value or "\"" in value:
			return self.scrub_string(value, mask)
		return value

	# The walk: values are JSON types (the SDK has serialised the event), so exact type checks do.
	# A string is looked at only when it has a character some rule needs (`=`, `@`, a quote).

	def _dict(self, d: dict, mask: int) -> None:
		decisions = self._Decisions
		for key, value in d.items():
			decision = decisions.get(key)
			if decision is None:
				decision = self.decide(key) if type(key) is str else 0
			if decision & mask:
				d[key] = FILTERED
				continue
			kind = type(value)
			if kind is str:
				if "=" in value or "@" in value or "'" in value or "\"" in value:
					d[key] = self.scrub_string(value, mask)
			elif kind is dict:
				self._dict(value, mask)
			elif kind is list:
				self._list(value, mask)

	def _list(self, items: list, mask: int) -> None:
		for i, value in enumerate(items):
			kind = type(value)
			if kind is str:
				if "=" in value or "@" in value or "'" in value or "\"" in value:
					items[i] = self.scrub_string(value, mask)
			elif kind is dict:
				self._dict(value, mask)
			elif kind is list:
				self._list(value, mask)

	# -- events ---------------------------------------------------------------------------------

	def scrub_event(self, event: dict) -> dict:
		"""
		Scrub a serialised event or transaction in place and return it.

		Every part is scrubbed (request, extra, contexts, tags, user, breadcrumbs, exception values
		and frame variables, message, spans, ...) except the SDK's own `sdk`, `modules`,
		`debug_meta` and `_meta`, and the source lines of stack frames.
		"""
		mask = self._Mask
		is_transaction = event.get("type") == "transaction"
		for key, value in event.items():
			if key in _SKIPPED:
				continue
			if key == "request":
				if isinstance(value, dict):
					self._request(value, is_transaction, _original_body_length(event))
			elif key == "user":
				# Sent as the user gave it (their address included), secrets still filtered.
				self.scrub(value, _SECRET)
			elif key in ("exception", "threads"):
				self._exceptions(value, mask)
			elif key == "logentry" and isinstance(value, dict):
				self._logentry(value, mask)
			elif key == "breadcrumbs" and isinstance(value, dict) and isinstance(value.get("values"), list):
				self._items(value["values"], mask, _CRUMB_KEYS, _CRUMB_DATA, _CRUMB_KNOWN)
				for other in value:
					if other != "values":
						value[other] = self.scrub(value[other], mask)
			elif key == "spans" and isinstance(value, list):
				self._items(value, mask, _SPAN_KEYS, _SPAN_DATA, _SPAN_KNOWN)
			elif type(value) is str:
				event[key] = self._string(value)
			else:
				self.scrub(value, mask)
		return event

	def scrub_log(self, log: dict) -> dict:
		"""Scrub a Sentry log item (`body` and `attributes`) in place and return it."""
		body = log.get("body")
		if isinstance(body, str):
			log["body"] = self._string(body)
		attributes = log.get("attributes")
		if isinstance(attributes, dict):
			self._dict(attributes, self._Mask)
		return log

	def _items(self, items: list, mask: int, structural: typing.FrozenSet[str], data_keys: typing.Tuple[str, ...], known: typing.FrozenSet[str]) -> None:
		# Breadcrumbs and spans: their ids, times, levels and kinds are the SDK's, not data. When an
		# item has only the SDK's keys (`known`: those and the data keys), only its data keys are
		# looked at; otherwise every other key.
		for index, item in enumerate(items):
			if type(item) is not dict:
				items[index] = self.scrub(item, mask)
				continue
			if item.keys() <= known:
				for key in data_keys:
					value: typing.Any = item.get(key)
					kind = type(value)
					if kind is dict:
						self._dict(value, mask)
					elif kind is str:
						if "=" in value or "@" in value or "'" in value or "\"" in value:
							item[key] = self.scrub_string(value, mask)
					elif kind is list:
						self._list(value, mask)
				continue
			for key, value in item.items():
				if key in structural:
					continue
				if self.decide(key) & mask:
					item[key] = FILTERED
				elif type(value) is str:
					item[key] = self._string(value, mask)
				else:
					self.scrub(value, mask)

	def _logentry(self, entry: dict, mask: int) -> None:
		# A log line's arguments travel twice: formatted into the message and alone in `params`.
		# Where the formatted message loses something, arguments it no longer shows are withheld.
		formatted = entry.get("formatted")
		params = entry.get("params")
		for key, value in entry.items():
			if key != "params":
				entry[key] = self.scrub(value, mask)
		if isinstance(params, (list, dict)):  # `L.error("%s", x)` or `L.error("%(user)s", {...})`
			self.scrub(params, mask)
			scrubbed = entry.get("formatted")
			if isinstance(formatted, str) and isinstance(scrubbed, str) and scrubbed != formatted:
				if isinstance(params, dict):
					entry["params"] = {k: p if str(p) in scrubbed else FILTERED for k, p in params.items()}
				else:
					entry["params"] = [p if str(p) in scrubbed else FILTERED for p in params]

	def _exceptions(self, container: typing.Any, mask: int) -> None:
		values = container.get("values") if isinstance(container, dict) else None
		if not isinstance(values, list):
			self.scrub(container, mask)
			return
		for item in values:
			if not isinstance(item, dict):
				continue
			for key, value in item.items():
				if key == "stacktrace" and isinstance(value, dict):
					for frame in value.get("frames") or ():
						if isinstance(frame, dict) and "vars" in frame:
							frame["vars"] = self.scrub(frame["vars"], mask)
				elif type(value) is str:
					item[key] = self._string(value)
				else:
					self.scrub(value, mask)

	def _request(self, request: dict, is_transaction: bool, original_length: typing.Optional[int] = None) -> None:
		if "data" in request:
			data = request["data"]
			if is_transaction and not self.TransactionBodies:
				del request["data"]
			elif not self._body_kept(request, data, original_length):
				del request["data"]
			elif isinstance(data, str):
				request["data"] = self._body(data)
		self._dict(request, self._Mask)

	def _body_kept(self, request: dict, data: typing.Any, original_length: typing.Optional[int]) -> bool:
		if data is None or data == "":
			return True
		headers = request.get("headers")
		content_type = ""
		if isinstance(headers, dict):
			for name, value in headers.items():
				if isinstance(name, str) and name.lower() == "content-type" and isinstance(value, str):
					content_type = value
					break
		if content_type and not _textual(content_type):
			return False
		if isinstance(data, str) and self.BodyLimit is not None:
			size = max(len(data.encode("utf-8", "replace")), original_length or 0)
			if size > self.BodyLimit:
				return False
		return True

	def _body(self, body: str) -> typing.Any:
		parsed: typing.Any = None
		try:
			parsed = json.loads(body)
		except ValueError:
			if "=" in body and not any(c in body for c in " \n\t"):
				pairs = urllib.parse.parse_qsl(body, keep_blank_values=True)
				if pairs:
					parsed = dict(pairs)
		if isinstance(parsed, (dict, list)):
			self.scrub(parsed)
			return parsed
		scrubbed = self.scrub_string(body)
		if self._SecretKey.search(normalize_key(scrubbed)) is not None:
			return FILTERED
		return scrubbed


def _original_body_length(event: dict) -> typing.Optional[int]:
	# The serialiser cuts long strings (`max_value_length`) and notes the original length in `_meta`.
	try:
		return int(event["_meta"]["request"]["data"][""]["len"])
	except (KeyError, TypeError, ValueError):
		return None


_CRUMB_KEYS = frozenset(("type", "category", "level", "timestamp"))
_SPAN_KEYS = frozenset((
	"trace_id", "span_id", "parent_span_id", "same_process_as_parent", "op", "status", "start_timestamp",
	"timestamp", "origin", "exclusive_time", "hash",
))
_CRUMB_DATA = ("message", "data")
_SPAN_DATA = ("description", "data", "tags", "name")
_CRUMB_KNOWN = _CRUMB_KEYS.union(_CRUMB_DATA)
_SPAN_KNOWN = _SPAN_KEYS.union(_SPAN_DATA)
_SKIPPED = frozenset(("sdk", "modules", "debug_meta", "_meta", "event_id", "timestamp", "start_timestamp", "type", "platform", "level"))


def _textual(content_type: str) -> bool:
	mime = content_type.split(";", 1)[0].strip().lower()
	if mime.startswith(_BINARY_PREFIXES):
		return False
	return mime.startswith("text/") or mime in _TEXT_TYPES or mime.endswith("+json") or mime.endswith("+xml")


def request_body_allowed(size: int, content_type: str, config, transaction: bool = False) -> bool:
	"""
	Whether a request body may be read and attached to what is sent.

	Args:
		size: The body's length in bytes (`Content-Length`); negative when unknown.
		content_type: The request's `Content-Type` (parameters such as `charset` allowed).
		config: The `SentryConfig` (its `max_request_body_size` and `transaction_request_bodies`).
		transaction: True for a transaction, False for an error event.

	Returns:
		True for a textual body (JSON, form, `text/*`, XML) within `max_request_body_size`
		(`never`: none, `small`: 1000 bytes, `medium`: 10000, `always`: any size, an unknown size
		too); on a transaction only with `transaction_request_bodies`. Never for binary or
		multipart content, nor for a body without a content type.
	"""
	if transaction and not config.transaction_request_bodies:
		return False
	limit = BODY_SIZE_LIMITS.get(config.max_request_body_size, 0)
	if limit == 0 or not content_type or not _textual(content_type):
		return False
	if limit is None:
		return True
	return 0 <= size <= limit


def _value_end(text: str, start: int, bare_end: typing.Pattern) -> typing.Tuple[int, str]:
	"""
	Where the value that starts at `start` ends, and its quote: a quoted string to its closing quote
	(backslash escapes skipped), a list or object (`[...]`, `{...}`) to its matching bracket, anything
	else up to `bare_end` (quote "").
	"""
	if start < len(text) and text[start] in "\"'":
		quote = text[start]
		i = start + 1
		while i < len(text) and text[i] != quote:
			i += 2 if text[i] == "\\" else 1
		return min(i + 1, len(text)), quote
	if start < len(text) and text[start] in "[{":
		depth = 0
		inside: typing.Optional[str] = None
		i = start
		while i < len(text):
			c = text[i]
			if inside is not None:
				if c == "\\":
					i += 1
				elif c == inside:
					inside = None
			elif c in "\"'":
				inside = c
			elif c in "[{":
				depth += 1
			elif c in "]}":
				depth -= 1
				if depth == 0:
					return i + 1, ""
			i += 1
		return len(text), ""
	found = bare_end.search(text, start)
	return (len(text) if found is None else found.start()), ""
