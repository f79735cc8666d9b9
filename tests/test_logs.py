"""
Sentry Logs: `[sentry] enable_logs` and `[sentry:logging] logs`; log records read back from the
recording server.
"""

import logging

import pytest

from test_crons import recorded  # noqa: F401 -- the fixture


def sent_logs(recorder, count=1):
	batches = recorder.wait_for(count, "log")
	return [log for batch in batches for log in batch["items"]]


def attribute(log, name):
	return log["attributes"].get(name, {}).get("value")


def run_logging(s, *records):
	async def main(app):
		for logger, level, message, struct_data in records:
			logging.getLogger(logger).log(level, message, struct_data=struct_data)
		s.Service.capture_message("marker")  # every record above was handed to the SDK before this

	s.run(main)


def test_records_become_logs_with_struct_data(recorded, recorder):  # noqa: F811
	s = recorded({"sentry": {"enable_logs": "true"}})
	run_logging(
		s,
		("orders", logging.WARNING, "order rejected", {"order_id": "o-1", "items": 3}),
		("orders", 25, "order stored", {"order_id": "o-2"}),  # ASAB's NOTICE
		("orders", logging.ERROR, "order lost", None),
	)
	recorder.wait_for(1, "event")
	sent = [log for log in sent_logs(recorder) if attribute(log, "logger.name") == "orders"]
	assert [log["body"] for log in sent] == ["order rejected", "order stored", "order lost"]  # each once
	logs = {log["body"]: log for log in sent}
	assert logs["order rejected"]["level"] == "warn"
	assert attribute(logs["order rejected"], "order_id") == "o-1"
	assert attribute(logs["order rejected"], "items") == 3
	assert logs["order stored"]["level"] == "info"
	assert logs["order lost"]["level"] == "error"


def test_own_logger_never_sent_and_level_respected(recorded, recorder):  # noqa: F811
	s = recorded({"sentry": {"enable_logs": "true"}, "sentry:logging": {"logs": "warning"}})
	run_logging(
		s,
		("asab_sentry.client", logging.WARNING, "the plugin complains", None),
		("orders", 25, "below the level", None),
		("orders", logging.WARNING, "at the level", None),
	)
	recorder.wait_for(1, "event")
	bodies = [log["body"] for log in sent_logs(recorder)]
	assert "at the level" in bodies
	assert "the plugin complains" not in bodies and "below the level" not in bodies


def test_info_records_sent_when_the_level_is_set_explicitly(sentry_app):
	s = sentry_app({"sentry": {"enable_logs": "true"}, "sentry:logging": {"logs": "info"}})
	run_logging(s, ("orders", logging.INFO, "an info line", None))
	bodies = [log["body"] for batch in s.items("log") for log in batch["items"]]
	assert "an info line" in bodies


def test_off_by_default(sentry_app):
	s = sentry_app()
	run_logging(s, ("orders", logging.WARNING, "not a log", None))
	assert [e["message"] for e in s.events()] == ["marker"]
	assert s.items("log") == []


def test_from_the_environment(sentry_app):
	s = sentry_app(environ={"SENTRY_DSN": "http://0123456789abcdef0123456789abcdef@127.0.0.1:9/1", "SENTRY_ENABLE_LOGS": "yes"})
	run_logging(s, ("orders", logging.WARNING, "via env", None))
	assert "via env" in [log["body"] for batch in s.items("log") for log in batch["items"]]


@pytest.mark.parametrize("section,key,value", [("sentry", "enable_logs", "maybe"), ("sentry:logging", "logs", "loud")])
def test_bad_values_stop_the_app(sentry_app, section, key, value):
	with pytest.raises(SystemExit) as exit_info:
		sentry_app({section: {key: value}})
	assert str(exit_info.value).startswith("asab-sentry: [{}] {} = '{}' is invalid; expected".format(section, key, value))


def test_info_records_not_made_by_default(sentry_app):
	"""Unset, ASAB's log level (NOTICE) decides which records exist, as for breadcrumbs."""
	s = sentry_app({"sentry": {"enable_logs": "true"}})
	run_logging(s, ("orders", logging.INFO, "an info line", None), ("orders", 25, "a notice", None))
	bodies = [log["body"] for batch in s.items("log") for log in batch["items"]]
	assert "a notice" in bodies and "an info line" not in bodies
