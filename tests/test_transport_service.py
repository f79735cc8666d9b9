"""
The delivery transport inside a whole application (in-process, against the recording server):
late errors after finalize, a spool handed to the next service of the process, TLS settings.
"""

import asyncio
import logging

import asab
import sentry_sdk

import asab_sentry


class LateFailure(asab.Service):
	"""A service whose finalize fails after SentryService's has flushed: ASAB logs "Error during finalize call"."""

	async def finalize(self, app):
		await asyncio.sleep(0.3)
		raise RuntimeError("late failure in finalize")


def config(recorder, **sentry):
	values = {"data_source_name": recorder.dsn, "shutdown_timeout": "10s"}
	values.update(sentry)
	return {"sentry": values}


class TestLateErrors(object):
	"""What is captured after SentryService.finalize is sent within the rest of shutdown_timeout and counted; the summary comes last."""

	def test_error_during_another_finalize_is_delivered_and_counted(self, sentry_app, recorder, caplog):
		recorder.Delay = 3.0  # longer than the old 1 s exit flush (+1 s join)
		s = sentry_app(config(recorder), modules=[asab_sentry.Module])
		LateFailure(s.App, "test.LateFailure")
		with caplog.at_level(logging.INFO):
			s.run()
			sentry_sdk.get_client().close()  # what the SDK's exit hook does at interpreter exit
		values = [v["value"] for e in recorder.events() for v in e.get("exception", {}).get("values", [])]
		assert values == ["late failure in finalize"]
		lines = [rec.getMessage() for rec in caplog.records if rec.name.startswith("asab_sentry")]
		assert lines[-1].startswith("Sentry delivery: captured 1, sent 1,") and "dropped 0" in lines[-1]
		assert len([line for line in lines if line.startswith("Sentry delivery")]) == 1


class TestSpoolHandOver(object):
	"""A stopped application's spool is free for the next service of the same process."""

	def test_next_service_uses_the_same_spool(self, sentry_app, recorder, tmp_path):
		spool = str(tmp_path / "spool")
		recorder.Status = 503  # the first one cannot deliver: its event stays in the spool
		s = sentry_app(config(recorder, spool_dir=spool, shutdown_timeout="200ms"), modules=[asab_sentry.Module])

		async def main(app):
			app.SentryService.capture_message("from the first application")

		s.run(main)
		recorder.Status = 200
		second = asab_sentry.SentryService(s.App, "test.SecondSentryService")
		second.capture_message("from the second service")
		got = recorder.wait_for(2)
		assert sorted(e["message"] for e in got) == ["from the first application", "from the second service"]


class TestFaultsOnTheWire(object):
	"""The real HTTP sender against the fault-injecting recorder."""

	def test_connection_resets_are_retried_until_delivered(self, sentry_app, recorder):
		# Resets on new connections are failures (retried with backoff); the reset after the 503
		# comes on the kept-alive connection, so it gets one quiet retry on a new one first.
		recorder.Script = [("reset", {}), ("reset", {}), (503, {}), ("reset", {}), ("reset", {})]
		s = sentry_app(config(recorder), modules=[asab_sentry.Module])
		s.Service.capture_message("through resets")
		got = recorder.wait_for(1, timeout=40)
		assert [e["message"] for e in got] == ["through resets"]
		assert recorder.Requests == 6
		assert s.Service.Stats.snapshot()["retried"] == 4

	def test_requests_share_keep_alive_connections(self, sentry_app, recorder):
		s = sentry_app(config(recorder), modules=[asab_sentry.Module])
		for i in range(50):
			s.Service.capture_message("m{}".format(i))
		assert len(recorder.wait_for(50)) == 50
		assert recorder.Connections <= 4  # the pool's size, not one per envelope
