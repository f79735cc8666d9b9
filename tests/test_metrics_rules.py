"""
Delivery counts in asab.metrics (asab_sentry/stats.py's `MetricsBridge`), rule by rule, in-process:
an application with `asab.metrics.Module` gets the gauge `sentry.delivery`, which holds every
count from the start and the current ones after each metrics flush; an application without it
gets none. The service's own delivery transport runs on a fake sender (no network).
"""

import gzip

import asab.metrics
import pytest

from asab_sentry import stats
from asab_sentry import transport as delivery
from asab_sentry.sender import Answer

ZEROS = {"captured": 0, "sent": 0, "spooled": 0, "retried": 0, "unspooled": 0, "dropped": 0}
METRICS = [asab.metrics.Module]


class FakeSender(object):
	"""Stands in for the HTTP sender: refuses (400) an envelope whose body mentions `refuse me`, accepts the rest."""

	def send(self, body: bytes) -> Answer:
		return Answer(400 if b"refuse me" in gzip.decompress(body) else 200, {}, "")

	def close(self) -> None:
		pass


@pytest.fixture
def metrics_app(sentry_app, monkeypatch):
	"""`metrics_app(config, modules)`: an in-process app whose service uses its own delivery transport, on a `FakeSender`."""
	monkeypatch.setattr(delivery, "make_sender", lambda url, auth_header, options: FakeSender())

	def build(config=None, modules=METRICS):
		return sentry_app(config, modules=modules, transport=False)

	return build


def gauge(app) -> dict:
	"""The stored `sentry.delivery` metric of the app's metrics service."""
	found = [m for m in app.get_service("asab.MetricsService").Storage.Metrics if m["name"] == "sentry.delivery"]
	assert len(found) == 1
	return found[0]


def values(app) -> dict:
	[field] = gauge(app)["fieldset"]
	return dict(field["values"])


def run(s, body) -> dict:
	"""Run the app with `body(app)` as main; what `body` returns."""
	result = {}

	async def main(app):
		result["value"] = await body(app)

	s.run(main)
	return result["value"]


class TestGauge(object):
	"""The gauge `sentry.delivery` of asab.metrics, with its help text, is made when the service initializes, every count at zero."""

	def test_made_at_initialize_with_every_count(self, metrics_app):
		s = metrics_app()

		async def body(app):
			return gauge(app)["type"], values(app)

		assert run(s, body) == ("Gauge", ZEROS)

	def test_help(self, metrics_app):
		s = metrics_app()

		async def body(app):
			return gauge(app)["help"]

		assert run(s, body) == "asab-sentry envelopes by outcome"

	def test_the_service_keeps_the_bridge(self, metrics_app):
		"""ASAB's PubSub holds subscribers weakly: the service's reference keeps it working."""
		s = metrics_app()

		async def body(app):
			return app.SentryService.Metrics

		bridge = run(s, body)
		assert isinstance(bridge, stats.MetricsBridge) and bridge.Stats is s.Service.Stats


class TestUpdatedOnFlush(object):
	"""Each metrics flush copies the service's current counts into the gauge, dropped ones with their reason."""

	def test_after_captures(self, metrics_app):
		s = metrics_app()

		async def body(app):
			app.SentryService.capture_message("one")
			app.SentryService.capture_message("two")
			await app.SentryService.flush(5)
			before = values(app)
			await app.get_service("asab.MetricsService").flush()
			return before, values(app)

		before, after = run(s, body)
		assert before == ZEROS
		assert after == dict(ZEROS, captured=2, sent=2)

	def test_dropped_with_the_reason(self, metrics_app):
		s = metrics_app()

		async def body(app):
			app.SentryService.capture_message("kept")
			app.SentryService.capture_message("refuse me")
			await app.SentryService.flush(5)
			await app.get_service("asab.MetricsService").flush()
			return values(app)

		assert run(s, body) == dict(ZEROS, captured=2, sent=1, dropped=1, **{"dropped.rejected": 1})

	def test_every_flush_sees_the_counts_of_its_time(self, metrics_app):
		s = metrics_app()

		async def body(app):
			metrics = app.get_service("asab.MetricsService")
			seen = []
			for message in ("one", "two"):
				app.SentryService.capture_message(message)
				await app.SentryService.flush(5)
				await metrics.flush()
				seen.append(values(app)["sent"])
			return seen

		assert run(s, body) == [1, 2]

	def test_on_the_flush_message(self, metrics_app):
		s = metrics_app()

		async def body(app):
			app.SentryService.Stats.add("retried", 3)
			app.SentryService.Stats.drop("expired", 2)
			app.PubSub.publish("Metrics.flush!")
			return values(app)

		assert run(s, body) == dict(ZEROS, retried=3, dropped=2, **{"dropped.expired": 2})

	def test_not_before_the_flush(self, metrics_app):
		s = metrics_app()

		async def body(app):
			app.SentryService.Stats.add("spooled")
			app.PubSub.publish("Metrics.other!")
			return values(app)

		assert run(s, body) == ZEROS


class TestWithoutMetrics(object):
	"""Without asab.metrics, or with the service disabled, there is no bridge."""

	def test_no_metrics_module(self, metrics_app):
		s = metrics_app(modules=[])

		async def body(app):
			return app.SentryService.Metrics

		assert run(s, body) is None

	def test_disabled_service(self, sentry_app):
		s = sentry_app({"sentry": {"enabled": "false"}}, modules=METRICS)

		async def body(app):
			return app.SentryService.Metrics, [m["name"] for m in app.get_service("asab.MetricsService").Storage.Metrics]

		bridge, names = run(s, body)
		assert bridge is None and "sentry.delivery" not in names

	def test_expose_metrics_without_the_service(self):
		class App(object):
			def get_service(self, name):
				return None

		assert stats.expose_metrics(App(), stats.DeliveryStats()) is None


class FakeMetricsService(object):
	def __init__(self):
		self.Gauges = []

	def create_gauge(self, name, **kwargs):
		gauge = FakeGauge(name, kwargs)
		self.Gauges.append(gauge)
		return gauge


class FakeGauge(object):
	def __init__(self, name, kwargs):
		self.Name = name
		self.Kwargs = kwargs
		self.Values = dict(kwargs.get("init_values") or {})

	def set(self, name, value):
		self.Values[name] = value


class FakePubSub(object):
	def __init__(self):
		self.Subscribed = []

	def subscribe(self, message_type, callback):
		self.Subscribed.append((message_type, callback))


class FakeApp(object):
	def __init__(self, metrics=None):
		self.PubSub = FakePubSub()
		self.Metrics = metrics
		self.Asked = []

	def get_service(self, name):
		self.Asked.append(name)
		return self.Metrics if name == "asab.MetricsService" else None


class TestBridgeUnit(object):
	"""The bridge asks for `asab.MetricsService`, makes its gauge with the counts as initial values, and subscribes its update to `Metrics.flush!`."""

	def test_expose_asks_for_the_metrics_service(self):
		app = FakeApp(FakeMetricsService())
		bridge = stats.expose_metrics(app, stats.DeliveryStats())
		assert isinstance(bridge, stats.MetricsBridge) and app.Asked == ["asab.MetricsService"]

	def test_gauge_arguments(self):
		counts = stats.DeliveryStats()
		counts.add("captured", 4)
		counts.drop("spool_full")
		metrics = FakeMetricsService()
		stats.MetricsBridge(FakeApp(), counts, metrics)
		[made] = metrics.Gauges
		assert made.Name == "sentry.delivery"
		assert made.Kwargs == {"init_values": dict(ZEROS, captured=4, dropped=1, **{"dropped.spool_full": 1}), "help": "asab-sentry envelopes by outcome"}

	def test_subscribes_update(self):
		app = FakeApp()
		bridge = stats.MetricsBridge(app, stats.DeliveryStats(), FakeMetricsService())
		assert app.PubSub.Subscribed == [("Metrics.flush!", bridge.update)]

	def test_update_copies_every_count(self):
		counts = stats.DeliveryStats()
		metrics = FakeMetricsService()
		bridge = stats.MetricsBridge(FakeApp(), counts, metrics)
		counts.add("sent", 5)
		counts.add("unspooled", 2)
		counts.drop("rejected", 3)
		assert bridge.update("Metrics.flush!") is None
		assert metrics.Gauges[0].Values == dict(ZEROS, sent=5, unspooled=2, dropped=3, **{"dropped.rejected": 3})

	def test_update_takes_any_arguments(self):
		bridge = stats.MetricsBridge(FakeApp(), stats.DeliveryStats(), FakeMetricsService())
		bridge.update()
		bridge.update("Metrics.flush!", 1, extra=2)
		assert bridge.Gauge.Values == ZEROS
