"""
Helpers for testing code that reports to Sentry through asab-sentry, without a server:
`MemoryTransport` keeps envelopes in memory, and `sentry_app()` builds a whole ASAB application
with asab-sentry on one, inside the test process.

Examples:
```python
transport = asab_sentry.testing.MemoryTransport()
svc = asab_sentry.SentryService(app, transport=transport)
svc.capture_message("hello")
assert transport.events()[0]["message"] == "hello"
```
"""

import asyncio
import contextlib
import gc
import json
import logging
import os
import threading
import typing

import asab
import sentry_sdk
import sentry_sdk.envelope
import sentry_sdk.transport

from . import _sdk


class MemoryTransport(sentry_sdk.transport.Transport):
	"""
	A sentry-sdk transport that keeps every envelope in memory instead of sending it.

	Pass an instance as `SentryService(app, transport=...)`. Thread-safe.
	"""

	def __init__(self, options=None):
		super().__init__(options)
		self.Envelopes: typing.List[sentry_sdk.envelope.Envelope] = []
		self._Lock = threading.RLock()

	def capture_envelope(self, envelope: sentry_sdk.envelope.Envelope) -> None:
		"""Keep the envelope (a round trip through its wire form, as a server would see it)."""
		# Serialised and parsed outside the lock: a garbage-collected task can make asyncio log (and
		# so capture) in the middle of it, on this same thread.
		kept = sentry_sdk.envelope.Envelope.deserialize(envelope.serialize())
		with self._Lock:
			self.Envelopes.append(kept)

	def flush(self, timeout, callback=None) -> None:
		"""Nothing to wait for: envelopes are kept as soon as they are captured."""

	def items(self, item_type: typing.Optional[str] = None) -> typing.List[dict]:
		"""Payloads of the kept envelopes' items (all, or of one type such as `event` or `transaction`)."""
		with self._Lock:
			envelopes = list(self.Envelopes)
		return payloads(envelopes, item_type)

	def events(self) -> typing.List[dict]:
		"""The error and message events kept so far."""
		return self.items("event")

	def transactions(self) -> typing.List[dict]:
		"""The transactions kept so far."""
		return self.items("transaction")


def payloads(envelopes: typing.Iterable[sentry_sdk.envelope.Envelope], item_type: typing.Optional[str] = None) -> typing.List[dict]:
	"""
	The JSON payloads of the envelopes' items.

	Args:
		envelopes: Envelopes, as kept by `MemoryTransport` or parsed from the wire.
		item_type: Only items of this type (`event`, `transaction`, ...); all when None.
	"""
	result = []
	for envelope in envelopes:
		for item in envelope.items:
			if item_type is not None and item.type != item_type:
				continue
			raw = item.payload.get_bytes()
			try:
				result.append(json.loads(raw))
			except ValueError:
				continue
	return result


#: Environment variables besides every `SENTRY_*` one that change what asab-sentry does.
OTHER_VARIABLES = (
	"SERVICE_ID", "INSTANCE_ID", "NODE_ID", "SITE_ID", "ASAB_HOSTNAME",
	"SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "no_proxy", "NO_PROXY",
)


def affects_sentry(name: str) -> bool:
	"""True for an environment variable that changes what asab-sentry does (`sentry_app()` clears them)."""
	return name.startswith("SENTRY_") or name in OTHER_VARIABLES


#: The DSN `sentry_app()` uses when none is configured: nothing is ever sent to it.
TEST_DSN = "http://0123456789abcdef0123456789abcdef@127.0.0.1:9/1"


class HarnessApplication(asab.Application):
	"""The ASAB application `sentry_app()` builds: its `main()` runs the coroutine given to `SentryApp.run()`."""

	Main: typing.Optional[typing.Callable[["HarnessApplication"], typing.Awaitable[typing.Any]]] = None

	async def main(self):
		# Not mutated: mutmut would run this as a renamed copy, and asab-sentry recognises an
		# application's main() by its code name (uncaught.py), so no test could see the app's crash.
		try:
			if self.Main is not None:  # pragma: no mutate
				await self.Main(self)  # pragma: no mutate
		finally:
			self.stop()  # pragma: no mutate


class SentryApp(object):
	"""
	An ASAB application with its `SentryService` on a `MemoryTransport`, in this process.

	Made by `sentry_app()`. Attributes: `App`, `Service` (the `SentryService`), `Transport`.
	"""

	def __init__(self, app, service, transport):
		self.App = app
		self.Service = service
		self.Transport = transport

	def run(self, main: typing.Optional[typing.Callable[[typing.Any], typing.Awaitable[typing.Any]]] = None) -> typing.Any:
		"""
		Run the application (init, `main`, graceful stop) and return its exit code.

		Args:
			main: An async function called with the application as its `main()`; the application
				stops when it returns or raises.
		"""
		self.App.Main = main
		return self.App.run()

	def events(self) -> typing.List[dict]:
		"""The error and message events sent so far."""
		return self.Transport.events()

	def transactions(self) -> typing.List[dict]:
		"""The transactions sent so far."""
		return self.Transport.transactions()

	def items(self, item_type: typing.Optional[str] = None) -> typing.List[dict]:
		"""Payloads of every item sent so far (or of one type)."""
		return self.Transport.items(item_type)


@contextlib.contextmanager
def sentry_app(
	config: typing.Optional[typing.Mapping[str, typing.Mapping[str, str]]] = None,
	environ: typing.Optional[typing.Mapping[str, str]] = None,
	modules: typing.Sequence[typing.Any] = (),
	transport=None,
	app_class: typing.Optional[type] = None,
) -> typing.Iterator[SentryApp]:
	"""
	Build an ASAB application with asab-sentry inside this process, and undo it afterwards.

	The application's configuration is `config` (sections of key-values; `[sentry]
	data_source_name` defaults to a placeholder DSN), the environment has no Sentry variables but
	`environ`, and the service sends to `transport` (a new `MemoryTransport` by default). On exit
	the SDK's client and scopes, `asab.Config`, the environment and the root logger are put back
	as they were, so the next test starts clean. Building one takes about a millisecond.

	Args:
		config: Config sections, e.g. `{"sentry": {"traces_sample_rate": "1"}}`.
		environ: Environment variables to set while the application exists.
		modules: ASAB modules to add (e.g. `asab.web.Module`).
		transport: A sentry-sdk transport; by default a new `MemoryTransport`; False: the
			service's own (what an application without a test transport gets).
		app_class: A subclass of `HarnessApplication` to build instead.

	Examples:
	```python
	with asab_sentry.testing.sentry_app({"sentry": {"environment": "test"}}) as s:
		s.Service.capture_message("hello")
		assert s.events()[0]["environment"] == "test"
	```
	"""
	import asab.abc.singleton
	from .service import SentryService

	saved_config = {section: dict(asab.Config.items(section, raw=True)) for section in asab.Config.sections()}
	saved_environ = dict(os.environ)
	root = logging.getLogger()
	saved_levels = (root.level, [(h, h.level, list(h.filters)) for h in root.handlers])
	cls = app_class or HarnessApplication

	sections = {name: dict(values) for name, values in (config or {}).items()}
	sections.setdefault("sentry", {})
	if environ is None or "SENTRY_DSN" not in environ:
		sections["sentry"].setdefault("data_source_name", TEST_DSN)
	for name in list(os.environ):
		if affects_sentry(name):
			del os.environ[name]
	os.environ.update(environ or {})
	for name in list(asab.Config.sections()):
		if name.startswith("sentry"):
			asab.Config.remove_section(name)
	asab.Config.read_dict({"general": {"watchdog_threshold": "0"}})
	asab.Config.read_dict(sections)

	_sdk.reset_scopes()
	_sdk.cache_default_integrations()
	transport = MemoryTransport() if transport is None else transport
	asab.abc.singleton.Singleton._instances.pop(cls, None)  # an earlier one in the same test
	app = None
	try:
		app = cls(args=[], modules=list(modules))
		service = app.get_service("asab.SentryService") or SentryService(app, transport=transport or None)
		app.SentryService = service
		yield SentryApp(app, service, transport)
	finally:
		asab.abc.singleton.Singleton._instances.pop(cls, None)
		put_back(saved_config)
		os.environ.clear()
		os.environ.update(saved_environ)
		root.setLevel(saved_levels[0])
		for handler, level, filters in saved_levels[1]:
			handler.setLevel(level)
			handler.filters[:] = filters
		# The application's loop is closed now; a task it left pending is reported ("Task was
		# destroyed but it is pending!") when the garbage collector finds it. Do that here, with no
		# client, instead of in the middle of the next test, where it would be one more event
		# (only when there is such a task: a full collection costs tens of milliseconds).
		loop = getattr(app, "Loop", None)
		if loop is not None and asyncio.all_tasks(loop):
			gc.collect()


def put_back(saved_config: typing.Mapping[str, typing.Mapping[str, str]]) -> None:
	"""
	Close the SDK's client, forget its scopes and give `asab.Config` the sections `saved_config`
	(what an application built in a test changed; `sentry_app()` does this on exit).

	Args:
		saved_config: `{section: {key: raw value}}`, as read before the application was built.
	"""
	try:
		sentry_sdk.get_client().close(timeout=0)
	except Exception:
		pass
	_sdk.reset_scopes()
	for name in list(asab.Config.sections()):
		asab.Config.remove_section(name)
	asab.Config.read_dict(saved_config)


class CapturedEvents(object):
	"""
	What an application sent to Sentry while bound by `capture_events()` (the `sentry_events` fixture).

	Attributes: `App`, `Service` (its `SentryService`), `Transport` (the `MemoryTransport`).
	"""

	def __init__(self, app, service, transport: MemoryTransport):
		self.App = app
		self.Service = service
		self.Transport = transport

	def events(self) -> typing.List[dict]:
		"""Error and message events."""
		return self.Transport.events()

	def transactions(self) -> typing.List[dict]:
		"""Transactions."""
		return self.Transport.transactions()

	def check_ins(self) -> typing.List[dict]:
		"""Sentry Crons check-ins."""
		return self.Transport.items("check_in")

	def logs(self) -> typing.List[dict]:
		"""Sentry Logs (each batch's items, flattened); call `flush()` first, the SDK batches them."""
		return [log for batch in self.Transport.items("log") for log in batch.get("items", [])]

	def items(self, item_type: typing.Optional[str] = None) -> typing.List[dict]:
		"""Payloads of every item (or of one type)."""
		return self.Transport.items(item_type)

	def flush(self) -> None:
		"""Hand what the SDK batches (logs, profiles) to the transport now."""
		from . import client
		client.flush(2.0)

	def clear(self) -> None:
		"""Forget what was captured so far."""
		with self.Transport._Lock:
			self.Transport.Envelopes.clear()


def running_application():
	"""The `asab.Application` of this process, or None when none was built."""
	import asab.abc.singleton
	for cls, instance in list(asab.abc.singleton.Singleton._instances.items()):
		if isinstance(instance, asab.Application):
			return instance
	return None


@contextlib.contextmanager
def capture_events(
	app=None,
	config: typing.Optional[typing.Mapping[str, typing.Mapping[str, str]]] = None,
	environ: typing.Optional[typing.Mapping[str, str]] = None,
) -> typing.Iterator[CapturedEvents]:
	"""
	Capture what an application sends to Sentry, in memory, for one test; any test runner.

	With an application (`app`, or else the one built in this process) that has a `SentryService`,
	that service is bound to a new `MemoryTransport` for the block: an enabled one keeps its
	configuration and filters and only its transport is swapped; a disabled one (no DSN, as in
	tests) is started for the block with a placeholder DSN. Without an application, one is built
	with `sentry_app(config, environ)`. Tags, user, contexts and breadcrumbs set before the block
	are forgotten on entry and those set inside on exit; the previous transport comes back on exit.

	Args:
		app: The application; by default the one built in this process.
		config: Config sections for an application built here.
		environ: Environment variables for an application built here.

	Examples:
	```python
	with asab_sentry.testing.capture_events(app) as sent:
		app.handle_order({"id": "o-1", "items": 0})
	assert sent.events()[0]["tags"]["order_id"] == "o-1"
	```
	"""
	app = app if app is not None else running_application()
	service = app.get_service("asab.SentryService") if app is not None else None
	if service is None:
		with sentry_app(config, environ) as s:
			yield CapturedEvents(s.App, s.Service, s.Transport)
		return

	from . import client as sentry_client
	transport = MemoryTransport()
	started_here = not service.Enabled
	if started_here:
		import dataclasses
		sentry_client.start(dataclasses.replace(service.Config, dsn=TEST_DSN, enabled=True), service.Stats, transport=transport)
		from . import filtering
		for fn in getattr(service, "EventProcessors", ()):  # added while the service was disabled
			filtering.add_event_processor(fn)
		service.Enabled = True
		previous = None
	else:
		sdk_client = sentry_sdk.get_client()
		previous = sdk_client.transport
		sdk_client.transport = transport
	_sdk.reset_local_scopes()
	try:
		yield CapturedEvents(app, service, transport)
	finally:
		_sdk.reset_local_scopes()
		if started_here:
			service.Enabled = False
			try:
				sentry_sdk.get_client().close(timeout=0)
			except Exception:
				pass
			_sdk.reset_scopes()
		else:
			sentry_sdk.get_client().transport = previous
