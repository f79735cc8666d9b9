"""
`[sentry] profiles_sample_rate`: sentry-sdk's continuous profiler in its trace lifecycle; the
profile chunk of a sampled transaction reaches the server at a graceful stop.
"""

import time

import pytest

from test_crons import recorded  # noqa: F401 -- the fixture


def busy(seconds: float) -> None:
	deadline = time.monotonic() + seconds
	while time.monotonic() < deadline:
		sum(range(1000))


def run_transaction(s):
	async def main(app):
		with s.Service.transaction("task", "profiled work"):
			busy(0.3)

	s.run(main)


def test_profile_chunk_sent_for_a_sampled_transaction(recorded, recorder):  # noqa: F811
	s = recorded({"sentry": {"traces_sample_rate": "1", "profiles_sample_rate": "1"}})
	run_transaction(s)
	[transaction] = recorder.wait_for(1, "transaction")
	[chunk] = recorder.wait_for(1, "profile_chunk")
	assert chunk["platform"] == "python"
	assert len(chunk["profile"]["samples"]) > 5
	functions = {frame.get("function") for frame in chunk["profile"]["frames"]}
	assert "busy" in functions
	# the transaction says which profiler session covered it
	assert transaction["contexts"]["profile"]["profiler_id"] == chunk["profiler_id"]


def test_no_profile_at_rate_zero(sentry_app):
	s = sentry_app({"sentry": {"traces_sample_rate": "1", "profiles_sample_rate": "0"}})
	run_transaction(s)
	assert len(s.transactions()) == 1
	assert s.items("profile_chunk") == [] and s.items("profile") == []


def test_from_the_environment(sentry_app):
	s = sentry_app(environ={"SENTRY_DSN": "http://0123456789abcdef0123456789abcdef@127.0.0.1:9/1", "SENTRY_TRACES_SAMPLE_RATE": "1", "SENTRY_PROFILES_SAMPLE_RATE": "1"})
	run_transaction(s)
	assert len(s.items("profile_chunk")) == 1


@pytest.mark.parametrize("value", ["2", "-1", "often"])
def test_bad_rate_stops_the_app(sentry_app, value):
	with pytest.raises(SystemExit) as exit_info:
		sentry_app({"sentry": {"profiles_sample_rate": value}})
	assert str(exit_info.value) == "asab-sentry: [sentry] profiles_sample_rate = '{}' is invalid; expected a number between 0 and 1".format(value)


def test_partial_chunk_of_a_running_transaction_is_sent_on_flush(sentry_app):
	"""The SDK sends a chunk per 60 s while profiled work goes on; a flush sends what it holds."""
	s = sentry_app({"sentry": {"traces_sample_rate": "1", "profiles_sample_rate": "1"}})

	async def main(app):
		with s.Service.transaction("task", "long work"):
			busy(0.3)
			await s.Service.flush()
			chunks = s.items("profile_chunk")
			assert len(chunks) == 1 and len(chunks[0]["profile"]["samples"]) > 5
			busy(0.1)

	s.run(main)
	assert len(s.transactions()) == 1
	assert len(s.items("profile_chunk")) == 2
