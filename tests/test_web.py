"""asab.web requests: what reaches Sentry from handlers, in-process (server and client in the test process)."""

import asyncio
import json

import aiohttp
import aiohttp.web
import asab.web
import pytest

from webharness import serve

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
