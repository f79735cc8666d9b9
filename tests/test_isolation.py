"""Tags, user and context set in one asyncio task or web request never appear on another's events."""

import pytest


@pytest.mark.parametrize("build", ["module", "init", "initialize"])
class TestIsolation(object):
	"""Per-task and per-request scope data, whichever way the service was built."""

	def test_task_data_stays_in_its_task(self, recorder, run_app, build):
		run = run_app("task_isolation", recorder.dsn, BUILD=build)
		assert run.returncode == 0, run.stderr
		events = {e["message"]: e for e in recorder.wait_for(3)}
		assert events["from task a"]["tags"]["only_in_a"] == "yes"
		assert events["from task a"]["user"] == {"id": "user-a"}
		assert events["from task a"]["contexts"]["ctx_a"] == {"x": 1}
		for other in ("from task b", "from main"):
			assert "only_in_a" not in events[other]["tags"]
			assert "user" not in events[other]
			assert "ctx_a" not in events[other]["contexts"]

	def test_request_data_stays_in_its_request(self, recorder, run_app, build):
		run = run_app("web", recorder.dsn, BUILD=build)
		assert run.returncode == 0, run.stderr
		events = recorder.wait_for(3)
		failures = sorted(e["tags"].get("request_tag") for e in events if e.get("exception"))
		assert failures == ["1", "2"]
		after = [e for e in events if e.get("message") == "after requests"][0]
		assert "request_tag" not in after["tags"]
