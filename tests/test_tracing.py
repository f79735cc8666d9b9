"""transaction() and span(): with, async with, decorators, errors; the SDK's current API only."""


class TestTracing(object):
	"""What reaches Sentry as transactions."""

	def test_transactions_and_spans(self, recorder, run_app):
		run = run_app("tracing", recorder.dsn, args=["-W", "error::DeprecationWarning:asab_sentry"], SENTRY_TRACES_SAMPLE_RATE="1")
		assert run.returncode == 0, run.stderr
		assert "DeprecationWarning" not in run.stderr
		assert run.values("PROPAGATED") == ["ValueError inside span"]
		assert run.values("RESULTS") == ["7 8"]
		txs = {t["transaction"]: t for t in recorder.wait_for(5, "transaction")}
		assert set(txs) == {"sync with", "async with", "failing", "decorated async", "decorated sync"}
		assert [s["description"] for s in txs["sync with"]["spans"]] == ["inner sync"]
		assert [s["description"] for s in txs["async with"]["spans"]] == ["inner async"]
		assert txs["async with"]["spans"][0]["op"] == "step"
		assert txs["async with"]["contexts"]["trace"]["op"] == "test"
		assert txs["failing"]["contexts"]["trace"]["status"] == "internal_error"
		assert txs["failing"]["spans"][0]["status"] == "internal_error"
		assert txs["sync with"]["tags"]["appclass"] == "ScenarioApp"

	def test_sample_rate_zero_sends_no_transactions(self, recorder, run_app):
		run = run_app("tracing", recorder.dsn)
		assert run.returncode == 0, run.stderr
		recorder.wait_for(1, "transaction", timeout=1)
		assert recorder.transactions() == []
