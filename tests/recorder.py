"""
A Sentry-compatible HTTP endpoint on 127.0.0.1 that records the envelopes it receives.

It answers like Sentry's ingest (200 with `{"id": ...}`), and can be told to be slow (a delay per
request), to fail (a status code), to answer a scripted sequence of statuses and headers, to reset
the connection (`Script` entry `("reset", {})`), to fail every envelope whose body contains a given
text (`FailWhen`), or to accept connections and never answer. It speaks HTTP/1.1 with keep-alive
and counts requests and connections.

Also here: `FakeClock` and `ScriptedSender`, to drive `asab_sentry.transport.DeliveryTransport`
step by step (`threads=0`, `pump()`) without a network or wall-clock sleeps.
"""

import gzip
import http.server
import json
import threading
import time
import typing
import zlib

import sentry_sdk.envelope

from asab_sentry.testing import payloads


class Recorder(object):
	"""Start with `Recorder().start()`; `dsn` points an SDK at it; `stop()` ends it."""

	def __init__(self, delay: float = 0.0, status: int = 200, port: int = 0, tls=None):
		self.TLS = tls  # an ssl.SSLContext to serve HTTPS with
		self.Delay = delay
		self.Status = status
		self.Script: typing.List[typing.Tuple[int, dict]] = []  # (status, headers) for the next requests
		self.Hang = False
		self._Unhang = threading.Event()
		self._Port = port
		self.Envelopes: typing.List[sentry_sdk.envelope.Envelope] = []
		self.Headers: typing.List[dict] = []
		self.Requests = 0
		self.Paths: typing.List[str] = []
		self.Connections = 0
		self.FailWhen: typing.Optional[typing.Tuple[bytes, int]] = None  # (text in the body, status)
		self._Lock = threading.Lock()
		self._Server = None
		self._Thread = None

	@property
	def port(self) -> int:
		return self._Server.server_address[1]

	@property
	def dsn(self) -> str:
		return "{}://0123456789abcdef0123456789abcdef@127.0.0.1:{}/1".format("https" if self.TLS else "http", self.port)

	def start(self) -> "Recorder":
		recorder = self

		class Handler(http.server.BaseHTTPRequestHandler):
			protocol_version = "HTTP/1.1"

			def setup(self):
				super().setup()
				with recorder._Lock:
					recorder.Connections += 1

			def do_POST(self):
				body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
				with recorder._Lock:
					recorder.Requests += 1
					recorder.Paths.append(self.path)
					status, headers = recorder.Script.pop(0) if recorder.Script else (recorder.Status, {})
				if status == "reset":
					import socket
					import struct
					self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
					self.close_connection = True
					return
				if recorder.FailWhen is not None and status == 200:
					text, fail_status = recorder.FailWhen
					if text in (gzip.decompress(body) if self.headers.get("Content-Encoding") == "gzip" else body):
						status = fail_status
				if recorder.Hang:
					recorder._Unhang.wait(120)
					self.close_connection = True
					return
				if recorder.Delay:
					time.sleep(recorder.Delay)
				if status == 200:
					encoding = self.headers.get("Content-Encoding", "")
					if encoding == "gzip":
						body = gzip.decompress(body)
					elif encoding == "deflate":
						body = zlib.decompress(body)
					elif encoding == "br":
						import brotli
						body = brotli.decompress(body)
					envelope = sentry_sdk.envelope.Envelope.deserialize(body)
					with recorder._Lock:
						recorder.Envelopes.append(envelope)
						recorder.Headers.append(dict(self.headers))
				reply = json.dumps({"id": "0" * 32}).encode()
				self.send_response(status)
				for name, value in headers.items():
					self.send_header(name, value)
				self.send_header("Content-Type", "application/json")
				self.send_header("Content-Length", str(len(reply)))
				self.end_headers()
				self.wfile.write(reply)

			def log_message(self, *args):
				pass

		self._Server = http.server.ThreadingHTTPServer(("127.0.0.1", self._Port), Handler)
		self._Server.daemon_threads = True
		if self.TLS is not None:
			self._Server.socket = self.TLS.wrap_socket(self._Server.socket, server_side=True)
		self._Thread = threading.Thread(target=self._Server.serve_forever, daemon=True)
		self._Thread.start()
		return self

	def unhang(self) -> None:
		"""Answer again; requests held so far are dropped without an answer."""
		self.Hang = False
		self._Unhang.set()

	def stop(self) -> None:
		self._Unhang.set()
		if self._Server is not None:
			self._Server.shutdown()
			self._Server.server_close()
			self._Server = None

	def items(self, item_type: typing.Optional[str] = None) -> typing.List[dict]:
		with self._Lock:
			envelopes = list(self.Envelopes)
		return payloads(envelopes, item_type)

	def events(self) -> typing.List[dict]:
		return self.items("event")

	def transactions(self) -> typing.List[dict]:
		return self.items("transaction")

	def wait_for(self, count: int, item_type: str = "event", timeout: float = 10.0) -> typing.List[dict]:
		"""Wait until at least `count` items of `item_type` arrived; return them."""
		deadline = time.monotonic() + timeout
		while time.monotonic() < deadline:
			items = self.items(item_type)
			if len(items) >= count:
				return items
			time.sleep(0.05)
		return self.items(item_type)


class FakeClock(object):
	"""A clock that moves only when told (`advance`); monotonic and wall time move together."""

	def __init__(self, start: float = 1000.0, wall: float = 1.7e9):
		self.Now = start
		self.Wall = wall

	def monotonic(self) -> float:
		return self.Now

	def time(self) -> float:
		return self.Wall

	def advance(self, seconds: float) -> None:
		self.Now += seconds
		self.Wall += seconds


class ScriptedSender(object):
	"""
	Stands in for the HTTP sender: answers from `script` (a list of `(status, headers)`, an
	exception instance to raise, or a callable `body -> answer`), then `default`; records every
	request's time (from the clock) and decompressed body.
	"""

	def __init__(self, clock: FakeClock, script=(), default=(200, {})):
		self.Clock = clock
		self.Script = list(script)
		self.Default = default
		self.Requests: typing.List[typing.Tuple[float, bytes]] = []

	def send(self, body: bytes):
		from asab_sentry.sender import Answer
		raw = gzip.decompress(body)
		self.Requests.append((self.Clock.monotonic(), raw))
		answer = self.Script.pop(0) if self.Script else self.Default
		if callable(answer):
			answer = answer(raw)
		if isinstance(answer, BaseException):
			raise answer
		status, headers = answer
		return Answer(status, headers, "")

	def close(self) -> None:
		pass

	def delivered(self) -> typing.List[dict]:
		"""The event payloads of the requests (whatever was answered)."""
		return payloads([sentry_sdk.envelope.Envelope.deserialize(raw) for _, raw in self.Requests], "event")
