"""
Delivery counts: what was captured, sent, spooled, retried and dropped (by reason).

Counted per envelope (an event, a transaction, a session update), from any thread. Shown in a log
line when the transport closes (the last thing it does) and, when the application has `asab.metrics`, as the gauge `sentry.delivery`.
"""

import collections
import threading
import typing


class DeliveryStats(object):
	"""Thread-safe delivery counters."""

	OUTCOMES = ("captured", "sent", "spooled", "retried", "unspooled")

	def __init__(self):
		self._Lock = threading.Lock()
		self._Counts: typing.Counter[str] = collections.Counter()
		self._Dropped: typing.Counter[str] = collections.Counter()

	def add(self, name: str, count: int = 1) -> None:
		"""Add to `captured`, `sent`, `spooled`, `retried` or `unspooled` (the spool could not be written: kept in memory)."""
		with self._Lock:
			self._Counts[name] += count

	def drop(self, reason: str, count: int = 1) -> None:
		"""Count envelopes lost for `reason` (e.g. `spool_full`, `rejected`, `ratelimit.transaction`, `expired`, `at_exit`)."""
		with self._Lock:
			self._Dropped[reason] += count

	def snapshot(self) -> typing.Dict[str, int]:
		"""All counts as a flat dict: captured, sent, spooled, retried, unspooled, dropped, and dropped.<reason>."""
		with self._Lock:
			result = {name: self._Counts[name] for name in self.OUTCOMES}
			result["dropped"] = sum(self._Dropped.values())
			for reason, count in sorted(self._Dropped.items()):
				result["dropped.{}".format(reason)] = count
		return result

	def summary(self, pending: int) -> str:
		"""
		One line for the log at stop.

		Args:
			pending: Envelopes left in the spool for the next start (what was left in memory is
				counted as dropped `at_exit` by the transport, never as left to send).
		"""
		s = self.snapshot()
		reasons = ", ".join("{} {}".format(k.split(".", 1)[1], v) for k, v in s.items() if k.startswith("dropped."))
		return "Sentry delivery: captured {captured}, sent {sent}, spooled {spooled}, retried {retried}, dropped {dropped}{reasons}{memory}; {pending} left to send".format(
			reasons=" ({})".format(reasons) if reasons else "", pending=pending,
			memory=", kept in memory as the spool failed {}".format(s["unspooled"]) if s["unspooled"] else "", **s
		)


class MetricsBridge(object):
	"""
	Publishes the counts as the `sentry.delivery` gauge of `asab.metrics`, updated just before
	each metrics flush. Keep a reference to it: ASAB's PubSub holds subscribers weakly.
	"""

	def __init__(self, app, stats: DeliveryStats, metrics_service):
		self.Stats = stats
		self.Gauge = metrics_service.create_gauge("sentry.delivery", init_values=stats.snapshot(), help="asab-sentry envelopes by outcome")
		app.PubSub.subscribe("Metrics.flush!", self.update)

	def update(self, *args, **kwargs) -> None:
		"""Copy the current counts into the gauge."""
		for name, value in self.Stats.snapshot().items():
			self.Gauge.set(name, value)


def expose_metrics(app, stats: DeliveryStats) -> typing.Optional[MetricsBridge]:
	"""A `MetricsBridge` when the app has `asab.MetricsService`, else None."""
	metrics = app.get_service("asab.MetricsService")
	return MetricsBridge(app, stats, metrics) if metrics is not None else None
