"""
Tag validation: the rules Sentry's ingest enforces, checked before a tag is set, so that an
invalid tag is refused with a reason instead of being mangled or dropped by the server.
"""

import re
import typing

KEY_MAX_LENGTH = 32
VALUE_MAX_LENGTH = 200
_KEY = re.compile(r"[a-zA-Z0-9_.:-]+")


class TagError(ValueError):
	"""A tag key or value breaks one of Sentry's rules; the message names the rule."""


def validate_tag(key: typing.Any, value: typing.Any) -> typing.Tuple[str, str]:
	"""
	Check a tag and return it as Sentry stores it.

	Args:
		key: 1 to 32 characters of `a-zA-Z0-9_.:-`.
		value: A str, int, float or bool whose `str()` is 1 to 200 characters with no newline.

	Returns:
		`(key, str(value))`.

	Raises:
		TagError: The key or value breaks a rule; the message names the key and the rule.
	"""
	if not isinstance(key, str):
		raise TagError("Tag key {} is not a string".format(_safe_repr(key)))
	key = str.__str__(key)  # a (str, Enum) member or str subclass: its text, never its repr or __str__
	if not (1 <= len(key) <= KEY_MAX_LENGTH):
		raise TagError("Tag key {!r} must be 1 to {} characters long, not {}".format(key, KEY_MAX_LENGTH, len(key)))
	if _KEY.fullmatch(key) is None:
		raise TagError("Tag key {!r} may contain only letters, digits and _ . : -".format(key))
	if not isinstance(value, (str, int, float, bool)):
		raise TagError("Tag {!r}: value of type {} is not a str, int, float or bool".format(key, type(value).__name__))
	if isinstance(value, bool):
		text = "True" if value else "False"
	elif isinstance(value, int):
		text = int.__repr__(value)  # an IntEnum member: its number
	elif isinstance(value, float):
		text = float.__repr__(value)
	else:
		text = str.__str__(value)
	if not (1 <= len(text) <= VALUE_MAX_LENGTH):
		raise TagError("Tag {!r}: value must be 1 to {} characters long, not {}".format(key, VALUE_MAX_LENGTH, len(text)))
	if text.strip() == "":
		raise TagError("Tag {!r}: value must not be only spaces".format(key))
	if any(c in text for c in "\n\r\f\v\t\x00"):
		raise TagError("Tag {!r}: value must not contain a newline, tab or control character".format(key))
	return key, text


def _safe_repr(value: typing.Any) -> str:
	try:
		return repr(value)
	except Exception:
		return "<{} object>".format(type(value).__name__)
