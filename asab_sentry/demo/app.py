"""
The example ASAB service: a small web API that reports to Sentry through asab-sentry.

Endpoints (on `[web] listen`, default 127.0.0.1 8080):
- `GET /hello`: a normal response; its log line becomes a breadcrumb.
- `GET /message`: sends a message with `capture_message()` and returns its event id.
- `GET /log-error`: logs an ERROR with struct_data, which becomes an event.
- `GET /fail`: the handler raises; Sentry gets the exception, the client a 500.

Run it with `python -m asab_sentry.demo.app -c etc/asab-sentry.conf`.
"""

import logging

import asab
import asab.web
import asab.web.rest

import asab_sentry

L = logging.getLogger(__name__)


class DemoApplication(asab.Application):
	"""An ASAB web service with asab-sentry."""

	def __init__(self, args=None):
		super().__init__(args=args, modules=[asab_sentry.Module])
		router = asab.web.create_web_server(self)
		router.add_get("/hello", self.hello)
		router.add_get("/message", self.message)
		router.add_get("/log-error", self.log_error)
		router.add_get("/fail", self.fail)

	async def hello(self, request):
		name = request.query.get("name", "world")
		L.log(asab.LOG_NOTICE, "Greeting", struct_data={"name": name})
		return asab.web.rest.json_response(request, {"hello": name})

	async def message(self, request):
		sentry = getattr(self, "SentryService", None)
		event_id = sentry.capture_message("Demo message from /message", level="warning") if sentry else None
		return asab.web.rest.json_response(request, {"event_id": event_id})

	async def log_error(self, request):
		L.error("Demo order could not be shipped", struct_data={"order_id": 1234, "carrier": "owl-post"})
		return asab.web.rest.json_response(request, {"logged": True})

	async def fail(self, request):
		self.SentryService.set_tag("endpoint", "fail")
		self.SentryService.set_context("order", {"id": 1234, "items": 3})
		raise RuntimeError("Demo failure in /fail")


def main():
	app = DemoApplication()
	return app.run()


if __name__ == "__main__":
	raise SystemExit(main())
