"""
`DirectSender`, the keep-alive HTTP/1.1 client of the delivery transport, against a raw socket
server on 127.0.0.1 that answers each request with scripted bytes: every shape of answer it must
read (lengths, chunks, a closing server, HTTP/1.0, header case), the quiet retry of a connection
the server closed while idle, and what counts as a network failure.
"""

import gzip
import socket
import threading
import typing

import pytest

from asab_sentry import sender as snd

OK = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 8\r\n\r\n{\"id\":1}"


class RawServer(object):
	"""Answers the n-th request with `Script[n]` (bytes; `None`: close without answering; b"": keep silent)."""

	def __init__(self, script: typing.Sequence[typing.Optional[bytes]], close_after: typing.Sequence[int] = ()):
		self.Script = list(script)
		self.CloseAfter = set(close_after)  # request numbers after which the server closes the connection
		self.Requests: typing.List[bytes] = []
		self.Connections = 0
		self.Ended = threading.Semaphore(0)  # released each time a client closes its connection
		self._Listener = socket.socket()
		self._Listener.bind(("127.0.0.1", 0))
		self._Listener.listen(16)
		self._Stop = False
		self._Thread = threading.Thread(target=self._serve, daemon=True)
		self._Thread.start()

	@property
	def url(self) -> str:
		return "http://127.0.0.1:{}/api/1/envelope/".format(self._Listener.getsockname()[1])

	def _serve(self):
		while not self._Stop:
			try:
				conn, _ = self._Listener.accept()
			except OSError:
				return
			self.Connections += 1
			threading.Thread(target=self._connection, args=(conn,), daemon=True).start()

	def _connection(self, conn):
		f = conn.makefile("rb")
		with conn:
			while True:
				head = b""
				while not head.endswith(b"\r\n\r\n"):
					line = f.readline()
					if not line:
						self.Ended.release()
						return
					head += line
				length = int([h for h in head.split(b"\r\n") if h.lower().startswith(b"content-length:")][0].split(b":")[1])
				body = f.read(length)
				n = len(self.Requests)
				self.Requests.append(head + body)
				answer = self.Script[n] if n < len(self.Script) else OK
				if answer is None:
					return
				conn.sendall(answer)
				if n in self.CloseAfter:
					return

	def stop(self):
		self._Stop = True
		try:
			self._Listener.shutdown(socket.SHUT_RDWR)  # wakes the accepting thread; close alone would not
		except OSError:
			pass
		self._Listener.close()


@pytest.fixture
def raw():
	servers = []

	def start(script=(), close_after=()):
		server = RawServer(script, close_after)
		servers.append(server)
		return server

	yield start
	for server in servers:
		server.stop()


def _sender(url, **options):
	return snd.DirectSender(url, {"Content-Type": "application/x-sentry-envelope", "Content-Encoding": "gzip", "X-Sentry-Auth": "Sentry sentry_key=k"}, options)


BODY = gzip.compress(b'{"event_id":"0"}\n{"type":"event"}\n{}\n')


class TestRequest(object):
	def test_request_head_and_body(self, raw):
		server = raw()
		answer = _sender(server.url).send(BODY)
		assert answer.status == 200
		head, _, body = server.Requests[0].partition(b"\r\n\r\n")
		lines = head.split(b"\r\n")
		assert lines[0] == b"POST /api/1/envelope/ HTTP/1.1"
		assert b"Host: 127.0.0.1:" + str(server.url.split(":")[2].split("/")[0]).encode() in lines
		assert b"X-Sentry-Auth: Sentry sentry_key=k" in lines
		assert b"Content-Length: %d" % len(BODY) in lines
		assert body == BODY

	def test_requests_reuse_one_connection(self, raw):
		server = raw()
		sender = _sender(server.url)
		for _ in range(5):
			assert sender.send(BODY).status == 200
		assert server.Connections == 1 and len(server.Requests) == 5


class TestAnswers(object):
	"""Each way an HTTP/1.x answer can end is read to its end, and the connection kept only when it may be."""

	@pytest.mark.parametrize("answer, kept", [
		(OK, True),
		(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4;x=y\r\n{\"id\r\n3\r\n\":1\r\n1\r\n}\r\n0\r\nTrailer: t\r\n\r\n", True),
		(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", True),
		(b"HTTP/1.1 204 No Content\r\n\r\n", True),
		(b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\n{}", False),
		(b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\n{}", False),
		# a chunk whose data has line ends in it (a blank line too) is read by its size, not by lines
		(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n6\r\n{\r\n\r\n}\r\n0\r\n\r\n", True),
		# the size is hexadecimal: 0x10 = 16 bytes
		(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n10\r\n{\"id\":123456789}\r\n0\r\n\r\n", True),
		# extensions after the size, more than one
		(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2;a=1;b=2\r\n{}\r\n0;c=3\r\n\r\n", True),
		# bare LF line ends in the chunk lines and trailers
		(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\n{}\r\n0\nTrailer: t\n\n", True),
		# a header line of exactly MAX_LINE bytes is still a header
		(b"HTTP/1.1 200 OK\r\nX-Big: " + b"a" * (snd.MAX_LINE - len(b"X-Big: \r\n")) + b"\r\nContent-Length: 2\r\n\r\n{}", True),
	])
	def test_answer_is_read_whole(self, raw, answer, kept):
		server = raw([answer, OK])
		sender = _sender(server.url)
		assert sender.send(BODY).status in (200, 204)
		assert sender.send(BODY).status == 200  # the next answer is read from where the first ended
		assert server.Connections == (1 if kept else 2)

	def test_interim_1xx_answers_are_skipped(self, raw):
		"""A `100 Continue` (or other 1xx) before the real answer: the real one counts, and the next request gets its own."""
		server = raw([b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 102 Processing\r\nX-A: b\r\n\r\n" + OK, b"HTTP/1.1 503 Busy\r\nContent-Length: 0\r\n\r\n"])
		sender = _sender(server.url)
		first = sender.send(BODY)
		assert first.status == 200 and "X-A" not in first.headers
		assert sender.send(BODY).status == 503

	def test_body_until_the_server_closes(self, raw):
		server = raw([b"HTTP/1.1 200 OK\r\n\r\n{\"id\":1}"], close_after=[0])
		sender = _sender(server.url)
		assert sender.send(BODY).status == 200
		assert sender.send(BODY).status == 200
		assert server.Connections == 2

	def test_headers_are_case_insensitive_and_repeatable(self, raw):
		server = raw([b"HTTP/1.1 429 Too Many Requests\r\nretry-after: 7\r\nx-sentry-rate-limits: 60:error:key\r\nContent-Length: 0\r\n\r\n"])
		answer = _sender(server.url).send(BODY)
		assert answer.status == 429 and answer.reason == "Too Many Requests"
		assert answer.headers["Retry-After"] == "7" and answer.headers.get("X-Sentry-Rate-Limits") == "60:error:key"

	def test_status_without_reason(self, raw):
		server = raw([b"HTTP/1.1 503\r\nContent-Length: 0\r\n\r\n"])
		answer = _sender(server.url).send(BODY)
		assert answer.status == 503 and answer.reason == ""


class TestFailures(object):
	"""What cannot be read as an answer is a network failure (retried by the scheduler), never a bug."""

	@pytest.mark.parametrize("answer", [
		b"SMTP ready\r\n\r\n",
		b"HTTP/1.1 abc OK\r\n\r\n",
		b"HTTP/1.1 200 OK\r\nContent-Length: nine\r\n\r\n",
		b"HTTP/1.1 200 OK\r\nContent-Length: -2\r\n\r\n{}",
		b"HTTP/1.1 200 OK\r\nno colon here\r\n\r\n",
		b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
		b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\ng\r\n" + b"x" * 20 + b"\r\n0\r\n\r\n",  # not hexadecimal
		b"HTTP/1.1 200 OK\r\nX-Big: " + b"a" * snd.MAX_LINE + b"\r\nContent-Length: 2\r\n\r\n{}",  # a header line past MAX_LINE
		b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2;" + b"a" * snd.MAX_LINE + b"\r\n{}\r\n0\r\n\r\n",  # a chunk line past MAX_LINE
		b"HTTP/1.1 200 " + b"O" * snd.MAX_LINE + b"\r\nContent-Length: 2\r\n\r\n{}",  # a status line past MAX_LINE
	])
	def test_garbage_is_a_connection_failure(self, raw, answer):
		server = raw([answer], close_after=[0])
		with pytest.raises(snd.NETWORK_ERRORS) as caught:
			_sender(server.url).send(BODY)
		assert snd.failure_kind(caught.value)[0] == "connection"

	def test_body_cut_short_is_a_failure(self, raw):
		server = raw([b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{}"], close_after=[0])
		with pytest.raises(snd.ProtocolError):
			_sender(server.url).send(BODY)

	def test_closed_without_answer_on_a_new_connection_is_a_failure(self, raw):
		server = raw([None])
		with pytest.raises(snd.ProtocolError):
			_sender(server.url).send(BODY)
		assert len(server.Requests) == 1  # no quiet retry: the connection was new

	def test_refused_is_a_connection_failure(self, raw):
		server = raw()
		url = server.url
		server.stop()
		with pytest.raises(OSError) as caught:
			_sender(url).send(BODY)
		assert snd.failure_kind(caught.value)[0] == "connection"

	def test_silent_server_times_out(self, raw, monkeypatch):
		monkeypatch.setattr(snd, "READ_TIMEOUT", 0.2)
		server = raw([b""])
		with pytest.raises(OSError) as caught:
			_sender(server.url).send(BODY)
		assert snd.failure_kind(caught.value)[0] == "timeout"


class TestIdleConnectionClosed(object):
	"""A kept-alive connection the server closed while idle gets one quiet retry on a new connection."""

	def test_closed_while_idle_is_retried_once_quietly(self, raw):
		server = raw([OK, OK], close_after=[0])
		sender = _sender(server.url)
		assert sender.send(BODY).status == 200
		assert sender.send(BODY).status == 200
		assert len(server.Requests) == 2 and server.Connections == 2

	def test_the_retry_failing_too_is_a_failure(self, raw):
		server = raw([OK, None, None])
		sender = _sender(server.url)
		assert sender.send(BODY).status == 200
		with pytest.raises(snd.NETWORK_ERRORS):
			sender.send(BODY)
		assert len(server.Requests) == 3  # the first try and one quiet retry, no more


class TestPool(object):
	def test_at_most_pool_size_connections_kept_and_all_closed_at_close(self, raw):
		server = raw()
		sender = _sender(server.url)
		barrier = threading.Barrier(6)

		def one():
			barrier.wait()
			sender.send(BODY)

		threads = [threading.Thread(target=one) for _ in range(6)]
		for t in threads:
			t.start()
		for t in threads:
			t.join()
		extra = max(0, server.Connections - snd.POOL_SIZE)
		for _ in range(extra):  # the connections past the pool's size are closed by the client
			assert server.Ended.acquire(timeout=5)
		assert not server.Ended.acquire(timeout=0.2)
		before = server.Connections
		for _ in range(10):  # the kept ones serve what follows: no new connection
			sender.send(BODY)
		assert server.Connections == before
		sender.close()
		for _ in range(before - extra):
			assert server.Ended.acquire(timeout=5)


	def test_answer_ending_in_its_trailers_ends(self, raw):
		"""The server closes right after the last chunk's size line: the answer counts, the next request gets a new connection."""
		server = raw([b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n", OK], close_after=[0])
		sender = _sender(server.url)
		assert sender.send(BODY).status == 200
		assert sender.send(BODY).status == 200
		assert len(server.Requests) == 2


def _proxy_sender(proxy_url, target="http://sentry.internal:9000/api/1/envelope/", **options):
	return snd.HttpSender(target, {"Content-Type": "application/x-sentry-envelope", "X-Sentry-Auth": "Sentry sentry_key=k"}, options, proxy_url)


class TestProxySender(object):
	"""Through a proxy (urllib3): the request goes to the proxy for the server's URL; answers, retries and time-outs as without one."""

	def proxy_url(self, server):
		return server.url.rsplit("/api/", 1)[0]

	def test_request_line_names_the_server(self, raw):
		server = raw()
		answer = _proxy_sender(self.proxy_url(server)).send(BODY)
		assert answer.status == 200
		head, _, body = server.Requests[0].partition(b"\r\n\r\n")
		assert head.split(b"\r\n")[0] == b"POST http://sentry.internal:9000/api/1/envelope/ HTTP/1.1"
		assert b"X-Sentry-Auth: Sentry sentry_key=k" in head.split(b"\r\n")
		assert body == BODY

	def test_status_reason_and_headers(self, raw):
		server = raw([b"HTTP/1.1 429 Slow Down\r\nRetry-After: 7\r\nContent-Length: 0\r\n\r\n"])
		answer = _proxy_sender(self.proxy_url(server)).send(BODY)
		assert (answer.status, answer.reason, answer.headers["Retry-After"]) == (429, "Slow Down", "7")

	def test_status_without_reason(self, raw):
		server = raw([b"HTTP/1.1 503\r\nContent-Length: 0\r\n\r\n"])
		answer = _proxy_sender(self.proxy_url(server)).send(BODY)
		assert (answer.status, answer.reason) == (503, "")

	def test_requests_reuse_one_connection(self, raw):
		server = raw()
		sender = _proxy_sender(self.proxy_url(server))
		for _ in range(3):
			assert sender.send(BODY).status == 200
		assert server.Connections == 1

	def test_connection_closed_while_idle_is_retried_quietly(self, raw):
		"""The proxy closed the kept connection without answering: sent again on a new one, no failure."""
		server = raw([OK, None, OK])
		sender = _proxy_sender(self.proxy_url(server))
		assert sender.send(BODY).status == 200
		assert sender.send(BODY).status == 200
		assert len(server.Requests) == 3 and server.Connections == 2

	def test_one_quiet_retry_then_a_failure(self, raw):
		"""A proxy that closes every connection without an answer: tried twice, then a network failure."""
		server = raw([None, None, None, None])
		with pytest.raises(snd.NETWORK_ERRORS):
			_proxy_sender(self.proxy_url(server)).send(BODY)
		assert len(server.Requests) == 2

	def test_redirect_is_not_followed(self, raw):
		server = raw([b"HTTP/1.1 302 Found\r\nLocation: http://127.0.0.1:9/elsewhere\r\nContent-Length: 0\r\n\r\n"])
		answer = _proxy_sender(self.proxy_url(server)).send(BODY)
		assert answer.status == 302 and len(server.Requests) == 1

	def test_silent_proxy_times_out(self, raw, monkeypatch):
		monkeypatch.setattr(snd, "READ_TIMEOUT", 0.2)
		server = raw([b"", b""])
		with pytest.raises(snd.NETWORK_ERRORS) as caught:
			_proxy_sender(self.proxy_url(server)).send(BODY)
		assert snd.failure_kind(caught.value)[0] == "timeout"

	def test_close_closes_the_connections(self, raw):
		server = raw()
		sender = _proxy_sender(self.proxy_url(server))
		sender.send(BODY)
		sender.close()
		assert server.Ended.acquire(timeout=5)


class TestUrllib3Options(object):
	"""The TLS settings urllib3 gets through a proxy are sentry-sdk's: verified, the CA bundle, the client certificate."""

	def test_defaults(self):
		import certifi
		assert snd._urllib3_options({}) == dict(num_pools=2, maxsize=snd.POOL_SIZE, block=False, cert_reqs="CERT_REQUIRED", ca_certs=certifi.where())

	def test_client_certificate(self):
		options = snd._urllib3_options({"ca_certs": "/ca.pem", "cert_file": "/c.pem", "key_file": "/k.pem"})
		assert (options["ca_certs"], options["cert_file"], options["key_file"]) == ("/ca.pem", "/c.pem", "/k.pem")

	def test_key_without_certificate_is_not_used(self):
		assert "key_file" not in snd._urllib3_options({"key_file": "/k.pem"})
