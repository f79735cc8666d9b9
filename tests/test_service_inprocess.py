"""The service API, in-process: each rule checked on what the MemoryTransport received."""

import pytest


class TestMessageLevels(object):
	"""capture_message sends the level Sentry knows for each ASAB/Python level name."""

	@pytest.mark.parametrize("given, sent", [
		("debug", "debug"), ("info", "info"), ("notice", "info"), ("warning", "warning"),
		("error", "error"), ("critical", "fatal"), ("fatal", "fatal"), ("ERROR", "error"), (None, "info"),
	])
	def test_level_is_mapped(self, sentry_app, given, sent):
		s = sentry_app()
		s.Service.capture_message("m", level=given)
		assert [e["level"] for e in s.events()] == [sent]

	def test_unknown_level_is_sent_as_info_with_a_warning(self, sentry_app, caplog):
		s = sentry_app()
		s.Service.capture_message("m", level="loud")
		assert [e["level"] for e in s.events()] == ["info"]
		assert "unknown level 'loud'" in caplog.text


class TestHarness(object):
	"""The in-process harness gives each test a fresh service and puts global state back."""

	def test_config_and_environment_reach_the_event(self, sentry_app):
		s = sentry_app({"sentry": {"environment": "inproc"}}, environ={"SERVICE_ID": "svc-1"})
		s.Service.capture_message("hello")
		event, = s.events()
		assert event["environment"] == "inproc"
		assert event["tags"]["service_id"] == "svc-1"
		assert event["tags"]["appclass"] == "HarnessApplication"

	def test_tags_do_not_survive_into_the_next_test_part_1(self, sentry_app):
		s = sentry_app()
		s.Service.set_tag("leftover", "yes")
		s.Service.capture_message("first")
		assert s.events()[0]["tags"]["leftover"] == "yes"

	def test_tags_do_not_survive_into_the_next_test_part_2(self, sentry_app):
		s = sentry_app()
		s.Service.capture_message("second")
		assert "leftover" not in s.events()[0]["tags"]

	def test_run_executes_main_and_captures_from_its_task(self, sentry_app):
		s = sentry_app()

		async def main(app):
			app.SentryService.set_tag("in_main", "1")
			app.SentryService.capture_message("from main")

		s.run(main)
		event, = s.events()
		assert event["message"] == "from main" and event["tags"]["in_main"] == "1"
