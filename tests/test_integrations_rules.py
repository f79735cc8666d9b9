"""
sentry-sdk integrations chosen by name (asab_sentry/integrations.py), rule by rule, in-process:
the registry against the SDK's own modules, every message of `check_names()` and `load_class()`,
what `build()`, `disabled()` and `auto_names()` return, and what reaches `sentry_sdk.init()`.
"""

import importlib.util
import logging
import re

import pytest
import sentry_sdk
import sentry_sdk.integrations
import sentry_sdk.integrations.socket
import sentry_sdk.integrations.threading

from asab_sentry import integrations
from asab_sentry.integrations import Known

#: Every selectable name, sorted, and the package each needs (None: nothing to install).
PACKAGES = {
	"aiomysql": "aiomysql",
	"anthropic": "anthropic",
	"arq": "arq",
	"asyncpg": "asyncpg",
	"boto3": "boto3",
	"celery": "celery",
	"clickhouse_driver": "clickhouse-driver",
	"cloud_resource_context": None,
	"dramatiq": "dramatiq",
	"executing": "executing",
	"gnu_backtrace": None,
	"grpc": "grpcio",
	"httpx": "httpx",
	"huey": "huey",
	"langchain": "langchain",
	"loguru": "loguru",
	"openai": "openai",
	"pure_eval": "pure_eval",
	"pymongo": "pymongo",
	"redis": "redis",
	"rq": "rq",
	"socket": None,
	"sqlalchemy": "SQLAlchemy",
	"sys_exit": None,
	"threading": None,
	"tornado": "tornado",
	"typer": "typer",
	"unraisablehook": None,
}
NAMES = list(PACKAGES)
KNOWN_LIST = ", ".join(NAMES)

#: What the SDK turns on by itself: its default integrations and those enabled when their package is there.
SDK_AUTOMATIC = set(sentry_sdk.integrations._AUTO_ENABLING_INTEGRATIONS) | set(sentry_sdk.integrations._DEFAULT_INTEGRATIONS)

AUTO = [
	"anthropic", "arq", "asyncpg", "boto3", "celery", "clickhouse_driver", "httpx", "huey", "langchain",
	"loguru", "openai", "pymongo", "redis", "rq", "sqlalchemy", "threading", "tornado",
]


def needs(name: str, package: str) -> str:
	return "integration '{}' needs the package '{}': pip install {}".format(name, package, package)


def importable(name: str) -> bool:
	return importlib.util.find_spec(name) is not None


def fake_module(tmp_path, monkeypatch, name: str, body: str) -> str:
	"""A module `name` on sys.path for this test, whose source is `body`."""
	(tmp_path / (name + ".py")).write_text(body)
	monkeypatch.syspath_prepend(str(tmp_path))
	return name


class TestRegistry(object):
	"""Each registry entry names the SDK module and class of its name, the package to install, and whether the SDK turns it on by itself."""

	def test_the_names_are_exactly_these(self):
		assert sorted(integrations.REGISTRY) == NAMES

	@pytest.mark.parametrize("name", NAMES)
	def test_module_is_the_sdk_module_of_the_name(self, name):
		assert integrations.REGISTRY[name].module == "sentry_sdk.integrations." + name

	@pytest.mark.parametrize("name", NAMES)
	def test_class_is_defined_in_that_module(self, name):
		"""Read from the module's source: most need a package this environment does not have."""
		known = integrations.REGISTRY[name]
		with open(importlib.util.find_spec(known.module).origin) as f:
			source = f.read()
		assert re.search(r"^class {}\(".format(re.escape(known.cls)), source, re.MULTILINE), known.cls

	@pytest.mark.parametrize("name", NAMES)
	def test_package_is_what_pip_installs(self, name):
		assert integrations.REGISTRY[name].package == PACKAGES[name]

	@pytest.mark.parametrize("name", NAMES)
	def test_auto_is_what_the_sdk_turns_on_by_itself(self, name):
		known = integrations.REGISTRY[name]
		assert known.auto == ("{}.{}".format(known.module, known.cls) in SDK_AUTOMATIC)

	def test_an_entry_names_its_module_under_the_sdks_integrations(self):
		assert integrations._k("redis", "RedisIntegration", "redis", True) == Known("sentry_sdk.integrations.redis", "RedisIntegration", "redis", True)
		assert integrations._k("socket", "SocketIntegration", None, False) == Known("sentry_sdk.integrations.socket", "SocketIntegration", None, False)

	def test_an_entry_in_full(self):
		assert integrations.REGISTRY["clickhouse_driver"] == Known(
			"sentry_sdk.integrations.clickhouse_driver", "ClickhouseDriverIntegration", "clickhouse-driver", True,
		)
		assert integrations.REGISTRY["socket"] == Known("sentry_sdk.integrations.socket", "SocketIntegration", None, False)


class TestCheckNames(object):
	"""None when every name is selectable; else one line about the first name that is not: a reserved one says why, an unknown one lists the known names."""

	def test_no_names(self):
		assert integrations.check_names([]) is None

	def test_all_known(self):
		assert integrations.check_names(NAMES) is None

	def test_unknown_name_lists_every_known_one_sorted(self):
		assert integrations.check_names(["bogus"]) == "unknown integration 'bogus'; known: " + KNOWN_LIST

	def test_known_names_before_a_bad_one_are_skipped(self):
		assert integrations.check_names(["socket", "httpx", "bogus"]) == "unknown integration 'bogus'; known: " + KNOWN_LIST

	def test_the_first_bad_name_is_the_one_named(self):
		assert integrations.check_names(["socket", "first", "second"]).startswith("unknown integration 'first';")

	def test_names_are_matched_exactly(self):
		"""The configuration lowercases; here an upper-case name is not one of them."""
		assert integrations.check_names(["Socket"]).startswith("unknown integration 'Socket';")

	@pytest.mark.parametrize("name,why", [
		("aiohttp", "asab-sentry instruments asab.web itself; the SDK's aiohttp integration is always off"),
		("asyncio", "asab-sentry always instruments the event loop itself"),
		("logging", "asab-sentry always configures logging itself ([sentry:logging])"),
	])
	def test_reserved_name_says_why(self, name, why):
		assert integrations.check_names(["socket", name]) == "'{}' cannot be chosen: {}".format(name, why)

	def test_reserved_names_are_exactly_these(self):
		assert sorted(integrations.RESERVED) == ["aiohttp", "asyncio", "logging"]


class TestLoadClass(object):
	"""The SDK class of a name; a missing package is an ImportError saying what to pip install, an integration that cannot work here says why."""

	@pytest.mark.parametrize("name,cls", [
		("socket", sentry_sdk.integrations.socket.SocketIntegration),
		("threading", sentry_sdk.integrations.threading.ThreadingIntegration),
	])
	def test_no_package_needed(self, name, cls):
		assert integrations.load_class(name) is cls

	def test_installed_package(self):
		import sentry_sdk.integrations.httpx
		assert importable("httpx")
		assert integrations.load_class("httpx") is sentry_sdk.integrations.httpx.HttpxIntegration

	@pytest.mark.parametrize("name", [n for n, p in PACKAGES.items() if p is not None and not importable(n)])
	def test_missing_package_says_what_to_install(self, name):
		with pytest.raises(ImportError) as info:
			integrations.load_class(name)
		assert str(info.value) == needs(name, PACKAGES[name])

	def test_package_that_differs_from_the_name(self):
		assert not importable("clickhouse_driver")
		with pytest.raises(ImportError) as info:
			integrations.load_class("clickhouse_driver")
		assert str(info.value) == "integration 'clickhouse_driver' needs the package 'clickhouse-driver': pip install clickhouse-driver"

	def test_sdk_module_that_cannot_be_imported_with_a_package_says_what_to_install(self, monkeypatch):
		monkeypatch.setitem(integrations.REGISTRY, "httpx", Known("asab_sentry_test_no_such_module", "HttpxIntegration", "httpx", True))
		with pytest.raises(ImportError) as info:
			integrations.load_class("httpx")
		assert str(info.value) == needs("httpx", "httpx")

	def test_sdk_module_that_does_not_enable_with_a_package_says_what_to_install(self, tmp_path, monkeypatch):
		module = fake_module(tmp_path, monkeypatch, "asab_sentry_test_too_old_pkg", "import sentry_sdk.integrations\nraise sentry_sdk.integrations.DidNotEnable('too old')\n")
		monkeypatch.setitem(integrations.REGISTRY, "httpx", Known(module, "HttpxIntegration", "httpx", True))
		with pytest.raises(ImportError) as info:
			integrations.load_class("httpx")
		assert str(info.value) == needs("httpx", "httpx")

	def test_without_a_package_an_import_failure_says_why(self, monkeypatch):
		monkeypatch.setitem(integrations.REGISTRY, "socket", Known("asab_sentry_test_no_such_module", "SocketIntegration", None, False))
		with pytest.raises(ImportError) as info:
			integrations.load_class("socket")
		assert str(info.value) == "integration 'socket' is not available here (No module named 'asab_sentry_test_no_such_module')"

	def test_without_a_package_did_not_enable_says_why(self, tmp_path, monkeypatch):
		module = fake_module(tmp_path, monkeypatch, "asab_sentry_test_too_old", "import sentry_sdk.integrations\nraise sentry_sdk.integrations.DidNotEnable('needs Python 4')\n")
		monkeypatch.setitem(integrations.REGISTRY, "socket", Known(module, "SocketIntegration", None, False))
		with pytest.raises(ImportError) as info:
			integrations.load_class("socket")
		assert str(info.value) == "integration 'socket' is not available here (needs Python 4)"

	def test_the_class_is_read_from_the_entry(self, tmp_path, monkeypatch):
		module = fake_module(tmp_path, monkeypatch, "asab_sentry_test_classes", "class First(object):\n\tpass\n\n\nclass Second(object):\n\tpass\n")
		monkeypatch.setitem(integrations.REGISTRY, "socket", Known(module, "Second", None, False))
		assert integrations.load_class("socket").__name__ == "Second"


class TestBuild(object):
	"""Instances of the named classes, in order, with the keyword arguments of their own section; bad arguments are a TypeError naming the section and the class."""

	def test_no_names(self):
		assert integrations.build([]) == []

	def test_instances_in_order(self):
		built = integrations.build(["threading", "socket"])
		assert [type(i) for i in built] == [sentry_sdk.integrations.threading.ThreadingIntegration, sentry_sdk.integrations.socket.SocketIntegration]

	def test_default_arguments_without_options(self):
		[built] = integrations.build(["threading"])
		assert built.propagate_scope is True

	def test_options_of_its_name(self):
		[built] = integrations.build(["threading"], {"threading": {"propagate_scope": False}})
		assert built.propagate_scope is False

	def test_options_of_another_name_are_not_given(self):
		[built] = integrations.build(["threading"], {"socket": {"propagate_scope": False}})
		assert built.propagate_scope is True

	def test_unknown_option_names_the_section_and_the_class(self):
		with pytest.raises(TypeError) as expected:
			sentry_sdk.integrations.threading.ThreadingIntegration(colour="blue")
		with pytest.raises(TypeError) as info:
			integrations.build(["socket", "threading"], {"threading": {"colour": "blue"}})
		assert str(info.value) == (
			"[sentry:integration:threading] is invalid: {}; expected the keyword arguments of "
			"sentry_sdk.integrations.threading.ThreadingIntegration".format(expected.value)
		)

	def test_a_value_the_class_refuses_is_a_type_error_too(self, monkeypatch):
		class Picky(object):
			def __init__(self, level=None):
				raise ValueError("level must be a number")

		monkeypatch.setattr(integrations, "load_class", lambda name: Picky)
		with pytest.raises(TypeError) as info:
			integrations.build(["socket"], {"socket": {"level": "loud"}})
		assert str(info.value) == (
			"[sentry:integration:socket] is invalid: level must be a number; expected the keyword arguments of "
			"sentry_sdk.integrations.socket.Picky"
		)

	def test_the_options_are_not_changed(self):
		options = {"threading": {"propagate_scope": False}}
		integrations.build(["threading"], options)
		assert options == {"threading": {"propagate_scope": False}}

	def test_missing_package(self):
		with pytest.raises(ImportError) as info:
			integrations.build(["socket", "pymongo"])
		assert str(info.value) == needs("pymongo", "pymongo")


class TestDisabled(object):
	"""The classes of the named integrations, in order; a name whose package is missing is skipped, with a DEBUG line."""

	def test_no_names(self):
		assert integrations.disabled([]) == []

	def test_classes_in_order(self):
		assert integrations.disabled(["threading", "socket"]) == [
			sentry_sdk.integrations.threading.ThreadingIntegration, sentry_sdk.integrations.socket.SocketIntegration,
		]

	def test_missing_package_is_skipped(self):
		assert integrations.disabled(["socket", "pymongo", "threading"]) == [
			sentry_sdk.integrations.socket.SocketIntegration, sentry_sdk.integrations.threading.ThreadingIntegration,
		]

	def test_missing_package_is_a_debug_line(self, caplog):
		with caplog.at_level(logging.DEBUG, logger="asab_sentry.integrations"):
			integrations.disabled(["socket", "pymongo"])
		lines = [(r.name, r.levelno, r.getMessage()) for r in caplog.records if r.name.startswith("asab_sentry")]
		assert lines == [("asab_sentry.integrations", logging.DEBUG, "Integration 'pymongo' is not installed; nothing to disable.")]


class TestAutoNames(object):
	"""The names the SDK turns on by itself, sorted."""

	def test_exactly_these(self):
		assert integrations.auto_names() == AUTO

	def test_sorted(self):
		assert integrations.auto_names() == sorted(integrations.auto_names())


class TestHandedToTheSdk(object):
	"""What the configuration's names become in `sentry_sdk.init()`: built instances in `integrations`, classes in `disabled_integrations`."""

	@pytest.fixture
	def init_options(self, monkeypatch):
		seen = []
		original = sentry_sdk.init

		def init(*args, **kwargs):
			seen.append(kwargs)
			return original(*args, **kwargs)

		monkeypatch.setattr(sentry_sdk, "init", init)
		return seen

	def test_disabled_names_are_classes_and_missing_ones_skipped(self, sentry_app, init_options):
		import sentry_sdk.integrations.aiohttp
		import sentry_sdk.integrations.dedupe
		sentry_app({"sentry": {"disabled_integrations": "Threading, pymongo"}})
		[options] = init_options
		assert options["disabled_integrations"] == [
			sentry_sdk.integrations.threading.ThreadingIntegration,
			sentry_sdk.integrations.aiohttp.AioHttpIntegration, sentry_sdk.integrations.dedupe.DedupeIntegration,
		]

	def test_chosen_names_are_instances_with_their_options(self, sentry_app, init_options):
		sentry_app({"sentry": {"integrations": "socket, threading"}, "sentry:integration:threading": {"propagate_scope": "false"}})
		[options] = init_options
		extra = options["integrations"][1:]  # the first is asab-sentry's logging integration
		assert [type(i) for i in extra] == [sentry_sdk.integrations.socket.SocketIntegration, sentry_sdk.integrations.threading.ThreadingIntegration]
		assert extra[1].propagate_scope is False

	def test_a_chosen_one_is_reported_on_events(self, sentry_app):
		s = sentry_app({"sentry": {"integrations": "socket"}})
		s.Service.capture_message("which integrations?")
		assert "socket" in s.events()[-1]["sdk"]["integrations"]

	def test_a_missing_package_stops_the_app_naming_the_package(self, sentry_app):
		with pytest.raises(SystemExit) as info:
			sentry_app({"sentry": {"integrations": "socket, clickhouse_driver"}})
		assert str(info.value) == "asab-sentry: [sentry] integrations = 'socket,clickhouse_driver': " + needs("clickhouse_driver", "clickhouse-driver")

	def test_a_reserved_name_stops_the_app(self, sentry_app):
		with pytest.raises(SystemExit) as info:
			sentry_app({"sentry": {"integrations": "logging"}})
		assert str(info.value) == (
			"asab-sentry: [sentry] integrations = 'logging' is invalid; expected comma-separated sentry-sdk integration names "
			"('logging' cannot be chosen: asab-sentry always configures logging itself ([sentry:logging]))"
		)
