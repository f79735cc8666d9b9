"""
TLS like sentry-sdk: a server behind an internal CA (made here with `openssl`) is reached with
`[sentry] ca_certs`, `SSL_CERT_FILE` or `REQUESTS_CA_BUNDLE`; a client certificate is sent when the
server asks (mTLS); without the CA nothing is delivered and a WARNING says why.
"""

import logging
import os
import shutil
import ssl
import subprocess

import pytest

import asab_sentry

from recorder import Recorder

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command")


def _openssl(*args, cwd):
	subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
	"""A CA, a server certificate for 127.0.0.1 and a client certificate, all signed by the CA."""
	d = str(tmp_path_factory.mktemp("pki"))
	_openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=Test CA", "-keyout", "ca.key", "-out", "ca.pem", cwd=d)
	with open(os.path.join(d, "san.ext"), "w") as f:
		f.write("subjectAltName=IP:127.0.0.1\n")
	for name in ("server", "client"):
		_openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN={}".format(name), "-keyout", name + ".key", "-out", name + ".csr", cwd=d)
		extra = ["-extfile", "san.ext"] if name == "server" else []
		_openssl("x509", "-req", "-in", name + ".csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-days", "2", "-out", name + ".pem", *extra, cwd=d)
	return d


def _server(pki, require_client_cert=False):
	context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
	context.load_cert_chain(os.path.join(pki, "server.pem"), os.path.join(pki, "server.key"))
	if require_client_cert:
		context.verify_mode = ssl.CERT_REQUIRED
		context.load_verify_locations(os.path.join(pki, "ca.pem"))
	return Recorder(tls=context).start()


@pytest.fixture
def tls_recorder(pki):
	r = _server(pki)
	try:
		yield r
	finally:
		r.stop()


def _deliver(sentry_app, recorder, sentry=None, environ=None):
	values = {"data_source_name": recorder.dsn, "shutdown_timeout": "5s"}
	values.update(sentry or {})
	s = sentry_app({"sentry": values}, environ=environ, modules=[asab_sentry.Module])
	s.Service.capture_message("over tls")
	s.Service.flush(5.0)
	return recorder.events()


class TestCustomCA(object):
	"""The CA bundle comes from the config or from the variables sentry-sdk honours."""

	def test_ca_certs_in_config(self, sentry_app, tls_recorder, pki):
		got = _deliver(sentry_app, tls_recorder, {"ca_certs": os.path.join(pki, "ca.pem")})
		assert [e["message"] for e in got] == ["over tls"]

	@pytest.mark.parametrize("variable", ["SSL_CERT_FILE", "REQUESTS_CA_BUNDLE"])
	def test_ca_bundle_from_environment(self, sentry_app, tls_recorder, pki, variable):
		got = _deliver(sentry_app, tls_recorder, environ={variable: os.path.join(pki, "ca.pem")})
		assert [e["message"] for e in got] == ["over tls"]

	def test_unknown_ca_is_a_warning_not_silence(self, sentry_app, tls_recorder, caplog):
		with caplog.at_level(logging.DEBUG, logger="asab_sentry"):
			got = _deliver(sentry_app, tls_recorder)
			warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING and r.name.startswith("asab_sentry")]
		assert got == []
		assert tls_recorder.Requests == 0
		assert any("tls" in w and "CERTIFICATE_VERIFY_FAILED" in w for w in warnings), warnings


class TestClientCertificate(object):
	"""mTLS: the client certificate and key from the config are presented."""

	def test_client_certificate(self, sentry_app, pki):
		recorder = _server(pki, require_client_cert=True)
		try:
			got = _deliver(sentry_app, recorder, {
				"ca_certs": os.path.join(pki, "ca.pem"),
				"cert_file": os.path.join(pki, "client.pem"), "key_file": os.path.join(pki, "client.key"),
			})
		finally:
			recorder.stop()
		assert [e["message"] for e in got] == ["over tls"]

	def test_without_client_certificate_nothing_arrives(self, sentry_app, pki):
		recorder = _server(pki, require_client_cert=True)
		try:
			got = _deliver(sentry_app, recorder, {"ca_certs": os.path.join(pki, "ca.pem"), "shutdown_timeout": "1s"})
		finally:
			recorder.stop()
		assert got == []


class TestConfig(object):
	"""Bad TLS/proxy settings stop the application at start with one line."""

	@pytest.mark.parametrize("key, value, expected", [
		("ca_certs", "/nonexistent/ca.pem", "a readable PEM file"),
		("cert_file", "/nonexistent/c.pem", "a readable PEM file"),
		("https_proxy", "proxy:3128", "a proxy URL"),
		("max_retry_age", "0s", "a positive duration"),
	])
	def test_bad_value(self, sentry_app, key, value, expected):
		with pytest.raises(SystemExit) as e:
			sentry_app({"sentry": {key: value}}, modules=[asab_sentry.Module])
		assert "[sentry] {} = '{}'".format(key, value) in str(e.value) and expected in str(e.value)


class TestProxy(object):
	"""Proxies as sentry-sdk takes them: `[sentry] http_proxy`, else the environment unless NO_PROXY covers the host."""

	DEAD = "http://0123456789abcdef0123456789abcdef@127.0.0.1:9/1"  # nothing listens: only a proxy can deliver

	def _send(self, sentry_app, sentry, environ=None):
		values = {"data_source_name": self.DEAD, "shutdown_timeout": "3s"}
		values.update(sentry)
		s = sentry_app({"sentry": values}, environ=environ, modules=[asab_sentry.Module])
		s.Service.capture_message("via proxy")
		s.Service.flush(3.0)

	def test_http_proxy_in_config(self, sentry_app, recorder):
		self._send(sentry_app, {"http_proxy": "http://127.0.0.1:{}".format(recorder.port)})
		assert [e["message"] for e in recorder.events()] == ["via proxy"]
		assert recorder.Paths == ["http://127.0.0.1:9/api/1/envelope/"]  # the proxy got the absolute URL

	def test_proxy_from_environment(self, sentry_app, recorder):
		self._send(sentry_app, {}, environ={"http_proxy": "http://127.0.0.1:{}".format(recorder.port)})
		assert [e["message"] for e in recorder.events()] == ["via proxy"]

	def test_no_proxy_bypasses_the_environment_proxy(self, sentry_app, recorder):
		self._send(sentry_app, {"shutdown_timeout": "500ms"}, environ={"http_proxy": "http://127.0.0.1:{}".format(recorder.port), "no_proxy": "127.0.0.1"})
		assert recorder.Requests == 0
