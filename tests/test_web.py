"""asab.web requests: what reaches Sentry from handlers, in-process (server and client in the test process)."""

import asyncio
import json

import aiohttp
import aiohttp.web
import asab.web
import pytest

from webharness import middleware_names, serve

WEB = [asab.web.Module]


def _json(request, data, status=200):
	return aiohttp.web.json_response(data, status=status)


class TestUncaughtHandlerException(object):
	"""An exception escaping a handler is one unhandled event with the request on it."""

	def test_one_event_with_method_url_query_and_headers(self, sentry_app):
		s = sentry_app(modules=WEB)

		def routes(router, app):
			async def fail(request):
				raise RuntimeError("boom")
			router.add_get("/items/{item_id}", fail)

		async def client(session, base, app):
			async with session.get(base + "/items/7?a=1&b=2", headers={"X-Trace-Me": "yes"}) as r:
				assert r.status == 500

		serve(s, routes, client)
		events = s.events()
		assert len(events) == 1
		event = events[0]
		assert event["exception"]["values"][-1]["type"] == "RuntimeError"
		assert event["exception"]["values"][-1]["mechanism"] == {"type": "aiohttp", "handled": False}
		request = event["request"]
		assert request["method"] == "GET"
		assert request["url"].endswith("/items/7") and "?" not in request["url"]
		assert request["query_string"] == "a=1&b=2"
		assert request["headers"]["X-Trace-Me"] == "yes"

	def test_client_address_only_with_send_default_pii(self, sentry_app):
		for pii, expected in (("false", False), ("true", True)):
			with_pii = _fail_once(sentry_app, {"sentry": {"send_default_pii": pii}})
			assert ("env" in with_pii["request"]) is expected
			if expected:
				assert with_pii["request"]["env"]["REMOTE_ADDR"] == "127.0.0.1"

	def test_json_body_the_handler_read_is_on_the_event(self, sentry_app):
		s = sentry_app(modules=WEB)

		def routes(router, app):
			async def fail(request):
				await request.json()
				raise RuntimeError("after reading")
			router.add_post("/f", fail)

		async def client(session, base, app):
			async with session.post(base + "/f", json={"order": 42}) as r:
				assert r.status == 500

		serve(s, routes, client)
		event, = s.events()
		data = event["request"]["data"]
		assert (json.loads(data) if isinstance(data, str) else data) == {"order": 42}

	def test_small_form_body_not_read_by_the_handler_is_read_for_the_event(self, sentry_app):
		s = sentry_app(modules=WEB)

		def routes(router, app):
			async def fail(request):
				raise RuntimeError("before reading")
			router.add_post("/f", fail)

		async def client(session, base, app):
			async with session.post(base + "/f", data={"name": "joe"}) as r:
				assert r.status == 500

		serve(s, routes, client)
		event, = s.events()
		assert "name" in str(event["request"]["data"]) and "joe" in str(event["request"]["data"])

	def test_binary_body_is_never_sent(self, sentry_app):
		s = sentry_app(modules=WEB)

		def routes(router, app):
			async def fail(request):
				await request.read()
				raise RuntimeError("binary")
			router.add_post("/f", fail)

		async def client(session, base, app):
			async with session.post(base + "/f", data=b"\x00\x01secret", headers={"Content-Type": "application/octet-stream"}) as r:
				assert r.status == 500

		serve(s, routes, client)
		event, = s.events()
		assert "data" not in event["request"]


def _fail_once(sentry_app, config):
	s = sentry_app(config, modules=WEB)

	def routes(router, app):
		async def fail(request):
			raise RuntimeError("boom")
		router.add_get("/fail", fail)

	async def client(session, base, app):
		async with session.get(base + "/fail") as r:
			assert r.status == 500

	serve(s, routes, client)
	events = s.events()
	assert len(events) == 1
	return events[0]


class TestHttpExceptions(object):
	"""4xx HTTPExceptions are answers; 5xx ones and other exceptions are events; a cancelled request is not."""

	@pytest.mark.parametrize("exc, events", [
		(aiohttp.web.HTTPNotFound, 0), (aiohttp.web.HTTPBadRequest, 0), (aiohttp.web.HTTPForbidden, 0),
		(aiohttp.web.HTTPInternalServerError, 1), (aiohttp.web.HTTPServiceUnavailable, 1),
	])
	def test_status(self, sentry_app, exc, events):
		s = sentry_app(modules=WEB)

		def routes(router, app):
			async def handler(request):
				raise exc()
			router.add_get("/x", handler)

		async def client(session, base, app):
			async with session.get(base + "/x") as r:
				assert r.status == exc.status_code
			app.SentryService.capture_message("marker")

		serve(s, routes, client)
		assert [e.get("message") for e in s.events()] == [None] * events + ["marker"]

	def test_cancelled_request_is_no_event_and_its_transaction_is_cancelled(self, sentry_app):
		s = sentry_app({"sentry": {"traces_sample_rate": "1"}}, modules=WEB)
		finished = asyncio.Event()

		def routes(router, app):
			async def slow(request):
				# what aiohttp does to a handler whose client went away (with handler_cancellation)
				asyncio.current_task().cancel()
				try:
					await asyncio.sleep(30)
				finally:
					asyncio.get_running_loop().call_soon(finished.set)
			router.add_get("/slow", slow)

		async def client(session, base, app):
			try:
				async with session.get(base + "/slow") as r:
					await r.read()
			except aiohttp.ClientError:
				pass
			await asyncio.wait_for(finished.wait(), 10)
			app.SentryService.capture_message("marker")

		serve(s, routes, client)
		assert [e.get("message") for e in s.events()] == ["marker"]
		transactions = [t for t in s.transactions() if t["transaction"] == "GET /slow"]
		assert transactions and {t["contexts"]["trace"]["status"] for t in transactions} == {"cancelled"}


def _routes(router, app):
	async def item(request):
		return aiohttp.web.json_response({"id": request.match_info["item_id"]})

	async def fail(request):
		app.SentryService.set_tag("req", request.query.get("n", ""))
		raise RuntimeError("fail " + request.query.get("n", ""))

	async def health(request):
		return aiohttp.web.json_response({"ok": True})

	async def teapot(request):
		return aiohttp.web.json_response({}, status=418)

	router.add_get("/items/{item_id}", item)
	router.add_get("/fail", fail)
	router.add_get("/health", health)
	router.add_get("/asab/v1/status", health)
	router.add_get("/teapot", teapot)


def _get_all(*paths, headers=None):
	async def client(session, base, app):
		for path in paths:
			async with session.get(base + path, headers=headers or {}) as r:
				await r.read()
	return client


class TestTransactions(object):
	"""Sampled requests become http.server transactions named after their route."""

	def test_named_after_the_route_pattern_with_status(self, sentry_app):
		s = sentry_app({"sentry": {"traces_sample_rate": "1"}}, modules=WEB)
		serve(s, _routes, _get_all("/items/42?x=1", "/teapot"))
		by_name = {t["transaction"]: t for t in s.transactions()}
		item = by_name["GET /items/{item_id}"]
		assert item["transaction_info"] == {"source": "route"}
		assert item["contexts"]["trace"]["op"] == "http.server"
		assert item["contexts"]["trace"]["status"] == "ok"
		assert item["contexts"]["response"]["status_code"] == 200 or item["tags"]["http.status_code"] == "200"
		assert item["request"]["url"].endswith("/items/42") and item["request"]["query_string"] == "x=1"
		assert "data" not in item["request"]
		teapot = by_name["GET /teapot"]
		assert teapot["contexts"]["trace"]["status"] != "ok"
		assert teapot["tags"]["http.status_code"] == "418"

	def test_unmatched_path_is_named_by_url(self, sentry_app):
		s = sentry_app({"sentry": {"traces_sample_rate": "1"}}, modules=WEB)
		serve(s, _routes, _get_all("/nowhere/7"))
		tx, = [t for t in s.transactions() if "nowhere" in t["transaction"]]
		assert tx["transaction"] == "GET /nowhere/7"
		assert tx["transaction_info"] == {"source": "url"}
		assert tx["contexts"]["trace"]["status"] == "not_found"

	def test_rate_zero_sends_no_transaction(self, sentry_app):
		s = sentry_app({"sentry": {"traces_sample_rate": "0"}}, modules=WEB)

		async def client(session, base, app):
			await _get_all("/items/1", "/items/2")(session, base, app)
			app.SentryService.capture_message("marker")

		serve(s, _routes, client)
		assert s.transactions() == []
		assert [e["message"] for e in s.events()] == ["marker"]

	def test_rate_is_honoured_statistically(self, sentry_app):
		s = sentry_app({"sentry": {"traces_sample_rate": "0.25"}}, modules=WEB)
		serve(s, _routes, _get_all(*["/items/%d" % i for i in range(400)]))
		count = len(s.transactions())
		assert 50 <= count <= 150, count  # binomial(400, 0.25): mean 100, sd 8.7

	def test_error_in_a_sampled_request_carries_the_transaction_trace(self, sentry_app):
		s = sentry_app({"sentry": {"traces_sample_rate": "1"}}, modules=WEB)
		serve(s, _routes, _get_all("/fail?n=1"))
		event, = s.events()
		tx, = [t for t in s.transactions() if t["transaction"] == "GET /fail"]
		assert event["contexts"]["trace"]["trace_id"] == tx["contexts"]["trace"]["trace_id"]
		assert tx["contexts"]["trace"]["status"] == "internal_error"


TRACE_ID = "771a43a4192642f0b136d5159a501700"
PARENT = "b0e6f15b45c36b12"


class TestIncomingTrace(object):
	"""An incoming sentry-trace/baggage is continued, and its sampling decision honoured."""

	def test_sampled_parent_is_continued_even_at_rate_zero(self, sentry_app):
		s = sentry_app({"sentry": {"traces_sample_rate": "0"}}, modules=WEB)
		headers = {"sentry-trace": "{}-{}-1".format(TRACE_ID, PARENT), "baggage": "sentry-trace_id={},sentry-sample_rate=1,sentry-sampled=true".format(TRACE_ID)}
		serve(s, _routes, _get_all("/items/3", headers=headers))
		tx, = s.transactions()
		assert tx["contexts"]["trace"]["trace_id"] == TRACE_ID
		assert tx["contexts"]["trace"]["parent_span_id"] == PARENT

	def test_unsampled_parent_is_honoured_at_rate_one(self, sentry_app):
		s = sentry_app({"sentry": {"traces_sample_rate": "1"}}, modules=WEB)
		headers = {"sentry-trace": "{}-{}-0".format(TRACE_ID, PARENT)}

		async def client(session, base, app):
			await _get_all("/items/3", "/fail?n=2", headers=headers)(session, base, app)

		serve(s, _routes, client)
		assert s.transactions() == []
		event, = s.events()
		assert event["contexts"]["trace"]["trace_id"] == TRACE_ID
		assert event["contexts"]["trace"]["parent_span_id"] == PARENT

	def test_errors_of_unsampled_requests_get_a_trace_of_their_own(self, sentry_app):
		s = sentry_app({"sentry": {"traces_sample_rate": "0"}}, modules=WEB)
		serve(s, _routes, _get_all("/fail?n=1", "/fail?n=2"))
		traces = {e["tags"]["req"]: e["contexts"]["trace"]["trace_id"] for e in s.events()}
		assert len(traces) == 2 and traces["1"] != traces["2"]
		assert all(len(t) == 32 for t in traces.values())


class TestIgnoreTransactions(object):
	"""[sentry] ignore_transactions: matching requests are never transactions; their errors are still events."""

	def test_matching_paths_and_names_are_not_traced(self, sentry_app):
		s = sentry_app({"sentry": {"traces_sample_rate": "1", "ignore_transactions": "/health, /asab/v1/*, GET /teapot"}}, modules=WEB)
		serve(s, _routes, _get_all("/health", "/asab/v1/status", "/teapot", "/items/1"))
		assert [t["transaction"] for t in s.transactions()] == ["GET /items/{item_id}"]

	def test_errors_in_ignored_requests_are_reported(self, sentry_app):
		s = sentry_app({"sentry": {"traces_sample_rate": "1", "ignore_transactions": "/fail"}}, modules=WEB)
		serve(s, _routes, _get_all("/fail?n=9"))
		assert s.transactions() == []
		assert [e["tags"]["req"] for e in s.events()] == ["9"]

	def test_from_the_environment(self, sentry_app):
		s = sentry_app({"sentry": {"traces_sample_rate": "1"}}, environ={"SENTRY_IGNORE_TRANSACTIONS": "/items/*"}, modules=WEB)
		serve(s, _routes, _get_all("/items/1", "/health"))
		assert [t["transaction"] for t in s.transactions()] == ["GET /health"]


class TestIsolation(object):
	"""Tags, user, contexts and breadcrumbs set in a request stay on that request's events."""

	def test_1000_concurrent_failing_requests_carry_only_their_own_data(self, sentry_app):
		s = sentry_app(modules=WEB)
		count = 1000

		def routes(router, app):
			async def handler(request):
				n = request.match_info["n"]
				svc = app.SentryService
				svc.set_tag("req", n)
				svc.set_user({"id": n})
				svc.set_context("order", {"n": n})
				svc.add_breadcrumb(message="crumb " + n, category="test")
				await asyncio.sleep(0.01)  # let the other requests interleave
				raise RuntimeError("request " + n)
			router.add_get("/r/{n}", handler)

		async def client(session, base, app):
			async def one(i):
				async with session.get(base + "/r/%d" % i) as r:
					assert r.status == 500
			await asyncio.gather(*(one(i) for i in range(count)))

		serve(s, routes, client)
		events = [e for e in s.events() if "exception" in e]
		assert len(events) == count
		for event in events:
			n = event["tags"]["req"]
			assert event["exception"]["values"][-1]["value"] == "request " + n
			assert event["user"] == {"id": n}
			assert event["contexts"]["order"] == {"n": n}
			crumbs = [c["message"] for c in event.get("breadcrumbs", {}).get("values", []) if c.get("category") == "test"]
			assert crumbs == ["crumb " + n]
			assert event["request"]["url"].endswith("/r/" + n)


class TestDisabled(object):
	"""Without a DSN (or enabled=false) the web server is not instrumented at all."""

	@pytest.mark.parametrize("config, environ", [({"sentry": {"data_source_name": ""}}, {"SENTRY_DSN": ""}), ({"sentry": {"enabled": "false"}}, None)])
	def test_no_middleware(self, sentry_app, config, environ):
		s = sentry_app(config, environ=environ, modules=WEB, transport=False)
		assert not s.Service.Enabled
		assert "sentry_middleware" not in middleware_names(s)

	def test_enabled_service_has_the_middleware_first(self, sentry_app):
		s = sentry_app(modules=WEB)
		assert middleware_names(s)[0] == "sentry_middleware"


class TestOutgoingCalls(object):
	"""aiohttp.ClientSession calls made while handling a request carry the trace and are http.client spans."""

	def _run(self, sentry_app, config):
		s = sentry_app(config, modules=WEB)
		seen = {}

		def routes(router, app):
			async def echo(request):
				seen.setdefault("headers", []).append(dict(request.headers))
				return aiohttp.web.json_response({}, status=201)

			async def front(request):
				base = "http://{}".format(request.host)
				async with aiohttp.ClientSession() as session:
					async with session.get(base + "/echo?api=1&x=2") as r:
						await r.read()
				if request.query.get("fail"):
					raise RuntimeError("after the call")
				return aiohttp.web.json_response({})

			router.add_get("/echo", echo)
			router.add_get("/front", front)

		serve(s, routes, _get_all("/front", "/front?fail=1"))
		return s, seen["headers"]

	def test_sampled_request_propagates_and_records_a_span(self, sentry_app):
		s, headers = self._run(sentry_app, {"sentry": {"traces_sample_rate": "1"}})
		front = [t for t in s.transactions() if t["transaction"] == "GET /front"]
		assert len(front) == 2
		tx = front[0]
		trace_id = tx["contexts"]["trace"]["trace_id"]
		span, = [sp for sp in tx["spans"] if sp["op"] == "http.client"]
		assert span["description"].startswith("GET http://") and span["description"].endswith("/echo")
		assert span["data"]["http.method"] == "GET"
		assert "?" not in span["data"]["url"] and span["data"]["url"].endswith("/echo")
		assert span["data"]["http.response.status_code"] == 201
		incoming = headers[0]
		assert incoming["sentry-trace"] == "{}-{}-1".format(trace_id, span["span_id"])
		assert "sentry-trace_id={}".format(trace_id) in incoming["baggage"]
		# the called route continues the same trace
		echo = [t for t in s.transactions() if t["transaction"] == "GET /echo"][0]
		assert echo["contexts"]["trace"]["trace_id"] == trace_id
		assert echo["contexts"]["trace"]["parent_span_id"] == span["span_id"]

	def test_unsampled_request_propagates_its_trace_to_calls_and_errors(self, sentry_app):
		s, headers = self._run(sentry_app, {"sentry": {"traces_sample_rate": "0"}})
		assert s.transactions() == []
		event, = s.events()
		trace_id = event["contexts"]["trace"]["trace_id"]
		assert headers[1]["sentry-trace"].startswith(trace_id + "-") and headers[1]["sentry-trace"].endswith("-0")
		crumbs = [c for c in event["breadcrumbs"]["values"] if c.get("type") == "http"]
		assert crumbs and crumbs[-1]["data"]["status_code"] == 201 and crumbs[-1]["data"]["method"] == "GET"
		assert "?" not in crumbs[-1]["data"]["url"]

	def test_trace_propagation_targets_are_honoured(self, sentry_app):
		s, headers = self._run(sentry_app, {"sentry": {"traces_sample_rate": "1", "trace_propagation_targets": "^https://api\\.example\\.com"}})
		assert all("sentry-trace" not in h for h in headers)
		tx = [t for t in s.transactions() if t["transaction"] == "GET /front"][0]
		assert [sp["op"] for sp in tx["spans"]] == ["http.client"]


class TestWebConfig(object):
	"""The web keys are validated at start."""

	def test_bad_propagation_pattern_is_one_line(self):
		import asab_sentry.config
		from asab_sentry.config import ConfigError
		r = asab_sentry.config._Reader({"SENTRY_TRACE_PROPAGATION_TARGETS": "ok, (unclosed"})
		with pytest.raises(ConfigError) as e:
			r.get_patterns("sentry", "trace_propagation_targets", "SENTRY_TRACE_PROPAGATION_TARGETS")
		assert "SENTRY_TRACE_PROPAGATION_TARGETS = '(unclosed'" in str(e.value) and "regular expressions" in str(e.value)
		assert "\n" not in str(e.value)

	def test_ignore_transactions_list_is_trimmed(self, sentry_app):
		s = sentry_app({"sentry": {"ignore_transactions": " /a ,, /b/* "}})
		assert s.Service.Config.ignore_transactions == ("/a", "/b/*")


class TestBodyPolicy(object):
	"""Request bodies follow [sentry] max_request_body_size and transaction_request_bodies."""

	def _post(self, sentry_app, config, size=100):
		s = sentry_app(config, modules=WEB)

		def routes(router, app):
			async def fail(request):
				await request.read()
				if request.query.get("fail"):
					raise RuntimeError("after reading")
				return aiohttp.web.json_response({})
			router.add_post("/f", fail)

		async def client(session, base, app):
			for path in ("/f?fail=1", "/f"):
				async with session.post(base + path, data="x=" + "a" * size, headers={"Content-Type": "application/x-www-form-urlencoded"}) as r:
					await r.read()

		serve(s, routes, client)
		return s

	def test_never_sends_no_body(self, sentry_app):
		s = self._post(sentry_app, {"sentry": {"max_request_body_size": "never"}})
		event, = s.events()
		assert "data" not in event["request"]

	def test_small_limit_is_1000_bytes(self, sentry_app):
		assert "data" in self._post(sentry_app, {"sentry": {"max_request_body_size": "small"}}, size=990).events()[0]["request"]

	def test_over_the_small_limit_is_left_out(self, sentry_app):
		assert "data" not in self._post(sentry_app, {"sentry": {"max_request_body_size": "small"}}, size=1001).events()[0]["request"]

	def test_transactions_carry_no_body_by_default(self, sentry_app):
		s = self._post(sentry_app, {"sentry": {"traces_sample_rate": "1"}})
		assert s.transactions() and all("data" not in t["request"] for t in s.transactions())
		assert "data" in s.events()[0]["request"]

	def test_transactions_carry_the_body_when_asked(self, sentry_app):
		s = self._post(sentry_app, {"sentry": {"traces_sample_rate": "1", "transaction_request_bodies": "true"}})
		assert s.transactions() and all(t["request"]["data"] == {"x": "a" * 100} for t in s.transactions())


class TestScopePerRequest(object):
	"""A request uses the scopes the task factory made for its task, or forks its own."""

	def test_sequential_requests_on_one_keep_alive_connection_do_not_share_tags(self, sentry_app):
		s = sentry_app(modules=WEB)

		def routes(router, app):
			async def tag(request):
				if request.query.get("set"):
					app.SentryService.set_tag("leak", "yes")
					return aiohttp.web.json_response({})
				raise RuntimeError("second")
			router.add_get("/t", tag)

		async def client(session, base, app):
			for path in ("/t?set=1", "/t"):
				async with session.get(base + path) as r:
					await r.read()

		serve(s, routes, client)
		event, = s.events()
		assert "leak" not in event["tags"]

	def test_without_the_task_factory_the_middleware_forks(self, sentry_app, monkeypatch):
		import asab_sentry.uncaught
		monkeypatch.setattr(asab_sentry.uncaught, "claim_task_scope", lambda: False)
		s = sentry_app(modules=WEB)
		serve(s, _routes, _get_all("/fail?n=1", "/fail?n=2"))
		assert sorted(e["tags"]["req"] for e in s.events()) == ["1", "2"]

	def test_a_tag_set_in_main_does_not_reach_request_events_after_the_request_ends(self, sentry_app):
		s = sentry_app(modules=WEB)

		def routes(router, app):
			async def tag(request):
				app.SentryService.set_tag("in_request", "1")
				return aiohttp.web.json_response({})
			router.add_get("/t", tag)

		async def client(session, base, app):
			async with session.get(base + "/t") as r:
				await r.read()
			app.SentryService.capture_message("after")

		serve(s, routes, client)
		event, = s.events()
		assert "in_request" not in event["tags"]
