"""
asab.web instrumentation, rule by rule, in-process: what a request puts on the events and
transactions that reach Sentry (the MemoryTransport), and on the calls it makes.
"""

import asyncio
import logging
import random
import re

import aiohttp
import aiohttp.web
import asab.web
import pytest

import asab_sentry.web
from webharness import middleware_names, serve

WEB = [asab.web.Module]
TRACE_ID = "771a43a4192642f0b136d5159a501700"
PARENT = "b0e6f15b45c36b12"
MAX_BODY = 10000  # max_request_body_size=medium, the default
HEX32 = re.compile(r"^[0-9a-f]{32}$")
HEX16 = re.compile(r"^[0-9a-f]{16}$")


def _routes(router, app):
	async def ok(request):
		return aiohttp.web.json_response({}, status=int(request.query.get("status", "200")))

	async def fail(request):
		app.SentryService.set_tag("req", request.query.get("n", ""))
		raise RuntimeError("fail")

	async def raise_status(request):
		status = int(request.match_info["status"])
		for cls in _all_subclasses(aiohttp.web.HTTPException):
			if getattr(cls, "status_code", None) == status:
				raise cls()
		raise AssertionError(status)

	async def echo(request):
		app.Seen.append(dict(request.headers))
		return aiohttp.web.json_response({}, status=int(request.query.get("status", "200")))

	async def call(request):
		target = request.query["target"]
		headers = {"sentry-trace": request.query["own"]} if "own" in request.query else {}
		async with aiohttp.ClientSession() as session:
			try:
				async with session.get(target.replace("SELF", "http://" + request.host), headers=headers) as r:
					await r.read()
			except aiohttp.ClientError:
				pass
		if request.query.get("fail"):
			raise RuntimeError("after the call")
		return aiohttp.web.json_response({})

	router.add_get("/ok", ok)
	router.add_get("/fail", fail)
	router.add_get("/status/{status}", raise_status)
	router.add_get("/echo", echo)
	router.add_get("/call", call)


def _all_subclasses(cls):
	for sub in cls.__subclasses__():
		yield sub
		yield from _all_subclasses(sub)


def _get(*paths, headers=None):
	async def client(session, base, app):
		app.Seen = getattr(app, "Seen", [])
		for path in paths:
			async with session.get(base + path, headers=headers or {}) as r:
				await r.read()
		app.SentryService.capture_message("marker")
	return client


def _run(sentry_app, paths, config=None, headers=None, **kwargs):
	s = sentry_app({"sentry": dict(config or {})}, modules=WEB, **kwargs)
	s.App.Seen = []
	serve(s, _routes, _get(*paths, headers=headers))
	return s


def _errors(s):
	"""The events sent before the marker, which every client sends last."""
	events = s.events()
	assert events[-1].get("message") == "marker"
	return events[:-1]


def _tx(s, name):
	found = [t for t in s.transactions() if t["transaction"] == name]
	assert len(found) == 1, [t["transaction"] for t in s.transactions()]
	return found[0]


def _dsc(s, name):
	"""The dynamic sampling context (envelope header `trace`) of the transaction `name`."""
	for envelope in s.Transport.Envelopes:
		for item in envelope.items:
			if item.type == "transaction" and name.encode() in item.payload.get_bytes():
				return envelope.headers["trace"]
	raise AssertionError(name)


@pytest.fixture
def draw(monkeypatch):
	"""Fix the random number a request draws for its sampling decision."""
	def set_draw(value):
		monkeypatch.setattr(random, "random", lambda: value)
	return set_draw


class TestEventTrace(object):
	"""An error of a request without a transaction carries the request's own trace."""

	def test_own_trace_id_and_span_id_and_no_parent(self, sentry_app):
		s = _run(sentry_app, ["/fail"])
		event, = _errors(s)
		trace = event["contexts"]["trace"]
		assert HEX32.match(trace["trace_id"]) and HEX16.match(trace["span_id"])
		assert "parent_span_id" not in trace

	def test_incoming_trace_and_parent(self, sentry_app):
		s = _run(sentry_app, ["/fail"], headers={"sentry-trace": "{}-{}-0".format(TRACE_ID, PARENT)})
		event, = _errors(s)
		trace = event["contexts"]["trace"]
		assert (trace["trace_id"], trace["parent_span_id"]) == (TRACE_ID, PARENT)
		assert HEX16.match(trace["span_id"]) and trace["span_id"] != PARENT

	def test_error_in_a_sampled_request_is_on_the_transaction_span(self, sentry_app):
		s = _run(sentry_app, ["/fail"], {"traces_sample_rate": "1"})
		event, = _errors(s)
		tx = _tx(s, "GET /fail")
		assert event["contexts"]["trace"]["trace_id"] == tx["contexts"]["trace"]["trace_id"]
		assert event["contexts"]["trace"]["span_id"] == tx["contexts"]["trace"]["span_id"]


class TestRequestData(object):
	"""The request on an event: method, full URL without the query, query string, headers."""

	def test_an_error_while_adding_it_is_a_warning_and_the_event_is_sent(self, sentry_app, monkeypatch, caplog):
		def broken(request, settings, transaction):
			raise RuntimeError("broken")
		monkeypatch.setattr(asab_sentry.web, "request_data", broken)
		with caplog.at_level(logging.WARNING, logger="asab_sentry"):
			s = _run(sentry_app, ["/fail?n=1"])
		event, = _errors(s)
		assert event["tags"]["req"] == "1" and "request" not in event
		assert "Cannot add the request to a Sentry event (RuntimeError('broken'))." in caplog.text

	def test_url_is_scheme_host_and_path(self, sentry_app):
		seen = {}

		def routes(router, app):
			async def fail(request):
				seen["host"] = request.host
				raise RuntimeError("x")
			router.add_get("/a/b", fail)

		s = sentry_app(modules=WEB)
		serve(s, routes, _get("/a/b?q=1"))
		event, = _errors(s)
		assert event["request"]["url"] == "http://{}/a/b".format(seen["host"])
		assert event["request"]["query_string"] == "q=1"
		assert event["request"]["method"] == "GET"

	def test_transactions_have_the_request_without_a_body(self, sentry_app):
		def routes(router, app):
			async def post(request):
				await request.read()
				return aiohttp.web.json_response({})
			router.add_post("/p", post)

		async def client(session, base, app):
			async with session.post(base + "/p?x=1", json={"a": 1}) as r:
				await r.read()

		s = sentry_app({"sentry": {"traces_sample_rate": "1"}}, modules=WEB)
		serve(s, routes, client)
		tx = _tx(s, "POST /p")
		assert tx["request"]["method"] == "POST" and tx["request"]["query_string"] == "x=1"
		assert "data" not in tx["request"]


def _post(sentry_app, body, content_type, read, chunked=False):
	"""POST `body` to a handler that fails (after reading the body when `read`); the event and the request object."""
	seen = {}

	def routes(router, app):
		async def fail(request):
			seen["request"] = request
			if read:
				await request.read()
			raise RuntimeError("x")
		router.add_post("/f", fail)

	async def client(session, base, app):
		data = body
		if chunked:
			async def gen():
				yield body
			data = gen()
		async with session.post(base + "/f", data=data, headers={"Content-Type": content_type}) as r:
			assert r.status == 500
		app.SentryService.capture_message("marker")

	s = sentry_app(modules=WEB)
	serve(s, routes, client)
	event, = _errors(s)
	return event, seen["request"]


class TestRequestBody(object):
	"""A small text body is on an error event, read for it if the handler did not; nothing else is read or sent."""

	@pytest.mark.parametrize("read", [True, False], ids=["read by the handler", "read for the event"])
	@pytest.mark.parametrize("size, sent", [(MAX_BODY, True), (MAX_BODY + 1, False)])
	def test_size_limit(self, sentry_app, read, size, sent):
		event, request = _post(sentry_app, b"a" * size, "text/plain", read)
		assert ("data" in event["request"]) is sent
		if sent:
			assert event["request"]["data"].startswith("aaaa")
		if not read:
			assert (request._read_bytes is not None) is sent  # a larger body is never read for the event

	@pytest.mark.parametrize("content_type, sent", [
		("application/json", True), ("application/x-www-form-urlencoded", True), ("text/csv", True),
		("application/octet-stream", False), ("application/xml", True), ("image/png", False),
	])
	@pytest.mark.parametrize("read", [True, False], ids=["read by the handler", "not read"])
	def test_only_text_types(self, sentry_app, content_type, sent, read):
		event, request = _post(sentry_app, b"k=v", content_type, read)
		data = event["request"].get("data")
		assert (data is not None) is sent
		if sent:
			assert data in ("k=v", {"k": "v"})  # a form is parsed for scrubbing
		if not read:
			assert (request._read_bytes is not None) is sent

	@pytest.mark.parametrize("raised", [aiohttp.web.HTTPInternalServerError, RuntimeError])
	@pytest.mark.parametrize("rate", ["0", "1"])
	def test_read_for_every_reported_error(self, sentry_app, raised, rate):
		def routes(router, app):
			async def fail(request):
				raise raised()
			router.add_post("/f", fail)

		async def client(session, base, app):
			async with session.post(base + "/f", data=b"small body", headers={"Content-Type": "text/plain"}) as r:
				assert r.status == 500
			app.SentryService.capture_message("marker")

		s = sentry_app({"sentry": {"traces_sample_rate": rate}}, modules=WEB)
		serve(s, routes, client)
		event, = _errors(s)
		assert event["request"]["data"] == "small body"

	def test_empty_body_is_left_out(self, sentry_app):
		event, _ = _post(sentry_app, b"", "application/json", read=True)
		assert "data" not in event["request"]

	def test_body_of_unknown_length_is_not_read(self, sentry_app):
		event, request = _post(sentry_app, b"k=v", "text/plain", read=False, chunked=True)
		assert "data" not in event["request"]
		assert request._read_bytes is None

	def test_the_request_charset_decodes_it(self, sentry_app):
		event, _ = _post(sentry_app, "café".encode("latin-1"), "text/plain; charset=latin-1", read=True)
		assert event["request"]["data"] == "café"

	def test_undecodable_bytes_are_replaced(self, sentry_app):
		event, _ = _post(sentry_app, b"ok \xff", "text/plain", read=True)
		assert event["request"]["data"] == "ok \ufffd"


class TestSamplingDecision(object):
	"""A request is sampled by the incoming trace's flag, else by one random number against traces_sample_rate."""

	@pytest.mark.parametrize("value, sampled", [(0.25, True), (0.5, False), (0.75, False)])
	def test_drawn_number_against_the_rate(self, sentry_app, draw, value, sampled):
		draw(value)
		s = _run(sentry_app, ["/ok"], {"traces_sample_rate": "0.5"})
		assert len(s.transactions()) == int(sampled)

	def test_the_number_and_rate_are_in_the_sampling_context(self, sentry_app, draw):
		draw(0.25)
		s = _run(sentry_app, ["/call?target=SELF/echo"], {"traces_sample_rate": "0.5"})
		dsc = _dsc(s, "GET /call")
		assert (dsc["sample_rand"], dsc["sample_rate"], dsc["sampled"]) == ("0.250000", "0.5", "true")
		baggage = s.App.Seen[0]["baggage"]
		assert "sentry-sample_rand=0.250000" in baggage and "sentry-sample_rate=0.5" in baggage

	@pytest.mark.parametrize("rate, sampled", [("0.5", True), ("0.3", False), ("0.2", False)])
	def test_undecided_incoming_trace_uses_the_baggage_number(self, sentry_app, draw, rate, sampled):
		draw(0.99)
		headers = {"sentry-trace": "{}-{}".format(TRACE_ID, PARENT), "baggage": "sentry-trace_id={},sentry-sample_rand=0.3".format(TRACE_ID)}
		s = _run(sentry_app, ["/ok"], {"traces_sample_rate": rate}, headers=headers)
		assert len(s.transactions()) == int(sampled)
		if sampled:
			tx = _tx(s, "GET /ok")
			assert (tx["contexts"]["trace"]["trace_id"], tx["contexts"]["trace"]["parent_span_id"]) == (TRACE_ID, PARENT)
			assert float(_dsc(s, "GET /ok")["sample_rand"]) == 0.3

	def test_undecided_incoming_trace_without_a_number_draws_one(self, sentry_app, draw):
		draw(0.25)
		s = _run(sentry_app, ["/ok"], {"traces_sample_rate": "0.5"}, headers={"sentry-trace": "{}-{}".format(TRACE_ID, PARENT)})
		tx = _tx(s, "GET /ok")
		assert tx["contexts"]["trace"]["trace_id"] == TRACE_ID
		dsc = _dsc(s, "GET /ok")
		assert (dsc["sample_rand"], dsc["sample_rate"]) == ("0.250000", "0.5")

	def test_a_bad_baggage_number_is_replaced_by_a_draw(self, sentry_app, draw):
		draw(0.1)
		headers = {"sentry-trace": "{}-{}".format(TRACE_ID, PARENT), "baggage": "sentry-sample_rand=0.1.2"}
		s = _run(sentry_app, ["/ok"], {"traces_sample_rate": "0.5"}, headers=headers)
		assert _tx(s, "GET /ok")["contexts"]["trace"]["trace_id"] == TRACE_ID

	def test_decided_parent_keeps_the_upstream_rate(self, sentry_app):
		s = _run(sentry_app, ["/ok"], {"traces_sample_rate": "0.5"}, headers={"sentry-trace": "{}-{}-1".format(TRACE_ID, PARENT)})
		assert _dsc(s, "GET /ok")["sample_rate"] == "1.0"

	def test_trace_id_alone_is_continued(self, sentry_app):
		s = _run(sentry_app, ["/ok"], {"traces_sample_rate": "1"}, headers={"sentry-trace": TRACE_ID})
		trace = _tx(s, "GET /ok")["contexts"]["trace"]
		assert trace["trace_id"] == TRACE_ID and trace.get("parent_span_id") is None

	def test_a_malformed_header_starts_a_new_trace(self, sentry_app):
		s = _run(sentry_app, ["/ok"], {"traces_sample_rate": "1"}, headers={"sentry-trace": "not-a-trace"})
		trace = _tx(s, "GET /ok")["contexts"]["trace"]
		assert HEX32.match(trace["trace_id"]) and trace.get("parent_span_id") is None


class TestTransactionFields(object):
	"""Every request transaction is an http.server transaction of asab-sentry's origin."""

	@pytest.mark.parametrize("headers", [None, {"sentry-trace": "{}-{}-1".format(TRACE_ID, PARENT)}, {"sentry-trace": "{}-{}".format(TRACE_ID, PARENT)}], ids=["new", "decided parent", "undecided parent"])
	def test_op_origin_and_source(self, sentry_app, headers):
		s = _run(sentry_app, ["/ok", "/nowhere"], {"traces_sample_rate": "1"}, headers=headers)
		for name, source in (("GET /ok", "route"), ("GET /nowhere", "url")):
			tx = _tx(s, name)
			assert tx["contexts"]["trace"]["op"] == "http.server"
			assert tx["contexts"]["trace"]["origin"] == "auto.http.asab_sentry"
			assert tx["transaction_info"] == {"source": source}

	@pytest.mark.parametrize("status, tx_status", [(200, "ok"), (201, "ok"), (404, "not_found"), (503, "unavailable")])
	def test_status_of_the_response(self, sentry_app, status, tx_status):
		s = _run(sentry_app, ["/ok?status=%d" % status], {"traces_sample_rate": "1"})
		tx = _tx(s, "GET /ok")
		assert tx["contexts"]["trace"]["status"] == tx_status
		assert tx["contexts"]["trace"]["data"]["http.response.status_code"] == status


class TestHttpExceptionsInSampledRequests(object):
	"""In a sampled request too, a raised 5xx HTTPException is an event and a 4xx one is not; both set the status."""

	@pytest.mark.parametrize("status, events, tx_status", [(500, 1, "internal_error"), (501, 1, "unimplemented"), (503, 1, "unavailable"), (404, 0, "not_found"), (400, 0, "invalid_argument")])
	def test_status(self, sentry_app, status, events, tx_status):
		s = _run(sentry_app, ["/status/%d" % status], {"traces_sample_rate": "1"})
		errors = _errors(s)
		assert len(errors) == events
		if events:
			exc = errors[0]["exception"]["values"][-1]
			assert exc["mechanism"] == {"type": "aiohttp", "handled": False}
			assert errors[0]["request"]["url"].endswith("/status/%d" % status)
		assert _tx(s, "GET /status/{status}")["contexts"]["trace"]["status"] == tx_status

	def test_unsampled_500_is_one_event_with_the_request(self, sentry_app):
		s = _run(sentry_app, ["/status/500"])
		event, = _errors(s)
		assert event["exception"]["values"][-1]["type"] == "HTTPInternalServerError"
		assert event["request"]["url"].endswith("/status/500")


class TestOutgoingCalls(object):
	"""An aiohttp client call is a breadcrumb (and a span of a sampled request) and carries the trace."""

	def test_breadcrumb_of_a_call_with_a_query(self, sentry_app):
		s = _run(sentry_app, ["/call?fail=1&target=SELF/echo%3Fa%3D1%26status%3D201"])
		event, = _errors(s)
		crumb, = [c for c in event["breadcrumbs"]["values"] if c.get("type") == "http"]
		assert crumb["category"] == "http" and crumb["level"] == "info"
		assert crumb["data"]["method"] == "GET" and crumb["data"]["status_code"] == 201
		assert crumb["data"]["url"].endswith("/echo") and "?" not in crumb["data"]["url"]
		assert crumb["data"]["http.query"] == "a=1&status=201"

	def test_breadcrumb_of_a_failed_answer_is_a_warning(self, sentry_app):
		s = _run(sentry_app, ["/call?fail=1&target=SELF/echo%3Fstatus%3D404"])
		event, = _errors(s)
		crumb, = [c for c in event["breadcrumbs"]["values"] if c.get("type") == "http"]
		assert crumb["level"] == "warning" and crumb["data"]["status_code"] == 404
		assert "http.query" in crumb["data"]

	@pytest.mark.parametrize("status, level", [(399, "info"), (400, "warning")])
	def test_breadcrumb_level_boundary(self, sentry_app, status, level):
		s = _run(sentry_app, ["/call?fail=1&target=SELF/echo%3Fstatus%3D{}".format(status)])
		event, = _errors(s)
		crumb, = [c for c in event["breadcrumbs"]["values"] if c.get("type") == "http"]
		assert crumb["level"] == level

	def test_breadcrumb_without_a_query(self, sentry_app):
		s = _run(sentry_app, ["/call?fail=1&target=SELF/echo"])
		event, = _errors(s)
		crumb, = [c for c in event["breadcrumbs"]["values"] if c.get("type") == "http"]
		assert "http.query" not in crumb["data"]

	def test_unreachable_call_is_a_warning_breadcrumb_and_a_failed_span(self, sentry_app):
		s = _run(sentry_app, ["/call?fail=1&target=http://127.0.0.1:9/down%3Fq%3D1"], {"traces_sample_rate": "1"})
		event, = _errors(s)
		crumb, = [c for c in event["breadcrumbs"]["values"] if c.get("type") == "http"]
		assert crumb["level"] == "warning" and "status_code" not in crumb["data"]
		assert crumb["data"]["url"] == "http://127.0.0.1:9/down" and crumb["data"]["method"] == "GET"
		span, = [sp for sp in _tx(s, "GET /call")["spans"] if sp["op"] == "http.client"]
		assert span["status"] == "internal_error"
		assert span["description"] == "GET http://127.0.0.1:9/down"
		assert span["data"]["http.query"] == "q=1" and span["data"]["url"] == "http://127.0.0.1:9/down"
		assert span["origin"] == "auto.http.asab_sentry"
		assert "timestamp" in span

	def test_span_of_a_failed_answer(self, sentry_app):
		s = _run(sentry_app, ["/call?target=SELF/echo%3Fstatus%3D404"], {"traces_sample_rate": "1"})
		span, = [sp for sp in _tx(s, "GET /call")["spans"] if sp["op"] == "http.client"]
		assert span["status"] == "not_found" and span["data"]["http.response.status_code"] == 404
		assert span["data"]["http.method"] == "GET" and span["data"]["http.query"] == "status=404"

	def test_span_of_a_call_without_a_query(self, sentry_app):
		s = _run(sentry_app, ["/call?target=SELF/echo"], {"traces_sample_rate": "1"})
		span, = [sp for sp in _tx(s, "GET /call")["spans"] if sp["op"] == "http.client"]
		assert span["status"] == "ok" and "http.query" not in span["data"]

	def test_unsampled_request_passes_its_trace_and_the_incoming_baggage_on(self, sentry_app):
		baggage = "sentry-trace_id={},sentry-sample_rate=0.1,other=1".format(TRACE_ID)
		s = _run(sentry_app, ["/call?fail=1&target=SELF/echo"], headers={"sentry-trace": "{}-{}-0".format(TRACE_ID, PARENT), "baggage": baggage})
		event, = _errors(s)
		span_id = event["contexts"]["trace"]["span_id"]
		sent = s.App.Seen[0]
		assert sent["sentry-trace"] == "{}-{}-0".format(TRACE_ID, span_id)
		assert sent["baggage"] == baggage

	def test_unsampled_request_without_baggage_sends_none(self, sentry_app):
		s = _run(sentry_app, ["/call?fail=1&target=SELF/echo"])
		event, = _errors(s)
		sent = s.App.Seen[0]
		assert sent["sentry-trace"] == "{}-{}-0".format(event["contexts"]["trace"]["trace_id"], event["contexts"]["trace"]["span_id"])
		assert "baggage" not in sent

	def test_a_header_set_by_the_caller_is_kept(self, sentry_app):
		own = "{}-{}-1".format("1" * 32, "2" * 16)
		s = _run(sentry_app, ["/call?target=SELF/echo&own=" + own], {"traces_sample_rate": "1"})
		assert s.App.Seen[0]["sentry-trace"] == own
		assert "baggage" in s.App.Seen[0]

	def test_a_session_keeps_its_own_trace_configs(self, sentry_app):
		s = sentry_app(modules=WEB)
		started = []

		async def on_start(session, ctx, params):
			started.append(str(params.url))

		def routes(router, app):
			async def echo(request):
				started.append(request.headers.get("sentry-trace"))
				return aiohttp.web.json_response({})

			async def call(request):
				config = aiohttp.TraceConfig()
				config.on_request_start.append(on_start)
				async with aiohttp.ClientSession(trace_configs=[config]) as session:
					async with session.get("http://{}/echo".format(request.host)) as r:
						await r.read()
				return aiohttp.web.json_response({})
			router.add_get("/echo", echo)
			router.add_get("/call", call)

		serve(s, routes, _get("/call"))
		assert started[0].endswith("/echo") and started[1] is not None

	def test_calls_outside_requests_are_breadcrumbs_without_trace_headers(self, sentry_app):
		s = sentry_app(modules=WEB)
		seen = []

		def routes(router, app):
			async def echo(request):
				seen.append(request.headers.get("sentry-trace"))
				return aiohttp.web.json_response({})
			router.add_get("/echo", echo)

		async def client(session, base, app):
			async with aiohttp.ClientSession() as own:
				async with own.get(base + "/echo") as r:
					await r.read()
			app.SentryService.capture_message("marker")

		serve(s, routes, client)
		assert seen == [None]
		crumbs = [c for c in s.events()[-1]["breadcrumbs"]["values"] if c.get("type") == "http"]
		assert [c["data"]["url"].endswith("/echo") for c in crumbs] == [True]


class TestInstrumentationLifecycle(object):
	"""Which web servers get the middleware, and what stops when the service stops."""

	def test_a_container_made_before_the_service_is_instrumented(self, sentry_app):
		from asab_sentry.testing import HarnessApplication

		class EarlyWeb(HarnessApplication):
			def __init__(self, *args, **kwargs):
				super().__init__(*args, **kwargs)
				websvc = self.get_service("asab.WebService")
				self.Early = asab.web.WebContainer(websvc, "web:early", config={"listen": "127.0.0.1 0"})

		s = sentry_app(modules=WEB, app_class=EarlyWeb)
		middlewares = s.App.Early.WebApp.middlewares
		assert [getattr(m, "__name__", "") for m in middlewares].count("sentry_middleware") == 1

	def test_instrumenting_again_adds_no_second_middleware(self, sentry_app):
		s = sentry_app(modules=WEB)

		def instrument_again(router, app):
			websvc = app.get_service("asab.WebService")
			for container in list(websvc.Containers.values()):
				app.SentryService.Web.instrument_container(container)
			app.SentryService.Web.instrument_app(app)

		assert middleware_names(s, instrument_again).count("sentry_middleware") == 1

	def test_a_second_service_does_not_patch_again(self, sentry_app):
		import asab.web.service
		sentry_app(modules=WEB)
		patched = (asab.web.service.WebService._register_container, aiohttp.ClientSession.__init__)
		s = sentry_app(modules=WEB)
		s.Service.Web.instrument_app(s.App)
		assert (asab.web.service.WebService._register_container, aiohttp.ClientSession.__init__) == patched

	def test_a_started_server_is_left_alone_with_a_warning(self, sentry_app, caplog):
		s = sentry_app(modules=WEB)
		webapp = aiohttp.web.Application()
		webapp.freeze()

		class Container(object):
			WebApp = webapp
			ConfigSectionName = "web:late"

		with caplog.at_level(logging.WARNING, logger="asab_sentry"):
			s.Service.Web.instrument_container(Container())
		assert "The web server 'web:late' started before Sentry was set up" in caplog.text
		assert list(webapp.middlewares) == []

		class Unnamed(object):
			WebApp = webapp

		with caplog.at_level(logging.WARNING, logger="asab_sentry"):
			s.Service.Web.instrument_container(Unnamed())
		assert "The web server '?' started before Sentry was set up" in caplog.text

	def test_a_container_without_a_web_app_is_skipped(self, sentry_app):
		s = sentry_app(modules=WEB)
		s.Service.Web.instrument_container(object())  # must not raise

	def test_failure_to_instrument_a_new_server_is_a_warning_and_it_still_serves(self, sentry_app, caplog, monkeypatch):
		s = sentry_app(modules=WEB)

		def broken(container):
			raise RuntimeError("broken")

		monkeypatch.setattr(s.Service.Web, "instrument_container", broken)
		with caplog.at_level(logging.WARNING, logger="asab_sentry"):
			serve(s, _routes, _get("/ok"))
		assert "Cannot instrument the web server 'web:test' (RuntimeError('broken'))" in caplog.text
		assert [e["message"] for e in s.events()] == ["marker"]

	def test_after_deactivate_requests_and_calls_pass_untouched(self, sentry_app, caplog):
		s = sentry_app({"sentry": {"traces_sample_rate": "1"}}, modules=WEB)
		s.App.Seen = []

		async def client(session, base, app):
			asab_sentry.web.deactivate()
			for path in ("/call?target=SELF/echo", "/fail"):
				async with session.get(base + path) as r:
					await r.read()
			app.SentryService.capture_message("marker")

		with caplog.at_level(logging.WARNING, logger="asab_sentry"):
			serve(s, _routes, client)
		assert s.transactions() == []
		assert "sentry-trace" not in s.App.Seen[0]
		assert "Cannot" not in caplog.text
		assert not [e for e in s.events() if e.get("exception", {}).get("values", [{}])[-1].get("mechanism", {}).get("type") == "aiohttp"]
		assert not [c for c in s.events()[-1].get("breadcrumbs", {}).get("values", []) if c.get("type") == "http"]


class TestSettings(object):
	"""WebSettings' defaults are the safe ones: nothing traced, no client address, 10 KiB of body."""

	def test_defaults(self):
		settings = asab_sentry.web.WebSettings()
		assert (settings.TracesSampleRate, settings.SendDefaultPii, settings.Config.max_request_body_size) == (0.0, False, "medium")
		assert settings.IgnoreTransactions == () and not settings.ignored("/health", "GET /health")

	def test_patterns_are_globs_matched_whole(self):
		settings = asab_sentry.web.WebSettings(ignore_transactions=["/health", "/asab/v1/*"])
		assert settings.IgnoreTransactions == ("/health", "/asab/v1/*")
		assert settings.ignored("/health") and settings.ignored("x", "/asab/v1/status")
		assert not settings.ignored("/healthz") and not settings.ignored("/api/asab/v1/x")


class TestSmallIsolation(object):
	"""Concurrent failing requests each carry only their own tags and request (a small version of the 1000-request test)."""

	def test_20_concurrent_requests(self, sentry_app):
		s = sentry_app(modules=WEB)

		def routes(router, app):
			async def handler(request):
				n = request.match_info["n"]
				app.SentryService.set_tag("req", n)
				await asyncio.sleep(0.01)
				raise RuntimeError("request " + n)
			router.add_get("/r/{n}", handler)

		async def client(session, base, app):
			async def one(i):
				async with session.get(base + "/r/%d" % i) as r:
					assert r.status == 500
			await asyncio.gather(*(one(i) for i in range(20)))

		serve(s, routes, client)
		events = s.events()
		assert len(events) == 20
		for event in events:
			n = event["tags"]["req"]
			assert event["exception"]["values"][-1]["value"] == "request " + n
			assert event["request"]["url"].endswith("/r/" + n)
		assert len({e["contexts"]["trace"]["trace_id"] for e in events}) == 20
