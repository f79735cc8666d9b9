"""
The sentry-sdk client: how it is started from a `SentryConfig`, which integrations it gets, and
how the event loop is instrumented. Everything that depends on sentry-sdk's setup API is here.
"""

import asyncio
import logging
import typing

import sentry_sdk
import sentry_sdk.integrations.aiohttp
import sentry_sdk.integrations.asyncio
import sentry_sdk.scope

from . import logging_bridge
from . import uncaught
from . import transport as delivery
from .config import ConfigError, SentryConfig
from .spool import SpoolError
from .stats import DeliveryStats
from .scrubbing import Scrubber

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
	scrubber = Scrubber(config.send_default_pii)
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
			sentry_sdk.integrations.aiohttp.AioHttpIntegration(),
		],
		event_scrubber=scrubber.EventScrubber,
		before_send=lambda event, hint: _before_send(scrubber, event, hint),
		before_breadcrumb=logging_bridge.before_breadcrumb,
	)
	options["transport"] = transport
	sentry_sdk.init(**options)
	if config.open_log_level:
		logging_bridge.open_root_level(config.breadcrumbs_level)

	sentry_sdk.get_global_scope().set_tags(config.identity.tags)
	global _ProcessorAdded
	if not _ProcessorAdded:  # process-wide, and init may run more than once in a process
		sentry_sdk.scope.add_global_event_processor(logging_bridge.event_processor)  # type: ignore[arg-type]
		_ProcessorAdded = True


def instrument_loop(loop: asyncio.AbstractEventLoop) -> None:
	"""
	Instrument a running event loop: each asyncio task gets its own isolation scope (so a tag set
	in one task never shows on another's events), and an exception that escapes a task or reaches
	the loop's exception handler is sent once.
	"""
	sentry_sdk.integrations.asyncio.enable_asyncio_integration(task_spans=False)
	uncaught.install_loop_handler(loop)


def flush(timeout: float) -> None:
	"""Block until queued envelopes are sent or `timeout` seconds pass."""
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
	client = sentry_sdk.get_client()
	if client.is_active():
		client.options["shutdown_timeout"] = seconds


def _before_send(scrubber: Scrubber, event: dict, hint: dict) -> typing.Optional[dict]:
	try:
		if not event.get("release"):
			event.pop("release", None)
		scrubber.scrub_request(event)
		return uncaught.dedupe(event, hint)
	except Exception as e:
		# Never lose the event to a bug here; drop only what might not have been scrubbed.
		L.warning("Cannot prepare an event for Sentry ({!r}); its request data is left out.".format(e))
		event.pop("request", None)
		return event
