"""
sentry-sdk integrations chosen by name in the configuration (`[sentry] integrations`,
`[sentry] disabled_integrations`): which names exist, which package each needs, and building them.

The SDK turns on by itself (when their package is installed) the integrations marked `auto` in
`REGISTRY`; naming one in `integrations` makes it required (the app stops at start when its package
is missing) and naming it in `disabled_integrations` keeps it off. The SDK's `aiohttp` integration is
not selectable: asab-sentry instruments asab.web itself.
"""

import importlib
import importlib.util
import logging
import typing

import sentry_sdk.integrations

L = logging.getLogger(__name__)


class Known(typing.NamedTuple):
	"""One selectable integration: where the SDK defines it and what it needs."""

	module: str
	cls: str
	package: typing.Optional[str]  # what to `pip install`, None when it needs nothing
	auto: bool  # the SDK enables it on its own when the package is installed


def _k(module: str, cls: str, package: typing.Optional[str], auto: bool) -> Known:
	return Known("sentry_sdk.integrations." + module, cls, package, auto)


#: Integration names accepted in `[sentry] integrations` and `disabled_integrations`.
REGISTRY: typing.Dict[str, Known] = {
	"aiomysql": _k("aiomysql", "AioMySQLIntegration", "aiomysql", False),
	"anthropic": _k("anthropic", "AnthropicIntegration", "anthropic", True),
	"arq": _k("arq", "ArqIntegration", "arq", True),
	"asyncpg": _k("asyncpg", "AsyncPGIntegration", "asyncpg", True),
	"boto3": _k("boto3", "Boto3Integration", "boto3", True),
	"celery": _k("celery", "CeleryIntegration", "celery", True),
	"clickhouse_driver": _k("clickhouse_driver", "ClickhouseDriverIntegration", "clickhouse-driver", True),
	"cloud_resource_context": _k("cloud_resource_context", "CloudResourceContextIntegration", None, False),
	"dramatiq": _k("dramatiq", "DramatiqIntegration", "dramatiq", False),
	"executing": _k("executing", "ExecutingIntegration", "executing", False),
	"gnu_backtrace": _k("gnu_backtrace", "GnuBacktraceIntegration", None, False),
	"grpc": _k("grpc", "GRPCIntegration", "grpcio", False),
	"httpx": _k("httpx", "HttpxIntegration", "httpx", True),
	"huey": _k("huey", "HueyIntegration", "huey", True),
	"langchain": _k("langchain", "LangchainIntegration", "langchain", True),
	"loguru": _k("loguru", "LoguruIntegration", "loguru", True),
	"openai": _k("openai", "OpenAIIntegration", "openai", True),
	"pure_eval": _k("pure_eval", "PureEvalIntegration", "pure_eval", False),
	"pymongo": _k("pymongo", "PyMongoIntegration", "pymongo", True),
	"redis": _k("redis", "RedisIntegration", "redis", True),
	"rq": _k("rq", "RqIntegration", "rq", True),
	"socket": _k("socket", "SocketIntegration", None, False),
	"sqlalchemy": _k("sqlalchemy", "SqlalchemyIntegration", "SQLAlchemy", True),
	"sys_exit": _k("sys_exit", "SysExitIntegration", None, False),
	"threading": _k("threading", "ThreadingIntegration", None, True),
	"tornado": _k("tornado", "TornadoIntegration", "tornado", True),
	"typer": _k("typer", "TyperIntegration", "typer", False),
	"unraisablehook": _k("unraisablehook", "UnraisablehookIntegration", None, False),
}

#: Names that look like integrations but are never the user's to choose.
RESERVED: typing.Dict[str, str] = {
	"aiohttp": "asab-sentry instruments asab.web itself; the SDK's aiohttp integration is always off",
	"asyncio": "asab-sentry always instruments the event loop itself",
	"logging": "asab-sentry always configures logging itself ([sentry:logging])",
}


def check_names(names: typing.Sequence[str]) -> typing.Optional[str]:
	"""
	Find the first name that is not a selectable integration.

	Args:
		names: Integration names from the configuration.

	Returns:
		None when all are known, else one line saying what is wrong and listing the known names.
	"""
	for name in names:
		if name in REGISTRY:
			continue
		if name in RESERVED:
			return "'{}' cannot be chosen: {}".format(name, RESERVED[name])
		return "unknown integration '{}'; known: {}".format(name, ", ".join(sorted(REGISTRY)))
	return None


def load_class(name: str) -> type:
	"""
	Import the SDK integration class of a known name.

	Raises:
		ImportError: Its package is not installed (the message says which to install).
	"""
	known = REGISTRY[name]
	if known.package and importlib.util.find_spec(name) is None:  # every registry name is its package's import name
		raise ImportError("integration '{}' needs the package '{}': pip install {}".format(name, known.package, known.package))
	try:
		module = importlib.import_module(known.module)
		return getattr(module, known.cls)
	except (ImportError, sentry_sdk.integrations.DidNotEnable) as e:
		if known.package:
			raise ImportError("integration '{}' needs the package '{}': pip install {}".format(name, known.package, known.package)) from None
		raise ImportError("integration '{}' is not available here ({})".format(name, e)) from None


def build(names: typing.Sequence[str], options: typing.Mapping[str, typing.Mapping[str, typing.Any]] = {}) -> list:
	"""
	Instances of the named integrations, to pass as sentry-sdk's `integrations`.

	Args:
		names: Integration names.
		options: Keyword arguments per name (`[sentry:integration:NAME]`).

	Raises:
		ImportError: An integration's package is not installed.
		TypeError: An option the integration does not take (the message names the section).
	"""
	result = []
	for name in names:
		cls = load_class(name)
		kwargs = dict(options.get(name, {}))
		try:
			result.append(cls(**kwargs))
		except (TypeError, ValueError) as e:
			raise TypeError("[sentry:integration:{}] is invalid: {}; expected the keyword arguments of {}.{}".format(
				name, e, REGISTRY[name].module, cls.__name__,
			)) from None
	return result



def disabled(names: typing.Sequence[str]) -> list:
	"""
	Classes of the named integrations, to pass as sentry-sdk's `disabled_integrations`.

	A name whose package is not installed is skipped: the SDK could not enable it anyway.
	"""
	result = []
	for name in names:
		try:
			result.append(load_class(name))
		except ImportError:
			L.debug("Integration '{}' is not installed; nothing to disable.".format(name))
	return result


def auto_names() -> typing.List[str]:
	"""Names of the registry's integrations that sentry-sdk turns on by itself when their package is installed."""
	return sorted(name for name, known in REGISTRY.items() if known.auto)
