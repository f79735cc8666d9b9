"""
`python -m asab_sentry check -c CONFIG`: what it prints and its exit code against a real server
(Bugsink), a stopped one, a wrong key, a rate limit and bad configuration. Each run is a process of
its own, as a user would run it.
"""

import re
import subprocess
import sys

import pytest

from conftest import app_env, write_config

#: Every test here runs the CLI in a process of its own.
pytestmark = pytest.mark.subprocess


def check(tmp_path, config: str, timeout: float = 60, answer_within: float = 5, **env) -> subprocess.CompletedProcess:
	path = write_config(tmp_path, config)
	return subprocess.run(
		[sys.executable, "-m", "asab_sentry", "check", "-c", path, "--timeout", str(answer_within)],
		capture_output=True, text=True, timeout=timeout, env=app_env(**env), cwd=str(tmp_path),
	)


def event_id(stdout: str) -> str:
	match = re.search(r"^test event:\s+([0-9a-f]{32})$", stdout, re.M)
	assert match, stdout
	return match.group(1)


def failed_line(result) -> str:
	lines = [line for line in result.stdout.splitlines() if line.startswith("FAILED: ")]
	assert len(lines) == 1, result.stdout
	return lines[0]


def test_accepted_by_bugsink_and_stored(tmp_path, bugsink):
	result = check(tmp_path, "[sentry]\ndata_source_name={}\nenvironment=check-test\nrelease=app@1.0\n".format(bugsink.dsn))
	assert result.returncode == 0, result.stdout + result.stderr
	eid = event_id(result.stdout)
	assert "OK: the server accepted event {}".format(eid) in result.stdout
	assert "server answer:  HTTP 200" in result.stdout
	stored = bugsink.event(eid)
	assert stored is not None
	assert stored["environment"] == "check-test"
	assert stored["release"] == "app@1.0"
	# the settings are printed with the key masked
	assert "dsn:            http://***@127.0.0.1:" in result.stdout
	from asab_sentry.demo.bugsink import PROJECT_KEY
	assert PROJECT_KEY not in result.stdout


def test_wrong_key_is_403(tmp_path, bugsink):
	from asab_sentry.demo.bugsink import PROJECT_KEY
	dsn = bugsink.dsn.replace(PROJECT_KEY, "0000000000000000000000000000beef")
	assert dsn != bugsink.dsn
	result = check(tmp_path, "[sentry]\ndata_source_name={}\n".format(dsn))
	assert result.returncode == 1
	assert "answered HTTP 403: wrong key or project" in failed_line(result)


def test_stopped_server_is_connection_refused(tmp_path, recorder):
	dsn = recorder.dsn
	recorder.stop()
	result = check(tmp_path, "[sentry]\ndata_source_name={}\n".format(dsn))
	assert result.returncode == 1
	assert "connection refused by 127.0.0.1:" in failed_line(result)


def test_rate_limited_is_429(tmp_path, recorder):
	recorder.Script.append((429, {"Retry-After": "60"}))
	result = check(tmp_path, "[sentry]\ndata_source_name={}\n".format(recorder.dsn))
	assert result.returncode == 1
	assert "answered HTTP 429: rate limited (retry after 60)" in failed_line(result)
	assert recorder.Requests == 1


def test_accepted_by_recorder_sends_the_scrubbed_test_event(tmp_path, recorder):
	result = check(tmp_path, "[sentry]\ndata_source_name={}\n".format(recorder.dsn), SERVICE_ID="svc-1")
	assert result.returncode == 0, result.stdout + result.stderr
	events = recorder.events()
	assert [e["event_id"] for e in events] == [event_id(result.stdout)]
	assert events[0]["tags"]["service_id"] == "svc-1"


def test_bad_value_is_one_line_and_nothing_sent(tmp_path, recorder):
	result = check(tmp_path, "[sentry]\ndata_source_name={}\nsample_rate=2\n".format(recorder.dsn))
	assert result.returncode == 1
	assert failed_line(result) == "FAILED: [sentry] sample_rate = '2' is invalid; expected a number between 0 and 1"
	assert recorder.Requests == 0


def test_no_sentry_section(tmp_path):
	result = check(tmp_path, "[general]\n", SENTRY_DSN="http://0123456789abcdef0123456789abcdef@127.0.0.1:9/1")
	assert result.returncode == 1
	assert "no [sentry] section" in failed_line(result)


def test_no_dsn(tmp_path):
	result = check(tmp_path, "[sentry]\n")
	assert result.returncode == 1
	assert "no DSN" in failed_line(result)


def test_unknown_host_is_dns_failure(tmp_path):
	result = check(tmp_path, "[sentry]\ndata_source_name=https://0123456789abcdef0123456789abcdef@sentry.invalid/1\n")
	assert result.returncode == 1
	assert "DNS failure: cannot resolve sentry.invalid" in failed_line(result)


def test_missing_integration_package_names_it(tmp_path):
	result = check(tmp_path, "[sentry]\ndata_source_name=http://0123456789abcdef0123456789abcdef@127.0.0.1:9/1\nintegrations=pymongo\n")
	assert result.returncode == 1
	assert failed_line(result).endswith("integration 'pymongo' needs the package 'pymongo': pip install pymongo")


def test_too_large_is_413(tmp_path, recorder):
	recorder.Script.append((413, {}))
	result = check(tmp_path, "[sentry]\ndata_source_name={}\n".format(recorder.dsn))
	assert result.returncode == 1
	assert "answered HTTP 413: the event is too large for the server" in failed_line(result)


def test_server_that_never_answers_is_a_timeout(tmp_path, recorder):
	recorder.Hang = True
	result = check(tmp_path, "[sentry]\ndata_source_name={}\n".format(recorder.dsn), answer_within=1)
	assert result.returncode == 1
	assert "timeout: 127.0.0.1:{} did not answer within 1 s".format(recorder.port) in failed_line(result)
	assert recorder.Requests == 1


def test_https_to_a_plain_http_server_is_a_tls_error(tmp_path, recorder):
	dsn = recorder.dsn.replace("http://", "https://")
	result = check(tmp_path, "[sentry]\ndata_source_name={}\n".format(dsn))
	assert result.returncode == 1
	assert "TLS error talking to 127.0.0.1:{}".format(recorder.port) in failed_line(result)
	assert recorder.Envelopes == []


def test_app_class_and_manifest_make_the_release_as_in_the_service(tmp_path, recorder):
	(tmp_path / "MANIFEST.json").write_text('{"version": "1.4.0"}')
	path = write_config(tmp_path, "[sentry]\ndata_source_name={}\nintegrations=threading\n\n[sentry:integration:threading]\npropagate_scope=false\n".format(recorder.dsn))
	result = subprocess.run(
		[sys.executable, "-m", "asab_sentry", "check", "-c", path, "--app-class", "OrderApplication"],
		capture_output=True, text=True, timeout=60, env=app_env(), cwd=str(tmp_path),
	)
	assert result.returncode == 0, result.stdout + result.stderr
	assert "release:        OrderApplication@1.4.0" in result.stdout
	assert "configured:     integrations: threading; disabled: -; threading {'propagate_scope': False}" in result.stdout
	[event] = recorder.events()
	assert event["release"] == "OrderApplication@1.4.0" and event["tags"]["appclass"] == "OrderApplication"
	assert "problem:        no release" not in result.stdout
