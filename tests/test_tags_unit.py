"""validate_tag: Sentry's tag rules, checked without a server."""

import pytest

from asab_sentry import TagError, validate_tag


class TestValidateTag(object):
	"""Keys of 1 to 32 allowed characters, values of 1 to 200 characters with no newline."""

	@pytest.mark.parametrize("key,value,expected", [
		("k", "v", ("k", "v")),
		("a.b:c-d_e", 42, ("a.b:c-d_e", "42")),
		("k" * 32, "v" * 200, ("k" * 32, "v" * 200)),
		("f", 0.5, ("f", "0.5")),
		("b", False, ("b", "False")),
	])
	def test_valid(self, key, value, expected):
		assert validate_tag(key, value) == expected

	@pytest.mark.parametrize("key,value,rule", [
		("", "v", "1 to 32"),
		("k" * 33, "v", "1 to 32"),
		("bad key", "v", "only letters"),
		("k\n", "v", "only letters"),
		("ключ", "v", "only letters"),
		(None, "v", "not a string"),
		("k", "", "1 to 200"),
		("k", "v" * 201, "1 to 200"),
		("k", "a\nb", "newline"),
		("k", None, "not a str"),
		("k", [1], "not a str"),
	])
	def test_invalid(self, key, value, rule):
		with pytest.raises(TagError) as info:
			validate_tag(key, value)
		assert rule in str(info.value)
