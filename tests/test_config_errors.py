"""A bad config value stops the app at start with one line naming [section] key, the value and what is expected."""

import pytest

CASES = [
	("[sentry]\ndata_source_name=not-a-dsn\n", {}, "[sentry] data_source_name = 'not-a-dsn' is not a valid DSN"),
	("[sentry]\ndata_source_name=https://s3cr3tkey@example.invalid:99999/1\n", {}, "'https://***@example.invalid:99999/1' is not a valid DSN"),
	("[sentry]\ndata_source_name=https://example.invalid/1\n", {}, "Missing public key"),
	("[sentry]\ntraces_sample_rate=2\n", {}, "[sentry] traces_sample_rate = '2' is invalid; expected a number between 0 and 1"),
	("[sentry]\ntraces_sample_rate=nan\n", {}, "[sentry] traces_sample_rate = 'nan' is invalid"),
	("[sentry]\ntraces_sample_rate=lots\n", {}, "[sentry] traces_sample_rate = 'lots' is invalid"),
	("[sentry]\n", {"SENTRY_TRACES_SAMPLE_RATE": "-1"}, "SENTRY_TRACES_SAMPLE_RATE = '-1' (for [sentry] traces_sample_rate) is invalid"),
	("[sentry]\nenabled=maybe\n", {}, "[sentry] enabled = 'maybe' is invalid; expected a boolean"),
	("[sentry]\n", {"SENTRY_SEND_DEFAULT_PII": "sure"}, "SENTRY_SEND_DEFAULT_PII = 'sure'"),
	("[sentry]\ndebug=2\n", {}, "[sentry] debug = '2' is invalid"),
	("[sentry]\nshutdown_timeout=soon\n", {}, "[sentry] shutdown_timeout = 'soon' is invalid; expected a non-negative duration"),
	("[sentry]\n[sentry:logging]\nbreadcrumbs=bogus\n", {}, "[sentry:logging] breadcrumbs = 'bogus' is invalid; expected one of debug, info, notice, warning, error, critical"),
	("[sentry]\n[sentry:logging]\nevents=loud\n", {}, "[sentry:logging] events = 'loud' is invalid"),
]


@pytest.mark.parametrize("build", ["module", "initialize"])
@pytest.mark.parametrize("config,env,message", CASES)
def test_bad_value_stops_the_app_with_one_line(run_app, config, env, message, build):
	env = dict({"SENTRY_DSN": "http://key@127.0.0.1:9/1"}, **env) if "data_source_name" not in config else env
	run = run_app("message", config=config, BUILD=build, **env)
	assert run.returncode != 0
	assert "EVENT_ID" not in run.stdout
	lines = [line for line in run.stderr.splitlines() if line.strip()]
	assert lines == [lines[0]] and lines[0].startswith("asab-sentry: "), run.stderr
	assert message in lines[0]
	assert "Traceback" not in run.stderr
	assert "s3cr3tkey" not in run.stderr


def test_validation_survives_python_O(run_app):
	run = run_app("message", config="[sentry]\ntraces_sample_rate=2\n", args=["-O"], SENTRY_DSN="http://key@127.0.0.1:9/1")
	assert run.returncode != 0
	assert "traces_sample_rate = '2' is invalid" in run.stderr
