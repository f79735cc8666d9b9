"""
The delivery transport: a sentry-sdk `Transport` that stores each envelope (in memory, or in the
durable spool) and sends from the store in a background thread, with retry and backoff.

What sentry-sdk's own HTTP transport does differently, and why this one exists: it drops an
envelope when the server is unreachable or answers 5xx, drops new envelopes when its 100-slot
queue is full, lets a server that never answers hold its worker 30 s per envelope, and drops
everything under a rate limit. Here:

- `capture_envelope()` only stores (never touches the network), so a capture in the event loop's
thread never waits on the server.
- Connection errors, timeouts, 408 and 5xx are retried, with exponential backoff up to a minute.
- 429 and `X-Sentry-Rate-Limits` are honoured by waiting: error events stay stored until the limit
ends; transactions, sessions and other sampled telemetry under a limit are dropped and counted,
as the SDK does.
- Other 4xx (bad request, bad key, too large) cannot succeed on retry: dropped, counted, logged.
- Store bounds drop the oldest first; every loss is counted by reason (`stats.DeliveryStats`).

Sending uses urllib3 (what sentry-sdk itself uses) with sentry-sdk's DSN and auth helpers.
"""

import gzip
import logging
import random
import threading
import time
import typing
import urllib.request

import certifi
import sentry_sdk.consts
import sentry_sdk.envelope
import sentry_sdk.transport
import urllib3

from .spool import DiskSpool, MemoryQueue
from .stats import DeliveryStats

L = logging.getLogger(__name__)

#: Categories whose envelopes wait out a rate limit; others are dropped under one.
DURABLE_CATEGORIES = frozenset(("error", "default", "attachment", "security", "user_report"))

CONNECT_TIMEOUT = 5.0
READ_TIMEOUT = 10.0
BACKOFF_MIN = 1.0
BACKOFF_MAX = 60.0
DEFAULT_RETRY_AFTER = 60.0
#: Without a spool, at most this many bytes of envelopes wait in memory.
MEMORY_QUEUE_SIZE = 16 * 1024 * 1024


class DeliveryTransport(sentry_sdk.transport.Transport):
	"""
	Store-then-send transport. Built by the service; pass the store (`MemoryQueue` or `DiskSpool`).

	Args:
		options: sentry-sdk's client options (the SDK passes them when it builds the transport).
		store: Where envelopes wait.
		stats: The counters to update.
	"""

	def __init__(self, options: dict, store: typing.Union[MemoryQueue, DiskSpool], stats: DeliveryStats):
		super().__init__(options)
		self.Store = store
		self.Stats = stats
		if self.parsed_dsn is None:
			raise ValueError("the delivery transport needs a DSN")
		auth = self.parsed_dsn.to_auth("sentry.python/{}".format(sentry_sdk.consts.VERSION))
		self.Url = auth.get_api_url(sentry_sdk.consts.EndpointType.ENVELOPE)
		self._Headers = {
			"Content-Type": "application/x-sentry-envelope",
			"Content-Encoding": "gzip",
			"X-Sentry-Auth": auth.to_header(),
			"User-Agent": "asab-sentry sentry.python/{}".format(sentry_sdk.consts.VERSION),
		}
		self._Pool = _pool(options, self.Url)
		self._Wake = threading.Condition()
		self._Stopping = False
		self._Busy = False
		self._Limits: typing.Dict[typing.Optional[str], float] = {}  # category (None = all) -> monotonic end
		self._Thread = threading.Thread(target=self._run, name="asab-sentry-sender", daemon=True)
		self._Thread.start()

	# The SDK's side

	def capture_envelope(self, envelope: sentry_sdk.envelope.Envelope) -> None:
		"""Store the envelope and wake the sender; never waits on the network."""
		self.Stats.add("captured")
		try:
			self.Store.put(envelope.serialize(), _category(envelope))
		except Exception as e:
			self.Stats.drop("store_error")
			L.warning("Cannot store a Sentry envelope ({}); it is lost.".format(e))
			return
		with self._Wake:
			self._Wake.notify()

	def flush(self, timeout: float, callback=None) -> None:
		"""Wait until everything stored is sent (or refused), or `timeout` seconds pass."""
		deadline = time.monotonic() + timeout
		with self._Wake:
			self._Wake.notify()
			while (len(self.Store) > 0 or self._Busy) and not self._Stopping:
				remaining = deadline - time.monotonic()
				if remaining <= 0 or self._held_past(deadline):
					break
				self._Wake.wait(min(remaining, 0.1))

	def kill(self) -> None:
		"""Stop the sender. What is not sent stays in the store (on disk, for the next start)."""
		with self._Wake:
			self._Stopping = True
			self._Wake.notify_all()
		self._Thread.join(timeout=1.0)
		try:
			self.Store.sync()
		except OSError:
			pass
		self.Store.close()

	def is_healthy(self) -> bool:
		"""False while the server limits or refuses everything."""
		return self._Limits.get(None, 0) <= time.monotonic()

	def record_lost_event(self, reason: str, data_category=None, item=None, *, quantity: int = 1) -> None:
		"""Count what the SDK lost before the transport; sampling and filtering by design are not losses."""
		if reason not in _FILTERED and data_category not in ("span", None):
			self.Stats.drop(str(reason))

	# The sender thread

	def _run(self) -> None:
		backoff = 0.0
		while True:
			with self._Wake:
				if self._Stopping:
					return
				# Busy from here until idle, so a flush never sees an empty store whose last
				# envelopes are still being counted (dropped under a rate limit, or sent).
				self._Busy = True
			try:
				self.Store.sync()
				found = self.Store.peek(skip=self._limited())
				if found is None:
					with self._Wake:
						self._Busy = False
						self._Wake.notify_all()
						if not self._Stopping:
							self._Wake.wait(self._next_limit_end(default=1.0))
					continue
				item, body = found
				outcome = self._send(item, body)
				if outcome == "retry":
					self.Stats.add("retried")
					backoff = min(BACKOFF_MAX, max(BACKOFF_MIN, backoff * 2))
					self._sleep(backoff * random.uniform(0.8, 1.2))
				else:
					backoff = 0.0
			except Exception as e:  # never let the sender die
				L.warning("Sentry sender error: {!r}".format(e))
				self._sleep(BACKOFF_MIN)

	def _send(self, item, body: bytes) -> str:
		try:
			response = self._Pool.request(
				"POST", self.Url, body=gzip.compress(body, 6), headers=self._Headers, retries=False,
				timeout=urllib3.Timeout(connect=CONNECT_TIMEOUT, read=READ_TIMEOUT), preload_content=True,
			)
		except Exception as e:
			L.debug("Sentry server unreachable ({}); will retry.".format(e))
			return "retry"
		status = response.status
		self._update_limits(response.headers, status)
		if 200 <= status < 300:
			self.Store.remove(item)
			self.Stats.add("sent")
			return "sent"
		if status == 429:
			return "held"  # the limit is recorded; the next pass drops it if not worth keeping
		if status == 408 or status >= 500:
			return "retry"
		self.Store.remove(item)
		self.Stats.drop("rejected")
		L.warning("Sentry server refused an envelope ({} {}); it is dropped.".format(status, response.reason))
		return "dropped"

	# Rate limits

	def _update_limits(self, headers, status: int) -> None:
		now = time.monotonic()
		header = headers.get("X-Sentry-Rate-Limits")
		if header:
			for limit in header.split(","):
				parts = limit.strip().split(":")
				try:
					seconds = float(parts[0])
				except (ValueError, IndexError):
					continue
				categories = parts[1].split(";") if len(parts) > 1 and parts[1] else [None]
				for category in categories:
					self._Limits[category or None] = max(self._Limits.get(category or None, 0), now + seconds)
		elif status == 429:
			try:
				seconds = float(headers.get("Retry-After", DEFAULT_RETRY_AFTER))
			except ValueError:
				seconds = DEFAULT_RETRY_AFTER
			self._Limits[None] = now + seconds
		for category, end in list(self._Limits.items()):  # forget limits that ended
			if end <= now:
				del self._Limits[category]

	def _limited(self) -> typing.AbstractSet[typing.Optional[str]]:
		"""
		Categories that may not be sent now (sender thread only): limited envelopes that are not
		worth keeping (transactions, sessions, ...) are dropped on the way, and counted.
		"""
		now = time.monotonic()
		active = {c for c, end in list(self._Limits.items()) if end > now}
		if not active:
			return set()
		limited: typing.AbstractSet[typing.Optional[str]] = _ALL if None in active else active
		dropped = self.Store.drop_where(lambda item: item.category in limited and item.category not in DURABLE_CATEGORIES)
		if dropped:
			self.Stats.drop("ratelimit", dropped)
		return limited

	def _next_limit_end(self, default: float) -> float:
		now = time.monotonic()
		ends = [end - now for end in list(self._Limits.values()) if end > now]
		return max(0.05, min([default] + ends))

	def _held_past(self, deadline: float) -> bool:
		"""
		True when everything left waits on rate limits that end after `deadline`, so a flush need not
		wait for it (it stays stored). Read-only: called from the flushing thread.
		"""
		if self._Busy:
			return False
		categories = self.Store.categories()
		if not categories:
			return False
		now = time.monotonic()
		for category in categories:
			end = max(self._Limits.get(category, 0.0), self._Limits.get(None, 0.0))
			if end <= deadline or category not in DURABLE_CATEGORIES:
				return False  # sendable in time, or about to be dropped by the sender
			if end <= now:
				return False
		return True

	def _sleep(self, seconds: float) -> None:
		with self._Wake:
			if not self._Stopping:
				self._Wake.wait(seconds)


_FILTERED = frozenset(("sample_rate", "before_send", "event_processor", "backpressure"))


class _All(frozenset):
	"""Every category (for a limit on all of them)."""

	def __contains__(self, item) -> bool:
		return True


_ALL = _All()


def build(options: dict, spool_dir: str, max_size: int, stats: DeliveryStats) -> DeliveryTransport:
	"""
	The delivery transport for a config: a durable spool in `spool_dir`, or memory when it is empty.

	Raises:
		SpoolError: The spool directory cannot be used.
	"""
	store = DiskSpool(spool_dir, max_size, stats) if spool_dir else MemoryQueue(MEMORY_QUEUE_SIZE, stats)
	return DeliveryTransport(options, store, stats)



def _category(envelope: sentry_sdk.envelope.Envelope) -> str:
	categories = [item.data_category for item in envelope.items]
	if "error" in categories:
		return "error"
	return str(categories[0]) if categories else "default"


def _pool(options: dict, url: str) -> urllib3.PoolManager:
	"""A connection pool honouring the SDK's `ca_certs`, `http_proxy`/`https_proxy` options and the environment's proxies."""
	kwargs: typing.Dict[str, typing.Any] = dict(num_pools=2, cert_reqs="CERT_REQUIRED", ca_certs=options.get("ca_certs") or certifi.where())
	scheme = url.split(":", 1)[0]
	proxy = options.get("{}_proxy".format(scheme)) or options.get("http_proxy")
	if proxy is None:
		proxies = urllib.request.getproxies()
		if not urllib.request.proxy_bypass(urllib3.util.parse_url(url).host or ""):
			proxy = proxies.get(scheme)
	if proxy:
		return urllib3.ProxyManager(proxy, **kwargs)
	return urllib3.PoolManager(**kwargs)
