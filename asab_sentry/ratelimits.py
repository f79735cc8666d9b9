"""
What the server says about when to send again: `Retry-After` and `X-Sentry-Rate-Limits`, parsed
defensively, and the backoff after failures.

Pure logic, no threads and no clock of its own: every method takes `now` (monotonic seconds), so
the delivery scheduler owns the state (under its one lock) and tests drive it with a fake clock.
"""

import email.utils
import logging
import math
import random
import time
import typing

L = logging.getLogger(__name__)

#: A limit or a `Retry-After` is never shorter than this (0, negative: this), so a server's "now"
#: never makes a tight loop.
LIMIT_FLOOR = 1.0
#: `Retry-After` longer than this is taken as this (an hour).
RETRY_AFTER_CEILING = 3600.0
#: `X-Sentry-Rate-Limits` longer than this is taken as this (a day: Bugsink limits transactions for a day).
RATE_LIMIT_CEILING = 86400.0
#: A 429 without a usable `Retry-After` waits this long.
DEFAULT_RETRY_AFTER = 60.0

#: The backoff after a failed request (5xx, 408, network error): doubles from the minimum to the maximum.
BACKOFF_MIN = 1.0
BACKOFF_MAX = 60.0


def clamp(seconds: float, ceiling: float) -> float:
	"""`seconds` within [LIMIT_FLOOR, ceiling]; NaN counts as the floor."""
	if not seconds > LIMIT_FLOOR:  # also NaN
		return LIMIT_FLOOR
	return min(seconds, ceiling)


def parse_retry_after(value: typing.Optional[str], wall_now: typing.Optional[float] = None) -> float:
	"""
	Seconds to wait from a `Retry-After` header: a number of seconds or an HTTP date.

	Args:
		value: The header's value, or None.
		wall_now: The wall-clock time (Unix seconds) an HTTP date is measured from; `time.time()` by default.

	Returns:
		The wait, within [LIMIT_FLOOR, RETRY_AFTER_CEILING]; DEFAULT_RETRY_AFTER when the value is missing or garbage.
	"""
	if value is None:
		return DEFAULT_RETRY_AFTER
	text = value.strip()
	try:
		seconds = float(text)
	except ValueError:
		try:
			when = email.utils.parsedate_to_datetime(text)
		except (TypeError, ValueError, IndexError, OverflowError):
			return DEFAULT_RETRY_AFTER
		if when is None:
			return DEFAULT_RETRY_AFTER
		if when.tzinfo is None:  # RFC 7231 dates are GMT
			import datetime
			when = when.replace(tzinfo=datetime.timezone.utc)
		seconds = when.timestamp() - (time.time() if wall_now is None else wall_now)
	return clamp(seconds, RETRY_AFTER_CEILING)


def parse_rate_limits(value: str) -> typing.List[typing.Tuple[float, typing.List[typing.Optional[str]]]]:
	"""
	The limits of an `X-Sentry-Rate-Limits` header: `[(seconds, categories), ...]`, categories
	`[None]` meaning all. Garbage parts are skipped.

	Examples:
	```python
	>>> parse_rate_limits("60:transaction;span:organization, 10::key")
	[(60.0, ['transaction', 'span']), (10.0, [None])]
	```
	"""
	result = []
	for limit in value.split(","):
		parts = limit.strip().split(":")
		try:
			seconds = float(parts[0])
		except ValueError:
			continue
		if math.isnan(seconds):
			continue
		categories: typing.List[typing.Optional[str]] = [c.strip() or None for c in parts[1].split(";")] if len(parts) > 1 and parts[1].strip() else [None]
		result.append((clamp(seconds, RATE_LIMIT_CEILING), categories))
	return result


class RateLimits(object):
	"""
	The categories the server limits, until when (monotonic). Not thread-safe: its owner locks.
	"""

	def __init__(self):
		self.Ends: typing.Dict[typing.Optional[str], float] = {}  # category (None: all) -> end

	def update(self, status: int, headers: typing.Mapping[str, str], now: float) -> None:
		"""Record what an answer says: `X-Sentry-Rate-Limits`, else `Retry-After` on a 429."""
		header = headers.get("X-Sentry-Rate-Limits")
		if header:
			for seconds, categories in parse_rate_limits(header):
				for category in categories:
					self.Ends[category] = max(self.Ends.get(category, 0.0), now + seconds)
		elif status == 429:
			self.Ends[None] = max(self.Ends.get(None, 0.0), now + parse_retry_after(headers.get("Retry-After")))

	def end(self, category: typing.Optional[str], now: float) -> float:
		"""When `category` may be sent again (`now` or earlier: it may be sent now)."""
		return max(self.Ends.get(category, 0.0), self.Ends.get(None, 0.0))

	def limited(self, category: typing.Optional[str], now: float) -> bool:
		"""True while `category` may not be sent."""
		return self.end(category, now) > now

	def next_end(self, now: float) -> typing.Optional[float]:
		"""The earliest end of a limit still running, or None."""
		ends = [end for end in self.Ends.values() if end > now]
		return min(ends) if ends else None


class Backoff(object):
	"""Exponential backoff with jitter after failures; a success resets it. Not thread-safe: its owner locks."""

	def __init__(self, minimum: float = BACKOFF_MIN, maximum: float = BACKOFF_MAX, jitter: typing.Callable[[], float] = lambda: random.uniform(0.8, 1.2)):
		self.Minimum = minimum
		self.Maximum = maximum
		self.Jitter = jitter
		self.Current = 0.0
		self.Until = 0.0

	def failed(self, now: float, at_least: float = 0.0) -> float:
		"""A request failed: no request before the returned time (the next step of the backoff, or `at_least` seconds)."""
		self.Current = min(self.Maximum, max(self.Minimum, self.Current * 2))
		self.Until = max(self.Until, now + max(self.Current * self.Jitter(), at_least))
		return self.Until

	def succeeded(self) -> None:
		"""A request got an answer that is not a failure: the backoff starts over."""
		self.Current = 0.0
		self.Until = 0.0
