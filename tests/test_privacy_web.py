"""
Privacy through a real asab.web service (tests/apps/privacy_app.py): each leak of issue 9 is
reproduced with real requests, and what reaches Sentry (the MemoryTransport in-process, the
recording server and Bugsink as a subprocess) holds no credential and, without
send_default_pii, no client address.
"""

import json
import os
import sys
import uuid

import pytest

from apps import privacy_app
from conftest import HERE, app_env, run_group, write_config

FILTERED = "[Filtered]"
APP = os.path.join(HERE, "apps", "privacy_app.py")


def _run_inprocess(sentry_app, **config):
	import asab.web
	s = sentry_app({"sentry": dict({"traces_sample_rate": "1"}, **config)}, modules=[asab.web.Module])
	port = privacy_app.setup(s.App)
	s.run(lambda app: privacy_app.drive(app, port))
	return s.events(), s.transactions()


def _login_events(events):
	return [e for e in events if (e.get("request") or {}).get("url", "").endswith("/login")]


def _leaks(items) -> list:
	wire = json.dumps(items)
	return [name for name, value in privacy_app.SECRETS.items() if value in wire]


@pytest.fixture(scope="module")
def without_pii():
	"""One in-process run with send_default_pii off (the default)."""
	from asab_sentry.testing import sentry_app as build
	import contextlib
	with contextlib.ExitStack() as stack:
		events, transactions = _run_inprocess(lambda *a, **k: stack.enter_context(build(*a, **k)))
	return events, transactions


class TestInProcess(object):
	"""The leaks of issue 9, one by one, through a real asab.web app in this process."""

	def test_requests_failed_and_were_reported(self, without_pii):
		events, transactions = without_pii
		assert len(_login_events(events)) == 2
		assert any(e.get("message") == "privacy run done" for e in events)
		assert len(transactions) >= 3

	def test_no_credential_anywhere(self, without_pii):
		events, transactions = without_pii
		assert _leaks(events) == [] and _leaks(transactions) == []

	def test_transactions_carry_no_request_body(self, without_pii):
		events, transactions = without_pii
		requests = [t["request"] for t in transactions if "request" in t]
		assert requests and all("data" not in r for r in requests)

	def test_query_strings_in_events_and_transactions(self, without_pii):
		events, transactions = without_pii
		logins = [x["request"] for x in _login_events(events) + _login_events(transactions)]
		assert len(logins) == 4
		for request in logins:
			assert request["query_string"] == "token=[Filtered]&password=[Filtered]&api_key=[Filtered]&page=1"

	def test_headers(self, without_pii):
		events, transactions = without_pii
		for request in [x["request"] for x in _login_events(events) + _login_events(transactions)]:
			headers = {k.lower(): v for k, v in request["headers"].items()}
			for name in ("x-auth-token", "x-api-key", "authorization", "cookie", "x-forwarded-for"):
				assert headers[name] == FILTERED, name

	def test_json_body_fields(self, without_pii):
		events, _ = without_pii
		bodies = [e["request"].get("data") for e in _login_events(events)]
		assert {"user": "joe", "password": FILTERED, "newPassword": FILTERED, "access_token": FILTERED, "client_secret": FILTERED} in bodies
		assert {"user": "joe", "password": FILTERED} in bodies

	def test_struct_data_of_the_json_exception_middleware(self, without_pii):
		events, _ = without_pii
		struct = [e["extra"]["struct_data"] for e in _login_events(events)]
		assert struct
		for data in struct:
			headers = {k.lower(): v for k, v in data.items()}
			assert headers["x-api-key"] == FILTERED and headers["x-forwarded-for"] == FILTERED and headers["x-auth-token"] == FILTERED

	def test_outgoing_http_breadcrumb(self, without_pii):
		events, _ = without_pii
		call = [e for e in events if (e.get("request") or {}).get("url", "").endswith("/call")]
		assert len(call) == 1
		crumbs = [c["data"] for c in call[0]["breadcrumbs"]["values"] if c.get("type") == "http"]
		assert crumbs, "the outgoing call left no breadcrumb"
		for data in crumbs:
			assert data.get("http.query") == "api_key=[Filtered]&page=2"
			assert "okey" not in data.get("url", "")

	def test_client_address_only_with_send_default_pii(self, without_pii, sentry_app):
		events, transactions = without_pii
		assert privacy_app.ADDRESS not in json.dumps([events, transactions])
		events, transactions = _run_inprocess(sentry_app, send_default_pii="true")
		assert privacy_app.ADDRESS in json.dumps(_login_events(events))
		# credentials stay filtered with send_default_pii (X-Api-Key was sent in clear before)
		assert _leaks(events) == [] and _leaks(transactions) == []


def _run_subprocess(tmp_path, dsn, **env):
	conf = write_config(tmp_path, "[sentry]\ntraces_sample_rate=1\n")
	return run_group([sys.executable, APP, conf], 120, env=app_env(dsn, **env), cwd=str(tmp_path))


def test_recording_server_receives_no_credential(recorder, tmp_path):
	"""The real delivery path (HTTP transport to a recording server): events and transactions."""
	run = _run_subprocess(tmp_path, recorder.dsn)
	assert run.returncode == 0, run.stderr
	assert "STATUS json 500" in run.stdout and "STATUS call 500" in run.stdout
	events = recorder.wait_for(4)
	transactions = recorder.transactions()
	assert len(_login_events(events)) == 2 and transactions
	assert _leaks(recorder.items()) == []
	assert privacy_app.ADDRESS not in json.dumps(recorder.items())
	assert all("data" not in t.get("request", {}) for t in transactions)


def test_bugsink_stores_no_credential(bugsink, tmp_path):
	"""What a real server stored: the `?password=` query value and every other credential are not in clear."""
	service_id = "privacy-" + uuid.uuid4().hex[:8]
	run = _run_subprocess(tmp_path, bugsink.dsn, SERVICE_ID=service_id)
	assert run.returncode == 0, run.stderr
	stored = [e for e in bugsink.events() if e.get("tags", {}).get("service_id") == service_id]
	logins = _login_events(stored)
	assert len(logins) == 2
	for event in logins:
		assert event["request"]["query_string"] == "token=[Filtered]&password=[Filtered]&api_key=[Filtered]&page=1", event["request"]
	assert _leaks(stored) == []
	assert privacy_app.ADDRESS not in json.dumps(stored)
