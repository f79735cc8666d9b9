"""
How envelopes go over the wire: POST one compressed envelope, return the server's answer.

Two senders with the same interface (`send(body) -> Answer`, `close()`):

- `DirectSender`, for a server reached directly (no proxy), http or https: a small pool of
keep-alive connections and a minimal HTTP/1.1 exchange for the one request it ever makes (a
fixed request head, `Content-Length`, the answer's status, headers and body by `Content-Length`,
chunks or the connection's end). Written here rather than taken from urllib3 because the
library's per-request machinery, and sentry-sdk's own instrumentation of `http.client` under it,
cost 3 to 5 times the request itself (`benchmarks/delivery.py`): with it delivery topped out
near 1,000 envelopes/s on the 2-core machine here, whatever the server. TLS is set up as urllib3
and sentry-sdk do it: `ca_certs` (else certifi's bundle), the host name checked, a client
certificate from `cert_file`/`key_file`.
- `HttpSender`, through a proxy (`http_proxy`/`https_proxy`, or the environment's unless
`NO_PROXY` covers the host): urllib3's `ProxyManager`, as sentry-sdk's own transport uses it.

A request that fails on the network raises one of `NETWORK_ERRORS`; `failure_kind()` names it for
the WARNING (`tls`, `dns`, `proxy`, `timeout`, `connection`).
"""

import logging
import socket
import ssl
import threading
import typing
import urllib.parse
import urllib.request

import certifi
import urllib3

from . import _sdk

L = logging.getLogger(__name__)

CONNECT_TIMEOUT = 5.0
READ_TIMEOUT = 10.0
#: Concurrent requests (and keep-alive connections) to the server.
POOL_SIZE = 4
#: The longest status line or header line read from an answer; the most headers.
MAX_LINE = 65536
MAX_HEADERS = 100

#: Exceptions of a request that failed on the network (retried); anything else is a bug.
NETWORK_ERRORS = (urllib3.exceptions.HTTPError, OSError)


class Answer(typing.NamedTuple):
	"""The server's answer to one request."""

	status: int
	headers: typing.Mapping[str, str]
	reason: str = ""


class ProtocolError(OSError):
	"""The server's answer is not HTTP/1.x as this client reads it (a network failure: retried)."""


def make_sender(url: str, auth_header: str, options: typing.Mapping[str, typing.Any]):
	"""The sender for the envelope endpoint `url`: direct, or through the configured or environment proxy."""
	headers = {
		"Content-Type": "application/x-sentry-envelope",
		"Content-Encoding": "gzip",
		"X-Sentry-Auth": auth_header,
		"User-Agent": "asab-sentry sentry.python/{}".format(_sdk.sdk_version()),
	}
	proxy = _proxy(options, url)
	if proxy:
		return HttpSender(url, headers, options, proxy)
	return DirectSender(url, headers, options)


class DirectSender(object):
	"""
	POSTs envelopes straight to the server on up to `POOL_SIZE` keep-alive connections.

	Args:
		url: The envelope endpoint (http or https).
		headers: The request headers besides `Host` and `Content-Length`.
		options: `ca_certs`, `cert_file`, `key_file` (as sentry-sdk's options).
	"""

	def __init__(self, url: str, headers: typing.Mapping[str, str], options: typing.Mapping[str, typing.Any]):
		parts = urllib.parse.urlsplit(url)
		self.Secure = parts.scheme == "https"
		self.Host = parts.hostname or ""
		self.Port = parts.port or (443 if self.Secure else 80)
		path = parts.path or "/"
		if parts.query:
			path += "?" + parts.query
		lines = ["POST {} HTTP/1.1".format(path), "Host: {}".format(parts.netloc.rsplit("@", 1)[-1])]
		lines += ["{}: {}".format(name, value) for name, value in headers.items()]
		self._Head = ("\r\n".join(lines) + "\r\nContent-Length: ").encode("latin-1")
		self._Context = _tls_context(options) if self.Secure else None
		self._Idle: typing.List["_Connection"] = []
		self._Lock = threading.Lock()
		self._Closed = False

	def send(self, body: bytes) -> Answer:
		"""
		POST one envelope (already compressed).

		Raises:
			OSError: The request failed on the network (refused, reset, timeout, TLS, DNS...).
		"""
		request = self._Head + str(len(body)).encode("ascii") + b"\r\n\r\n" + body
		connection = self._checkout() or _Connection(self)
		try:
			answer, keep = connection.exchange(request)
		except _Stale:
			# A kept-alive connection the server had closed while idle: one quiet retry on a new one.
			connection.close()
			connection = _Connection(self)
			try:
				answer, keep = connection.exchange(request)
			except BaseException:
				connection.close()
				raise
		except BaseException:
			connection.close()
			raise
		if keep:
			self._checkin(connection)
		else:
			connection.close()
		return answer

	def close(self) -> None:
		"""Close the idle connections (one in use is closed when its request ends)."""
		with self._Lock:
			self._Closed = True
			idle, self._Idle = self._Idle, []
		for connection in idle:
			connection.close()

	def _checkout(self) -> typing.Optional["_Connection"]:
		with self._Lock:
			return self._Idle.pop() if self._Idle else None

	def _checkin(self, connection: "_Connection") -> None:
		with self._Lock:
			if not self._Closed and len(self._Idle) < POOL_SIZE:
				self._Idle.append(connection)
				return
		connection.close()


class _Stale(Exception):
	"""A reused connection failed before any byte of the answer came: the server closed it while idle."""


class _Connection(object):
	"""One keep-alive connection of a `DirectSender`."""

	def __init__(self, sender: DirectSender):
		sock = socket.create_connection((sender.Host, sender.Port), timeout=CONNECT_TIMEOUT)
		try:
			sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
			if sender._Context is not None:
				sock = sender._Context.wrap_socket(sock, server_hostname=sender.Host)
			sock.settimeout(READ_TIMEOUT)
		except BaseException:
			sock.close()
			raise
		self.Socket = sock
		self.File = sock.makefile("rb")
		self.Used = False

	def exchange(self, request: bytes) -> typing.Tuple[Answer, bool]:
		"""Send the request, read the answer; also whether the connection may be kept."""
		reused = self.Used
		self.Used = True
		try:
			self.Socket.sendall(request)
			status_line = self._line()
		except (ConnectionResetError, BrokenPipeError, ConnectionAbortedError):
			if reused:
				raise _Stale()
			raise
		if not status_line:
			if reused:
				raise _Stale()
			raise ProtocolError("the server closed the connection without answering")
		version, status, reason = _status(status_line)
		headers = self._headers()
		while 100 <= status < 200:  # an interim answer (100 Continue...): the real one follows
			version, status, reason = _status(self._line())
			headers = self._headers()
		keep = version != "HTTP/1.0" and "close" not in headers.get("Connection", "").lower()
		if status in (204, 304):
			pass
		elif "chunked" in headers.get("Transfer-Encoding", "").lower():
			self._chunks()
		elif "Content-Length" in headers:
			try:
				length = int(headers["Content-Length"])
			except ValueError:
				length = -1
			if length < 0:
				raise ProtocolError("a malformed Content-Length in the answer")
			self._exactly(length)
		else:
			self.File.read()  # the body ends with the connection
			keep = False
		return Answer(status, headers, reason), keep

	def _headers(self) -> urllib3.HTTPHeaderDict:
		headers = urllib3.HTTPHeaderDict()
		for _ in range(MAX_HEADERS + 1):
			line = self._line()
			if line in (b"\r\n", b"\n"):
				return headers
			if not line:
				raise ProtocolError("the answer ended in its headers")
			name, sep, value = line.decode("latin-1").partition(":")
			if not sep:
				raise ProtocolError("a malformed header line in the answer")
			headers.add(name.strip(), value.strip())
		raise ProtocolError("too many headers in the answer")

	def _exactly(self, length: int) -> None:
		while length > 0:
			chunk = self.File.read(min(length, 65536))
			if not chunk:
				raise ProtocolError("the answer's body ended early")
			length -= len(chunk)

	def _line(self) -> bytes:
		"""One line of the answer (b"" at its end); a line longer than MAX_LINE is a protocol error."""
		line = self.File.readline(MAX_LINE + 1)
		if len(line) > MAX_LINE:
			raise ProtocolError("a line of the answer is longer than {} bytes".format(MAX_LINE))
		return line

	def _chunks(self) -> None:
		while True:
			try:
				size = int(self._line().partition(b";")[0].strip(), 16)
			except ValueError:
				raise ProtocolError("a malformed chunk in the answer")
			if size == 0:
				while self._line() not in (b"\r\n", b"\n", b""):
					pass  # trailers
				return
			self._exactly(size + 2)  # the chunk and its CRLF

	def close(self) -> None:
		for closable in (self.File, self.Socket):
			try:
				closable.close()
			except OSError:
				pass


def _status(line: bytes) -> typing.Tuple[str, int, str]:
	parts = line.decode("latin-1").rstrip("\r\n").split(" ", 2)
	if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit() or len(parts[1]) != 3:
		raise ProtocolError("not an HTTP/1.x answer: {!r}".format(line[:40]))
	return parts[0], int(parts[1]), parts[2] if len(parts) > 2 else ""


class HttpSender(object):
	"""
	POSTs envelopes through a proxy, with urllib3's `ProxyManager`.

	Args:
		url: The envelope endpoint.
		headers: The request headers.
		options: `ca_certs`, `cert_file`, `key_file` (as sentry-sdk's options).
		proxy: The proxy's URL.
	"""

	def __init__(self, url: str, headers: typing.Mapping[str, str], options: typing.Mapping[str, typing.Any], proxy: str):
		self.Url = url
		self.Headers = dict(headers)
		self.Pool = urllib3.ProxyManager(proxy, **_urllib3_options(options))
		# One quiet retry, for a keep-alive connection the server closed while idle (through a proxy
		# urllib3 reports that as a ProxyError, which its Retry counts among the `other` errors).
		self.Retries = urllib3.Retry(total=1, connect=0, read=1, redirect=0, status=0, other=1, allowed_methods=None, raise_on_status=False, respect_retry_after_header=False)

	def send(self, body: bytes) -> Answer:
		"""
		POST one envelope (already compressed).

		Raises:
			urllib3.exceptions.HTTPError, OSError: The request failed on the network.
		"""
		response = self.Pool.request(
			"POST", self.Url, body=body, headers=self.Headers, retries=self.Retries, redirect=False,
			timeout=urllib3.Timeout(connect=CONNECT_TIMEOUT, read=READ_TIMEOUT), preload_content=True,
		)
		return Answer(response.status, response.headers, response.reason or "")

	def close(self) -> None:
		"""Close the connections."""
		self.Pool.clear()


def failure_kind(error: BaseException) -> typing.Tuple[str, str]:
	"""The kind of a network failure (`tls`, `dns`, `proxy`, `timeout`, `connection`) and a short text."""
	chain: typing.List[BaseException] = []
	e: typing.Optional[BaseException] = error
	while e is not None and len(chain) < 10:
		chain.append(e)
		e = getattr(e, "reason", None) if isinstance(getattr(e, "reason", None), BaseException) else (e.__cause__ or e.__context__)
	kinds = (
		("tls", lambda e: isinstance(e, (ssl.SSLError, urllib3.exceptions.SSLError))),
		("dns", lambda e: isinstance(e, socket.gaierror) or type(e).__name__ == "NameResolutionError"),
		("proxy", lambda e: isinstance(e, urllib3.exceptions.ProxyError)),
		("connection", lambda e: isinstance(e, (ConnectionError, urllib3.exceptions.ProtocolError, ProtocolError))),
		("timeout", lambda e: isinstance(e, (TimeoutError, socket.timeout, urllib3.exceptions.TimeoutError))),
	)
	for kind, test in kinds:  # the most telling first: urllib3's NewConnectionError is also a timeout error
		for e in chain:
			if test(e):
				return kind, str(error if e is error else e)
	return "connection", str(error)


def _tls_files(options: typing.Mapping[str, typing.Any]) -> typing.Tuple[str, typing.Optional[str], typing.Optional[str]]:
	"""The CA bundle (`ca_certs`, else certifi's), the client certificate and its key, as sentry-sdk takes them."""
	cert = options.get("cert_file") or None
	return options.get("ca_certs") or certifi.where(), cert, (options.get("key_file") or None) if cert else None


def _tls_context(options: typing.Mapping[str, typing.Any]) -> ssl.SSLContext:
	"""A client TLS context as urllib3 makes one for sentry-sdk: verified, the host name checked, with the client certificate if any."""
	ca_certs, cert_file, key_file = _tls_files(options)
	context = ssl.create_default_context(cafile=ca_certs)
	if cert_file:
		context.load_cert_chain(cert_file, key_file)
	return context


def _urllib3_options(options: typing.Mapping[str, typing.Any]) -> typing.Dict[str, typing.Any]:
	ca_certs, cert_file, key_file = _tls_files(options)
	kwargs: typing.Dict[str, typing.Any] = dict(num_pools=2, maxsize=POOL_SIZE, block=False, cert_reqs="CERT_REQUIRED", ca_certs=ca_certs)
	if cert_file:
		kwargs["cert_file"] = cert_file
		kwargs["key_file"] = key_file
	return kwargs


def _proxy(options: typing.Mapping[str, typing.Any], url: str) -> typing.Optional[str]:
	"""The proxy for `url` as sentry-sdk picks it: `https_proxy` (https) or `http_proxy`, else the environment's unless `NO_PROXY` covers the host."""
	scheme = url.split(":", 1)[0]
	proxy = (options.get("https_proxy") if scheme == "https" else None) or options.get("http_proxy")
	if not proxy:
		host = urllib3.util.parse_url(url).host or ""
		if not urllib.request.proxy_bypass(host):
			proxy = urllib.request.getproxies().get(scheme)
	return proxy or None
