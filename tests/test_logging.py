"""The logging bridge: levels, NOTICE, struct_data, and the plugin's own complaints."""


INFO_CRUMBS = "[sentry]\n[sentry:logging]\nbreadcrumbs=info\n"


def _crumbs(event):
	return [c for c in event.get("breadcrumbs", {}).get("values", []) if c.get("category") == "scenario"]


class TestLoggingBridge(object):
	"""Records at or above `breadcrumbs` become breadcrumbs, at or above `events` become events."""

	def test_default_levels_follow_asab_log_level(self, recorder, run_app):
		"""By default breadcrumbs start at INFO but ASAB makes no INFO records (its level is NOTICE): none, and no cost."""
		run = run_app("levels", recorder.dsn)
		assert run.returncode == 0, run.stderr
		events = recorder.wait_for(3)
		closing = [e for e in events if e.get("message") == "closing message"][0]
		assert [c["message"] for c in _crumbs(closing)] == ["level notice", "level warning", "level error", "level critical"]

	def test_explicit_info_breadcrumbs(self, recorder, run_app):
		run = run_app("levels", recorder.dsn, config=INFO_CRUMBS)
		assert run.returncode == 0, run.stderr
		events = recorder.wait_for(3)
		by_message = {(e.get("logentry") or {}).get("message") or e.get("message"): e for e in events}
		assert set(by_message) == {"level error", "level critical", "closing message"}
		assert by_message["level error"]["level"] == "error"
		assert by_message["level critical"]["level"] == "fatal"
		crumbs = _crumbs(by_message["closing message"])
		assert [(c["message"], c["level"]) for c in crumbs] == [
			("level info", "info"), ("level notice", "info"), ("level warning", "warning"),
			("level error", "error"), ("level critical", "fatal"),
		]

	def test_info_breadcrumbs_do_not_change_console_output(self, recorder, run_app):
		run = run_app("levels", recorder.dsn, config=INFO_CRUMBS)
		assert "level notice" in run.stderr
		assert "level info" not in run.stderr  # ASAB's console still shows NOTICE and above only

	def test_configured_levels(self, recorder, run_app):
		config = "[sentry]\n[sentry:logging]\nbreadcrumbs=warning\nevents=NOTICE\n"
		run_app("levels", recorder.dsn, config=config)
		events = recorder.wait_for(5)
		messages = [(e.get("logentry") or {}).get("message") for e in events if e.get("logentry")]
		assert "level notice" in messages and "level warning" in messages and "level info" not in messages
		notice = [e for e in events if (e.get("logentry") or {}).get("message") == "level notice"][0]
		assert notice["level"] == "info", "NOTICE events must carry a valid level"
		closing = [e for e in events if e.get("message") == "closing message"][0]
		assert [c["message"] for c in _crumbs(closing)] == ["level warning", "level error", "level critical"]

	def test_notice_event_level(self, recorder, run_app):
		run_app("notice_event", recorder.dsn, config="[sentry]\n[sentry:logging]\nevents=notice\n")
		events = [e for e in recorder.wait_for(1) if (e.get("logentry") or {}).get("message") == "a notice event"]
		assert len(events) == 1
		assert events[0]["level"] == "info"
		assert events[0]["extra"]["struct_data"] == {"k": "v"}

	def test_struct_data_on_events_and_breadcrumbs(self, recorder, run_app):
		run_app("logs", recorder.dsn, config=INFO_CRUMBS)
		event = recorder.wait_for(1)[0]
		assert event["logentry"]["message"] == "an error line"
		assert event["extra"]["struct_data"] == {"order": 42, "password": "[Filtered]"}
		crumbs = {c["message"]: c for c in _crumbs(event)}
		assert crumbs["an info line"]["data"]["struct_data"] == {"step": "info"}
		assert crumbs["a notice line"]["data"]["struct_data"] == {"step": "notice"}
		assert crumbs["a notice line"]["level"] == "info"
		assert "asctime" not in event["extra"]

	def test_lifecycle_notices_are_not_events(self, recorder, run_app):
		run_app("message", recorder.dsn)
		events = recorder.wait_for(1)
		assert [e.get("message") for e in events] == ["hello from scenario"]
