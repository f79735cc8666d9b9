"""asab_sentry._sdk, the one door to sentry-sdk's internals: each function does what the SDK's documented behaviour needs."""

import sentry_sdk

from asab_sentry import _sdk
from asab_sentry import testing
from asab_sentry import uncaught


class TestCaptureUnhandled(object):
	"""An error sent as unhandled, caught by a named mechanism (uncaught.capture_unhandled through _sdk.unhandled_event)."""

	def test_event_is_unhandled_with_the_mechanism_and_its_id_is_returned(self, sentry_app):
		s = sentry_app()
		try:
			raise KeyError("missing")
		except KeyError as e:
			event_id = uncaught.capture_unhandled(e, "asab")
		event, = s.events()
		assert event["event_id"] == event_id
		exc = event["exception"]["values"][-1]
		assert exc["type"] == "KeyError" and exc["mechanism"] == {"type": "asab", "handled": False}
		assert exc["stacktrace"]["frames"][-1]["function"] == "test_event_is_unhandled_with_the_mechanism_and_its_id_is_returned"


class TestShouldPropagateTrace(object):
	"""trace_propagation_targets decides which URLs get sentry-trace and baggage."""

	def test_default_targets_match_every_url(self, sentry_app):
		sentry_app()
		assert _sdk.should_propagate_trace("http://anything.example/x")

	def test_configured_targets(self, sentry_app):
		sentry_app({"sentry": {"trace_propagation_targets": "^https://api\\.example\\.com"}})
		assert _sdk.should_propagate_trace("https://api.example.com/v1")
		assert not _sdk.should_propagate_trace("http://other.example/v1")


class TestResetScopes(object):
	"""reset_scopes() leaves what a fresh process has: no client, no scope data."""

	def test_scopes_and_client_are_forgotten(self, sentry_app):
		sentry_app()
		assert sentry_sdk.get_client().is_active()
		sentry_sdk.get_global_scope().set_tag("g", "1")
		sentry_sdk.get_isolation_scope().set_tag("i", "1")
		sentry_sdk.get_current_scope().set_tag("c", "1")
		isolation, current = sentry_sdk.get_isolation_scope(), sentry_sdk.get_current_scope()
		_sdk.reset_scopes()
		assert not sentry_sdk.get_client().is_active()
		assert sentry_sdk.get_isolation_scope() is not isolation
		assert sentry_sdk.get_current_scope() is not current
		transport = testing.MemoryTransport()
		sentry_sdk.init(dsn=testing.TEST_DSN, transport=transport)
		sentry_sdk.capture_message("after")
		event, = transport.events()
		assert not {"g", "i", "c"} & set(event.get("tags", {}))


class TestCachedDefaultIntegrations(object):
	"""cache_default_integrations(): the SDK's default integrations looked up once, the same classes in the same order."""

	def test_same_classes_and_looked_up_once(self, monkeypatch):
		import sentry_sdk.integrations as integrations
		import sentry_sdk.integrations.logging
		import sentry_sdk.integrations.stdlib  # noqa: F401
		calls = []

		def original(with_auto_enabling_integrations):
			calls.append(with_auto_enabling_integrations)
			return iter([integrations.logging.LoggingIntegration] + ([integrations.stdlib.StdlibIntegration] if with_auto_enabling_integrations else []))

		monkeypatch.setattr(integrations, "iter_default_integrations", original)
		_sdk.cache_default_integrations()
		cached = integrations.iter_default_integrations
		assert cached is not original
		for _ in range(3):
			assert list(cached(True)) == [integrations.logging.LoggingIntegration, integrations.stdlib.StdlibIntegration]
			assert list(cached(False)) == [integrations.logging.LoggingIntegration]
		assert calls == [True, False]
		_sdk.cache_default_integrations()
		assert integrations.iter_default_integrations is cached  # not wrapped twice

	def test_apps_after_the_first_still_get_the_default_integrations(self, sentry_app):
		# sys.argv on `extra` is the SDK's ArgvIntegration, one of the defaults the cache gives.
		for _ in range(2):
			s = sentry_app()
			s.Service.capture_message("with defaults")
			assert s.events()[-1]["extra"]["sys.argv"] == [str(a) for a in __import__("sys").argv][:10]
