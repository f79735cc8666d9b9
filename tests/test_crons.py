"""
Sentry Crons: `app.SentryService.monitor(slug, schedule=...)` as `with`, `async with` and a
decorator; check-ins read back from the recording server.
"""

import asyncio
import logging
import time

import asab
import pytest


@pytest.fixture
def recorded(sentry_app, recorder):
	"""`recorded(config)`: an in-process app whose service sends to the recording server."""
	from asab_sentry import transport as delivery
	from asab_sentry.stats import DeliveryStats
	transports = []

	def build(config=None):
		sections = {name: dict(values) for name, values in (config or {}).items()}
		sections.setdefault("sentry", {})["data_source_name"] = recorder.dsn
		transport = delivery.build({"dsn": recorder.dsn}, "", 16 * 1024 * 1024, DeliveryStats())
		transports.append(transport)
		return sentry_app(sections, transport=transport)

	try:
		yield build
	finally:
		for transport in transports:
			transport.kill()


def check_ins(recorder, count):
	return [(c["monitor_slug"], c["status"]) for c in recorder.wait_for(count, "check_in")]


def test_decorated_coroutine_checks_in_with_its_schedule(recorded, recorder):
	s = recorded()

	@s.Service.monitor("rebuild-index", schedule="*/10 * * * *", checkin_margin=2, max_runtime=5, timezone="Europe/Prague")
	async def rebuild_index():
		await asyncio.sleep(0.05)
		return "done"

	async def main(app):
		assert await rebuild_index() == "done"

	s.run(main)
	assert check_ins(recorder, 2) == [("rebuild-index", "in_progress"), ("rebuild-index", "ok")]
	started, finished = recorder.items("check_in")
	assert started["check_in_id"] == finished["check_in_id"]
	assert started["monitor_config"] == {
		"schedule": {"type": "crontab", "value": "*/10 * * * *"}, "checkin_margin": 2, "max_runtime": 5, "timezone": "Europe/Prague",
	}
	assert started["duration"] is None and 0.05 <= finished["duration"] < 5


def test_with_block_that_fails_checks_in_error_and_the_exception_propagates(recorded, recorder):
	s = recorded()

	async def main(app):
		with pytest.raises(KeyError):
			with s.Service.monitor("export", schedule="1d"):
				raise KeyError("boom")

	s.run(main)
	assert check_ins(recorder, 2) == [("export", "in_progress"), ("export", "error")]
	assert recorder.items("check_in")[0]["monitor_config"]["schedule"] == {"type": "interval", "value": 1, "unit": "day"}


def test_async_with_and_sync_decorator(recorded, recorder):
	s = recorded()

	@s.Service.monitor("sync-job", schedule=600)
	def sync_job():
		return 1

	async def main(app):
		async with s.Service.monitor("async-block", schedule="2h"):
			await asyncio.sleep(0)
		sync_job()

	s.run(main)
	assert check_ins(recorder, 4) == [("async-block", "in_progress"), ("async-block", "ok"), ("sync-job", "in_progress"), ("sync-job", "ok")]
	schedules = [c["monitor_config"]["schedule"] for c in recorder.items("check_in")]
	assert schedules[0] == {"type": "interval", "value": 2, "unit": "hour"}
	assert schedules[2] == {"type": "interval", "value": 10, "unit": "minute"}


def test_asab_timer_job_that_starts_failing(recorded, recorder):
	"""A periodic job on an asab.Timer: every run checks in; the failing run checks in `error`."""
	s = recorded()
	runs = []

	@s.Service.monitor("tick", schedule="1m")
	async def tick():
		runs.append(time.monotonic())
		if len(runs) == 3:
			raise RuntimeError("the job broke")

	async def main(app):
		finished = asyncio.Event()

		async def on_timer():
			try:
				await tick()
			except RuntimeError:
				finished.set()

		asab.Timer(app, on_timer, autorestart=True).start(0.01)
		await asyncio.wait_for(finished.wait(), 10)

	s.run(main)
	statuses = [status for _, status in check_ins(recorder, 6)]
	assert statuses[:6] == ["in_progress", "ok", "in_progress", "ok", "in_progress", "error"]


@pytest.mark.parametrize("schedule", ["every tuesday", "90s", 30, "* * *"])
def test_bad_schedule_is_a_warning_and_the_job_runs_unmonitored(sentry_app, caplog, schedule):
	s = sentry_app()
	ran = []
	with caplog.at_level(logging.WARNING, logger="asab_sentry"):
		with s.Service.monitor("bad", schedule=schedule):
			ran.append(1)
		s.Service.capture_message("marker")
	assert ran == [1]
	assert s.items("check_in") == []
	assert [e["message"] for e in s.events()] == ["marker"]
	assert any("monitor('bad')" in r.getMessage() and "crontab" in r.getMessage() for r in caplog.records)


def test_monitor_on_a_disabled_service_runs_the_job(sentry_app):
	s = sentry_app({"sentry": {"enabled": "false"}})

	@s.Service.monitor("job", schedule="5m")
	def job():
		return 42

	assert job() == 42
	assert s.Transport.Envelopes == []
