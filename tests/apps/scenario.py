"""
An ASAB application that reports to Sentry through asab-sentry, run by the tests in a subprocess.

Usage: python scenario.py SCENARIO [config file]
Environment: BUILD = module (default) | init | initialize | builtin-style, plus SENTRY_* variables.
"""

import asyncio
import logging
import os
import sys

import asab

import asab_sentry
import asab_sentry.client

L = logging.getLogger("scenario")
SCENARIOS = {}


def scenario(function):
	SCENARIOS[function.__name__] = function
	return function


class ScenarioApp(asab.Application):

	def __init__(self, name, config):
		self.ScenarioName = name
		args = ["-c", config] if config else []
		build = os.environ.get("BUILD", "module")
		super().__init__(args=args, modules=[asab_sentry.Module] if build == "module" else [])
		if build == "init":
			self.SentryService = asab_sentry.SentryService(self)
		if build == "memory":
			from asab_sentry.testing import MemoryTransport
			self.Transport = MemoryTransport()
			self.SentryService = asab_sentry.SentryService(self, transport=self.Transport)
		if name in ("web", "tour"):
			_setup_web(self)
		if name == "metrics":
			import asab.metrics
			self.add_module(asab.metrics.Module)

	async def initialize(self):
		if os.environ.get("BUILD") == "initialize":
			self.SentryService = asab_sentry.SentryService(self)

	async def main(self):
		result = await SCENARIOS[self.ScenarioName](self)
		if result != "keep-running":
			self.stop()


def svc(app):
	return app.SentryService


@scenario
async def message(app):
	print("EVENT_ID", svc(app).capture_message("hello from scenario"), flush=True)


@scenario
async def exception(app):
	try:
		1 / 0
	except ZeroDivisionError as e:
		print("EVENT_ID", svc(app).capture_exception(e), flush=True)


@scenario
async def logs(app):
	L.info("an info line", struct_data={"step": "info"})
	L.log(asab.LOG_NOTICE, "a notice line", struct_data={"step": "notice"})
	L.warning("a warning line")
	L.error("an error line", struct_data={"order": 42, "password": "hunter2"})


@scenario
async def notice_event(app):
	L.log(asab.LOG_NOTICE, "a notice event", struct_data={"k": "v"})


@scenario
async def task_isolation(app):
	ready = asyncio.Event()

	async def tagger():
		svc(app).set_tag("only_in_a", "yes")
		svc(app).set_user({"id": "user-a"})
		svc(app).set_context("ctx_a", {"x": 1})
		ready.set()
		await asyncio.sleep(0.1)
		svc(app).capture_message("from task a")

	async def other():
		await ready.wait()
		svc(app).capture_message("from task b")

	await asyncio.gather(tagger(), other())
	svc(app).capture_message("from main")


@scenario
async def task_crash(app):
	async def crash():
		raise RuntimeError("task crashed")

	task = asyncio.ensure_future(crash())
	await asyncio.sleep(0.2)
	del task
	import gc
	gc.collect()
	await asyncio.sleep(0.2)


@scenario
async def main_crash(app):
	raise KeyError("main crashed")


@scenario
async def bad_tags(app):
	s = svc(app)
	s.set_tag("k" * 33, "v")
	s.set_tag("bad key", "v")
	s.set_tag("k\n", "v")
	s.set_tag("newline", "a\nb")
	s.set_tag("long", "v" * 201)
	s.set_tag("empty", "")
	s.set_tag("obj", object())
	s.set_tag(42, "v")
	s.set_tag("int", 42)
	s.set_tag("float", 1.5)
	s.set_tag("bool", True)
	s.set_tags({"ok": "fine", "bad key": "x"})
	s.set_context("not-a-dict", ["list"])
	s.set_user("not-a-dict")
	print("EVENT_ID", s.capture_message("after bad tags"), flush=True)


@scenario
async def tracing(app):
	s = svc(app)
	with s.transaction("test", "sync with"):
		with s.span("step", "inner sync"):
			pass
	async with s.transaction("test", "async with"):
		async with s.span("step", "inner async"):
			await asyncio.sleep(0.01)
	try:
		async with s.transaction("test", "failing"):
			with s.span("step", "failing span"):
				raise ValueError("inside span")
	except ValueError as e:
		print("PROPAGATED", type(e).__name__, e, flush=True)

	@s.transaction("test", "decorated async")
	async def decorated():
		await asyncio.sleep(0)
		return 7

	@s.transaction("test", "decorated sync")
	def decorated_sync():
		return 8

	print("RESULTS", await decorated(), decorated_sync(), flush=True)


@scenario
async def burst(app):
	for i in range(int(os.environ.get("BURST", "20"))):
		svc(app).capture_message("burst {}".format(i))


def _free_port():
	import socket
	with socket.socket() as sock:
		sock.bind(("127.0.0.1", 0))
		return sock.getsockname()[1]


def _setup_web(app):
	import asab.web
	import asab.web.rest

	app.WebPort = _free_port()
	router = asab.web.create_web_server(app, config={"listen": "127.0.0.1 {}".format(app.WebPort)})

	async def fail(request):
		svc(app).set_tag("request_tag", request.query.get("n", "none"))
		if request.method == "POST" and request.content_type == "application/json":
			await request.json()
		elif request.method == "POST":
			await request.post()
		raise RuntimeError("handler failed " + request.query.get("n", ""))

	async def ok(request):
		svc(app).set_tag("request_tag", "ok")
		return asab.web.rest.json_response(request, {"ok": True})

	router.add_get("/fail", fail)
	router.add_post("/fail", fail)
	router.add_get("/ok", ok)


async def _get(session, url, **kwargs):
	import aiohttp
	for _ in range(100):
		try:
			async with session.request(kwargs.pop("method", "GET"), url, **kwargs) as r:
				return r.status
		except aiohttp.ClientConnectionError:
			await asyncio.sleep(0.05)
	raise RuntimeError("web server did not start")


@scenario
async def web(app):
	import aiohttp

	base = "http://127.0.0.1:{}".format(app.WebPort)
	async with aiohttp.ClientSession() as session:
		print("STATUS", await _get(session, base + "/fail?n=1"), flush=True)
		print("STATUS", await _get(session, base + "/ok"), flush=True)
		print("STATUS", await _get(
			session, base + "/fail?n=2", method="POST",
			headers={"Authorization": "Bearer secret-token-123", "Cookie": "session=secret-cookie-456"},
			data={"password": "secret-password-789", "user": "joe"},
		), flush=True)
	svc(app).capture_message("after requests")


async def web_json(app):
	"""A JSON POST with credentials in the query, headers and body."""
	import aiohttp

	base = "http://127.0.0.1:{}".format(app.WebPort)
	async with aiohttp.ClientSession() as session:
		print("STATUS", await _get(
			session, base + "/fail?n=3&password=secret-query-321&page=2", method="POST",
			headers={"X-Api-Key": "secret-apikey-654", "X-Auth-Token": "secret-authtoken-987"},
			json={"order": 42, "newPassword": "secret-json-135"},
		), flush=True)


@scenario
async def tour(app):
	"""A message, a caught exception, an ERROR log with struct_data and a failing web request."""
	s = svc(app)
	L.log(asab.LOG_NOTICE, "tour starts", struct_data={"phase": "start"})
	print("EVENT_ID message", s.capture_message("tour message"), flush=True)
	try:
		{}["missing"]
	except KeyError as e:
		print("EVENT_ID exception", s.capture_exception(e), flush=True)
	L.error("tour log error", struct_data={"order_id": 1234, "password": "hunter" + str(2)})
	await web(app)
	await web_json(app)
	await s.flush()


@scenario
async def hold(app):
	"""Capture BURST messages, say READY, and run until stopped (SIGTERM)."""
	for i in range(int(os.environ.get("BURST", "0"))):
		svc(app).capture_message("held {}".format(i))
	print("READY", flush=True)
	return "keep-running"


@scenario
async def levels(app):
	for name, level in [("debug", logging.DEBUG), ("info", logging.INFO), ("notice", asab.LOG_NOTICE), ("warning", logging.WARNING), ("error", logging.ERROR), ("critical", logging.CRITICAL)]:
		L.log(level, "level " + name)
	svc(app).capture_message("closing message")


@scenario
async def user_and_breadcrumb(app):
	s = svc(app)
	s.set_user({"id": "42", "username": "joe"})
	s.add_breadcrumb(message="manual crumb", category="test", level="info", data={"k": 1})
	s.set_context("order", {"id": 7})
	print("EVENT_ID", s.capture_message("with user", level="notice"), flush=True)
	print("EVENT_ID", s.capture_message("bad level", level="loud"), flush=True)


@scenario
async def capture_many(app):
	"""COUNT messages and COUNT exceptions, each id printed; then stop, or wait to be killed (HOLD=1)."""
	s = svc(app)
	for i in range(int(os.environ.get("COUNT", "100"))):
		print("EVENT_ID", s.capture_message("spooled message {}".format(i)), flush=True)
		try:
			raise ValueError("spooled exception {}".format(i))
		except ValueError as e:
			print("EVENT_ID", s.capture_exception(e), flush=True)
	print("CAPTURED", flush=True)
	if os.environ.get("HOLD") == "1":
		return "keep-running"


@scenario
async def drain(app):
	"""Start (an earlier run's spool is picked up), wait until everything is sent, stop."""
	await svc(app).flush(float(os.environ.get("DRAIN_TIMEOUT", "60")))
	print("PENDING", asab_sentry.client.pending(), flush=True)


@scenario
async def loop_lag(app):
	"""Capture events for DURATION seconds while measuring how late the event loop wakes up."""
	s = svc(app)
	loop = asyncio.get_running_loop()
	max_lag = 0.0
	end = loop.time() + float(os.environ.get("DURATION", "3"))
	i = 0
	while loop.time() < end:
		before = loop.time()
		await asyncio.sleep(0.01)
		max_lag = max(max_lag, loop.time() - before - 0.01)
		if i % 10 == 0:
			s.capture_message("lag probe {}".format(i))
		i += 1
	print("MAX_LAG", round(max_lag, 4), flush=True)
	print("CAPTURED", i // 10 + (1 if i % 10 else 0), flush=True)
	if os.environ.get("HOLD") == "1":
		return "keep-running"


@scenario
async def metrics(app):
	"""Capture, flush, and print the sentry.delivery gauge of asab.metrics."""
	import json
	s = svc(app)
	s.capture_message("counted")
	await s.flush()
	msvc = app.get_service("asab.MetricsService")
	app.PubSub.publish("Metrics.flush!")
	for metric in msvc.Storage.Metrics:
		if metric["name"] == "sentry.delivery":
			print("GAUGE", json.dumps(metric["fieldset"][0]["values"], sort_keys=True), flush=True)


@scenario
async def memory(app):
	"""Capture with the MemoryTransport test helper and print what it kept."""
	import json
	s = svc(app)
	s.set_tag("helper", "memory")
	print("EVENT_ID", s.capture_message("kept in memory"), flush=True)
	with s.transaction("test", "kept transaction"):
		pass
	print("EVENTS", json.dumps(app.Transport.events()), flush=True)
	print("TRANSACTIONS", json.dumps(app.Transport.transactions()), flush=True)


@scenario
async def disabled(app):
	s = svc(app)
	print("EVENT_ID", s.capture_message("nothing"), flush=True)
	s.set_tag("a", "b")
	with s.transaction("a", "b"):
		pass
	async with s.span("a", "b"):
		pass
	await s.flush()
	print("DISABLED_OK", flush=True)


if __name__ == "__main__":
	app = ScenarioApp(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else None)
	sys.exit(app.run())
