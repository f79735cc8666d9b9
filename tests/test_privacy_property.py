"""
The privacy property: random nested payloads with secrets planted under random spellings of
denylisted keys, at random depths, in every place of an event and a transaction (extra,
struct_data, contexts, user, tags, a breadcrumb's data, the request's body, headers, query string
and URL, the log message and its arguments, the exception's message and frame variables, a span's
data and description, the transaction's request) go through the real pipeline (asab-sentry's SentryService, sentry-sdk's scopes, logging integration, serialiser
and hooks, the envelope's wire form in a MemoryTransport): no planted secret arrives, and every
other value arrives unchanged.
"""

import json
import logging
import os
import random
import time

import hypothesis
import hypothesis.strategies as st
import pytest
import sentry_sdk

from asab_sentry.testing import sentry_app

L = logging.getLogger("privacy.property")
L.propagate = False  # the SDK sees the records (it hooks `callHandlers`); the console does not print 10,000 lines

EXAMPLES = int(os.environ.get("PRIVACY_EXAMPLES", "10000"))  # fewer only to debug the test itself
FILTERED = "[Filtered]"

# The denylist as a user would spell it (the list and more), split into parts.
WORDS = [
	["password"], ["passwd"], ["token"], ["secret"], ["api", "key"], ["apikey"], ["auth"], ["credentials"],
	["session"], ["cookie"], ["authorization"], ["private", "key"], ["access", "token"], ["client", "secret"],
	["csrf"], ["pwd"], ["sessionid"],
]
# The client's address: filtered because send_default_pii is off.
PII_HEADERS = ["X-Forwarded-For", "x-real-ip", "Forwarded", "X-FORWARDED-FOR", "True-Client-IP"]
PREFIXES = [[], ["new"], ["x"], ["db"], ["old"], ["my", "own"]]
SUFFIXES = [[], ["value"], ["hash"], ["2"], ["list"]]
# Safe keys: only letters a-h (no denylisted word can be spelled with them) and a few plain words.
SAFE_WORDS = ["name", "count", "order", "items", "city", "kind", "colour", "note", "level", "total"]
SAFE_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 -_.äöüß€"


class SecretKey(str):
	"""A planted key (a plain str on the wire; the test remembers which keys it planted)."""


def _spell(parts, style, rng) -> str:
	if style == "snake":
		return "_".join(parts)
	if style == "kebab":
		return "-".join(p.capitalize() for p in parts)
	if style == "dot":
		return ".".join(parts)
	if style == "camel":
		return parts[0] + "".join(p.capitalize() for p in parts[1:])
	if style == "pascal":
		return "".join(p.capitalize() for p in parts)
	if style == "upper":
		return "_".join(parts).upper()
	if style == "joined":
		return "".join(parts)
	return "".join(c.upper() if rng.random() < 0.5 else c for c in "_".join(parts))  # random case


def _spellings() -> list:
	"""Every spelling of every denylisted word with every prefix, suffix and style (random case twice)."""
	rng = random.Random(9)
	result = set()
	for prefix in PREFIXES:
		for word in WORDS:
			for suffix in SUFFIXES:
				parts = prefix + word + suffix
				for style in ("snake", "kebab", "dot", "camel", "pascal", "upper", "joined", "random", "random"):
					if style == "joined" and any(p in ("auth", "session", "pwd") for p in parts):
						continue  # these match as whole parts only (`author` is no `auth`): they need a boundary
					result.add(_spell(parts, style, rng))
	return sorted(result)


SPELLINGS = _spellings()


class Draw(object):
	"""
	One example's payloads, built from a random generator that hypothesis seeds. Hypothesis
	strategies that draw every node cost about 17 ms an example here (3 minutes for 10,000), the
	pipeline itself 5 ms; so hypothesis draws the seed, and the nested payloads are built from it.
	A failing example is reported with its seed and replays exactly.
	"""

	def __init__(self, rng: random.Random):
		self.Rng = rng
		self.Secrets: list = []

	def secret(self) -> str:
		self.Secrets.append("QzS{}x{}".format(len(self.Secrets), self.Rng.randrange(10 ** 6)))
		return self.Secrets[-1]

	def secret_key(self) -> SecretKey:
		return SecretKey(self.Rng.choice(SPELLINGS))

	def safe_key(self) -> str:
		rng = self.Rng
		if rng.random() < 0.5:
			return rng.choice(SAFE_WORDS)
		return "".join(rng.choice("abcdefgh") for _ in range(rng.randint(1, 6)))

	def safe_text(self) -> str:
		return "".join(self.Rng.choice(SAFE_CHARS) for _ in range(self.Rng.randint(0, 16)))

	def leaf(self):
		kind = self.Rng.randrange(4)
		if kind == 0:
			return self.safe_text()
		if kind == 1:
			return self.Rng.randint(-10 ** 9, 10 ** 9)
		if kind == 2:
			return self.Rng.random() < 0.5
		return None

	def secret_value(self):
		"""What is planted under a secret key: a string, a list, a dict, at any depth."""
		kind = self.Rng.randrange(4)
		if kind == 0:
			return self.secret()
		if kind == 1:
			return [self.secret() for _ in range(self.Rng.randint(1, 3))]
		if kind == 2:
			return {self.safe_key(): self.secret() for _ in range(self.Rng.randint(1, 3))}
		return {self.safe_key(): [self.secret() for _ in range(self.Rng.randint(1, 2))] for _ in range(self.Rng.randint(1, 2))}

	def tree(self, depth: int, top: bool = False):
		"""
		A payload `depth` levels deep at most (a dict at the top), with secrets planted under
		secret keys in its dicts. sentry-sdk cuts databags (extra, breadcrumbs, request bodies) 5
		levels below their root, so deeper values would not arrive unchanged with or without scrubbing.
		"""
		rng = self.Rng
		if depth == 0 or (not top and rng.random() < 0.3):
			return self.leaf()
		if not top and rng.random() < 0.25:
			return [self.tree(depth - 1) for _ in range(rng.randint(0, 3))]
		result = {self.safe_key(): self.tree(depth - 1) for _ in range(rng.randint(1 if top else 0, 3))}
		for _ in range(rng.choice((0, 1, 1, 2))):
			result[self.secret_key()] = self.secret_value()
		return result

	def example(self):
		rng = self.Rng
		payload = self.tree(3, top=True)
		headers = {self.secret_key(): self.secret() for _ in range(rng.randint(1, 3))}
		for i, name in enumerate(rng.sample(PII_HEADERS, rng.randint(0, 2))):
			headers[SecretKey(name)] = "203.0.113.{}".format(i + 1)
			self.Secrets.append(headers[name])
		safe_headers = {"Host": "svc.example", "Accept": self.safe_text(), "X-Forwarded-Proto": "https"}
		query = []
		for _ in range(rng.randint(1, 4)):
			if rng.random() < 0.5:
				query.append((self.secret_key(), self.secret()))
			else:
				query.append((self.safe_key(), "".join(rng.choice("abcdefghij0123456789") for _ in range(rng.randint(0, 8)))))
		tag = (self.secret_key(), self.secret())
		message = (self.secret_key(), self.secret(), "{}={}".format(self.secret_key(), self.secret()))
		return self.Secrets, payload, headers, safe_headers, query, tag, message


def expected(value):
	"""The value as it must arrive: a planted key's value is [Filtered], the rest unchanged."""
	if isinstance(value, dict):
		return {str(k): (FILTERED if isinstance(k, SecretKey) else expected(v)) for k, v in value.items()}
	if isinstance(value, list):
		return [expected(v) for v in value]
	return value


def plain(value):
	"""The value with plain str keys, as service code would pass it."""
	if isinstance(value, dict):
		return {str(k): plain(v) for k, v in value.items()}
	if isinstance(value, list):
		return [plain(v) for v in value]
	return value


def _raised(message: str) -> RuntimeError:
	"""An exception whose traceback has one frame, with `message` as its only argument."""
	try:
		raise RuntimeError(message)
	except RuntimeError as e:
		return e


def _query(pairs, filtered: bool) -> str:
	return "&".join("{}={}".format(k, FILTERED if filtered and isinstance(k, SecretKey) else v) for k, v in pairs)


@pytest.mark.timeout(1200)  # 10,000 examples: about a minute on an idle 2-core machine, more under load
def test_no_planted_secret_arrives_and_the_rest_is_unchanged():
	with sentry_app({"sentry": {"traces_sample_rate": "1"}}) as s:
		started = time.monotonic()
		count = [0]

		@hypothesis.settings(
			max_examples=EXAMPLES, deadline=None, database=None, derandomize=False,
			suppress_health_check=list(hypothesis.HealthCheck),
		)
		@hypothesis.given(st.randoms(use_true_random=True))
		def check(rng):
			secrets, payload, headers, safe_headers, query, tag, message = Draw(rng).example()
			count[0] += 1
			s.Transport.Envelopes.clear()
			request = {
				"method": "POST", "url": "http://svc.example/path?" + _query(query, False),
				"query_string": _query(query, False), "headers": dict(plain(headers), **safe_headers),
				"data": plain(payload), "env": {"REMOTE_ADDR": headers.get("X-Forwarded-For", "198.51.100.1")},
			}
			secrets.append(request["env"]["REMOTE_ADDR"])

			with sentry_sdk.isolation_scope() as scope:
				scope.add_event_processor(lambda event, hint: dict(event, request=json.loads(json.dumps(request))))
				s.Service.set_context("planted", plain(payload))
				s.Service.set_user({"id": "u-1", "planted": plain(payload)})
				s.Service.set_tag(str(tag[0])[:32], tag[1])
				s.Service.add_breadcrumb(category="planted", message="crumb", data=plain(payload))
				error = _raised(message[2])
				L.error(
					"failed %s=%s", str(message[0]), message[1], exc_info=(RuntimeError, error, error.__traceback__),
					extra={"planted": plain(payload)}, struct_data=plain(payload),
				)
				with s.Service.transaction("http.server", "POST /path"):
					with s.Service.span("http.client", "GET https://api.example/x?" + _query(query, False)) as span:
						span.set_data("planted", plain(payload))
						span.set_data("url", "https://api.example/x?" + _query(query, False))

			events, transactions = s.Transport.events(), s.Transport.transactions()
			assert len(events) == 1 and len(transactions) == 1
			wire = json.dumps([events, transactions], ensure_ascii=False)
			for secret in secrets:
				assert secret not in wire, secret

			want = expected(payload)
			event, = events
			assert event["extra"]["planted"] == want
			assert event["extra"]["struct_data"] == want
			assert event["contexts"]["planted"] == want
			assert event["user"] == {"id": "u-1", "planted": want}
			crumb = [c for c in event["breadcrumbs"]["values"] if c.get("category") == "planted"][0]
			assert crumb["data"] == want
			assert event["request"]["data"] == want
			assert event["request"]["query_string"] == _query(query, True)
			assert event["request"]["url"] == "http://svc.example/path?" + _query(query, True)
			assert event["request"]["headers"] == dict({str(k): FILTERED for k in headers}, **safe_headers)
			assert event["tags"][str(tag[0])[:32]] == FILTERED
			scrubbed_message = message[2].split("=")[0] + "=" + FILTERED
			exception = event["exception"]["values"][-1]
			assert exception["value"] == scrubbed_message
			assert exception["stacktrace"]["frames"][-1]["vars"]["message"] == "'{}'".format(scrubbed_message)
			assert event["logentry"]["formatted"] == "failed {}={}".format(message[0], FILTERED)
			transaction, = transactions
			assert "data" not in transaction["request"]
			assert transaction["request"]["headers"] == event["request"]["headers"]
			span, = transaction["spans"]
			assert span["data"]["planted"] == want
			assert span["description"] == "GET https://api.example/x?" + _query(query, True)

		check()
		elapsed = time.monotonic() - started
	assert count[0] >= EXAMPLES
	print("{} examples in {:.1f} s".format(count[0], elapsed))
