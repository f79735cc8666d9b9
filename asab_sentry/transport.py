"""
The delivery transport: a sentry-sdk `Transport` that stores each envelope (in memory, or in the
durable spool) and sends from the store with a few background threads, with retry and backoff.

What sentry-sdk's own HTTP transport does differently, and why this one exists: it drops an
envelope when the server is unreachable or answers 5xx, drops new envelopes when its 100-slot
queue is full, and lets a server that never answers hold its worker 30 s per envelope. Here:

- `capture_envelope()` only stores (never touches the network), so a capture in the event loop's
thread never waits on the server. Without a spool it only queues the SDK's envelope object: a
sender serialises and compresses it. With a spool it serialises and appends it to the spool's
segment file before it returns (the durability promise: a killed process loses nothing it returned
an id for).
- Which envelope goes next and what an answer does is decided by `scheduler.Scheduler`, the one
owner of the delivery state (retry in rounds with a per-envelope budget, a shared backoff that
captures never shorten, rate limits; see there).
- Requests: `POOL_SIZE` sender threads on keep-alive connections, gzip at level 1; how a request
goes over the wire (TLS and proxies as sentry-sdk configures them) is `sender.py`.
- A sender's own bug is logged at ERROR once with its traceback (the plugin's loggers never become
events) and the envelope is dropped (`internal_error`), never retried forever.
- At close, what is left in memory is counted as dropped (`at_exit`); what is in the spool stays for
the next start. The delivery summary is logged then, once.
"""

import gzip
import json
import logging
import threading
import time
import typing

import asab
import sentry_sdk.envelope
import sentry_sdk.transport

from . import _sdk
from . import scheduler as sched
from .scheduler import Entry, Scheduler
from .sender import NETWORK_ERRORS, POOL_SIZE, failure_kind, make_sender
from .spool import SEGMENT_SIZE, DiskSpool
from .stats import DeliveryStats

L = logging.getLogger(__name__)

GZIP_LEVEL = 1
#: Without a spool, at most this many bytes of envelopes wait in memory.
MEMORY_QUEUE_SIZE = 16 * 1024 * 1024
#: The size counted for an envelope in memory until a sender has serialised it.
SIZE_ESTIMATE = 4096
#: At most this many envelopes wait unserialised; past it (the server is slow or down) the caller
#: serialises, so the memory bound counts real sizes.
LAZY_MAX = 256
#: The senders fsync what was spooled at most this often (seconds): the bound on what a power cut
#: can take; a process killed loses nothing written either way.
SYNC_INTERVAL = 0.5
#: A warning about the same kind of failure is repeated at most this often (seconds).
WARNING_INTERVAL = 600.0


class Clock(object):
	"""Where the transport reads the time; tests pass a fake one."""

	def monotonic(self) -> float:
		"""Seconds for intervals."""
		return time.monotonic()

	def time(self) -> float:
		"""Unix seconds (an envelope's age survives a restart)."""
		return time.time()


class DeliveryTransport(sentry_sdk.transport.Transport):
	"""
	Store-then-send transport. Built by `build()`.

	Args:
		options: sentry-sdk's client options (`dsn`; TLS and proxy options as the SDK names them).
		spool: The durable spool, or None to keep envelopes in memory.
		stats: The counters to update.
		max_retry_age: Seconds an envelope that keeps failing is retried.
		sender: What sends (an `HttpSender` by default; tests pass a scripted one).
		clock: The time source (a `Clock` by default; tests pass a fake one).
		threads: Sender threads; 0 for none (tests call `pump()` instead).
	"""

	def __init__(
		self, options: dict, spool: typing.Optional[DiskSpool], stats: DeliveryStats,
		max_retry_age: float = sched.DEFAULT_MAX_RETRY_AGE, sender=None, clock: typing.Optional[Clock] = None,
		threads: int = POOL_SIZE, max_size: int = MEMORY_QUEUE_SIZE,
	):
		super().__init__(options)
		endpoint = _sdk.transport_endpoint(self)
		if endpoint is None:
			raise ValueError("the delivery transport needs a DSN")
		self.Spool = spool
		self.Stats = stats
		self.Clock = clock or Clock()
		if sender is None:
			sender = make_sender(*endpoint, options)
		self.Sender = sender
		self.Scheduler = Scheduler(
			stats, max_size, max_retry_age=max_retry_age, evicted_reason="spool_full" if spool is not None else "queue_full",
			on_delete=self._delete, max_in_flight=max(1, threads),
		)
		self._Warned: typing.Dict[str, float] = {}
		self._LastSync = float("-inf")
		self._Stopping = False
		self._Closed = False
		if spool is not None:
			for found in spool.load():
				self.Scheduler.add(Entry(found.category, found.size, found.created, key=found.key))
		self._Threads = [threading.Thread(target=self._work, name="asab-sentry-sender-{}".format(i), daemon=True) for i in range(threads)]
		for thread in self._Threads:
			thread.start()

	# The SDK's side

	def capture_envelope(self, envelope: sentry_sdk.envelope.Envelope) -> None:
		"""Store the envelope and wake a sender; never waits on the network."""
		self.Stats.add("captured")
		category = _category(envelope)
		if not self.Scheduler.admit(category, self.Clock.monotonic()):
			return
		if self.Spool is None:
			if self.Scheduler.Lazy < LAZY_MAX:
				# Serialised by a sender, off the caller's thread (what sentry-sdk's own transport does too).
				self.Scheduler.add(Entry(category, SIZE_ESTIMATE, self.Clock.time(), body=envelope))
			else:
				body = envelope.serialize()
				self.Scheduler.add(Entry(category, len(body), self.Clock.time(), body=body))
			return
		# With a spool the envelope is on disk before the capture returns: it survives a kill.
		body = envelope.serialize()
		entry = Entry(category, len(body), self.Clock.time(), body=body)
		try:
			entry.key = self.Spool.write(body, category)
			entry.body = None
			self.Stats.add("spooled")
		except OSError as e:
			self.Stats.add("unspooled")
			self._warn("spool:{}".format(e.errno), "Cannot write to the Sentry spool '{}' ({}); envelopes are kept in memory and sent from there meanwhile.".format(self.Spool.Directory, e.strerror or e))
		self.Scheduler.add(entry)

	def flush(self, timeout: float, callback=None) -> None:
		"""Wait until everything stored is sent (or refused), or `timeout` seconds pass, or what is left waits past it."""
		deadline = time.monotonic() + timeout
		lock = self.Scheduler.Lock
		with lock:
			lock.notify_all()
		while not self._Stopping:
			remaining = deadline - time.monotonic()
			if remaining <= 0:
				return
			now = self.Clock.monotonic()
			if self.Scheduler.settled(now + remaining, now):
				return
			with self.Scheduler.Changed:
				self.Scheduler.Changed.wait(min(remaining, 0.05))

	def kill(self) -> None:
		"""
		Stop the senders; what is in the spool stays for the next start, what is in memory is
		counted as dropped (`at_exit`). Logs the delivery summary, once.
		"""
		lock = self.Scheduler.Lock
		with lock:
			if self._Closed:
				return
			self._Closed = True
			self._Stopping = True
			lock.notify_all()
		deadline = time.monotonic() + 1.0
		for thread in self._Threads:
			thread.join(timeout=max(0.0, deadline - time.monotonic()))
		left = self.Scheduler.drain()
		in_memory = sum(1 for entry in left if not entry.durable)
		if in_memory:
			self.Stats.drop("at_exit", in_memory)
		if self.Spool is not None:
			try:
				self.Spool.sync()
			except OSError:
				pass
			self.Spool.close()
		try:
			self.Sender.close()
		except Exception:
			pass
		L.log(asab.LOG_NOTICE, self.Stats.summary(len(left) - in_memory))

	def is_healthy(self) -> bool:
		"""False while the server limits everything or the backoff after failures runs."""
		return self.Scheduler.healthy(self.Clock.monotonic())

	def record_lost_event(self, reason: str, data_category=None, item=None, *, quantity: int = 1) -> None:
		"""Count what the SDK lost before the transport; sampling and filtering by design are not losses."""
		if reason not in _sdk.FILTERED_LOSS_REASONS and data_category not in ("span", None):
			self.Stats.drop(str(reason))

	def pending(self) -> int:
		"""How many envelopes wait to be sent."""
		return self.Scheduler.pending()

	# The sender threads

	def _work(self) -> None:
		lock = self.Scheduler.Lock
		while True:
			try:
				with lock:
					while True:
						if self._Stopping:
							return
						entry, wait = self.Scheduler.next(self.Clock.monotonic(), self.Clock.time())
						if entry is not None:
							break
						lock.wait(1.0 if wait is None else min(wait + 0.001, 1.0))
				self._sync()
				self._attempt(entry)
			except Exception:
				self._error("The Sentry sender failed")
				time.sleep(1.0)

	def pump(self) -> bool:
		"""One sender step in the calling thread (for tests with `threads=0`): True when an envelope was tried."""
		entry, _ = self.Scheduler.next(self.Clock.monotonic(), self.Clock.time())
		if entry is None:
			return False
		self._attempt(entry)
		return True

	def _attempt(self, entry: Entry) -> None:
		status = 0
		headers: typing.Mapping[str, str] = {}
		try:
			if entry.body is None:
				body = self.Spool.read(entry.key)  # type: ignore[union-attr,arg-type]
			elif isinstance(entry.body, bytes):
				body = entry.body
			else:
				body = entry.body.serialize()
				self.Scheduler.serialized(entry, body)
		except FileNotFoundError as e:
			outcome = sched.GONE
			self._warn("spool:gone", "A spooled Sentry envelope disappeared before it was sent ('{}': {}); counted as spool_missing.".format(entry.key, e.strerror or e))
		except OSError as e:
			outcome = sched.UNREADABLE
			self._warn("spool-read:{}".format(e.errno), "Cannot read a spooled Sentry envelope now ({}); it is kept and tried again.".format(e.strerror or e))
		else:
			if not _is_envelope(body):
				outcome = sched.CORRUPT
				kept = self.Spool.quarantine(entry.key)  # type: ignore[union-attr,arg-type]
				self._warn("spool:corrupt", "A spooled Sentry envelope is corrupt; it is kept as '{}' and not sent.".format(kept))
			else:
				outcome, status, headers = self._send(body)
		self.Scheduler.done(entry, outcome, self.Clock.monotonic(), status, headers)

	def _send(self, body: bytes) -> typing.Tuple[str, int, typing.Mapping[str, str]]:
		try:
			answer = self.Sender.send(gzip.compress(body, GZIP_LEVEL))
		except NETWORK_ERRORS as e:
			kind, text = failure_kind(e)
			self._warn("net:" + kind, "Sentry server unreachable ({}: {}); envelopes are kept and retried.".format(kind, text))
			return sched.FAILED, 0, {}
		except Exception:
			self._error("Sending an envelope to Sentry failed on a bug; the envelope is dropped")
			return sched.ERROR, 0, {}
		status = answer.status
		if 200 <= status < 300:
			return sched.SENT, status, answer.headers
		if status == 429:
			return sched.LIMITED, status, answer.headers
		if status == 408 or status >= 500:
			self._warn("status:{}".format(status), "Sentry server answered {} {}; envelopes are kept and retried.".format(status, answer.reason))
			return sched.FAILED, status, answer.headers
		L.warning("Sentry server refused an envelope ({} {}); it is dropped.".format(status, answer.reason))
		return sched.REJECTED, status, answer.headers

	def _sync(self) -> None:
		"""fsync the spool's new files, at most every `SYNC_INTERVAL` (one fsync per attempt made the spool the bottleneck)."""
		if self.Spool is not None:
			now = self.Clock.monotonic()
			if now - self._LastSync < SYNC_INTERVAL:
				return
			self._LastSync = now
			try:
				self.Spool.sync()
			except OSError as e:
				self._warn("sync:{}".format(e.errno), "Cannot fsync the Sentry spool ({}).".format(e.strerror or e))

	def _delete(self, entry: Entry) -> None:
		if entry.key is not None and self.Spool is not None:
			self.Spool.delete(entry.key)

	def _warn(self, kind: str, message: str) -> None:
		"""A WARNING, once per kind of failure and then at most every WARNING_INTERVAL."""
		now = time.monotonic()
		with self.Scheduler.Lock:
			last = self._Warned.get(kind)
			if last is not None and now - last < WARNING_INTERVAL:
				return
			self._Warned[kind] = now
		L.warning(message)

	def _error(self, message: str) -> None:
		"""An ERROR with the traceback, once per process of this transport (the logger is never sent to Sentry)."""
		with self.Scheduler.Lock:
			if "bug" in self._Warned:
				return
			self._Warned["bug"] = time.monotonic()
		L.error(message, exc_info=True)


def build(options: dict, spool_dir: str, max_size: int, stats: DeliveryStats, max_retry_age: float = sched.DEFAULT_MAX_RETRY_AGE) -> DeliveryTransport:
	"""
	The delivery transport for a config: a durable spool in `spool_dir`, or memory when it is empty.

	Raises:
		SpoolError: The spool directory cannot be used.
	"""
	if not spool_dir:
		return DeliveryTransport(options, None, stats, max_retry_age=max_retry_age, max_size=MEMORY_QUEUE_SIZE)
	# A segment is deleted when all its envelopes are gone, so the disk holds up to one segment of
	# envelopes already sent or dropped, and a header per envelope: both kept inside `spool_max_size`.
	segment_size = max(4096, min(SEGMENT_SIZE, max_size // 16))
	spool = DiskSpool(spool_dir, segment_size)
	try:
		return DeliveryTransport(options, spool, stats, max_retry_age=max_retry_age, max_size=max(1, max_size - 2 * segment_size))
	except BaseException:
		if spool is not None:
			spool.close()
		raise


def _category(envelope: sentry_sdk.envelope.Envelope) -> str:
	categories = [item.data_category for item in envelope.items]
	if "error" in categories:
		return "error"
	return str(categories[0]) if categories else "default"


def _is_envelope(body: bytes) -> bool:
	"""True when `body` starts with an envelope header (a JSON object on the first line)."""
	try:
		return isinstance(json.loads(body.split(b"\n", 1)[0] or b"null"), dict)
	except ValueError:
		return False
