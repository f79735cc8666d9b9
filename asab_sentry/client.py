"""
The sentry-sdk client: how it is started from a `SentryConfig`, which integrations it gets, and
how the event loop is instrumented. Everything that depends on sentry-sdk's setup API is here.
"""

import asyncio
import logging
import typing

import sentry_sdk
import sentry_sdk.integrations
import sentry_sdk.consts
import sentry_sdk.integrations.aiohttp
import sentry_sdk.integrations.dedupe
import sentry_sdk.scope

from . import _sdk
from . import filtering
from . import integrations as known_integrations
from . import logging_bridge
from . import logs
from . import profiling
from . import uncaught
from . import web
from . import transport as delivery
from .config import ConfigError, SentryConfig
from .spool import SpoolError
from .stats import DeliveryStats
from .scrubbing import DisabledEventScrubber, Scrubber

L = logging.getLogger(__name__)

_ProcessorAdded = False


def start(config: SentryConfig, stats: DeliveryStats, transport=None) -> None:
	"""
	Start the sentry-sdk client for `config` and put the service's identity on the global scope.

	Args:
		config: The validated configuration (must be active).
		stats: Delivery counters for the transport to update.
		transport: A sentry-sdk `Transport` class or instance; by default asab-sentry's delivery
			transport (durable spool when `spool_dir` is set, else memory).

	Raises:
		ConfigError: The spool directory cannot be used.
	"""
	release_previous()
	if transport is None:
		try:
			transport = delivery.build(_transport_options(config), config.spool_dir, config.spool_max_size, stats, config.max_retry_age)
		except SpoolError as e:
			raise ConfigError("[sentry] spool_dir = '{}': {}".format(config.spool_dir, e)) from None
	scrubber = Scrubber.from_config(config)
	user_filter = filtering.install(config.ignore_errors)
	try:
		extra_integrations = known_integrations.build(config.integrations, {name: dict(kw) for name, kw in config.integration_options})
	except ImportError as e:
		raise ConfigError("[sentry] integrations = '{}': {}".format(",".join(config.integrations), e)) from None
	except TypeError as e:
		raise ConfigError(str(e)) from None
	options: typing.Dict[str, typing.Any] = dict(
		dsn=config.dsn,
		environment=config.environment,
		release=config.release or "",  # "" keeps the SDK from guessing (it would run git)
		server_name=config.identity.host_name,
		traces_sample_rate=config.traces_sample_rate,
		send_default_pii=config.send_default_pii,
		debug=config.debug,
		shutdown_timeout=config.shutdown_timeout,
		max_value_length=8192,
		integrations=[
			logging_bridge.integration(config.breadcrumbs_level, config.events_level),
		] + extra_integrations,
		# What the user keeps off, and what asab-sentry always keeps off: the SDK turns its aiohttp
		# integration on by itself whenever aiohttp is installed; asab-sentry's own request
		# instrumentation (web.py) replaces it.
		# The SDK's dedupe drops a second event for the same exception object in one context; the
		# rule here is one event per site (uncaught.py), so five tasks failing on one shared
		# exception are five events.
		disabled_integrations=known_integrations.disabled(config.disabled_integrations) + [
			sentry_sdk.integrations.aiohttp.AioHttpIntegration, sentry_sdk.integrations.dedupe.DedupeIntegration,
		],
		sample_rate=config.sample_rate,
		max_breadcrumbs=config.max_breadcrumbs,
		max_request_body_size=config.max_request_body_size,
		event_scrubber=DisabledEventScrubber(),  # the one scrubber is `scrubber`, below
		# asab-sentry's preparation and scrubbing first, then the user's own processors
		before_send=lambda event, hint: user_filter.before_send(lambda e, h: _before_send(scrubber, e, h), event, hint),
		before_send_transaction=lambda event, hint: user_filter.before_send_transaction(_scrubbed(scrubber, _without_empty_release(event)), hint),
		before_breadcrumb=logging_bridge.before_breadcrumb,
	)
	if config.trace_propagation_targets is not None:
		options["trace_propagation_targets"] = list(config.trace_propagation_targets)
	options.update(profiling.options(config.profiles_sample_rate))
	if config.enable_logs:
		options["enable_logs"] = True
	# Sentry Logs are scrubbed too. A top-level option only in recent sentry-sdk 2.x releases;
	# older ones would refuse it.
	if "before_send_log" in sentry_sdk.consts.DEFAULT_OPTIONS:
		options["before_send_log"] = lambda log, hint: _scrubbed_log(scrubber, log)
	options["transport"] = transport
	_sdk.install_fast_serializer()
	try:
		sentry_sdk.init(**options)
	except sentry_sdk.integrations.DidNotEnable as e:
		raise ConfigError("[sentry] integrations = '{}': {}".format(",".join(config.integrations), e)) from None
	if config.open_log_level:
		logging_bridge.open_root_level(config.breadcrumbs_level)
	logs.install(config.enable_logs, config.logs_level, config.open_logs_level)

	sentry_sdk.get_global_scope().set_tags(config.identity.tags)
	global _ProcessorAdded
	if not _ProcessorAdded:  # process-wide, and init may run more than once in a process
		sentry_sdk.scope.add_global_event_processor(logging_bridge.event_processor)  # type: ignore[arg-type]
		_ProcessorAdded = True


def web_instrumentation(config: SentryConfig) -> web.WebInstrumentation:
	"""The asab.web request instrumentation for `config`."""
	return web.WebInstrumentation(web.WebSettings(
		traces_sample_rate=config.traces_sample_rate,
		ignore_transactions=config.ignore_transactions,
		send_default_pii=config.send_default_pii,
		config=config,
	))


def instrument_loop(loop: asyncio.AbstractEventLoop) -> None:
	"""
	Instrument a running event loop: each asyncio task gets its own isolation scope (so a tag set
	in one task never shows on another's events), and an exception that escapes a task or reaches
	the loop's exception handler is sent once.
	"""
	uncaught.install_loop_handler(loop)


def flush(timeout: float) -> None:
	"""Block until queued envelopes are sent or `timeout` seconds pass."""
	profiling.flush()  # the profiler's partial chunk, so it is in this flush
	sentry_sdk.flush(timeout=timeout)


def pending() -> int:
	"""How many envelopes wait to be sent (0 when the transport does not say)."""
	transport = sentry_sdk.get_client().transport
	return transport.pending() if isinstance(transport, delivery.DeliveryTransport) else 0


def release_previous() -> None:
	"""
	Close the client an earlier service of this process left (a stopped Application), so its
	transport releases the spool and logs its summary; a new service can use the spool at once.
	"""
	previous = sentry_sdk.get_client()
	if previous.is_active() and isinstance(previous.transport, delivery.DeliveryTransport):
		previous.close(timeout=0)


def _transport_options(config: SentryConfig) -> typing.Dict[str, typing.Any]:
	"""The options the delivery transport reads: the DSN, TLS and proxies (as sentry-sdk names them)."""
	return {
		"dsn": config.dsn, "ca_certs": config.ca_certs, "cert_file": config.cert_file, "key_file": config.key_file,
		"http_proxy": config.http_proxy, "https_proxy": config.https_proxy,
	}


def limit_exit_wait(seconds: float) -> None:
	"""Bound the wait of the SDK's exit hook (it flushes again at interpreter exit)."""
	_sdk.set_exit_wait(seconds)


def _without_empty_release(event: dict) -> dict:
	"""Events and transactions alike: no `release` rather than an empty one."""
	if not event.get("release"):
		event.pop("release", None)  # "" (set to keep the SDK from guessing) is invalid for Sentry
	return event


def _before_send(scrubber: Scrubber, event: dict, hint: dict) -> typing.Optional[dict]:
	try:
		_without_empty_release(event)
		if uncaught.dedupe(event, hint) is None:
			return None
	except Exception as e:
		L.warning("Cannot prepare an event for Sentry ({!r}).".format(e))
	return _scrubbed(scrubber, event)


# What is kept of an event the scrubber failed on: nothing that can carry data.
_SAFE_KEYS = ("event_id", "timestamp", "start_timestamp", "type", "level", "platform", "release", "environment", "server_name", "sdk")


def _scrubbed(scrubber: Scrubber, event: dict) -> dict:
	try:
		return scrubber.scrub_event(event)
	except Exception as e:
		# Never send what might not be scrubbed; keep a trace that something happened.
		L.warning("Cannot scrub an event for Sentry ({!r}); only its type and time are sent.".format(e))
		safe = {key: event[key] for key in _SAFE_KEYS if key in event}
		safe["message"] = "asab-sentry could not scrub this event; its content is withheld"
		return safe


def _scrubbed_log(scrubber: Scrubber, log: dict) -> typing.Optional[dict]:
	try:
		return scrubber.scrub_log(log)
	except Exception as e:
		L.warning("Cannot scrub a log for Sentry ({!r}); it is not sent.".format(e))
		return None
