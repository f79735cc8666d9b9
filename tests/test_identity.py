"""Identity on every event: appclass, ids, release, environment and server name, whichever way the service was built."""

import json
import os

import pytest

IDS = {"SERVICE_ID": "svc-1", "INSTANCE_ID": "svc-1-01", "NODE_ID": "node-7", "SITE_ID": "site-hogwarts"}


@pytest.mark.parametrize("build", ["module", "init", "initialize"])
class TestIdentityOnEveryEvent(object):
	"""Global tags reach events from main(), child tasks and web requests, for every way of building the service."""

	def test_tags_on_every_event(self, recorder, run_app, tmp_path, build):
		with open(os.path.join(str(tmp_path), "MANIFEST.json"), "w") as f:
			json.dump({"version": "v24.1.0"}, f)
		run = run_app("task_isolation", recorder.dsn, BUILD=build, ASAB_HOSTNAME="host-from-env", **IDS)
		assert run.returncode == 0, run.stderr
		events = recorder.wait_for(3)
		assert len(events) == 3
		for event in events:
			tags = event["tags"]
			assert tags["appclass"] == "ScenarioApp"
			assert tags["service_id"] == "svc-1"
			assert tags["instance_id"] == "svc-1-01"
			assert tags["node_id"] == "node-7"
			assert tags["site_id"] == "site-hogwarts"
			assert event["server_name"] == "host-from-env"
			assert event["release"] == "ScenarioApp@v24.1.0"
			assert event["environment"] == "site-hogwarts"

	def test_tags_on_web_request_events(self, recorder, run_app, build):
		run = run_app("web", recorder.dsn, BUILD=build, **IDS)
		assert run.returncode == 0, run.stderr
		events = recorder.wait_for(3)
		assert len(events) == 3
		for event in events:
			assert event["tags"]["node_id"] == "node-7"
			assert event["tags"]["appclass"] == "ScenarioApp"


class TestReleaseAndEnvironment(object):
	"""Where release and environment come from: config, then environment, then manifest/SITE_ID, then defaults."""

	def test_config_wins_over_environment(self, recorder, run_app):
		config = "[sentry]\nenvironment=from-config\nrelease=cfg@1.0.0\n"
		run_app("message", recorder.dsn, config=config, SENTRY_ENVIRONMENT="from-env", SENTRY_RELEASE="env@2.0.0", SITE_ID="site")
		event = recorder.wait_for(1)[0]
		assert event["environment"] == "from-config"
		assert event["release"] == "cfg@1.0.0"

	def test_environment_variables_win_over_defaults(self, recorder, run_app):
		run_app("message", recorder.dsn, SENTRY_ENVIRONMENT="from-env", SENTRY_RELEASE="env@2.0.0", SITE_ID="site")
		event = recorder.wait_for(1)[0]
		assert event["environment"] == "from-env"
		assert event["release"] == "env@2.0.0"

	def test_defaults_without_manifest(self, recorder, run_app):
		run = run_app("message", recorder.dsn)
		assert run.returncode == 0, run.stderr
		event = recorder.wait_for(1)[0]
		assert event["environment"] == "not specified"
		assert "release" not in event
		assert set(event["tags"]) == {"appclass"}

	def test_manifest_from_general_section(self, recorder, run_app, tmp_path):
		path = os.path.join(str(tmp_path), "elsewhere.json")
		with open(path, "w") as f:
			json.dump({"version": "1.2.3"}, f)
		run_app("message", recorder.dsn, config="[general]\nmanifest={}\n[sentry]\n".format(path))
		assert recorder.wait_for(1)[0]["release"] == "ScenarioApp@1.2.3"

	def test_broken_manifest_is_one_warning(self, recorder, run_app, tmp_path):
		with open(os.path.join(str(tmp_path), "MANIFEST.json"), "w") as f:
			f.write("{not json")
		run = run_app("message", recorder.dsn)
		assert run.returncode == 0
		assert run.stderr.count("Cannot read manifest") == 1
		events = recorder.wait_for(1)
		assert [e.get("message") for e in events] == ["hello from scenario"]
		assert "release" not in events[0]
