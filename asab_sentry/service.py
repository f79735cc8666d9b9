"""
`SentryService`: the public face of asab-sentry, `app.SentryService` in service code.

Every public method is safe to call from service code: it never raises, and on a disabled service
it does nothing and returns None.
"""

import asyncio
import functools
import logging
import typing

import dataclasses

import asab
import asab.utils
import sentry_sdk

from . import client as sentry_client
from . import crons
from . import filtering
from . import tracing
from . import web as sentry_web
from . import validation
from .config import ConfigError, SentryConfig
from .stats import DeliveryStats, expose_metrics
from .tags import TagError, validate_tag

L = logging.getLogger(__name__)

#: The DSN a service built with a `transport` but no DSN uses (tests): nothing is sent to it.
TRANSPORT_ONLY_DSN = "http://00000000000000000000000000000000@localhost/0"


def _safe(method):
	"""Make a public method a no-op (None) on a disabled service and keep its errors away from the caller."""
	@functools.wraps(method)
	def wrapper(self, *args, **kwargs):
		if not self.Enabled:
			return None
		try:
			return method(self, *args, **kwargs)
		except Exception as e:
			L.warning("SentryService.{}() failed: {!r}".format(method.__name__, e))
			return None
	return wrapper


class SentryService(asab.Service):
	"""
	Sentry error tracking and performance monitoring for an ASAB application.

	Built by `asab_sentry.Module` when the config has a `[sentry]` section, or directly, in the
	application's `__init__` or in `async initialize()` (both behave the same). Registered as
	`asab.SentryService`. Without a DSN (or with `enabled=false`) it is registered but disabled:
	every method is a harmless no-op.

	Examples:
	```python
	class MyApplication(asab.Application):
		def __init__(self):
			super().__init__()
			if "sentry" in asab.Config.sections():
				import asab_sentry
				self.SentryService = asab_sentry.SentryService(self)
	```
	"""

	def __init__(self, app: asab.Application, service_name: str = "asab.SentryService", *, transport=None):
		"""
		Read the configuration and start the Sentry client.

		Args:
			app: The application.
			service_name: The service name; keep the default so `app.get_service("asab.SentryService")` works.
			transport: A sentry-sdk `Transport` class or instance to deliver envelopes instead of
				the default (tests use `asab_sentry.testing.MemoryTransport`).

		Raises:
			SystemExit: A configuration value is invalid; the message is one line naming it.
		"""
		super().__init__(app, service_name)
		try:
			self.Config = SentryConfig.load(app)
		except ConfigError as e:
			raise SystemExit("asab-sentry: {}".format(e)) from None

		if transport is not None and self.Config.enabled and self.Config.dsn == "":
			# A transport given (asab_sentry.testing.MemoryTransport): it receives the envelopes, no DSN needed.
			self.Config = dataclasses.replace(self.Config, dsn=TRANSPORT_ONLY_DSN)
		self.Enabled = self.Config.active
		self.Stats = DeliveryStats()
		self.Metrics = None
		self.Web = None
		sentry_web.deactivate()  # an earlier service's, in this process
		if not self.Config.enabled:
			L.log(asab.LOG_NOTICE, "Sentry is disabled by '[sentry] enabled' / SENTRY_ENABLED.")
		elif self.Config.dsn == "":
			L.warning("Sentry is disabled: no DSN. Set '[sentry] data_source_name' in the configuration or the SENTRY_DSN environment variable.")

		if self.Enabled:
			try:
				sentry_client.start(self.Config, self.Stats, transport=transport)
			except ConfigError as e:
				raise SystemExit("asab-sentry: {}".format(e)) from None
			L.log(asab.LOG_NOTICE, "Sentry reports to {} (environment '{}', release '{}'{}).".format(
				self.Config.masked_dsn, self.Config.environment, self.Config.release,
				", spool '{}'".format(self.Config.spool_dir) if self.Config.spool_dir else "",
			))
			self.Web = sentry_client.web_instrumentation(self.Config)
			self.Web.instrument_app(app)
			if _loop_running():
				sentry_client.instrument_loop(asyncio.get_running_loop())

	async def initialize(self, app):
		"""Instrument the running event loop (per-task isolation, uncaught task exceptions) and web servers made since; expose delivery metrics."""
		if self.Enabled:
			sentry_client.instrument_loop(asyncio.get_running_loop())
			self.Web.instrument_app(app)
			self.Metrics = expose_metrics(app, self.Stats)

	async def finalize(self, app):
		"""
		Deliver what is still queued, up to `shutdown_timeout`, without blocking the event loop.
		With a spool, what is not sent stays on disk for the next start.

		`shutdown_timeout` is one budget for the whole stop: what is left of it after this flush is
		what the SDK's exit hook waits for envelopes captured later (another service's finalize,
		ASAB's own "Error during finalize call"). The delivery counts are logged once, last, when
		the transport closes (at exit, or when a new service in this process replaces this one).
		"""
		if not self.Enabled:
			return
		sentry_web.deactivate()
		loop = asyncio.get_running_loop()
		started = loop.time()
		await loop.run_in_executor(None, sentry_client.flush, self.Config.shutdown_timeout)
		sentry_client.limit_exit_wait(max(0.0, self.Config.shutdown_timeout - (loop.time() - started)))

	# ASAB's built-in service attributes, read-only

	@property
	def DataSourceName(self) -> str:
		"""The DSN in use ("" when none); as ASAB's built-in `asab.sentry.SentryService.DataSourceName`."""
		return self.Config.dsn if self.Config.dsn != TRANSPORT_ONLY_DSN else ""

	@property
	def Release(self) -> typing.Optional[str]:
		"""The release sent with events, or None; as the built-in's `Release` (which was `App:version`)."""
		return self.Config.release

	@property
	def Environment(self) -> str:
		"""The environment sent with events."""
		return self.Config.environment

	@property
	def TracesSampleRate(self) -> float:
		"""Share of transactions sent; as the built-in's `TracesSampleRate`."""
		return self.Config.traces_sample_rate

	@property
	def LoggingBreadCrumbsLevel(self) -> int:
		"""Lowest log level kept as a breadcrumb; as the built-in's `LoggingBreadCrumbsLevel`."""
		return self.Config.breadcrumbs_level

	@property
	def LoggingEventsLevel(self) -> int:
		"""Lowest log level sent as an event; as the built-in's `LoggingEventsLevel`."""
		return self.Config.events_level

	@property
	def NodeId(self) -> typing.Optional[str]:
		"""`NODE_ID` (tag `node_id`), or None."""
		return self.Config.identity.ids.get("node_id")

	@property
	def ServiceId(self) -> typing.Optional[str]:
		"""`SERVICE_ID` (tag `service_id`), or None."""
		return self.Config.identity.ids.get("service_id")

	@property
	def InstanceId(self) -> typing.Optional[str]:
		"""`INSTANCE_ID` (tag `instance_id`), or None."""
		return self.Config.identity.ids.get("instance_id")

	@property
	def SiteId(self) -> typing.Optional[str]:
		"""`SITE_ID` (tag `site_id`), or None."""
		return self.Config.identity.ids.get("site_id")

	# Capturing

	@_safe
	def capture_exception(self, error=None, scope=None, **scope_args) -> typing.Optional[str]:
		"""
		Send a caught exception to Sentry.

		Args:
			error: The exception; by default the one being handled (`sys.exc_info()`).
			scope: A sentry-sdk scope to use for this event only.
			**scope_args: Scope data for this event only, e.g. `tags={...}`, `contexts={...}`.

		Returns:
			The event id, or None when nothing was sent.

		Examples:
		```python
		try:
			call_collapsing_function()
		except Exception as e:
			app.SentryService.capture_exception(e)
		```
		"""
		return sentry_sdk.capture_exception(error=error, scope=scope, **scope_args)

	@_safe
	def capture_message(self, message: str, level: typing.Optional[str] = None, scope=None, **scope_args) -> typing.Optional[str]:
		"""
		Send a text message to Sentry.

		Args:
			message: The message.
			level: `debug`, `info`, `notice` (sent as info), `warning`, `error`, `critical`/`fatal`; default info.
			scope: A sentry-sdk scope to use for this event only.
			**scope_args: Scope data for this event only.

		Returns:
			The event id, or None when nothing was sent.
		"""
		sentry_level = validation.level(level, "capture_message()") if level is not None else None
		return sentry_sdk.capture_message(str(message), level=sentry_level, scope=scope, **scope_args)  # type: ignore[arg-type]

	# Scope data (per asyncio task and per web request)

	@_safe
	def set_tag(self, key: str, value: typing.Union[str, int, float, bool]) -> None:
		"""
		Set a tag on the events of the current task or web request.

		Args:
			key: 1 to 32 characters of letters, digits, `_`, `.`, `:`, `-`.
			value: A str, int, float or bool; its text 1 to 200 characters, no newline.

		An invalid tag is not set; a WARNING names the key and the rule it breaks.
		"""
		try:
			key, text = validate_tag(key, value)
		except TagError as e:
			L.warning("{}; the tag is not set.".format(e))
			return
		sentry_sdk.set_tag(key, text)

	@_safe
	def set_tags(self, tags_dict: typing.Mapping[str, typing.Any]) -> None:
		"""
		Set several tags; each is checked as in `set_tag()`, and an invalid one does not stop the others.

		Args:
			tags_dict: Tag keys and values.
		"""
		for key, value in dict(tags_dict).items():
			self.set_tag(key, value)

	@_safe
	def set_context(self, section_name: str, context: typing.Mapping[str, typing.Any]) -> None:
		"""
		Set a named context (a table of key-values) on the events of the current task or web request.

		Args:
			section_name: A non-empty name.
			context: A dict.

		Examples:
		```python
		app.SentryService.set_context("order", {"id": 42, "items": 3})
		```
		"""
		if not isinstance(section_name, str) or section_name == "":
			L.warning("set_context(): the name must be a non-empty string, not {!r}; the context is not set.".format(section_name))
			return
		if not isinstance(context, typing.Mapping):
			L.warning("set_context({!r}): the context must be a dict, not {}; the context is not set.".format(section_name, type(context).__name__))
			return
		section_name = str.__str__(section_name)
		kind = context.get("type", section_name)
		if section_name in validation.TYPED_CONTEXTS or (isinstance(kind, str) and kind in validation.TYPED_CONTEXTS):
			L.warning("set_context({!r}): the name (or type) is one Sentry gives a schema to; the context is not set. Use another name.".format(section_name))
			return
		sentry_sdk.set_context(section_name, dict(context))

	@_safe
	def set_user(self, user: typing.Optional[typing.Mapping[str, typing.Any]]) -> None:
		"""
		Set the user of the current task or web request, or clear it with None.

		Args:
			user: A dict such as `{"id": "42", "username": "joe"}`, or None.
		"""
		if user is not None and not isinstance(user, typing.Mapping):
			L.warning("set_user(): the user must be a dict or None, not {}; the user is not set.".format(type(user).__name__))
			return
		sentry_sdk.set_user(validation.user(user) if user is not None else None)

	@_safe
	def add_breadcrumb(self, crumb: typing.Optional[dict] = None, hint: typing.Optional[dict] = None, **kwargs) -> None:
		"""
		Add a breadcrumb to the trail of the current task or web request.

		Args:
			crumb: A breadcrumb dict (`message`, `category`, `level`, `data`), or give them as keyword arguments.
			hint: Hint for `before_breadcrumb`.
		"""
		crumb = dict(crumb) if isinstance(crumb, typing.Mapping) else {}
		crumb.update(kwargs)
		if "level" in crumb and crumb["level"] is not None:
			crumb["level"] = validation.level(crumb["level"], "add_breadcrumb()")
		sentry_sdk.add_breadcrumb(crumb, hint)

	# Tracing

	def transaction(self, span_operation: str, span_name: str) -> tracing.Timing:
		"""
		Time a unit of work as a transaction: use as `with`, `async with` or a decorator.

		Args:
			span_operation: The operation, e.g. `task`.
			span_name: The transaction name, e.g. `rebuild index`.

		Examples:
		```python
		with app.SentryService.transaction("speed test", "test sleeping"):
			time.sleep(1.0)
		```
		"""
		return tracing.transaction(span_operation, span_name) if self.Enabled else tracing.disabled()

	def span(self, operation: str, description: str) -> tracing.Timing:
		"""
		Time a part of the current transaction as a child span: use as `with`, `async with` or a decorator.

		Args:
			operation: The operation, e.g. `db.query`.
			description: What the span does, e.g. `load users`.

		Examples:
		```python
		with app.SentryService.transaction("speed test", "multiple tasks"):
			with app.SentryService.span("task", "task1"):
				task1()
		```
		"""
		return tracing.span(operation, description) if self.Enabled else tracing.disabled()

	# Scheduled work (Sentry Crons)

	def monitor(self, slug: str, schedule=None, **config) -> crons.Monitor:
		"""
		Check in a scheduled job with Sentry Crons: use as `with`, `async with` or a decorator.

		Entering sends an `in_progress` check-in, leaving `ok` or `error` (an exception inside)
		with the duration, so Sentry alerts when the job stops running, runs late or fails.

		Args:
			slug: The monitor's slug in Sentry.
			schedule: A crontab line (`"*/5 * * * *"`), an interval (`"10m"`, `"1h"`, or seconds),
				or None when the monitor is set up in Sentry.
			**config: `checkin_margin` and `max_runtime` (minutes), `timezone`.

		Examples:
		```python
		@app.SentryService.monitor("rebuild-index", schedule="10m")
		async def rebuild_index(self):
			...
		```
		"""
		try:
			return crons.monitor(slug, schedule, enabled=self.Enabled, **config)
		except Exception as e:
			L.warning("SentryService.monitor() failed: {!r}; the job is not monitored.".format(e))
			return crons.Monitor(str(slug), None, enabled=False)

	# The user's own filtering

	def add_event_processor(self, fn: typing.Callable[[dict, dict], typing.Optional[dict]]) -> None:
		"""
		Add a function that sees every event and transaction last, after asab-sentry's scrubbing.

		`fn(event, hint)` returns the event (changed or not) or None to drop it. An exception in it
		is logged once and the event is sent as it was before `fn`.

		Args:
			fn: The processor.

		Examples:
		```python
		def no_client_errors(event, hint):
			error = (hint.get("exc_info") or (None, None, None))[1]
			if getattr(error, "status", 500) < 500:
				return None
			return event

		app.SentryService.add_event_processor(no_client_errors)
		```
		"""
		try:
			if not callable(fn):
				L.warning("add_event_processor(): {!r} is not callable; it is not added.".format(fn))
				return
			# Kept on the service too, so a client started for it later (the pytest plugin binding a
			# disabled service) gets it.
			self.__dict__.setdefault("EventProcessors", []).append(fn)
			if self.Enabled:
				filtering.add_event_processor(fn)
		except Exception as e:
			L.warning("SentryService.add_event_processor() failed: {!r}".format(e))

	# Delivery

	def flush(self, timeout: typing.Optional[float] = None):
		"""
		Deliver what is queued, up to `timeout` seconds (default `shutdown_timeout`).

		Called from the event loop's thread it does not block: the flush runs in a worker thread
		and an awaitable is returned (`await app.SentryService.flush()`). From any other thread it
		blocks until done.
		"""
		if not self.Enabled:
			return _done() if _loop_running() else None
		try:
			timeout = self.Config.shutdown_timeout if timeout is None else _seconds(timeout)
			if _loop_running():
				return asyncio.get_running_loop().run_in_executor(None, sentry_client.flush, timeout)
			sentry_client.flush(timeout)
		except Exception as e:
			L.warning("SentryService.flush() failed: {!r}".format(e))
		return None


def _seconds(timeout) -> float:
	"""A flush timeout: seconds as a number or an ASAB duration such as '5s' or '500ms'."""
	if isinstance(timeout, str):
		return float(asab.utils.convert_to_seconds(timeout))
	return float(timeout)


def _loop_running() -> bool:
	try:
		asyncio.get_running_loop()
	except RuntimeError:
		return False
	return True


def _done():
	future = asyncio.get_running_loop().create_future()
	future.set_result(None)
	return future
