"""An uncaught exception in a task, a web handler or main() is exactly one structured event."""

import pytest


def _exceptions(events, type_name):
	return [e for e in events if any(v["type"] == type_name for v in e.get("exception", {}).get("values", []))]


@pytest.mark.parametrize("build", ["module", "init", "initialize"])
class TestUncaught(object):
	"""Exactly one event per uncaught exception, with the structured exception."""

	def test_task_exception(self, recorder, run_app, build):
		run = run_app("task_crash", recorder.dsn, BUILD=build)
		assert run.returncode == 0, run.stderr
		events = recorder.wait_for(1)
		recorder.wait_for(2, timeout=1)
		events = recorder.events()
		assert len(events) == 1, [e.get("message") or e.get("logentry") for e in events]
		assert events[0]["exception"]["values"][-1]["type"] == "RuntimeError"
		assert events[0]["exception"]["values"][-1]["mechanism"]["handled"] is False
		assert "Task exception was never retrieved" in run.stderr  # ASAB still logs it

	def test_main_exception(self, recorder, run_app, build):
		run = run_app("main_crash", recorder.dsn, BUILD=build)
		assert run.returncode != 0
		recorder.wait_for(2, timeout=2)
		events = recorder.events()
		assert len(events) == 1
		assert _exceptions(events, "KeyError")

	def test_web_handler_exception(self, recorder, run_app, build):
		run = run_app("web", recorder.dsn, BUILD=build)
		assert run.values("STATUS") == ["500", "200", "500"]
		recorder.wait_for(3)
		recorder.wait_for(4, timeout=1)
		assert len(_exceptions(recorder.events(), "RuntimeError")) == 2
		assert len(recorder.events()) == 3
