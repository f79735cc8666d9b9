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
