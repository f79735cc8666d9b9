"""
An asab.web server inside the test process: routes on a real `WebContainer` listening on
127.0.0.1 (a free port), driven by an aiohttp client in the app's `main()`.
"""

import asyncio
import typing

import aiohttp
import asab.web


def serve(sentry, routes: typing.Callable, client: typing.Callable, listen: str = "127.0.0.1 0") -> None:
	"""
	Run `sentry` (a `SentryApp` built with `modules=[asab.web.Module]`) with a web server whose
	routes `routes(router, app)` adds; `await client(session, base_url, app)` runs once it listens.
	"""

	async def main(app):
		websvc = app.get_service("asab.WebService")
		container = asab.web.WebContainer(websvc, "web:test", config={"listen": listen})
		routes(container.WebApp.router, app)
		for _ in range(500):
			if container.Addresses:
				break
			await asyncio.sleep(0.01)
		host, port = container.Addresses[0][:2]
		async with aiohttp.ClientSession() as session:
			await client(session, "http://{}:{}".format(host, port), app)

	sentry.run(main)


def middleware_names(sentry, more_routes: typing.Optional[typing.Callable] = None) -> typing.List[str]:
	"""Serve `GET /m` and return the names of the middlewares its request went through (`more_routes(router, app)` runs first)."""
	import aiohttp.web
	seen: typing.List[str] = []

	def routes(router, app):
		async def show(request):
			seen.extend(getattr(m, "__name__", "") for m in request.app.middlewares)
			return aiohttp.web.json_response({})
		router.add_get("/m", show)
		if more_routes is not None:
			more_routes(router, app)

	async def client(session, base, app):
		async with session.get(base + "/m") as r:
			await r.read()

	serve(sentry, routes, client)
	return seen
