"""The logging bridge in-process: which loggers never reach Sentry."""

import logging

import pytest


class TestNeverSentLoggers(object):
	"""Loggers on the never-events list, and their children, are neither events nor breadcrumbs."""

	@pytest.mark.parametrize("name", ["asab_sentry", "asab_sentry.web", "urllib3.connectionpool", "aiohttp.server", "aiohttp.web.sub", "asyncio", "sentry_sdk.errors", "asab.web.al"])
	def test_error_record_is_not_sent(self, sentry_app, name):
		s = sentry_app()
		logging.getLogger(name).error("from %s", name)
		s.Service.capture_message("marker")
		event, = s.events()
		assert event["message"] == "marker"
		assert all(c.get("category") != name for c in event.get("breadcrumbs", {}).get("values", []))

	@pytest.mark.parametrize("name", ["asab_sentryx", "aiohttp.client_other", "myservice.asyncio", "asab.web"])
	def test_similar_names_are_sent(self, sentry_app, name):
		s = sentry_app()
		logging.getLogger(name).error("from %s", name)
		assert [e.get("logentry", {}).get("message") for e in s.events()] == ["from %s"]
