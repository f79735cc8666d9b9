"""
The scrubbing policy (asab_sentry/scrubbing.py), rule by rule, in-process: how keys are named and
decided, what is filtered inside strings (URL userinfo, `key=value` pairs, quoted `"key": value`
pairs with escapes, bare values and overlaps), which parts of an event are walked and which are
not, a log entry's `params`, and which request bodies are kept, parsed or withheld.

Most tests call `Scrubber` directly; those that say so check the event that reached the in-memory
transport of an in-process asab-sentry application (the `sentry_app` fixture).
"""

import json
import logging
import types

import pytest
import sentry_sdk

from asab_sentry import scrubbing
from asab_sentry.config import SentryConfig
from asab_sentry.scrubbing import FILTERED, Scrubber, request_body_allowed

L = logging.getLogger("scrubbing.rules")


def _with_request(request: dict) -> None:
	"""Put `request` on every event of the current isolation scope, as a web instrumentation does."""
	def processor(event, hint):
		event["request"] = json.loads(json.dumps(request))
		return event
	sentry_sdk.get_isolation_scope().add_event_processor(processor)


def _logentries(s) -> list:
	return [e["logentry"] for e in s.events() if "logentry" in e]


class TestNormalizeKey(object):
	"""A key's name: split at camelCase, digits and every non-alphanumeric run, lower case, `_` at both ends."""

	@pytest.mark.parametrize("key, name", [
		("X-Access-Token", "_x_access_token_"),
		("newPassword", "_new_password_"),
		("APIKey", "_api_key_"),
		("HTTPServer", "_http_server_"),
		("key2", "_key_2_"),
		("2fa", "_2fa_"),
		("__db..pass__", "_db_pass_"),
		("aws.secretAccessKey", "_aws_secret_access_key_"),
		("PASSWORD", "_password_"),
	])
	def test_name(self, key, name):
		assert scrubbing.normalize_key(key) == name


class TestDecide(object):
	"""`decide()`: 1 for a secret key, 2 for the client's address, 0 otherwise; case never matters."""

	@pytest.mark.parametrize("key", [
		"mypasswordhash", "db_passwd", "PaSsWoRd", "PASSWORD", "X-Auth-Token", "auth", "AUTH", "sessions", "session_id",
		"pwd", "db.pass", "jwt", "jwts", "set-cookie", "x_csrf", "connect.sid", "hmacSignature", "privateKey",
	])
	def test_secret(self, key):
		assert Scrubber().decide(key) == scrubbing._SECRET

	@pytest.mark.parametrize("key", [
		"author", "authority", "passed", "passes", "compass", "user", "description", "", "-", "x_forwarded_proto", "forwarded_x",
	])
	def test_nothing(self, key):
		assert Scrubber().decide(key) == 0

	@pytest.mark.parametrize("key", ["X-Forwarded-For", "Forwarded", "FORWARDED", "X-Real-IP", "REMOTE_ADDR", "clientIp", "cf-connecting-ip"])
	def test_client_address(self, key):
		assert Scrubber().decide(key) == scrubbing._PII

	def test_a_secret_beats_an_address(self):
		assert Scrubber().decide("x_forwarded_for_token") == scrubbing._SECRET

	@pytest.mark.parametrize("key, decision", [("pin", 1), ("PIN", 1), ("user_pin", 1), ("userPin", 1), ("spinner", 0), ("pins", 0)])
	def test_scrub_fields_are_whole_parts(self, key, decision):
		assert Scrubber(scrub_fields=["pin"]).decide(key) == decision

	def test_scrub_fields_written_in_camel_case(self):
		scrubber = Scrubber(scrub_fields=["internalId"])
		assert scrubber.decide("internal_id") == 1 and scrubber.decide("X-Internal-Id") == 1 and scrubber.decide("internal") == 0

	@pytest.mark.parametrize("key, decision", [
		("token_count", 0), ("tokenCount", 0), ("TOKEN_COUNT", 0), ("token-count", 0), ("token_count_x", 1), ("token", 1),
	])
	def test_scrub_allow_is_the_whole_name(self, key, decision):
		assert Scrubber(scrub_allow=["token_count"]).decide(key) == decision

	def test_scrub_allow_written_in_camel_case_allows_its_plain_form_too(self):
		scrubber = Scrubber(scrub_allow=["tokenCount"])
		assert scrubber.decide("tokencount") == 0 and scrubber.decide("token_count") == 0 and scrubber.decide("TokenCount") == 0

	def test_scrub_allow_allows_an_address(self):
		assert Scrubber(scrub_allow=["X-Forwarded-For"]).decide("x_forwarded_for") == 0

	def test_decisions_are_cached(self):
		scrubber = Scrubber()
		scrubber._Decisions["user"] = scrubbing._SECRET
		assert scrubber.decide("user") == scrubbing._SECRET
		scrubber.decide("password")
		assert scrubber._Decisions["password"] == scrubbing._SECRET

	def test_cache_is_cleared_when_full(self):
		scrubber = Scrubber()
		scrubber._Decisions.update(("k{}".format(i), 0) for i in range(scrubbing._CACHE_LIMIT))
		assert scrubber.decide("password") == scrubbing._SECRET
		assert scrubber._Decisions == {"password": scrubbing._SECRET}

	def test_cache_is_kept_below_the_limit(self):
		scrubber = Scrubber()
		scrubber._Decisions.update(("k{}".format(i), 0) for i in range(scrubbing._CACHE_LIMIT - 1))
		scrubber.decide("password")
		assert len(scrubber._Decisions) == scrubbing._CACHE_LIMIT


class TestIsSecret(object):
	"""`is_secret()`: secrets always; the client's address unless `send_default_pii`."""

	@pytest.mark.parametrize("pii, key, secret", [
		(False, "password", True), (False, "X-Real-IP", True), (False, "user", False),
		(True, "password", True), (True, "X-Real-IP", False), (True, "user", False),
	])
	def test_rule(self, pii, key, secret):
		assert Scrubber(send_default_pii=pii).is_secret(key) is secret


class TestConstruction(object):
	"""The body limit by name, and `from_config` carrying every option of a `SentryConfig`."""

	@pytest.mark.parametrize("name, limit", [("never", 0), ("small", 1000), ("medium", 10000), ("always", None)])
	def test_body_limit(self, name, limit):
		assert Scrubber(max_request_body_size=name).BodyLimit == limit

	def test_defaults(self):
		scrubber = Scrubber()
		assert scrubber.BodyLimit == 10000 and scrubber.TransactionBodies is False
		assert scrubber._Mask == scrubbing._SECRET | scrubbing._PII

	def test_unknown_body_size_name(self):
		with pytest.raises(KeyError):
			Scrubber(max_request_body_size="huge")

	def test_from_config(self):
		config = SentryConfig(
			send_default_pii=True, scrub_fields=("pin",), scrub_allow=("token_count",),
			max_request_body_size="small", transaction_request_bodies=True,
		)
		scrubber = Scrubber.from_config(config)
		assert scrubber.BodyLimit == 1000 and scrubber.TransactionBodies is True
		assert scrubber.is_secret("pin") and not scrubber.is_secret("token_count") and not scrubber.is_secret("X-Real-IP")

	def test_disabled_event_scrubber_does_nothing(self):
		event = {"extra": {"password": "x"}, "message": "token=y"}
		assert scrubbing.DisabledEventScrubber().scrub_event(event) is None
		assert event == {"extra": {"password": "x"}, "message": "token=y"}


class TestUserinfo(object):
	"""The userinfo of a URL (`scheme://userinfo@`) becomes [Filtered]; nothing else around an `@` does."""

	@pytest.mark.parametrize("text, scrubbed", [
		("https://u:p@h/x", "https://[Filtered]@h/x"),
		("git+ssh://git:pw@host:22/repo", "git+ssh://[Filtered]@host:22/repo"),
		("see ftp://anon@h and http://c:d@h2/", "see ftp://[Filtered]@h and http://[Filtered]@h2/"),
		("https://h/path?email=a@b", "https://h/path?email=a@b"),
		("https://h/x#a@b", "https://h/x#a@b"),
		("mailto:joe@example.org", "mailto:joe@example.org"),
		("joe@example.org", "joe@example.org"),
		("https://h/x", "https://h/x"),
	])
	def test_rule(self, text, scrubbed):
		assert Scrubber().scrub_string(text) == scrubbed


class TestPairs(object):
	"""`key=value` in free text: a secret key's value becomes [Filtered], up to a separator or the end."""

	@pytest.mark.parametrize("separator", [" ", "\t", "\n", "&", ";", "#", ",", "<", ">"])
	def test_value_ends_at_a_separator(self, separator):
		text = "token=abc{}rest".format(separator)
		assert Scrubber().scrub_string(text) == "token=[Filtered]{}rest".format(separator)

	@pytest.mark.parametrize("text, scrubbed", [
		("password=x", "password=[Filtered]"),
		("a=1 password=hunter2", "a=1 password=[Filtered]"),
		("password=a=b&n=1", "password=[Filtered]&n=1"),
		("a=1&token=t&b=2", "a=1&token=[Filtered]&b=2"),
		("token=a&secret=b&c=3", "token=[Filtered]&secret=[Filtered]&c=3"),
		("token=&a=1", "token=[Filtered]&a=1"),
		("url:password=x", "url:password=[Filtered]"),
		("GET /x?api_key=k HTTP/1.1", "GET /x?api_key=[Filtered] HTTP/1.1"),
		("user=joe page=2", "user=joe page=2"),
		("password is hunter2", "password is hunter2"),
	])
	def test_rule(self, text, scrubbed):
		assert Scrubber().scrub_string(text) == scrubbed

	def test_a_pair_inside_a_kept_value_is_seen(self):
		assert Scrubber().scrub_string("next=https://h/?token=x&z=1") == "next=https://h/?token=[Filtered]&z=1"

	def test_a_pair_inside_a_filtered_value_is_filtered_once(self):
		assert Scrubber().scrub_string("password=token=x") == "password=[Filtered]"

	def test_client_address_pair(self):
		text = "X-Forwarded-For=203.0.113.7 ok"
		assert Scrubber().scrub_string(text) == "X-Forwarded-For=[Filtered] ok"
		assert Scrubber(send_default_pii=True).scrub_string(text) == text

	@pytest.mark.parametrize("text", ['login password="hunter 2" user=joe', "login password='hunter2' user=joe"])
	def test_quoted_value_is_filtered(self, text):
		assert "hunter" not in Scrubber().scrub_string(text)


class TestQuotedPairs(object):
	"""`"key": value` / `'key': value` in free text (JSON, a dict's repr): a secret key's whole value becomes a quoted [Filtered]."""

	@pytest.mark.parametrize("text, scrubbed", [
		('"password": "x"', '"password": "[Filtered]"'),
		("'token': 'x'", "'token': '[Filtered]'"),
		('{"password":"x"}', '{"password":"[Filtered]"}'),
		('{"password" : "x"}', '{"password" : "[Filtered]"}'),
		('{"user": "joe", "password": "x", "n": 1}', '{"user": "joe", "password": "[Filtered]", "n": 1}'),
		('{"token": "a", "secret": "b"}', '{"token": "[Filtered]", "secret": "[Filtered]"}'),
		('{"user": "joe", "n": 1}', '{"user": "joe", "n": 1}'),
		("{'password': 'x', \"token\": \"y\"}", "{'password': '[Filtered]', \"token\": \"[Filtered]\"}"),
	])
	def test_quoted_value(self, text, scrubbed):
		assert Scrubber().scrub_string(text) == scrubbed

	@pytest.mark.parametrize("text, scrubbed", [
		('{"password": "a\\"b", "n": "v"}', '{"password": "[Filtered]", "n": "v"}'),
		('{"password": "\\"", "n": "v"}', '{"password": "[Filtered]", "n": "v"}'),
		('{"password": "a\\\\", "n": "v"}', '{"password": "[Filtered]", "n": "v"}'),
		("{'password': 'it\\'s', 'n': 'v'}", "{'password': '[Filtered]', 'n': 'v'}"),
		('{"password": "it\'s", "n": "v"}', '{"password": "[Filtered]", "n": "v"}'),
		('{"password": "", "n": "v"}', '{"password": "[Filtered]", "n": "v"}'),
	])
	def test_escapes_and_the_other_quote(self, text, scrubbed):
		assert Scrubber().scrub_string(text) == scrubbed

	@pytest.mark.parametrize("text", ['"password": "abc', '"password": "abc\\', '"password": ', '"password":'])
	def test_unterminated_value_runs_to_the_end(self, text):
		assert Scrubber().scrub_string(text) == '"password": "[Filtered]"'.replace(": ", ":" if text.endswith(":") else ": ")

	@pytest.mark.parametrize("text, scrubbed", [
		('{"password": 12345, "n": 1}', '{"password": "[Filtered]", "n": 1}'),
		('{"n": 1, "password": 12345, "m": 2}', '{"n": 1, "password": "[Filtered]", "m": 2}'),
		('{"password": 12345}', '{"password": "[Filtered]"}'),
		('[{"jwt": 1234}]', '[{"jwt": "[Filtered]"}]'),
		("{'password': True}", "{'password': \"[Filtered]\"}"),
		('{"password": Xab, "n": 1}', '{"password": "[Filtered]", "n": 1}'),
		('"password": null\nnext', '"password": "[Filtered]"\nnext'),
		('"password": 12345', '"password": "[Filtered]"'),
	])
	def test_bare_value(self, text, scrubbed):
		assert Scrubber().scrub_string(text) == scrubbed

	def test_a_pair_inside_a_filtered_value_is_skipped(self):
		text = "{'password': \"a 'token': b\", 'n': 1}"
		assert Scrubber().scrub_string(text) == "{'password': \"[Filtered]\", 'n': 1}"

	@pytest.mark.parametrize("text", [
		'"password\': "x"',  # mismatched quotes around the key
		'"my password": "x"',  # a key with a space is not a key here
		"password: 'x'",  # no quotes around the key
		'"password" "x"',  # no colon
	])
	def test_not_a_quoted_pair(self, text):
		assert Scrubber().scrub_string(text) == text

	@pytest.mark.parametrize("length, filtered", [(100, True), (101, False)])
	def test_key_length_limit(self, length, filtered):
		key = "a" * (length - len("password")) + "password"
		text = '"{}": "x"'.format(key)
		assert Scrubber().scrub_string(text) == ('"{}": "[Filtered]"'.format(key) if filtered else text)

	def test_client_address(self):
		text = '{"X-Real-IP": "203.0.113.7"}'
		assert Scrubber().scrub_string(text) == '{"X-Real-IP": "[Filtered]"}'
		assert Scrubber(send_default_pii=True).scrub_string(text) == text

	@pytest.mark.parametrize("text", ["{'tokens': ['t1', 'leaked-2']}", '{"credentials": {"user": "joe", "key": "leaked-2"}}'])
	def test_structured_value_is_filtered_whole(self, text):
		assert "leaked-2" not in Scrubber().scrub_string(text)


class TestAllRulesInOneString(object):
	"""Userinfo, `key=value` and quoted pairs all apply to one string, and a string with none of them is the same string."""

	def test_all_three(self):
		text = "GET https://u:p@h/?token=t body={\"password\": \"x\"}"
		assert Scrubber().scrub_string(text) == "GET https://[Filtered]@h/?token=[Filtered] body={\"password\": \"[Filtered]\"}"

	def test_nothing_to_do(self):
		text = "plain text: nothing here"
		assert Scrubber().scrub_string(text) is text


class TestStringCache(object):
	"""Results of short strings are cached (bounded); a call with another mask neither reads nor fills the cache."""

	def test_result_is_cached(self):
		scrubber = Scrubber()
		assert scrubber.scrub_string("password=x") == "password=[Filtered]"
		assert scrubber._Strings == {"password=x": "password=[Filtered]"}

	def test_cached_result_is_returned(self):
		scrubber = Scrubber()
		scrubber._Strings["a=1"] = "cached"
		assert scrubber.scrub_string("a=1") == "cached"
		assert scrubber.scrub_string("a=1", scrubber._Mask) == "cached"
		assert scrubber.scrub_string("a=1", scrubbing._SECRET) == "a=1"

	def test_another_mask_is_not_cached(self):
		scrubber = Scrubber()
		assert scrubber.scrub_string("X-Real-IP=1.2.3.4", scrubbing._SECRET) == "X-Real-IP=1.2.3.4"
		assert scrubber._Strings == {}
		assert scrubber.scrub_string("X-Real-IP=1.2.3.4") == "X-Real-IP=[Filtered]"

	@pytest.mark.parametrize("length, cached", [(scrubbing._CACHED_STRING_LENGTH, True), (scrubbing._CACHED_STRING_LENGTH + 1, False)])
	def test_long_strings_are_not_cached(self, length, cached):
		scrubber = Scrubber()
		text = "token=" + "x" * (length - 6)
		assert scrubber.scrub_string(text) == "token=[Filtered]"
		assert (text in scrubber._Strings) is cached

	def test_cache_is_cleared_when_full(self):
		scrubber = Scrubber()
		scrubber._Strings.update(("s{}".format(i), "s") for i in range(scrubbing._STRING_CACHE_LIMIT))
		scrubber.scrub_string("token=x")
		assert scrubber._Strings == {"token=x": "token=[Filtered]"}

	def test_cache_is_kept_below_the_limit(self):
		scrubber = Scrubber()
		scrubber._Strings.update(("s{}".format(i), "s") for i in range(scrubbing._STRING_CACHE_LIMIT - 1))
		scrubber.scrub_string("token=x")
		assert len(scrubber._Strings) == scrubbing._STRING_CACHE_LIMIT


# A string is looked at only when it has `=`, `@` or a quote: one of each, and what it becomes.
TRIGGERS = [
	("token=x", "token=[Filtered]"),
	("https://u:p@h/", "https://[Filtered]@h/"),
	("{'token': 'x'}", "{'token': '[Filtered]'}"),
	('{"token": "x"}', '{"token": "[Filtered]"}'),
]


class TestEveryStringIsLookedAt(object):
	"""Each of `=`, `@`, `'` and `"` makes a string be scrubbed, wherever the string is in the event."""

	@pytest.mark.parametrize("text, scrubbed", TRIGGERS)
	def test_scrub(self, text, scrubbed):
		scrubber = Scrubber()
		assert scrubber.scrub(text) == scrubbed
		assert scrubber.scrub({"k": text}) == {"k": scrubbed}
		assert scrubber.scrub([text, [text]]) == [scrubbed, [scrubbed]]

	@pytest.mark.parametrize("text, scrubbed", TRIGGERS)
	def test_event_parts(self, text, scrubbed):
		event = {
			"message": text,
			"exception": {"values": [{"value": text}]},
			"breadcrumbs": {"values": [
				{"type": "default", "message": text, "data": {"k": text}},
				{"message": text, "data": [text], "extra_key": text},
			]},
			"spans": [{"op": "x", "description": text, "data": {"k": text}, "tags": [text], "name": text}],
		}
		Scrubber().scrub_event(event)
		assert event == {
			"message": scrubbed,
			"exception": {"values": [{"value": scrubbed}]},
			"breadcrumbs": {"values": [
				{"type": "default", "message": scrubbed, "data": {"k": scrubbed}},
				{"message": scrubbed, "data": [scrubbed], "extra_key": scrubbed},
			]},
			"spans": [{"op": "x", "description": scrubbed, "data": {"k": scrubbed}, "tags": [scrubbed], "name": scrubbed}],
		}

	@pytest.mark.parametrize("text, scrubbed", TRIGGERS)
	def test_log(self, text, scrubbed):
		log = Scrubber().scrub_log({"body": text, "attributes": {"k": text}})
		assert log == {"body": scrubbed, "attributes": {"k": scrubbed}}

	@pytest.mark.parametrize("text, scrubbed", TRIGGERS)
	def test_item_with_other_keys(self, text, scrubbed):
		event = {"spans": [{"op": "x", "description": text, "custom": text, "more": {"k": text}}]}
		Scrubber().scrub_event(event)
		assert event["spans"] == [{"op": "x", "description": scrubbed, "custom": scrubbed, "more": {"k": scrubbed}}]


class TestScrub(object):
	"""`scrub()`: dicts and lists in place at any depth; a secret key's value is [Filtered] whatever its type."""

	def test_in_place(self):
		scrubber = Scrubber()
		d = {"a": [{"password": "x"}]}
		items = [{"token": "y"}]
		assert scrubber.scrub(d) is d and d == {"a": [{"password": FILTERED}]}
		assert scrubber.scrub(items) is items and items == [{"token": FILTERED}]

	@pytest.mark.parametrize("value", [1, 1.5, None, True, b"token=x", ("token=x",)])
	def test_other_values_are_returned_as_they_are(self, value):
		assert Scrubber().scrub(value) is value

	@pytest.mark.parametrize("value", ["x", 1, None, {"a": 1}, ["a"], True])
	def test_secret_value_of_any_type(self, value):
		assert Scrubber().scrub({"password": value, "n": 1}) == {"password": FILTERED, "n": 1}

	def test_keys_that_are_not_strings(self):
		assert Scrubber().scrub({1: "token=x", 2: 3, None: {"password": "y"}}) == {1: "token=[Filtered]", 2: 3, None: {"password": FILTERED}}

	def test_mask(self):
		scrubber = Scrubber()
		assert scrubber.scrub({"X-Real-IP": "1", "token": "t"}, scrubbing._SECRET) == {"X-Real-IP": "1", "token": FILTERED}
		assert scrubber.scrub({"X-Real-IP": "1", "token": "t"}) == {"X-Real-IP": FILTERED, "token": FILTERED}
		assert scrubber.scrub("X-Real-IP=1", scrubbing._SECRET) == "X-Real-IP=1"
		assert scrubber.scrub([{"X-Real-IP": "1"}, ["X-Real-IP=1"]], scrubbing._SECRET) == [{"X-Real-IP": "1"}, ["X-Real-IP=1"]]

	def test_strings_without_a_trigger_are_not_touched(self):
		scrubber = Scrubber()
		assert scrubber.scrub("password: hunter2") == "password: hunter2"
		assert scrubber.scrub({"note": "password: hunter2"}) == {"note": "password: hunter2"}


class TestScrubEvent(object):
	"""`scrub_event()`: every part except the SDK's own; the user with secrets only; the event itself returned."""

	@pytest.mark.parametrize("key", sorted(scrubbing._SKIPPED))
	def test_sdk_parts_are_skipped(self, key):
		event = {key: "password=x", "message": "password=y"}
		assert Scrubber().scrub_event(event) is event
		assert event == {key: "password=x", "message": "password=[Filtered]"}

	def test_sdk_dicts_are_skipped(self):
		event = {"sdk": {"password": "x"}, "modules": {"token": "1.0"}, "debug_meta": {"secret": "s"}, "_meta": {"auth": {"": 1}}}
		assert Scrubber().scrub_event(json.loads(json.dumps(event))) == event

	def test_other_parts(self):
		event = {"extra": {"password": "x"}, "contexts": {"db": {"X-Real-IP": "1"}}, "tags": {"auth": "t"}, "fingerprint": ["token=x"]}
		Scrubber().scrub_event(event)
		assert event == {"extra": {"password": FILTERED}, "contexts": {"db": {"X-Real-IP": FILTERED}}, "tags": {"auth": FILTERED}, "fingerprint": ["token=[Filtered]"]}

	def test_user_keeps_the_address(self):
		event = {"user": {"ip_address": "10.0.0.1", "password": "x", "note": "X-Real-IP=1 token=t"}}
		Scrubber().scrub_event(event)
		assert event["user"] == {"ip_address": "10.0.0.1", "password": FILTERED, "note": "X-Real-IP=1 token=[Filtered]"}

	def test_user_with_pii(self):
		event = {"user": {"ip_address": "10.0.0.1", "password": "x"}}
		Scrubber(send_default_pii=True).scrub_event(event)
		assert event["user"] == {"ip_address": "10.0.0.1", "password": FILTERED}

	@pytest.mark.parametrize("key", ["exception", "threads"])
	def test_exceptions_and_threads(self, key):
		source = "url = 'https://u:p@h/?token=x'"
		frame = {"function": "f", "context_line": source, "pre_context": [source], "post_context": [source], "vars": {"password": "x", "X-Real-IP": "1", "note": "token=y"}}
		event = {key: {"values": ["not an exception", {
			"type": "ValueError", "value": "token=v", "mechanism": {"data": {"secret": "m"}},
			"stacktrace": {"frames": [frame, {"function": "g"}, "not a frame"]},
		}]}}
		Scrubber().scrub_event(event)
		assert event[key]["values"][0] == "not an exception"
		item = event[key]["values"][1]
		assert item["value"] == "token=[Filtered]" and item["mechanism"] == {"data": {"secret": FILTERED}}
		frame = item["stacktrace"]["frames"][0]
		assert frame["vars"] == {"password": FILTERED, "X-Real-IP": FILTERED, "note": "token=[Filtered]"}
		assert frame["context_line"] == source and frame["pre_context"] == [source] and frame["post_context"] == [source]
		assert item["stacktrace"]["frames"][1:] == [{"function": "g"}, "not a frame"]

	def test_frame_vars_that_are_text(self):
		event = {"exception": {"values": [{"stacktrace": {"frames": [{"vars": "token=x"}]}}]}}
		Scrubber().scrub_event(event)
		assert event["exception"]["values"][0]["stacktrace"]["frames"][0]["vars"] == "token=[Filtered]"

	def test_frames_missing(self):
		event = {"exception": {"values": [{"stacktrace": {"frames": None}, "value": "ok"}]}}
		assert Scrubber().scrub_event(event) == {"exception": {"values": [{"stacktrace": {"frames": None}, "value": "ok"}]}}

	def test_exception_without_a_values_list(self):
		event = {"exception": {"values": None, "note": {"token": "x"}}, "threads": [{"password": "y"}]}
		Scrubber().scrub_event(event)
		assert event == {"exception": {"values": None, "note": {"token": FILTERED}}, "threads": [{"password": FILTERED}]}

	def test_breadcrumbs_other_keys(self):
		event = {"breadcrumbs": {"values": [], "note": "token=x", "more": {"password": "y"}}}
		Scrubber().scrub_event(event)
		assert event["breadcrumbs"] == {"values": [], "note": "token=[Filtered]", "more": {"password": FILTERED}}

	def test_breadcrumbs_not_in_the_usual_form(self):
		event = {"breadcrumbs": [{"message": "token=x", "password": "y"}], "spans": {"password": "z"}}
		Scrubber().scrub_event(event)
		assert event == {"breadcrumbs": [{"message": "token=[Filtered]", "password": FILTERED}], "spans": {"password": FILTERED}}

	def test_logentry_that_is_text(self):
		event = {"logentry": "token=x"}
		assert Scrubber().scrub_event(event) == {"logentry": "token=[Filtered]"}

	def test_on_the_wire(self, sentry_app):
		"""In-process: an event with every part scrubbed as above."""
		s = sentry_app()
		s.Service.set_user({"id": "1", "ip_address": "10.0.0.1", "api_key": "u-key"})
		s.Service.add_breadcrumb(category="password=cat", message="token=msg", level="info")
		s.Service.capture_message("failed token=m-tok", extras={"X-Real-IP": "10.0.0.2"})
		event, = s.events()
		assert event["message"] == "failed token=[Filtered]" and event["extra"]["X-Real-IP"] == FILTERED
		assert event["user"] == {"id": "1", "ip_address": "10.0.0.1", "api_key": FILTERED}
		crumb = event["breadcrumbs"]["values"][-1]
		assert crumb["category"] == "password=cat" and crumb["message"] == "token=[Filtered]"


class TestItems(object):
	"""Breadcrumbs and spans: the SDK's own keys are never scrubbed; with only known keys, only the data keys are looked at."""

	def test_crumb_with_known_keys(self):
		crumb = {"type": "http", "category": "password=c", "level": "info", "timestamp": 1, "message": "token=m", "data": {"api_key": "k"}}
		Scrubber().scrub_event({"breadcrumbs": {"values": [crumb]}})
		assert crumb == {"type": "http", "category": "password=c", "level": "info", "timestamp": 1, "message": "token=[Filtered]", "data": {"api_key": FILTERED}}

	def test_crumb_with_other_keys(self):
		crumb = {"category": "password=c", "message": "token=m", "custom": "secret=s", "password": "p", "data": {"token": 1}, "n": 3}
		Scrubber().scrub_event({"breadcrumbs": {"values": [crumb]}})
		assert crumb == {"category": "password=c", "message": "token=[Filtered]", "custom": "secret=[Filtered]", "password": FILTERED, "data": {"token": FILTERED}, "n": 3}

	def test_span_with_known_keys(self):
		span = {
			"op": "db", "status": "token=s", "hash": "auth=h", "description": "SELECT 1 -- token=d",
			"tags": {"auth": "a"}, "data": ["X-Real-IP=1"], "name": 5,
		}
		Scrubber().scrub_event({"spans": [span]})
		assert span == {
			"op": "db", "status": "token=s", "hash": "auth=h", "description": "SELECT 1 -- token=[Filtered]",
			"tags": {"auth": FILTERED}, "data": ["X-Real-IP=[Filtered]"], "name": 5,
		}

	def test_span_with_other_keys(self):
		span = {"op": "token=o", "trace_id": "secret=t", "X-Real-IP": "1", "other": ["token=x"]}
		Scrubber(send_default_pii=True).scrub_event({"spans": [span]})
		assert span == {"op": "token=o", "trace_id": "secret=t", "X-Real-IP": "1", "other": ["token=[Filtered]"]}

	def test_items_that_are_not_dicts(self):
		event = {"spans": [["token=x"], 3, {"description": "token=d"}], "breadcrumbs": {"values": [[{"password": "y"}], {"message": "token=m"}]}}
		Scrubber().scrub_event(event)
		assert event == {
			"spans": [["token=[Filtered]"], 3, {"description": "token=[Filtered]"}],
			"breadcrumbs": {"values": [[{"password": FILTERED}], {"message": "token=[Filtered]"}]},
		}

	def test_string_items(self):
		event = {"spans": ["token=leaked-1"], "breadcrumbs": {"values": ["password=leaked-2"]}}
		Scrubber().scrub_event(event)
		assert "leaked" not in json.dumps(event)


class TestScrubLog(object):
	"""`scrub_log()`: the body (text) and the attributes; nothing else; the log itself returned."""

	def test_rule(self):
		log = {"body": "password=x", "attributes": {"X-Real-IP": "1", "n": "token=t"}, "trace_id": "token=k"}
		assert Scrubber().scrub_log(log) is log
		assert log == {"body": "password=[Filtered]", "attributes": {"X-Real-IP": FILTERED, "n": "token=[Filtered]"}, "trace_id": "token=k"}

	def test_with_pii(self):
		log = Scrubber(send_default_pii=True).scrub_log({"body": "X-Real-IP=1", "attributes": {"X-Real-IP": "1"}})
		assert log == {"body": "X-Real-IP=1", "attributes": {"X-Real-IP": "1"}}

	def test_other_forms_are_left(self):
		log = {"body": 5, "attributes": ["token=x"]}
		assert Scrubber().scrub_log(log) == {"body": 5, "attributes": ["token=x"]}
		assert Scrubber().scrub_log({}) == {}


class TestLogentry(object):
	"""A log line's `params` are scrubbed, and when `formatted` lost something, a param whose text it no longer shows is [Filtered]."""

	def test_param_not_shown_is_filtered(self, sentry_app):
		"""In-process: `L.error("password=%s user=%s", ...)`."""
		s = sentry_app()
		L.error("password=%s user=%s", "hunter2", "joe")
		entry, = _logentries(s)
		assert entry["formatted"] == "password=[Filtered] user=joe"
		assert entry["params"] == [FILTERED, "joe"]
		assert entry["message"] == "password=[Filtered] user=%s"

	def test_params_kept_when_formatted_is_unchanged(self, sentry_app):
		"""In-process: a param whose text is not in the message (`%.1f` of 1.25) is kept when nothing was filtered."""
		s = sentry_app()
		L.error("took %.1f s for %s", 1.25, "joe")
		entry, = _logentries(s)
		assert entry["formatted"] == "took 1.2 s for joe" and entry["params"] == [1.25, "joe"]

	def test_params_are_scrubbed_themselves(self, sentry_app):
		"""In-process: a param with a secret pair or a secret key is scrubbed, and kept since the message shows it scrubbed."""
		s = sentry_app()
		L.error("got %s and %s", "token=abc", {"password": "pp"})
		entry, = _logentries(s)
		assert entry["formatted"] == "got token=[Filtered] and {'password': '[Filtered]'}"
		assert entry["params"] == ["token=[Filtered]", {"password": FILTERED}]

	@pytest.mark.parametrize("entry, scrubbed", [
		({"formatted": "password=x 7", "params": ["x", 7]}, {"formatted": "password=[Filtered] 7", "params": [FILTERED, 7]}),
		({"formatted": "n=7", "params": ["x", 7]}, {"formatted": "n=7", "params": ["x", 7]}),
		({"message": "token=%s", "params": ["x"]}, {"message": "token=[Filtered]", "params": ["x"]}),
		({"formatted": None, "params": ["x"]}, {"formatted": None, "params": ["x"]}),
		({"formatted": float("nan"), "params": ["x"]}, None),
		({"formatted": "token=x", "params": "x"}, {"formatted": "token=[Filtered]", "params": "x"}),
		({"formatted": "token=x"}, {"formatted": "token=[Filtered]"}),
	])
	def test_rule(self, entry, scrubbed):
		event = {"logentry": entry}
		Scrubber().scrub_event(event)
		if scrubbed is None:  # a formatted that is not text (even one unequal to itself) leaves params as they are
			assert event["logentry"]["params"] == ["x"]
		else:
			assert event["logentry"] == scrubbed

	def test_mask(self):
		entry = {"formatted": "X-Real-IP=1 token=tok-v", "params": ["1", "tok-v", ["X-Real-IP=2"]]}
		Scrubber()._logentry(entry, scrubbing._SECRET)
		assert entry == {"formatted": "X-Real-IP=1 token=[Filtered]", "params": ["1", FILTERED, FILTERED]}

	def test_mapping_params(self, sentry_app):
		"""In-process: `L.error("login failed for %(user)s", {"user": ..., "password": ...})`."""
		s = sentry_app()
		L.error("login failed for %(user)s", {"user": "joe", "password": "leaked-pw"})
		entry, = _logentries(s)
		assert "leaked-pw" not in json.dumps(entry)


class TestTextual(object):
	"""`_textual()`: JSON, forms, XML, GraphQL, JavaScript, NDJSON, `text/*`, `+json`, `+xml`; never binary or multipart; parameters and case ignored."""

	@pytest.mark.parametrize("content_type", [
		"application/json", "application/json; charset=utf-8", "application/json; charset=utf-8; profile=x", "APPLICATION/JSON",
		" text/plain ", "text/html;charset=utf-8", "application/x-www-form-urlencoded", "application/xml", "application/graphql",
		"application/javascript", "application/x-ndjson", "application/vnd.api+json", "application/atom+xml",
		"application/soap+xml; charset=utf-8", "Application/Atom+XML",
	])
	def test_textual(self, content_type):
		assert scrubbing._textual(content_type) is True

	@pytest.mark.parametrize("content_type", [
		"", "multipart/form-data; boundary=x", "image/svg+xml", "audio/ogg", "video/mp4", "font/woff2", "application/octet-stream",
		"application/pdf", "application/jsonx", "application/xml-dtd", "charset=utf-8; application/json",
	])
	def test_not_textual(self, content_type):
		assert scrubbing._textual(content_type) is False


def _config(size, transaction_bodies=False):
	return types.SimpleNamespace(max_request_body_size=size, transaction_request_bodies=transaction_bodies)


class TestRequestBodyAllowed(object):
	"""`request_body_allowed()`: a textual body of a known size within the limit; on a transaction only when turned on."""

	@pytest.mark.parametrize("size, content_type, limit, allowed", [
		(0, "application/json", "medium", True),
		(0, "application/json", "small", True),
		(1000, "application/json", "small", True),
		(1001, "application/json", "small", False),
		(10000, "text/plain", "medium", True),
		(10001, "text/plain", "medium", False),
		(-1, "application/json", "medium", False),
		(0, "application/json", "never", False),
		(1, "application/json", "never", False),
		(0, "application/json", "huge", False),
		(1, "application/json", "huge", False),
		(-1, "application/json", "always", True),
		(10 ** 9, "application/json; charset=utf-8", "always", True),
		(10, "", "medium", False),
		(10, "", "always", False),
		(10, "image/png", "always", False),
		(10, "application/atom+xml", "small", True),
	])
	def test_rule(self, size, content_type, limit, allowed):
		assert request_body_allowed(size, content_type, _config(limit)) is allowed

	@pytest.mark.parametrize("transaction, turned_on, allowed", [(True, False, False), (True, True, True), (False, False, True), (False, True, True)])
	def test_transactions(self, transaction, turned_on, allowed):
		assert request_body_allowed(10, "application/json", _config("medium", turned_on), transaction=transaction) is allowed

	def test_with_a_sentry_config(self):
		assert request_body_allowed(10, "application/json", SentryConfig()) is True
		assert request_body_allowed(10, "application/json", SentryConfig(max_request_body_size="never")) is False


class TestOriginalBodyLength(object):
	"""The body's length before the serialiser cut it, from `_meta.request.data[""].len`; None when absent or not a number."""

	@pytest.mark.parametrize("event, length", [
		({"_meta": {"request": {"data": {"": {"len": 5000}}}}}, 5000),
		({"_meta": {"request": {"data": {"": {"len": "12"}}}}}, 12),
		({"_meta": {"request": {"data": {"": {"len": "x"}}}}}, None),
		({"_meta": {"request": {"data": {"": {}}}}}, None),
		({"_meta": None}, None),
		({}, None),
	])
	def test_rule(self, event, length):
		assert scrubbing._original_body_length(event) == length

	def test_a_cut_body_is_measured_by_its_original_length(self):
		event = {
			"_meta": {"request": {"data": {"": {"len": 5000}}}},
			"request": {"headers": {"Content-Type": "text/plain"}, "data": "short"},
		}
		Scrubber(max_request_body_size="small").scrub_event(event)
		assert "data" not in event["request"]


def _request(data, content_type="text/plain", **kwargs):
	headers = {} if content_type is None else {"Content-Type": content_type}
	return {"method": "POST", "url": "http://svc/x", "headers": headers, "data": data, **kwargs}


class TestBodyKept(object):
	"""Which request bodies are kept: none or empty always; textual or untyped content; within the size limit in UTF-8 bytes."""

	@pytest.mark.parametrize("data", ["", None])
	@pytest.mark.parametrize("content_type", ["image/png", "multipart/form-data", "text/plain"])
	def test_no_body_is_kept(self, data, content_type):
		request = _request(data, content_type)
		Scrubber(max_request_body_size="never")._request(request, False)
		assert request["data"] == data

	def test_no_body_on_the_wire(self, sentry_app):
		"""In-process: an empty body with a binary content type stays an empty body."""
		s = sentry_app()
		_with_request(_request("", "image/png"))
		s.Service.capture_message("m")
		assert s.events()[0]["request"]["data"] == ""

	@pytest.mark.parametrize("size, data, kept", [
		("small", "a" * 1000, True), ("small", "a" * 1001, False), ("small", "é" * 500, True), ("small", "é" * 501, False),
		("medium", "a" * 10000, True), ("medium", "a" * 10001, False), ("never", "a", False), ("always", "a" * 20000, True),
	])
	def test_size_limit(self, size, data, kept):
		request = _request(data)
		Scrubber(max_request_body_size=size)._request(request, False)
		assert request.get("data") == (data if kept else None) and ("data" in request) is kept

	@pytest.mark.parametrize("size, length, kept", [(1000, 1000, True), (1000, 1001, False), (10, None, True), (10, 0, True)])
	def test_original_length(self, size, length, kept):
		request = _request("a" * 10)
		Scrubber(max_request_body_size="small")._request(request, False, length)
		assert ("data" in request) is kept

	@pytest.mark.parametrize("headers, kept", [
		({"content-type": "image/png"}, False),
		({"CONTENT-TYPE": "image/png"}, False),
		({"Content-Type": "image/png", "content-type": "text/plain"}, False),
		({"Content-Type": ["image/png"]}, True),
		({"Content-Type": "application/json; charset=utf-8"}, True),
		({}, True),
		(None, True),
		("Content-Type: image/png", True),
	])
	def test_content_type_header(self, headers, kept):
		request = {"data": "plain body", "headers": headers}
		Scrubber()._request(request, False)
		assert ("data" in request) is kept

	def test_structured_body_has_no_size_limit(self):
		request = {"data": {"text": "a" * 2000, "password": "x"}, "headers": {"Content-Type": "application/json"}}
		Scrubber(max_request_body_size="small")._request(request, False)
		assert request["data"] == {"text": "a" * 2000, "password": FILTERED}

	@pytest.mark.parametrize("turned_on", [False, True])
	def test_transaction_bodies(self, turned_on):
		request = _request('{"password": "x", "a": 1}', "application/json")
		Scrubber(transaction_request_bodies=turned_on)._request(request, True)
		assert request.get("data") == ({"password": FILTERED, "a": 1} if turned_on else None)

	def test_the_rest_of_the_request_is_scrubbed(self):
		request = _request("a=1", "application/x-www-form-urlencoded", query_string="token=q", env={"REMOTE_ADDR": "1"})
		request["headers"]["Authorization"] = "Bearer x"
		Scrubber()._request(request, True)
		assert request == {
			"method": "POST", "url": "http://svc/x", "headers": {"Content-Type": "application/x-www-form-urlencoded", "Authorization": FILTERED},
			"query_string": "token=[Filtered]", "env": {"REMOTE_ADDR": FILTERED},
		}

	def test_request_that_is_not_a_dict(self):
		event = {"request": "token=x"}
		assert Scrubber().scrub_event(event) == {"request": "token=x"}


class TestBody(object):
	"""A body kept as text: JSON or a form (no whitespace) is parsed and scrubbed; other text is scrubbed, and withheld if it still mentions a secret."""

	@pytest.mark.parametrize("body, result", [
		('{"user": "joe", "password": "x"}', {"user": "joe", "password": FILTERED}),
		('[{"token": "t"}, "secret=s"]', [{"token": FILTERED}, "secret=[Filtered]"]),
		("a=1&password=x", {"a": "1", "password": FILTERED}),
		("a=&password=x", {"a": "", "password": FILTERED}),
		("a=", {"a": ""}),
		("a=1&a=2", {"a": "2"}),
		("a=X&password=x", {"a": "X", "password": FILTERED}),
		("q=%2Fhome+page&token=t", {"q": "/home page", "token": FILTERED}),
	])
	def test_parsed(self, body, result):
		assert Scrubber()._body(body) == result

	@pytest.mark.parametrize("body, result", [
		("123", "123"),
		('"hi"', '"hi"'),
		("hello world", "hello world"),
		("a&b", "a&b"),
		("a=1 b=2", "a=1 b=2"),
		("a=1\nb=2", "a=1\nb=2"),
		("a=1\tb=2", "a=1\tb=2"),
		('{"user": "joe"', '{"user": "joe"'),
	])
	def test_text_kept(self, body, result):
		assert Scrubber()._body(body) == result

	@pytest.mark.parametrize("body", [
		"my password is x", "a=1 password=x", "a=1\ntoken=x", "a=1\tsecret=x", "mytokenvalue", '{"password": "x"',
		"TOKEN", '"token"',
	])
	def test_text_mentioning_a_secret_is_withheld(self, body):
		assert Scrubber()._body(body) == FILTERED

	def test_scrub_fields_count_as_secret_words(self):
		assert Scrubber(scrub_fields=["pin"])._body("my pin is 1234") == FILTERED
		assert Scrubber()._body("my pin is 1234") == "my pin is 1234"

	@pytest.mark.parametrize("data, content_type, result", [
		('{"user": "joe", "password": "x"}', "application/json; charset=utf-8", {"user": "joe", "password": FILTERED}),
		("a=&token=t", "application/x-www-form-urlencoded", {"a": "", "token": FILTERED}),
		("my password is x", "text/plain", FILTERED),
		('<a token="x"/>', "application/atom+xml", FILTERED),
		("hello", None, "hello"),
	])
	def test_on_the_wire(self, sentry_app, data, content_type, result):
		"""In-process: the body as it reaches Sentry."""
		s = sentry_app({"sentry": {"max_request_body_size": "small"}})
		_with_request(_request(data, content_type))
		s.Service.capture_message("m")
		assert s.events()[0]["request"]["data"] == result

	@pytest.mark.parametrize("data, kept", [("a" * 1000, True), ("a" * 1001, False)])
	def test_limit_on_the_wire(self, sentry_app, data, kept):
		"""In-process: `max_request_body_size = small` keeps exactly 1000 bytes."""
		s = sentry_app({"sentry": {"max_request_body_size": "small"}})
		_with_request(_request(data))
		s.Service.capture_message("m")
		assert ("data" in s.events()[0]["request"]) is kept
