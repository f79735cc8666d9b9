"""
`python -m asab_sentry check -c CONFIG`: verify a service's Sentry set-up without running the service.

It loads the configuration as the service would (an ASAB application with `-c CONFIG` and this
environment), prints the resolved settings and every problem found, starts asab-sentry's client,
sends one test event, waits for the server's answer and prints it. Exit code 0 only when the
server accepted the event; otherwise 1 with one line saying why.
"""

import argparse
import gzip
import logging
import os
import socket
import ssl
import sys
import typing

import sentry_sdk
import sentry_sdk.consts
import sentry_sdk.utils
import urllib3
import urllib3.exceptions

from . import _sdk
from .config import ConfigError, SentryConfig

L = logging.getLogger(__name__)

USAGE = "python -m asab_sentry check -c CONFIG [--app-class NAME] [--timeout SECONDS]"


class CheckFailed(Exception):
	"""The check cannot succeed; the message is the one line printed."""


def main(argv: typing.Sequence[str], out=None) -> int:
	"""
	Run the check.

	Args:
		argv: The command's arguments (after `check`).
		out: Where to print (stdout by default).

	Returns:
		The exit code: 0 when the server accepted the test event, 1 when not, 2 for bad usage.
	"""
	out = out or sys.stdout
	parser = argparse.ArgumentParser(prog="python -m asab_sentry check", description="Verify the Sentry set-up of an ASAB service: send one test event and show the server's answer.")
	parser.add_argument("-c", "--config", required=True, help="the service's configuration file")
	parser.add_argument("--app-class", default="Application", help="the service's application class name (for the appclass tag and the default release)")
	parser.add_argument("--timeout", type=float, default=10.0, help="seconds to wait for the server's answer (default 10)")
	try:
		args = parser.parse_args(list(argv))
	except SystemExit as e:
		return int(e.code or 0) and 2
	try:
		config, service = _load(args.config, args.app_class, out)
		event_id, envelope = _test_event(service)
		print("test event:     {}".format(event_id), file=out)
		answer = send(config.dsn, envelope, args.timeout)
	except CheckFailed as e:
		print("FAILED: {}".format(e), file=out)
		return 1
	except Exception as e:  # a bug here must still end in one line
		print("FAILED: unexpected error in the check: {!r}".format(e), file=out)
		return 1
	print("server answer:  {}".format(answer), file=out)
	print("OK: the server accepted event {}".format(event_id), file=out)
	return 0


def _load(path: str, app_class: str, out) -> typing.Tuple[SentryConfig, typing.Any]:
	import asab
	from .service import SentryService
	from .testing import MemoryTransport

	if not os.path.isfile(path):
		raise CheckFailed("cannot read the configuration file '{}'".format(path))
	problems = _Problems()
	logging.getLogger("asab_sentry").addHandler(problems)
	try:
		cls = type(app_class, (asab.Application,), {})
		app = cls(args=["-c", path])
		if "sentry" not in asab.Config.sections():
			raise CheckFailed("no [sentry] section in '{}': asab_sentry.Module would not start the service".format(path))
		try:
			config = SentryConfig.load(app)
		except ConfigError as e:
			raise CheckFailed(str(e)) from None
		_print_settings(config, out)
		if not config.enabled:
			raise CheckFailed("Sentry is disabled by [sentry] enabled / SENTRY_ENABLED")
		if config.dsn == "":
			raise CheckFailed("no DSN: set [sentry] data_source_name or SENTRY_DSN")
		try:
			service = SentryService(app, transport=MemoryTransport())
		except SystemExit as e:
			raise CheckFailed(str(e).replace("asab-sentry: ", "", 1)) from None
		print("integrations:   {}".format(", ".join(sorted(sentry_sdk.get_client().integrations))), file=out)
	finally:
		logging.getLogger("asab_sentry").removeHandler(problems)
	for line in problems.Lines + _advice(config):
		print("problem:        {}".format(line), file=out)
	return config, service


def _print_settings(config: SentryConfig, out) -> None:
	rows = [
		("dsn", config.masked_dsn or "(none)"),
		("environment", config.environment),
		("release", config.release or "(none)"),
		("sample rates", "errors {}, traces {}, profiles {}".format(config.sample_rate, config.traces_sample_rate, config.profiles_sample_rate)),
		("spool", "{} (max {} bytes)".format(config.spool_dir, config.spool_max_size) if config.spool_dir else "off (memory)"),
		("configured", "integrations: {}; disabled: {}{}".format(
			", ".join(config.integrations) or "-", ", ".join(config.disabled_integrations) or "-",
			"".join("; {} {}".format(name, dict(options)) for name, options in config.integration_options),
		)),
		("logs", "on, from {}".format(logging.getLevelName(config.logs_level).lower()) if config.enable_logs else "off"),
	]
	for name, value in rows:
		print("{:<15} {}".format(name + ":", value), file=out)


def _advice(config: SentryConfig) -> typing.List[str]:
	lines = []
	if config.environment == "not specified":
		lines.append("no environment: set [sentry] environment (or SENTRY_ENVIRONMENT, SITE_ID)")
	if config.release is None:
		lines.append("no release: set [sentry] release or ship a MANIFEST.json with a version")
	if config.profiles_sample_rate > 0 and config.traces_sample_rate == 0:
		lines.append("profiles_sample_rate > 0 with traces_sample_rate 0: profiles are made only during sampled transactions")
	if config.dsn.startswith("http://") and sentry_sdk.utils.Dsn(config.dsn).host not in ("127.0.0.1", "localhost", "::1"):
		lines.append("the DSN uses http://: events and the key travel unencrypted")
	if config.spool_dir and not _writable(config.spool_dir):
		lines.append("spool_dir '{}' is not a writable directory".format(config.spool_dir))
	return lines


def _writable(path: str) -> bool:
	while not os.path.exists(path):
		parent = os.path.dirname(os.path.abspath(path))
		if parent == path:
			return False
		path = parent
	return os.path.isdir(path) and os.access(path, os.W_OK | os.X_OK)


def _test_event(service) -> typing.Tuple[str, bytes]:
	event_id = service.capture_message("asab-sentry check: test event", level="info")
	envelopes = list(_transport().Envelopes)
	if event_id is None or not envelopes:
		raise CheckFailed("the test event was not sent: dropped by sample_rate, ignore_errors or an event processor")
	return event_id, envelopes[-1].serialize()


def _transport():
	"""The transport of the running client (the check's `MemoryTransport`)."""
	return sentry_sdk.get_client().transport


class _Problems(logging.Handler):
	"""Collects what asab-sentry complains about while it starts."""

	def __init__(self):
		super().__init__(logging.WARNING)
		self.Lines: typing.List[str] = []

	def emit(self, record: logging.LogRecord) -> None:
		self.Lines.append(record.getMessage())


def send(dsn: str, body: bytes, timeout: float) -> str:
	"""
	POST one envelope to the DSN's server and describe the answer.

	Returns:
		The answer of a server that accepted it (status and body).

	Raises:
		CheckFailed: Anything else, as one line: DNS failure, connection refused, TLS error,
			timeout, 401/403, 413, 429, other statuses.
	"""
	parsed = sentry_sdk.utils.Dsn(dsn)
	url, auth_header = _sdk.envelope_endpoint(parsed)
	headers = {
		"Content-Type": "application/x-sentry-envelope",
		"Content-Encoding": "gzip",
		"X-Sentry-Auth": auth_header,
		"User-Agent": "asab-sentry-check sentry.python/{}".format(sentry_sdk.consts.VERSION),
	}
	where = "{}:{}".format(parsed.host, parsed.port)
	try:
		import certifi
		pool = urllib3.PoolManager(cert_reqs="CERT_REQUIRED", ca_certs=certifi.where())
	except ImportError:
		pool = urllib3.PoolManager()
	try:
		response = pool.request(
			"POST", str(url), body=gzip.compress(body), headers=headers,
			timeout=urllib3.Timeout(connect=timeout, read=timeout), retries=False, redirect=False,
		)
	except Exception as e:
		raise CheckFailed(describe_error(e, where, timeout)) from None
	text = response.data.decode("utf-8", "replace").strip()[:300]
	status = response.status
	if 200 <= status < 300:
		return "HTTP {} {}".format(status, text)
	if status in (401, 403):
		reason = "wrong key or project"
	elif status == 413:
		reason = "the event is too large for the server"
	elif status == 429:
		retry = response.headers.get("Retry-After") or response.headers.get("X-Sentry-Rate-Limits") or "?"
		reason = "rate limited (retry after {})".format(retry)
	elif status >= 500:
		reason = "server error"
	else:
		reason = "refused"
	raise CheckFailed("{} answered HTTP {}: {}{}".format(where, status, reason, " ({})".format(text) if text else ""))


def describe_error(error: Exception, where: str, timeout: float) -> str:
	"""One line for a failed request: DNS, refused, TLS, timeout or other."""
	chain = []
	e: typing.Optional[BaseException] = error
	while e is not None and e not in chain:
		chain.append(e)
		reason = getattr(e, "reason", None)  # urllib3 keeps the cause here (ssl keeps a str)
		e = reason if isinstance(reason, BaseException) else (e.__cause__ or e.__context__)
	for e in chain:
		if isinstance(e, socket.gaierror) or type(e).__name__ == "NameResolutionError":
			return "DNS failure: cannot resolve {} ({})".format(where.rsplit(":", 1)[0], e)
	for e in chain:
		# Before timeouts: urllib3's NewConnectionError is a subclass of its ConnectTimeoutError.
		if isinstance(e, ConnectionRefusedError) or "Connection refused" in str(e):
			return "connection refused by {}: is the server running?".format(where)
	for e in chain:
		if isinstance(e, (urllib3.exceptions.SSLError, ssl.SSLError)):
			return "TLS error talking to {}: {}".format(where, e)
		if isinstance(e, (urllib3.exceptions.TimeoutError, socket.timeout)):
			return "timeout: {} did not answer within {:g} s".format(where, timeout)
	return "cannot reach {}: {}".format(where, error)
