"""
The values Sentry's ingest (Relay) checks, checked here at the boundary, so that a value Sentry
would discard or flag is refused with a reason instead: environment, release, breadcrumb levels,
the user's fields and the names of contexts with a schema. Tags are in `tags.py`.

The rules are Relay's (measured with `sentry_relay.StoreNormalizer`; tests/test_events_relay.py
sends random calls through the whole pipeline and checks that Relay reports no error).
"""

import ipaddress
import logging
import typing

L = logging.getLogger(__name__)

ENVIRONMENT_MAX_LENGTH = 64  # bytes of UTF-8, after trimming white space
RELEASE_MAX_LENGTH = 200  # bytes of UTF-8, after trimming white space
_BAD_CHARACTERS = frozenset([chr(c) for c in range(0x20)] + ["\x7f", "/", "\\"])


#: Breadcrumb and event levels Relay knows, and the names asab-sentry maps onto them.
LEVELS = {
	"debug": "debug", "info": "info", "notice": "info", "log": "info", "warning": "warning", "warn": "warning",
	"error": "error", "critical": "fatal", "fatal": "fatal",
}

#: Contexts whose name (or `type`) gives them a schema in Relay (a wrong field type is an error);
#: the SDK fills `trace` and `runtime` itself.
TYPED_CONTEXTS = frozenset((
	"trace", "os", "runtime", "browser", "device", "app", "gpu", "response", "otel", "profile", "replay",
	"culture", "cloud_resource", "monitor", "nel", "flags", "performance_score", "spring", "ota_updates",
	"chromium_stability_report", "user_report_v2", "unity", "memory_info", "thread_pool_info",
))

_USER_STRINGS = ("email", "username", "name", "segment")


def environment_error(value: str) -> typing.Optional[str]:
	"""Why Sentry would reject `value` as an environment, or None when it is valid."""
	return _name_error(value, ENVIRONMENT_MAX_LENGTH, ("none", ".", ".."))


def release_error(value: str) -> typing.Optional[str]:
	"""Why Sentry would reject `value` as a release, or None when it is valid (e.g. MyApp@1.2.3)."""
	return _name_error(value, RELEASE_MAX_LENGTH, ("latest", ".", ".."))


def _name_error(value: str, max_bytes: int, reserved: typing.Tuple[str, ...]) -> typing.Optional[str]:
	text = value.strip()
	if text == "":
		return "a non-empty value"
	size = len(text.encode("utf-8", "surrogatepass"))
	if size > max_bytes:
		return "at most {} bytes of UTF-8, not {}".format(max_bytes, size)
	if any(c in _BAD_CHARACTERS for c in text):
		return "no '/', '\\' or control characters (newline, tab, ...)"
	if text.lower() in reserved:
		return "a value other than {}".format(", ".join("'{}'".format(r) for r in reserved))
	return None


def level(value: typing.Any, where: str) -> str:
	"""
	A level Sentry knows for `value` (`notice` is `info`, `critical` is `fatal`); an unknown one is
	`info`, with a WARNING naming `where`.
	"""
	result = LEVELS.get(str.__str__(value).lower()) if isinstance(value, str) else None  # the text of a (str, Enum) member too
	if result is None:
		L.warning("{}: unknown level {!r}, sent as 'info'; expected one of {}.".format(where, value, ", ".join(LEVELS)))
		return "info"
	return result


def user(value: typing.Mapping[str, typing.Any]) -> dict:
	"""
	The user dict with the fields Sentry would reject left out (one WARNING each): `ip_address`
	must be an IP address (or `{{auto}}`), `id` a str or number, `email`, `username`, `name` and
	`segment` strings, `geo` and `data` dicts; other keys go along as they are.
	"""
	result = {}
	for key, field in value.items():
		key = str.__str__(key) if isinstance(key, str) else key
		problem = _user_field_error(key, field)
		if problem is not None:
			L.warning("set_user(): field {!r} {}; the field is not set.".format(key, problem))
			continue
		if key == "ip_address" and field is not None:
			field = str(field)  # an ipaddress object is sent as its text, not its repr
		result[key] = field
	return result


def _user_field_error(key: typing.Any, field: typing.Any) -> typing.Optional[str]:
	if not isinstance(key, str) or key == "":
		return "is not a non-empty string key"
	if field is None:
		return None
	if key == "ip_address":
		if field == "{{auto}}":
			return None
		try:
			ipaddress.ip_address(str(field))
		except ValueError:
			return "must be an IP address, not {!r}".format(field)
		if "%" in str(field):  # Python takes a scoped IPv6 address (fe80::1%eth0); Sentry does not
			return "must be an IP address, not {!r}".format(field)
		return None
	if key == "id":
		return None if isinstance(field, (str, int, float)) and not isinstance(field, bool) else "must be a string or a number"
	if key in _USER_STRINGS:
		return None if isinstance(field, str) else "must be a string"
	if key == "geo":
		if not isinstance(field, typing.Mapping) or not all(isinstance(v, str) or v is None for v in field.values()):
			return "must be a dict of strings"
		return None
	if key == "data":
		return None if isinstance(field, typing.Mapping) else "must be a dict"
	return None
