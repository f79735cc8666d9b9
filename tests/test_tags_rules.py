"""
tags.py rule by rule: the exact TagError message of each rule, the boundaries of key and value
length, how each value type becomes text, and every refused character; plus what `set_tag()`
sends and the WARNING it logs.
"""

import enum
import logging

import pytest

from asab_sentry.tags import KEY_MAX_LENGTH, VALUE_MAX_LENGTH, TagError, validate_tag


class Key(str, enum.Enum):
	TENANT = "tenant"


class Count(enum.IntEnum):
	ONE = 1


class Ratio(float):
	def __repr__(self):
		return "Ratio!"

	def __str__(self):
		return "ratio"


class Text(str):
	def __str__(self):
		return "other text"


class NoRepr(object):
	def __repr__(self):
		raise RuntimeError("no repr")


def tag_error(key, value) -> str:
	with pytest.raises(TagError) as info:
		validate_tag(key, value)
	return str(info.value)


class TestKey(object):
	"""A key is a str of 1 to 32 characters of a-z A-Z 0-9 _ . : - (a str subclass counts as its text)."""

	def test_limits(self):
		assert (KEY_MAX_LENGTH, VALUE_MAX_LENGTH) == (32, 200)

	@pytest.mark.parametrize("key", ["k", "K", "0", "_", ".", ":", "-", "k" * 32, "aZ09_.:-", "XYZ"])
	def test_valid(self, key):
		assert validate_tag(key, "v") == (key, "v")

	@pytest.mark.parametrize("key,shown", [(5, "5"), (None, "None"), (b"key", "b'key'"), (["k"], "['k']"), (NoRepr(), "<NoRepr object>")])
	def test_not_a_string(self, key, shown):
		assert tag_error(key, "v") == "Tag key {} is not a string".format(shown)

	@pytest.mark.parametrize("key", ["", "k" * 33, "k" * 100])
	def test_length(self, key):
		assert tag_error(key, "v") == "Tag key {!r} must be 1 to 32 characters long, not {}".format(key, len(key))

	@pytest.mark.parametrize("key", ["bad key", "k/v", "k\n", "ключ", "k@", "k+", "é", "k\x00", "k!"])
	def test_characters(self, key):
		assert tag_error(key, "v") == "Tag key {!r} may contain only letters, digits and _ . : -".format(key)

	def test_length_is_checked_before_characters(self):
		assert "must be 1 to 32 characters long, not 33" in tag_error("!" * 33, "v")

	def test_str_enum_member_is_its_value(self):
		key, text = validate_tag(Key.TENANT, "acme")
		assert (key, text) == ("tenant", "acme") and type(key) is str

	def test_str_subclass_is_its_text_not_its_str(self):
		key, _ = validate_tag(Text("plain"), "v")
		assert key == "plain" and type(key) is str

	def test_str_subclass_is_named_by_its_text(self):
		assert tag_error(Text("bad key"), "v") == "Tag key 'bad key' may contain only letters, digits and _ . : -"


class TestValueText(object):
	"""A value is a str, int, float or bool: a bool is True/False, an int its number (an IntEnum too), a float its repr, a str its own text."""

	@pytest.mark.parametrize("value,text", [
		(True, "True"), (False, "False"), (0, "0"), (-42, "-42"), (Count.ONE, "1"), (0.5, "0.5"), (1e100, "1e+100"),
		(float("nan"), "nan"), (Ratio(2.5), "2.5"), ("x", "x"), (Key.TENANT, "tenant"), (Text("mine"), "mine"),
	])
	def test_text(self, value, text):
		k, result = validate_tag("k", value)
		assert result == text and type(result) is str

	@pytest.mark.parametrize("value,type_name", [(None, "NoneType"), ([1], "list"), ({"a": 1}, "dict"), (b"x", "bytes"), (1j, "complex"), (NoRepr(), "NoRepr")])
	def test_other_types(self, value, type_name):
		assert tag_error("k", value) == "Tag 'k': value of type {} is not a str, int, float or bool".format(type_name)


class TestValueRules(object):
	"""The text is 1 to 200 characters, not only spaces, and has no newline, tab, \\r, \\f, \\v or NUL."""

	@pytest.mark.parametrize("value", ["v", "v" * 200, " v ", "XX", "a b", "a\x01b", "\x7f", "é" * 200, "/"])
	def test_valid(self, value):
		assert validate_tag("k", value) == ("k", value)

	@pytest.mark.parametrize("value", ["", "v" * 201, "1" * 201])
	def test_length(self, value):
		assert tag_error("k", value) == "Tag 'k': value must be 1 to 200 characters long, not {}".format(len(value))

	def test_long_int(self):
		assert tag_error("k", 10 ** 200) == "Tag 'k': value must be 1 to 200 characters long, not 201"

	@pytest.mark.parametrize("value", [" ", "   ", " " * 200, "\u00a0"])
	def test_only_spaces(self, value):
		assert tag_error("k", value) == "Tag 'k': value must not be only spaces"

	@pytest.mark.parametrize("char", ["\n", "\r", "\f", "\v", "\t", "\x00"])
	def test_control_characters(self, char):
		assert tag_error("k", "a{}b".format(char)) == "Tag 'k': value must not contain a newline, tab or control character"

	def test_key_is_checked_before_the_value(self):
		assert tag_error("bad key", None).startswith("Tag key 'bad key'")


class TestSetTag(object):
	"""`set_tag()` sends a valid tag as text and leaves out an invalid one with a WARNING naming the rule."""

	def test_valid(self, sentry_app):
		s = sentry_app()
		s.Service.set_tag(Key.TENANT, Count.ONE)
		s.Service.set_tags({"flag": True, "ratio": 0.5})
		s.Service.capture_message("m")
		tags = s.events()[0]["tags"]
		assert (tags["tenant"], tags["flag"], tags["ratio"]) == ("1", "True", "0.5")

	def test_invalid(self, sentry_app, caplog):
		s = sentry_app()
		with caplog.at_level(logging.WARNING, logger="asab_sentry"):
			s.Service.set_tags({"bad key": "v", "ok": "yes", "empty": " "})
		s.Service.capture_message("m")
		tags = s.events()[0]["tags"]
		assert tags["ok"] == "yes" and "bad key" not in tags and "empty" not in tags
		assert "Tag key 'bad key' may contain only letters, digits and _ . : -; the tag is not set." in caplog.messages
		assert "Tag 'empty': value must not be only spaces; the tag is not set." in caplog.messages
