"""
Request instrumentation for asab.web (aiohttp) servers and outgoing aiohttp client calls.

It replaces sentry-sdk's own aiohttp integration, which costs more than half of a web service's
throughput (see BENCHMARKS.md). A request pays for a new isolation scope, one small state object
and a context variable; everything else is deferred to the moment an event or a sampled
transaction is actually sent:

- request data (method, URL, query, headers, body) is read by an event processor when an event
leaves, from the request object itself;
- a trace id is made only when an event or an outgoing call needs one;
- a transaction object exists only for a sampled request (decided up front from
`traces_sample_rate`, or the incoming `sentry-trace` header's decision);
- ASAB's access-log line (`asab.web.al`) never becomes a breadcrumb: the request is on the event.
"""

import asyncio
import contextvars
import fnmatch
import logging
import random
import re
import time
import typing
import uuid

import aiohttp
import aiohttp.web
import sentry_sdk

from . import _sdk
from . import scrubbing
from . import uncaught
from .config import SentryConfig

L = logging.getLogger(__name__)

_SENTRY_TRACE = re.compile(r"^[ \t]*([0-9a-f]{32})?-?([0-9a-f]{16})?-?([01])?[ \t]*$")
_SAMPLE_RAND = re.compile(r"(?:^|,)\s*sentry-sample_rand=([0-9.]+)")

_Current: contextvars.ContextVar[typing.Optional["RequestState"]] = contextvars.ContextVar("asab_sentry_request", default=None)


class WebSettings(object):
	"""
	What the instrumentation needs from the configuration.

	Args:
		traces_sample_rate: Share of requests that become transactions, in [0, 1].
		ignore_transactions: Glob patterns of request paths or transaction names never traced.
		send_default_pii: Send the client address.
		config: The `SentryConfig` whose `max_request_body_size` and `transaction_request_bodies`
			decide which request bodies are sent (`scrubbing.request_body_allowed`); defaults apply
			when None.
	"""

	def __init__(self, traces_sample_rate: float = 0.0, ignore_transactions: typing.Sequence[str] = (), send_default_pii: bool = False, config=None):
		self.TracesSampleRate = traces_sample_rate
		self.IgnoreTransactions = tuple(ignore_transactions)
		self._Ignore = re.compile("|".join(fnmatch.translate(p) for p in self.IgnoreTransactions)) if self.IgnoreTransactions else None
		self.SendDefaultPii = send_default_pii
		self.Config = config if config is not None else SentryConfig()

	def ignored(self, *names: str) -> bool:
		"""True when one of `names` (the path, the transaction name) matches `ignore_transactions`."""
		return self._Ignore is not None and any(self._Ignore.match(name) is not None for name in names)


class RequestState(object):
	"""What asab-sentry keeps about one request; the trace id is made only when needed."""

	__slots__ = ("Request", "Settings", "Sampled", "SampleRand", "_TraceId", "ParentSpanId", "_SpanId", "IncomingBaggage", "Transaction")

	def __init__(self, request: aiohttp.web.Request, settings: WebSettings):
		self.Request = request
		self.Settings = settings
		self.Sampled: typing.Optional[bool] = None
		self.SampleRand: typing.Optional[float] = None
		self._TraceId: typing.Optional[str] = None
		self.ParentSpanId: typing.Optional[str] = None
		self._SpanId: typing.Optional[str] = None
		self.IncomingBaggage: typing.Optional[str] = None
		self.Transaction: typing.Any = None

	@property
	def TraceId(self) -> str:
		if self._TraceId is None:
			self._TraceId = uuid.uuid4().hex
		return self._TraceId

	@property
	def SpanId(self) -> str:
		if self._SpanId is None:
			self._SpanId = uuid.uuid4().hex[16:]
		return self._SpanId

	def decide(self, rate: float) -> bool:
		"""Read an incoming trace and decide whether this request is sampled."""
		headers = self.Request.headers
		incoming = headers.get("sentry-trace")
		parent_sampled = None
		if incoming:
			match = _SENTRY_TRACE.match(incoming)
			if match is not None:
				self._TraceId, self.ParentSpanId, flag = match.groups()
				if flag is not None:
					parent_sampled = flag == "1"
				self.IncomingBaggage = headers.get("baggage")
				if self.IncomingBaggage:
					found = _SAMPLE_RAND.search(self.IncomingBaggage)
					if found is not None:
						try:
							self.SampleRand = float(found.group(1))
						except ValueError:
							pass
		if parent_sampled is not None:
			self.Sampled = parent_sampled
		else:
			if self.SampleRand is None:
				self.SampleRand = random.random()
			self.Sampled = self.SampleRand < rate
		return self.Sampled

	def trace_context(self) -> dict:
		"""The `trace` context of an event sent while handling this request without a transaction."""
		context = {"trace_id": self.TraceId, "span_id": self.SpanId}
		if self.ParentSpanId:
			context["parent_span_id"] = self.ParentSpanId
		return context

	def outgoing_headers(self) -> typing.Dict[str, str]:
		"""`sentry-trace` and `baggage` for an outgoing call of an unsampled request."""
		headers = {"sentry-trace": "{}-{}-0".format(self.TraceId, self.SpanId)}
		if self.IncomingBaggage:
			headers["baggage"] = self.IncomingBaggage
		return headers

	def process_event(self, event: dict, hint: dict) -> dict:
		"""Add the request to an event or transaction, when it is sent (an isolation-scope event processor)."""
		try:
			event["request"] = request_data(self.Request, self.Settings, transaction=event.get("type") == "transaction")
			if self.Transaction is None:  # (a transaction event comes only with a transaction)
				event.setdefault("contexts", {})["trace"] = self.trace_context()
		except Exception as e:
			L.warning("Cannot add the request to a Sentry event ({!r}).".format(e))
		return event


def request_data(request: aiohttp.web.Request, settings: WebSettings, transaction: bool) -> dict:
	"""
	Sentry's `request` interface for an aiohttp request: method, URL without the query, the query
	string, headers, the body the handler read (where `max_request_body_size` and, for a
	transaction, `transaction_request_bodies` allow it) and the client address (only with
	`send_default_pii`). Scrubbing happens later, on the whole event.
	"""
	data: typing.Dict[str, typing.Any] = {
		"method": request.method,
		"url": "{}://{}{}".format(request.scheme, request.host, request.path),
		"query_string": request.query_string,
		"headers": {str(name): value for name, value in request.headers.items()},
	}
	if settings.SendDefaultPii:
		data["env"] = {"REMOTE_ADDR": request.remote}
	body = _body(request, settings, transaction)
	if body is not None:
		data["data"] = body
	return data


def _body(request: aiohttp.web.Request, settings: WebSettings, transaction: bool) -> typing.Optional[str]:
	raw = getattr(request, "_read_bytes", None)  # aiohttp's copy of a body the handler read (not public API)
	if not raw or not scrubbing.request_body_allowed(len(raw), request.headers.get("Content-Type", ""), settings.Config, transaction):
		return None
	return raw.decode(request.charset or "utf-8", "replace")


async def _read_small_body(request: aiohttp.web.Request, settings: WebSettings) -> None:
	"""On the error path only: read a body the handler did not read, when the event may carry it."""
	try:
		length = request.content_length
		if not scrubbing.request_body_allowed(-1 if length is None else length, request.headers.get("Content-Type", ""), settings.Config):
			return
		await request.read()  # at once when the handler read it already
	except Exception:
		pass


class WebInstrumentation(object):
	"""
	Instruments every asab.web container of the application (an aiohttp middleware that wraps all
	others) and every `aiohttp.ClientSession` (trace headers and `http.client` spans).

	Args:
		settings: From the configuration.
	"""

	def __init__(self, settings: WebSettings):
		self.Settings = settings
		self.middleware = self._make_middleware()

	@property
	def Active(self) -> bool:
		"""True while this is the instrumentation of the running service (see `deactivate()`)."""
		return _Registry.Instrumentation is self

	def instrument_app(self, app) -> None:
		"""Instrument the application's asab.web containers, those existing and those made later."""
		_Registry.Instrumentation = self
		_patch_web_service()
		_patch_client_session()
		websvc = app.get_service("asab.WebService")
		if websvc is not None:
			for container in list(websvc.Containers.values()):
				self.instrument_container(container)

	def instrument_container(self, container) -> None:
		"""Put the middleware first on one container's aiohttp application (before it starts)."""
		webapp = getattr(container, "WebApp", None)
		if webapp is None:
			return
		if getattr(webapp, "_asab_sentry", False):
			return
		if webapp.frozen:
			L.warning("The web server '{}' started before Sentry was set up; its requests are not instrumented.".format(getattr(container, "ConfigSectionName", "?")))
			return
		webapp.middlewares.insert(0, self.middleware)
		webapp._asab_sentry = True

	def _make_middleware(self):
		settings = self.Settings
		instrumentation = self

		@aiohttp.web.middleware
		async def sentry_middleware(request: aiohttp.web.Request, handler):
			if not instrumentation.Active:
				return await handler(request)
			state = RequestState(request, settings)
			token = _Current.set(state)
			# The request's own scopes: those the task factory just made for this request's task,
			# or a fork (a second request in one task, or a loop without asab-sentry's factory).
			fork = None if uncaught.claim_task_scope() else _sdk.fork_isolation_scope()
			try:
				sentry_sdk.get_isolation_scope().add_event_processor(state.process_event)  # type: ignore[arg-type]
				if state.decide(settings.TracesSampleRate) and not settings.ignored(request.path):
					name, source = transaction_name(request)
					if not settings.ignored(name):
						return await _traced(request, handler, state, name, source)
				return await _handled(request, handler, settings)
			finally:
				if fork is not None:
					_sdk.restore_isolation_scope(fork[1])
				_Current.reset(token)

		return sentry_middleware


async def _handled(request, handler, settings):
	try:
		return await handler(request)
	except aiohttp.web.HTTPException as e:
		if e.status >= 500:
			await _report(request, e, settings)
		raise
	except (asyncio.CancelledError, KeyboardInterrupt, SystemExit):
		raise
	except Exception as e:
		await _report(request, e, settings)
		raise


async def _traced(request, handler, state, name, source):
	transaction = _sdk.request_transaction(request.headers if state.ParentSpanId else None, state.TraceId, name, source, state.SampleRand, state.Settings.TracesSampleRate)
	state.Transaction = transaction
	# Entered and left by hand: the SDK's `with` would mark a cancelled request `internal_error`.
	transaction.__enter__()
	try:
		response = await handler(request)
		transaction.set_http_status(response.status)
		return response
	except aiohttp.web.HTTPException as e:
		transaction.set_http_status(e.status)
		if e.status >= 500:
			await _report(request, e, state.Settings)
		raise
	except asyncio.CancelledError:
		transaction.set_status("cancelled")
		raise
	except Exception as e:
		transaction.set_status("internal_error")
		await _report(request, e, state.Settings)
		raise
	finally:
		transaction.__exit__(None, None, None)


async def _report(request, error: BaseException, settings: WebSettings) -> None:
	await _read_small_body(request, settings)
	uncaught.capture_unhandled(error, "aiohttp")


def transaction_name(request: aiohttp.web.Request) -> typing.Tuple[str, str]:
	"""
	The transaction name of a request: `METHOD /route/{pattern}` (source `route`), or the path for
	a request that matched no route (source `url`).
	"""
	resource = None
	try:
		resource = request.match_info.route.resource
	except Exception:
		pass
	if resource is not None:
		canonical = getattr(resource, "canonical", None)
		if canonical:
			return "{} {}".format(request.method, canonical), "route"
	return "{} {}".format(request.method, request.path), "url"


def deactivate() -> None:
	"""Stop instrumenting: requests and client calls from now on pass untouched (a stopped or disabled service)."""
	_Registry.Instrumentation = None


# Outgoing aiohttp client calls

class _Registry(object):
	Instrumentation: typing.Optional[WebInstrumentation] = None


def _patch_web_service() -> None:
	"""New asab.web containers get the middleware when they register with the web service."""
	try:
		import asab.web.service
	except Exception:
		return
	cls = asab.web.service.WebService
	original = cls._register_container
	if getattr(original, "_asab_sentry", False):
		return

	def _register_container(self, container, config_section_name: str):
		instrumentation = _Registry.Instrumentation
		if instrumentation is not None:
			try:
				instrumentation.instrument_container(container)
			except Exception as e:
				L.warning("Cannot instrument the web server '{}' ({!r}).".format(config_section_name, e))
		return original(self, container, config_section_name)

	_register_container._asab_sentry = True  # type: ignore[attr-defined]
	cls._register_container = _register_container


def _patch_client_session() -> None:
	"""Every `aiohttp.ClientSession` made from now on carries asab-sentry's trace config."""
	original = aiohttp.ClientSession.__init__
	if getattr(original, "_asab_sentry", False):
		return

	def __init__(self, *args, **kwargs):
		trace_configs = list(kwargs.get("trace_configs") or ())
		trace_configs.append(_client_trace_config())
		kwargs["trace_configs"] = trace_configs
		original(self, *args, **kwargs)

	__init__._asab_sentry = True  # type: ignore[attr-defined]
	aiohttp.ClientSession.__init__ = __init__  # type: ignore[method-assign]


def _client_trace_config() -> aiohttp.TraceConfig:
	config = aiohttp.TraceConfig()
	config.on_request_start.append(_on_request_start)
	config.on_request_end.append(_on_request_end)
	config.on_request_exception.append(_on_request_exception)
	return config


async def _on_request_start(session, ctx, params) -> None:
	ctx.asab_sentry_span = None
	instrumentation = _Registry.Instrumentation
	if instrumentation is None:
		return
	try:
		url = params.url
		bare_url = str(url.with_query(None).with_fragment(None))
		ctx.asab_sentry_call = (params.method.upper(), bare_url, url.query_string, time.time())
		span = sentry_sdk.get_current_span()
		headers = None
		if span is not None and span.sampled:
			child = span.start_child(op="http.client", name="{} {}".format(params.method.upper(), bare_url), origin="auto.http.asab_sentry")
			child.set_data("http.method", params.method.upper())
			child.set_data("url", bare_url)
			if url.query_string:
				child.set_data("http.query", url.query_string)
			ctx.asab_sentry_span = child
			headers = dict(child.iter_headers())
		else:
			state = _Current.get()
			if state is not None:
				headers = state.outgoing_headers()
		if headers and _sdk.should_propagate_trace(str(url)):
			for name, value in headers.items():
				if name not in params.headers:
					params.headers[name] = value
	except Exception as e:
		L.warning("Cannot trace an outgoing HTTP call ({!r}).".format(e))


async def _on_request_end(session, ctx, params) -> None:
	_finish_call(ctx, params.response.status)


async def _on_request_exception(session, ctx, params) -> None:
	_finish_call(ctx, None)


def _finish_call(ctx, status: typing.Optional[int]) -> None:
	try:
		call = getattr(ctx, "asab_sentry_call", None)
		if call is None:
			return
		method, url, query, _ = call
		data: typing.Dict[str, typing.Any] = {"method": method, "url": url}
		if query:
			data["http.query"] = query
		if status is not None:
			data["status_code"] = status
		sentry_sdk.add_breadcrumb(type="http", category="http", data=data, level="info" if status is not None and status < 400 else "warning")
		span = getattr(ctx, "asab_sentry_span", None)
		if span is not None:
			if status is not None:
				span.set_http_status(status)
			else:
				span.set_status("internal_error")
			span.finish()
	except Exception as e:
		L.warning("Cannot finish tracing an outgoing HTTP call ({!r}).".format(e))
