"""
An asab.web service as a new user writes it (ASAB's JSON exception middleware, an outgoing aiohttp
call), driven by requests that carry credentials and the client's address: the privacy tests run it
in-process (`setup` + `drive`) and as a subprocess against a recording server or Bugsink.

Usage: python privacy_app.py [config file]
"""

import asyncio
import socket
import sys

import aiohttp
import asab
import asab.web
import asab.web.rest

import asab_sentry

#: What the requests carry that must not reach Sentry in clear (name: value).
SECRETS = {
	"query token": "qtok-5a1", "query password": "qpw-5a2", "query api_key": "qkey-5a3",
	"X-Auth-Token": "xat-5a4", "X-Api-Key": "xak-5a5", "Authorization": "abear-5a6", "Cookie": "ckie-5a7",
	"JSON password": "jpw-5a8", "JSON newPassword": "jnpw-5a9", "JSON access_token": "jat-5b1",
	"JSON client_secret": "jcs-5b2", "form password": "fpw-5b3", "outgoing api_key": "okey-5b4",
}
#: The client's address, sent in X-Forwarded-For: only with send_default_pii.
ADDRESS = "198.51.100.77"


def _free_port() -> int:
	with socket.socket() as sock:
		sock.bind(("127.0.0.1", 0))
		return sock.getsockname()[1]


def setup(app) -> int:
	"""Build the web server (JSON exception middleware and four handlers); return its port."""
	port = _free_port()
	websvc = app.get_service("asab.WebService")
	container = asab.web.WebContainer(websvc, "web", config={"listen": "127.0.0.1 {}".format(port)})
	container.WebApp.middlewares.append(asab.web.rest.JsonExceptionMiddleware)
	router = container.WebApp.router

	async def login(request):
		if request.content_type == "application/json":
			await request.json()
		else:
			await request.post()
		raise RuntimeError("login failed")

	async def ok(request):
		return asab.web.rest.json_response(request, {"ok": True})

	async def call(request):
		async with aiohttp.ClientSession() as session:
			async with session.get("http://127.0.0.1:{}/ok".format(port), params={"api_key": SECRETS["outgoing api_key"], "page": "2"}):
				pass
		raise RuntimeError("call failed")

	router.add_post("/login", login)
	router.add_get("/ok", ok)
	router.add_get("/call", call)
	return port


async def drive(app, port: int) -> None:
	"""Send the requests (each fails inside the service), then a closing message; flush."""
	base = "http://127.0.0.1:{}".format(port)
	headers = {
		"X-Auth-Token": SECRETS["X-Auth-Token"], "X-Api-Key": SECRETS["X-Api-Key"], "X-Forwarded-For": ADDRESS,
		"Authorization": "Bearer " + SECRETS["Authorization"], "Cookie": "session=" + SECRETS["Cookie"],
	}
	query = "?token={}&password={}&api_key={}&page=1".format(SECRETS["query token"], SECRETS["query password"], SECRETS["query api_key"])
	body = {
		"user": "joe", "password": SECRETS["JSON password"], "newPassword": SECRETS["JSON newPassword"],
		"access_token": SECRETS["JSON access_token"], "client_secret": SECRETS["JSON client_secret"],
	}
	async with aiohttp.ClientSession() as session:
		for _ in range(200):
			try:
				async with session.get(base + "/ok"):
					break
			except aiohttp.ClientConnectionError:
				await asyncio.sleep(0.05)
		async with session.post(base + "/login" + query, json=body, headers=headers) as r:
			print("STATUS json", r.status, flush=True)
		async with session.post(base + "/login" + query, data={"user": "joe", "password": SECRETS["form password"]}, headers=headers) as r:
			print("STATUS form", r.status, flush=True)
		async with session.get(base + "/call", headers=headers) as r:
			print("STATUS call", r.status, flush=True)
	app.SentryService.capture_message("privacy run done")
	await app.SentryService.flush()


class PrivacyApp(asab.Application):

	def __init__(self, config):
		super().__init__(args=["-c", config] if config else [], modules=[asab_sentry.Module, asab.web.Module])
		self.Port = setup(self)

	async def main(self):
		await drive(self, self.Port)
		self.stop()


if __name__ == "__main__":
	sys.exit(PrivacyApp(sys.argv[1] if len(sys.argv) > 1 else None).run())
