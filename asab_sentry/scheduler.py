"""
Which envelope is sent next, and what an answer does to the rest: the delivery state's one owner.

The scheduler holds every stored envelope's entry (in capture order), the server's rate limits,
the backoff after failures and each envelope's retry budget. It has one lock: `Lock` (the
condition the sender threads wait on) and `Changed` (the condition flushes wait on) share it, and
every method takes it, so the capturing threads and the sender threads never see half an update. Time comes from the caller (`now`,
monotonic; `wall`, Unix seconds), so tests drive it with a fake clock.

Rules:
- Retry in rounds, not head of line: an envelope whose request failed (5xx, 408, network error)
waits its own backoff (1 s doubling to an hour) while the others go on; after `max_attempts`
failed attempts or `max_retry_age` since its capture it is dropped (`expired`).
- After a failed request no request at all goes out until the shared backoff ends (1 s doubling
to 60 s, or the server's `Retry-After`): new captures never shorten it.
- Rate limits (429, `X-Sentry-Rate-Limits`): error-like envelopes wait them out; other categories
(transactions, sessions...) are dropped at capture and, under a limit of their category, on the
way; counted per category. Under a limit on every category what is stored simply waits.
- Concurrency: one request at a time, so envelopes arrive in capture order, until more than
`parallel_above` wait (the sender is behind): then up to `max_in_flight` at a time, but still one
at a time until the server has answered (so its rate limits are known before a burst goes out)
and after a failure.
- Bounded by total size: past it the oldest envelope not in flight is dropped and counted.
- Queries (`pending()`, `settled()`, `healthy()`) never change anything.
"""

import logging
import threading
import typing

from .ratelimits import Backoff, RateLimits, parse_retry_after
from .stats import DeliveryStats

L = logging.getLogger(__name__)

#: Categories whose envelopes wait out a rate limit; others are dropped under one.
DURABLE_CATEGORIES = frozenset(("error", "default", "attachment", "security", "user_report"))

DEFAULT_MAX_RETRY_AGE = 86400.0
DEFAULT_MAX_ATTEMPTS = 20
#: An envelope's own backoff after a failed attempt: 2 ** attempts seconds, at most this.
ENTRY_BACKOFF_MAX = 3600.0
#: How long an envelope whose file cannot be read now (EMFILE, EIO...) waits before the next try.
UNREADABLE_RETRY = 5.0

# What an attempt came to (the transport tells the scheduler).
SENT = "sent"  # 2xx
REJECTED = "rejected"  # a 4xx that cannot succeed on retry
LIMITED = "limited"  # 429
FAILED = "failed"  # 5xx, 408, network error: retry
ERROR = "error"  # a bug while sending: dropped, never retried
GONE = "gone"  # the spool file disappeared
UNREADABLE = "unreadable"  # the spool file cannot be read now: retry
CORRUPT = "corrupt"  # the spool file is not an envelope


class Entry(object):
	"""
	One stored envelope: on disk (`key`) or in memory (`body`: its bytes, or the SDK's envelope
	object until a sender serialises it off the caller's thread).
	"""

	__slots__ = ("seq", "key", "body", "category", "size", "created", "attempts", "not_before", "in_flight")

	def __init__(self, category: str, size: int, created: float, key: typing.Optional[str] = None, body: typing.Any = None):
		self.seq = 0
		self.key = key
		self.body = body
		self.category = category
		self.size = size
		self.created = created  # wall-clock seconds of the capture
		self.attempts = 0
		self.not_before = 0.0  # monotonic
		self.in_flight = False

	@property
	def durable(self) -> bool:
		"""True when the envelope is in the spool (it survives the process)."""
		return self.key is not None


class Scheduler(object):
	"""
	The delivery state. See the module's docstring.

	Args:
		stats: The counters to update.
		max_size: Bound on the total size of stored envelopes (bytes).
		max_retry_age: Seconds after its capture an envelope that keeps failing is dropped.
		max_attempts: Failed attempts after which an envelope is dropped.
		evicted_reason: The drop reason counted when the size bound evicts (`spool_full` or `queue_full`).
		on_delete: Called (under the scheduler's lock) with an entry that leaves the store, to delete its file.
		backoff: The shared backoff (tests pass one without jitter).
		max_in_flight: Requests at a time once the server answers, when more than `parallel_above` envelopes wait.
		parallel_above: Up to this many waiting envelopes are sent one at a time, in capture order.
	"""

	def __init__(
		self, stats: DeliveryStats, max_size: int, max_retry_age: float = DEFAULT_MAX_RETRY_AGE,
		max_attempts: int = DEFAULT_MAX_ATTEMPTS, evicted_reason: str = "queue_full",
		on_delete: typing.Callable[[Entry], None] = lambda entry: None,
		backoff: typing.Optional[Backoff] = None, max_in_flight: int = 1, parallel_above: int = 16,
	):
		mutex = threading.RLock()
		self.Lock = threading.Condition(mutex)  # the one lock; sender threads wait on it
		self.Changed = threading.Condition(mutex)  # the same lock; flushes wait on it for an attempt's end
		self.Stats = stats
		self.MaxSize = max_size
		self.MaxRetryAge = max_retry_age
		self.MaxAttempts = max_attempts
		self.EvictedReason = evicted_reason
		self.OnDelete = on_delete
		self.Limits = RateLimits()
		self.Backoff = backoff or Backoff()
		self.MaxInFlight = max(1, max_in_flight)
		self.ParallelAbove = parallel_above
		self.Window = 1  # requests allowed in flight now
		self.InFlight = 0
		self.Lazy = 0  # entries whose body is not serialised yet
		self._Entries: typing.Dict[int, Entry] = {}  # insertion (capture) order
		self._Size = 0
		self._Seq = 0

	# Capturing

	def admit(self, category: str, now: float) -> bool:
		"""False (and counted) when `category` is rate limited and not worth keeping: drop it at capture."""
		with self.Lock:
			if category in DURABLE_CATEGORIES or not self.Limits.limited(category, now):
				return True
			self.Stats.drop("ratelimit." + category)
			return False

	def add(self, entry: Entry) -> None:
		"""Store an entry, dropping the oldest (not in flight) past the size bound."""
		with self.Lock:
			self._Seq += 1
			entry.seq = self._Seq
			self._Entries[entry.seq] = entry
			self._Size += entry.size
			if _lazy(entry):
				self.Lazy += 1
			if self._Size > self.MaxSize:
				excess = self._Size - self.MaxSize
				victims = []
				for old in self._Entries.values():
					if excess <= 0 or old is entry:
						break
					if not old.in_flight:
						victims.append(old)
						excess -= old.size
				for old in victims:
					self._forget(old, self.EvictedReason)
			self.Lock.notify()

	# Sending (the transport's sender threads)

	def next(self, now: float, wall: float) -> typing.Tuple[typing.Optional[Entry], typing.Optional[float]]:
		"""
		The envelope to send now, marked in flight; or None and how long to wait (None: until notified).
		Drops on the way what has expired and what is rate limited and not worth keeping.
		"""
		with self.Lock:
			if self.Backoff.Until > now:
				return None, self.Backoff.Until - now
			window = self.Window if len(self._Entries) > self.ParallelAbove else 1
			if self.InFlight >= window:
				return None, None  # `done()` notifies
			everything = self.Limits.end(None, now)
			if everything > now:  # a limit on every category: nothing to walk (what is stored waits)
				return None, everything - now
			wake: typing.Optional[float] = None
			found: typing.Optional[Entry] = None
			doomed: typing.List[typing.Tuple[Entry, str]] = []
			for entry in self._Entries.values():  # no copy: a backlog of 10,000 is walked from its head
				if entry.in_flight:
					continue
				if wall - entry.created > self.MaxRetryAge:
					doomed.append((entry, "expired"))
					continue
				limit_end = self.Limits.end(entry.category, now)
				if limit_end > now:
					if entry.category not in DURABLE_CATEGORIES:
						doomed.append((entry, "ratelimit." + entry.category))
						continue
					wake = limit_end if wake is None else min(wake, limit_end)
					continue
				if entry.not_before > now:
					wake = entry.not_before if wake is None else min(wake, entry.not_before)
					continue
				found = entry
				break
			for entry, reason in doomed:
				self._forget(entry, reason)
			if found is not None:
				found.in_flight = True
				self.InFlight += 1
				return found, None
			return None, (None if wake is None else max(0.0, wake - now))

	def done(self, entry: Entry, outcome: str, now: float, status: int = 0, headers: typing.Mapping[str, str] = {}) -> None:
		"""Apply what an attempt came to (see the outcome constants)."""
		with self.Lock:
			entry.in_flight = False
			self.InFlight -= 1
			if outcome == FAILED:
				self.Window = 1
			elif outcome in (SENT, REJECTED, LIMITED):
				self.Window = self.MaxInFlight
			if status:
				self.Limits.update(status, headers, now)
			if outcome == SENT:
				self.Backoff.succeeded()
				self.Stats.add("sent")
				self._forget(entry, None)
			elif outcome == REJECTED:
				self.Backoff.succeeded()
				self._forget(entry, "rejected")
			elif outcome == LIMITED:
				self.Backoff.succeeded()
			elif outcome == FAILED:
				retry_after = parse_retry_after(headers.get("Retry-After")) if "Retry-After" in headers else 0.0
				self.Backoff.failed(now, retry_after)
				entry.attempts += 1
				entry.not_before = now + min(ENTRY_BACKOFF_MAX, 2.0 ** entry.attempts)
				if entry.attempts >= self.MaxAttempts:
					self._forget(entry, "expired")
				else:
					self.Stats.add("retried")
			elif outcome == ERROR:
				self._forget(entry, "internal_error")
			elif outcome == GONE:
				self._forget(entry, "spool_missing", delete=False)
			elif outcome == CORRUPT:
				self._forget(entry, "spool_corrupt", delete=False)
			elif outcome == UNREADABLE:
				entry.not_before = now + UNREADABLE_RETRY
			else:
				raise ValueError("unknown outcome {!r}".format(outcome))
			self.Lock.notify_all()
			self.Changed.notify_all()

	def serialized(self, entry: Entry, body: bytes) -> None:
		"""A sender serialised an in-memory envelope: keep the bytes, count their real size."""
		with self.Lock:
			if entry.seq in self._Entries:
				self._Size += len(body) - entry.size
				if _lazy(entry):
					self.Lazy -= 1
			entry.body = body
			entry.size = len(body)

	def drain(self) -> typing.List[Entry]:
		"""Forget every entry (at close) and return them; nothing is deleted or counted."""
		with self.Lock:
			entries = list(self._Entries.values())
			self._Entries.clear()
			self._Size = 0
			self.Lazy = 0
			return entries

	# Queries: read only

	def pending(self) -> int:
		"""How many envelopes wait (in flight included)."""
		with self.Lock:
			return len(self._Entries)

	def settled(self, deadline: float, now: float) -> bool:
		"""
		True when a flush need wait no more: nothing is left, or everything left waits for a rate
		limit, its own backoff or the shared backoff that ends after `deadline` (it stays stored).
		"""
		with self.Lock:
			if not self._Entries:
				return True
			if self.Backoff.Until > deadline or self.Limits.end(None, now) > deadline:
				return not any(e.in_flight for e in self._Entries.values())
			for entry in self._Entries.values():
				if entry.in_flight:
					return False
				limit_end = self.Limits.end(entry.category, now)
				if limit_end > now and entry.category not in DURABLE_CATEGORIES:
					return False  # the sender drops it next
				if max(limit_end, entry.not_before) <= deadline:
					return False
			return True

	def healthy(self, now: float) -> bool:
		"""False while the server limits everything or the shared backoff runs."""
		with self.Lock:
			return not self.Limits.limited(None, now) and self.Backoff.Until <= now

	# Inside the lock

	def _forget(self, entry: Entry, reason: typing.Optional[str], delete: bool = True) -> None:
		if self._Entries.pop(entry.seq, None) is None:
			return
		self._Size -= entry.size
		if _lazy(entry):
			self.Lazy -= 1
		if reason is not None:
			self.Stats.drop(reason)
		if delete:
			try:
				self.OnDelete(entry)
			except OSError as e:
				L.warning("Cannot delete a spooled Sentry envelope ({}).".format(e))


def _lazy(entry: Entry) -> bool:
	return entry.body is not None and not isinstance(entry.body, bytes)
