"""
validation.py rule by rule: environment and release names, levels, the user's fields and the
contexts with a schema. Pure-function tests for each boundary and message, and in-process tests
(`sentry_app`) for what reaches Sentry and the exact config error line or WARNING.
"""

import enum
import ipaddress
import logging

import pytest

from asab_sentry import validation

BAD_CHARACTER_MESSAGE = "no '/', '\\' or control characters (newline, tab, ...)"
ENVIRONMENT_RESERVED_MESSAGE = "a value other than 'none', '.', '..'"
RELEASE_RESERVED_MESSAGE = "a value other than 'latest', '.', '..'"
LEVEL_NAMES = "debug, info, notice, log, warning, warn, error, critical, fatal"


def validation_warnings(caplog):
	return [r.getMessage() for r in caplog.records if r.name == "asab_sentry.validation" and r.levelno == logging.WARNING]


def config_error(sentry_app, config=None, environ=None) -> str:
	with pytest.raises(SystemExit) as info:
		sentry_app(config, environ)
	return str(info.value)


class Named(str):
	"""A str subclass with its own repr and str (as an enum member would have)."""

	def __repr__(self):
		return "Named!"

	def __str__(self):
		return "named"


class Plain(str):
	"""A str subclass that adds nothing."""


class Level(str, enum.Enum):
	ERROR = "error"


class LooksLikeALevel(object):
	"""Not a str, but its text is a level name."""

	def __str__(self):
		return "error"

	def __repr__(self):
		return "<error-ish>"


class TestEnvironmentName(object):
	"""An environment is 1 to 64 bytes of UTF-8 after stripping, with no '/', '\\' or control character, and not 'none', '.' or '..' (any case)."""

	@pytest.mark.parametrize("value", ["prod", "a", "e" * 64, "  " + "e" * 64 + "  ", "\u00e9" * 32, "a b", "...", "nonE-eu", "none.", "prod@eu", "\x20x\x20", "~"])
	def test_valid(self, value):
		assert validation.environment_error(value) is None

	@pytest.mark.parametrize("value", ["", " ", "   ", "\t\n", "\n"])
	def test_empty_after_stripping(self, value):
		assert validation.environment_error(value) == "a non-empty value"

	@pytest.mark.parametrize("value,size", [
		("e" * 65, 65),
		("  " + "e" * 65 + "  ", 65),
		("\u00e9" * 33, 66),
		("e" * 63 + "\u00e9", 65),
		("\u20ac" * 22, 66),
		("\U0001f600" * 17, 68),
		("e" * 200, 200),
	])
	def test_longer_than_64_bytes(self, value, size):
		assert validation.environment_error(value) == "at most 64 bytes of UTF-8, not {}".format(size)

	def test_lone_surrogates_count_three_bytes_each(self):
		assert validation.environment_error("\ud800" * 21 + "e") is None
		assert validation.environment_error("\ud800" * 22) == "at most 64 bytes of UTF-8, not 66"

	@pytest.mark.parametrize("value", [
		"prod/eu", "/", "prod\\eu", "\\", "a\nb", "a\rb", "a\tb", "a\x00b", "a\x01b", "a\x0bb", "a\x0cb", "a\x1bb", "a\x1fb", "a\x7fb", "\x7f",
	])
	def test_bad_character(self, value):
		assert validation.environment_error(value) == BAD_CHARACTER_MESSAGE

	@pytest.mark.parametrize("code", range(0x20))
	def test_every_control_character_below_space(self, code):
		assert validation.environment_error("a{}b".format(chr(code))) == BAD_CHARACTER_MESSAGE

	@pytest.mark.parametrize("value", ["\x20", "\x7e", "\x80", "\u00a0x"])
	def test_neighbours_of_the_bad_characters_are_fine(self, value):
		assert validation.environment_error("a" + value + "b") is None

	@pytest.mark.parametrize("value", ["none", "None", "NONE", "nOnE", " none ", ".", "..", " .. "])
	def test_reserved(self, value):
		assert validation.environment_error(value) == ENVIRONMENT_RESERVED_MESSAGE

	@pytest.mark.parametrize("value", ["latest", "LATEST"])
	def test_release_names_are_not_reserved_environments(self, value):
		assert validation.environment_error(value) is None

	def test_length_is_checked_before_characters(self):
		assert validation.environment_error("/" * 65) == "at most 64 bytes of UTF-8, not 65"

	def test_characters_are_checked_before_reserved_names(self):
		assert validation.environment_error("none/") == BAD_CHARACTER_MESSAGE


class TestReleaseName(object):
	"""A release is 1 to 200 bytes of UTF-8 after stripping, with no '/', '\\' or control character, and not 'latest', '.' or '..' (any case)."""

	@pytest.mark.parametrize("value", ["MyApp@1.2.3", "r" * 200, " " + "r" * 200 + " ", "\u00e9" * 100, "none", "NONE", "...", "1.0 beta", "latest-1"])
	def test_valid(self, value):
		assert validation.release_error(value) is None

	@pytest.mark.parametrize("value", ["", " ", "\t"])
	def test_empty_after_stripping(self, value):
		assert validation.release_error(value) == "a non-empty value"

	@pytest.mark.parametrize("value,size", [("r" * 201, 201), ("\u00e9" * 101, 202), ("r" * 199 + "\u00e9", 201), ("\U0001f600" * 51, 204)])
	def test_longer_than_200_bytes(self, value, size):
		assert validation.release_error(value) == "at most 200 bytes of UTF-8, not {}".format(size)

	def test_lone_surrogates_count_three_bytes_each(self):
		assert validation.release_error("\udfff" * 66 + "rr") is None
		assert validation.release_error("\udfff" * 67) == "at most 200 bytes of UTF-8, not 201"

	@pytest.mark.parametrize("value", ["App/1.0", "App\\1.0", "App\n1.0", "App\x001.0", "App\x1f1.0", "App\x7f1.0", "App\t1.0"])
	def test_bad_character(self, value):
		assert validation.release_error(value) == BAD_CHARACTER_MESSAGE

	@pytest.mark.parametrize("value", ["latest", "Latest", "LATEST", " latest ", ".", ".."])
	def test_reserved(self, value):
		assert validation.release_error(value) == RELEASE_RESERVED_MESSAGE


class TestNamesInTheConfiguration(object):
	"""A bad [sentry] environment or release stops the app with one line naming it and the rule; a bad SITE_ID or manifest release is a WARNING."""

	@pytest.mark.parametrize("value,expected", [
		("none", ENVIRONMENT_RESERVED_MESSAGE),
		("NONE", ENVIRONMENT_RESERVED_MESSAGE),
		(".", ENVIRONMENT_RESERVED_MESSAGE),
		("..", ENVIRONMENT_RESERVED_MESSAGE),
		("prod/eu", BAD_CHARACTER_MESSAGE),
		("e" * 65, "at most 64 bytes of UTF-8, not 65"),
	])
	def test_bad_environment(self, sentry_app, value, expected):
		assert config_error(sentry_app, {"sentry": {"environment": value}}) == "asab-sentry: [sentry] environment = '{}' is invalid; expected {}".format(value, expected)

	@pytest.mark.parametrize("value,expected", [
		("latest", RELEASE_RESERVED_MESSAGE),
		("Latest", RELEASE_RESERVED_MESSAGE),
		(".", RELEASE_RESERVED_MESSAGE),
		("..", RELEASE_RESERVED_MESSAGE),
		("App\\1", BAD_CHARACTER_MESSAGE),
		("r" * 201, "at most 200 bytes of UTF-8, not 201"),
	])
	def test_bad_release(self, sentry_app, value, expected):
		assert config_error(sentry_app, {"sentry": {"release": value}}) == "asab-sentry: [sentry] release = '{}' is invalid; expected {}".format(value, expected)

	def test_bad_environment_from_the_environment_variable(self, sentry_app):
		message = config_error(sentry_app, environ={"SENTRY_ENVIRONMENT": ".."})
		assert message == "asab-sentry: SENTRY_ENVIRONMENT = '..' (for [sentry] environment) is invalid; expected " + ENVIRONMENT_RESERVED_MESSAGE

	def test_good_names_reach_sentry(self, sentry_app):
		s = sentry_app({"sentry": {"environment": "e" * 64, "release": "r" * 200}})
		s.Service.capture_message("m")
		event = s.events()[0]
		assert (event["environment"], event["release"]) == ("e" * 64, "r" * 200)

	@pytest.mark.parametrize("value,expected", [("none", ENVIRONMENT_RESERVED_MESSAGE), ("eu/west", BAD_CHARACTER_MESSAGE)])
	def test_bad_site_id_is_a_warning_and_not_the_environment(self, sentry_app, caplog, value, expected):
		with caplog.at_level(logging.WARNING, logger="asab_sentry"):
			s = sentry_app(environ={"SITE_ID": value})
		s.Service.capture_message("m")
		assert s.events()[0]["environment"] == "not specified"
		assert "SITE_ID = '{}' is not a valid Sentry environment ({}); the environment is 'not specified'.".format(value, expected) in caplog.messages

	def test_good_site_id_is_the_environment(self, sentry_app):
		s = sentry_app(environ={"SITE_ID": "eu-west"})
		s.Service.capture_message("m")
		assert s.events()[0]["environment"] == "eu-west"

	def test_bad_manifest_release_is_a_warning_and_no_release(self, sentry_app, caplog, tmp_path):
		manifest = tmp_path / "MANIFEST.json"
		manifest.write_text('{"version": "1.0/beta"}')
		with caplog.at_level(logging.WARNING, logger="asab_sentry"):
			s = sentry_app({"general": {"manifest": str(manifest)}})
		s.Service.capture_message("m")
		assert s.events()[0].get("release") in (None, "")
		release = "{}@1.0/beta".format(type(s.App).__name__)
		assert "The release '{}' from the manifest is not valid for Sentry ({}); no release is sent.".format(release, BAD_CHARACTER_MESSAGE) in caplog.messages


EXPECTED_LEVELS = [
	("debug", "debug"), ("info", "info"), ("notice", "info"), ("log", "info"), ("warning", "warning"),
	("warn", "warning"), ("error", "error"), ("critical", "fatal"), ("fatal", "fatal"),
]


class TestLevel(object):
	"""Every known level maps to Sentry's (notice/log are info, warn is warning, critical is fatal), in any case; anything else is 'info' with a WARNING naming the caller."""

	def test_the_table(self):
		assert validation.LEVELS == dict(EXPECTED_LEVELS)

	@pytest.mark.parametrize("name,expected", EXPECTED_LEVELS)
	def test_known(self, caplog, name, expected):
		with caplog.at_level(logging.WARNING, logger="asab_sentry.validation"):
			assert validation.level(name, "here") == expected
			assert validation.level(name.upper(), "here") == expected
			assert validation.level(name.capitalize(), "here") == expected
		assert validation_warnings(caplog) == []

	def test_str_subclass(self):
		assert validation.level(Plain("ERROR"), "here") == "error"

	def test_str_enum_member_is_its_text(self, sentry_app):
		s = sentry_app()
		s.Service.capture_message("m", level=Level.ERROR)
		assert s.events()[0]["level"] == "error"

	@pytest.mark.parametrize("value,shown", [
		("loud", "'loud'"), ("", "''"), (" error", "' error'"), ("errors", "'errors'"), ("information", "'information'"),
		(40, "40"), (None, "None"), (LooksLikeALevel(), "<error-ish>"), (b"error", "b'error'"),
	])
	def test_unknown_is_info_with_a_warning(self, caplog, value, shown):
		with caplog.at_level(logging.WARNING, logger="asab_sentry.validation"):
			assert validation.level(value, "somewhere()") == "info"
		assert validation_warnings(caplog) == [
			"somewhere(): unknown level {}, sent as 'info'; expected one of {}.".format(shown, LEVEL_NAMES)
		]

	@pytest.mark.parametrize("name,expected", EXPECTED_LEVELS)
	def test_message_level_reaches_sentry(self, sentry_app, name, expected):
		s = sentry_app()
		s.Service.capture_message("m", level=name.upper())
		assert s.events()[0]["level"] == expected

	@pytest.mark.parametrize("name,expected", EXPECTED_LEVELS)
	def test_breadcrumb_level_reaches_sentry(self, sentry_app, name, expected):
		s = sentry_app()
		s.Service.add_breadcrumb(message="crumb", level=name)
		s.Service.capture_message("m")
		assert s.events()[0]["breadcrumbs"]["values"][-1]["level"] == expected

	def test_unknown_message_level_is_sent_as_info(self, sentry_app, caplog):
		s = sentry_app()
		with caplog.at_level(logging.WARNING, logger="asab_sentry"):
			s.Service.capture_message("m", level="loud")
		assert s.events()[0]["level"] == "info"
		assert validation_warnings(caplog) == [
			"capture_message(): unknown level 'loud', sent as 'info'; expected one of {}.".format(LEVEL_NAMES)
		]

	def test_unknown_breadcrumb_level_is_sent_as_info(self, sentry_app, caplog):
		s = sentry_app()
		with caplog.at_level(logging.WARNING, logger="asab_sentry"):
			s.Service.add_breadcrumb(message="crumb", level=30)
		s.Service.capture_message("m")
		assert s.events()[0]["breadcrumbs"]["values"][-1]["level"] == "info"
		assert validation_warnings(caplog) == [
			"add_breadcrumb(): unknown level 30, sent as 'info'; expected one of {}.".format(LEVEL_NAMES)
		]


def checked_user(caplog, value):
	"""`validation.user(value)` and the WARNINGs it logged."""
	with caplog.at_level(logging.WARNING, logger="asab_sentry.validation"):
		result = validation.user(value)
	return result, validation_warnings(caplog)


def refused(key, problem):
	return "set_user(): field {!r} {}; the field is not set.".format(key, problem)


class TestUserIpAddress(object):
	"""`ip_address` is an IPv4 or IPv6 address as a string, or '{{auto}}' (or None)."""

	@pytest.mark.parametrize("value", ["127.0.0.1", "10.1.2.3", "::1", "2001:db8::1", "::ffff:1.2.3.4", "{{auto}}", None])
	def test_kept(self, caplog, value):
		assert checked_user(caplog, {"ip_address": value}) == ({"ip_address": value}, [])

	@pytest.mark.parametrize("value", ["{{ auto }}", "{auto}", "auto", "", "localhost", "1.2.3", "256.0.0.1", " 1.2.3.4", "01.2.3.4", 1, 2130706433, 1.5, ["1.2.3.4"]])
	def test_refused(self, caplog, value):
		problem = "must be an IP address, not {!r}".format(value)
		assert checked_user(caplog, {"ip_address": value}) == ({}, [refused("ip_address", problem)])

	def test_scoped_ipv6_is_refused(self, caplog):
		assert checked_user(caplog, {"ip_address": "fe80::1%eth0"})[0] == {}

	def test_an_address_object_reaches_sentry_as_its_text(self, sentry_app):
		s = sentry_app()
		s.Service.set_user({"ip_address": ipaddress.ip_address("1.2.3.4")})
		s.Service.capture_message("m")
		assert s.events()[0]["user"]["ip_address"] == "1.2.3.4"


class TestUserId(object):
	"""`id` is a str, int or float, not a bool (or None)."""

	@pytest.mark.parametrize("value", ["42", "", 42, 0, -1, 1.5, None])
	def test_kept(self, caplog, value):
		assert checked_user(caplog, {"id": value}) == ({"id": value}, [])

	@pytest.mark.parametrize("value", [True, False, [42], {"id": 1}, b"42", object])
	def test_refused(self, caplog, value):
		assert checked_user(caplog, {"id": value}) == ({}, [refused("id", "must be a string or a number")])


class TestUserStrings(object):
	"""`email`, `username`, `name` and `segment` are strings (or None)."""

	@pytest.mark.parametrize("key", ["email", "username", "name", "segment"])
	@pytest.mark.parametrize("value", ["joe", "", None])
	def test_kept(self, caplog, key, value):
		assert checked_user(caplog, {key: value}) == ({key: value}, [])

	@pytest.mark.parametrize("key", ["email", "username", "name", "segment"])
	@pytest.mark.parametrize("value", [5, 1.5, True, ["joe"], {"a": "b"}, b"joe"])
	def test_refused(self, caplog, key, value):
		assert checked_user(caplog, {key: value}) == ({}, [refused(key, "must be a string")])

	def test_other_keys_are_not_string_fields(self, caplog):
		value = {"Email": 5, "user_name": 5, "names": 5, "segments": 5}
		assert checked_user(caplog, value) == (value, [])


class TestUserGeo(object):
	"""`geo` is a dict whose values are strings or None."""

	@pytest.mark.parametrize("value", [{}, {"city": "Prague"}, {"city": None}, {"city": "Prague", "region": None, "country_code": "CZ"}, None])
	def test_kept(self, caplog, value):
		assert checked_user(caplog, {"geo": value}) == ({"geo": value}, [])

	@pytest.mark.parametrize("value", [{"city": 5}, {"city": "Prague", "region": 1}, {"city": ["Prague"]}, {"city": {}}, "Prague", ["Prague"], 5])
	def test_refused(self, caplog, value):
		assert checked_user(caplog, {"geo": value}) == ({}, [refused("geo", "must be a dict of strings")])


class TestUserData(object):
	"""`data` is a dict (of anything)."""

	@pytest.mark.parametrize("value", [{}, {"plan": "pro"}, {"n": [1, {"x": None}]}, None])
	def test_kept(self, caplog, value):
		assert checked_user(caplog, {"data": value}) == ({"data": value}, [])

	@pytest.mark.parametrize("value", [[], ["plan"], "plan", 5])
	def test_refused(self, caplog, value):
		assert checked_user(caplog, {"data": value}) == ({}, [refused("data", "must be a dict")])


class TestUserKeys(object):
	"""Keys are non-empty strings (a str subclass is used as its plain text); any other key is left out; unknown keys go along as they are."""

	@pytest.mark.parametrize("key", [5, None, 1.5, ("id",), b"id"])
	def test_non_string_key_is_refused(self, caplog, key):
		assert checked_user(caplog, {key: "x", "id": "1"}) == ({"id": "1"}, ["set_user(): field {!r} is not a non-empty string key; the field is not set.".format(key)])

	def test_empty_key_is_refused(self, caplog):
		assert checked_user(caplog, {"": "x"}) == ({}, ["set_user(): field '' is not a non-empty string key; the field is not set."])

	def test_empty_key_with_none_is_refused(self, caplog):
		assert checked_user(caplog, {"": None}) == ({}, ["set_user(): field '' is not a non-empty string key; the field is not set."])

	def test_str_subclass_key_is_its_plain_text(self, caplog):
		result, warnings = checked_user(caplog, {Named("email"): "joe@example.com"})
		assert result == {"email": "joe@example.com"} and warnings == []
		assert [type(k) for k in result] == [str]

	def test_str_subclass_key_is_named_by_its_text(self, caplog):
		assert checked_user(caplog, {Named("email"): 5}) == ({}, [refused("email", "must be a string")])

	@pytest.mark.parametrize("value", [[1], {"a": 1}, 5, True, object])
	def test_unknown_keys_go_along(self, caplog, value):
		assert checked_user(caplog, {"custom": value}) == ({"custom": value}, [])

	def test_one_bad_field_leaves_the_others(self, caplog):
		value = {"id": True, "email": "joe@example.com", "ip_address": "nope", "username": "joe", 7: "x", "geo": {"city": "Brno"}}
		result, warnings = checked_user(caplog, value)
		assert result == {"email": "joe@example.com", "username": "joe", "geo": {"city": "Brno"}}
		assert warnings == [
			refused("id", "must be a string or a number"),
			refused("ip_address", "must be an IP address, not 'nope'"),
			"set_user(): field 7 is not a non-empty string key; the field is not set.",
		]

	def test_empty_user(self, caplog):
		assert checked_user(caplog, {}) == ({}, [])


class TestUserReachesSentry(object):
	"""What `set_user()` sends: the valid fields as given, the invalid ones left out with a WARNING."""

	def test_valid_user(self, sentry_app):
		s = sentry_app()
		user = {"id": 42, "ip_address": "{{auto}}", "email": "joe@example.com", "username": "joe", "geo": {"city": "Brno"}, "data": {"plan": "pro"}}
		s.Service.set_user(user)
		s.Service.capture_message("m")
		assert s.events()[0]["user"] == user

	def test_invalid_fields_are_left_out(self, sentry_app, caplog):
		s = sentry_app()
		with caplog.at_level(logging.WARNING, logger="asab_sentry"):
			s.Service.set_user({"id": "7", "ip_address": "::1", "email": 5, "geo": {"city": 1}, "": "x"})
		s.Service.capture_message("m")
		assert s.events()[0]["user"] == {"id": "7", "ip_address": "::1"}
		assert validation_warnings(caplog) == [
			refused("email", "must be a string"),
			refused("geo", "must be a dict of strings"),
			"set_user(): field '' is not a non-empty string key; the field is not set.",
		]


TYPED = [
	"trace", "os", "runtime", "browser", "device", "app", "gpu", "response", "otel", "profile", "replay",
	"culture", "cloud_resource", "monitor", "nel", "flags", "performance_score", "spring", "ota_updates",
	"chromium_stability_report", "user_report_v2", "unity", "memory_info", "thread_pool_info",
]


class TestTypedContexts(object):
	"""A context named (or typed) like one Sentry gives a schema to is not set, with a WARNING."""

	def test_the_list(self):
		assert validation.TYPED_CONTEXTS == frozenset(TYPED)

	@pytest.mark.parametrize("name", ["os", "device", "gpu", "cloud_resource", "thread_pool_info"])
	def test_refused_by_name(self, sentry_app, caplog, name):
		s = sentry_app()
		with caplog.at_level(logging.WARNING, logger="asab_sentry"):
			s.Service.set_context(name, {"x": "y"})
		s.Service.capture_message("m")
		assert s.events()[0].get("contexts", {}).get(name, {}).get("x") is None
		assert "set_context({!r}): the name (or type) is one Sentry gives a schema to; the context is not set. Use another name.".format(name) in caplog.messages

	def test_refused_by_type(self, sentry_app):
		s = sentry_app()
		s.Service.set_context("mine", {"type": "browser", "x": "y"})
		s.Service.capture_message("m")
		assert "mine" not in s.events()[0].get("contexts", {})

	def test_other_name_is_set(self, sentry_app):
		s = sentry_app()
		s.Service.set_context("order", {"id": 42})
		s.Service.capture_message("m")
		assert s.events()[0]["contexts"]["order"] == {"id": 42}
