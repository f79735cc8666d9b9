"""What a real Sentry-compatible server (Bugsink) stores from an ASAB app using asab-sentry."""

import json
import os
import uuid

import pytest


@pytest.fixture(scope="module")
def tour(bugsink, tmp_path_factory):
	"""Run the tour scenario once against Bugsink; return (run, stored events of this run)."""
	import subprocess
	import sys
	from conftest import SCENARIO, app_env, write_config

	workdir = tmp_path_factory.mktemp("tour")
	with open(os.path.join(str(workdir), "MANIFEST.json"), "w") as f:
		json.dump({"version": "3.1.4"}, f)
	service_id = "tour-" + uuid.uuid4().hex[:8]
	conf = write_config(workdir, "[sentry]\nenvironment=integration\n")
	run = subprocess.run(
		[sys.executable, SCENARIO, "tour", conf],
		env=app_env(bugsink.dsn, SERVICE_ID=service_id, INSTANCE_ID=service_id + "-1", NODE_ID="node-b", SITE_ID="site-b"),
		cwd=str(workdir), capture_output=True, text=True, timeout=120,
	)
	assert run.returncode == 0, run.stderr
	stored = [e for e in bugsink.events() if e.get("tags", {}).get("service_id") == service_id]
	return run, stored


def _event_ids(run):
	return dict(line.split()[1:3] for line in run.stdout.splitlines() if line.startswith("EVENT_ID"))


class TestWebRequestStored(object):
	"""An uncaught handler exception is stored once, with the request as the service received it."""

	def test_method_url_query_headers_and_json_body(self, tour):
		run, stored = tour
		event, = [e for e in stored if e.get("exception") and e["exception"]["values"][-1]["value"] == "handler failed 3"]
		request = event["request"]
		assert request["method"] == "POST"
		assert request["url"].endswith("/fail") and "?" not in request["url"]
		assert request["query_string"] == "n=3&password=[Filtered]&page=2"
		assert request["headers"]["X-Api-Key"] == "[Filtered]" and request["headers"]["X-Auth-Token"] == "[Filtered]"
		assert request["headers"]["Content-Type"] == "application/json"
		assert request["data"] == {"order": 42, "newPassword": "[Filtered]"}
		assert event["exception"]["values"][-1]["mechanism"]["handled"] is False
		assert "env" not in request  # no client address without send_default_pii


class TestStoredByBugsink(object):
	"""Tags, release, environment, breadcrumbs, logs and scrubbing hold in a real server's storage."""

	def test_every_event_is_stored_with_identity(self, tour):
		run, stored = tour
		# a message, an exception, a log error, two failing requests, the closing message
		assert len(stored) == 7, [e.get("message") or e.get("logentry") for e in stored]
		for event in stored:
			tags = event["tags"]
			assert tags["appclass"] == "ScenarioApp"
			assert tags["instance_id"] == tags["service_id"] + "-1"
			assert tags["node_id"] == "node-b"
			assert tags["site_id"] == "site-b"
			assert event["release"] == "ScenarioApp@3.1.4"
			assert event["environment"] == "integration"

	def test_returned_ids_are_the_stored_ids(self, tour, bugsink):
		run, stored = tour
		ids = _event_ids(run)
		message = bugsink.event(ids["message"])
		assert message["message"] == "tour message" and message["level"] == "info"
		exception = bugsink.event(ids["exception"])
		assert exception["exception"]["values"][-1]["type"] == "KeyError"

	def test_log_error_with_struct_data(self, tour):
		run, stored = tour
		logs = [e for e in stored if (e.get("logentry") or {}).get("message") == "tour log error"]
		assert len(logs) == 1
		assert logs[0]["level"] == "error"
		assert logs[0]["extra"]["struct_data"]["order_id"] == 1234
		assert logs[0]["extra"]["struct_data"]["password"] == "[Filtered]"

	def test_breadcrumbs(self, tour):
		run, stored = tour
		message = [e for e in stored if e.get("message") == "tour message"][0]
		crumbs = [c for c in message["breadcrumbs"]["values"] if c.get("category") == "scenario"]
		assert crumbs[0]["message"] == "tour starts"
		assert crumbs[0]["level"] == "info"  # NOTICE
		assert crumbs[0]["data"]["struct_data"] == {"phase": "start"}

	def test_web_handler_error_and_no_secrets_in_clear(self, tour):
		run, stored = tour
		failures = [e for e in stored if e.get("exception") and e["exception"]["values"][-1]["value"].startswith("handler failed")]
		assert len(failures) == 3
		post = [e for e in failures if e["request"]["method"] == "POST" and "n=2" in e["request"]["query_string"]][0]
		assert post["request"]["headers"]["Authorization"] == "[Filtered]"
		assert post["request"]["headers"]["Cookie"] == "[Filtered]"
		assert post["request"]["data"] == {"password": "[Filtered]", "user": "joe"}
		everything = json.dumps(stored)
		for secret in ("secret-token-123", "secret-cookie-456", "secret-password-789", "hunter2", "secret-query-321", "secret-apikey-654", "secret-authtoken-987", "secret-json-135"):
			assert secret not in everything
