"""
Sentry Crons (asab_sentry/crons.py), rule by rule, in-process: the schedule each kind of value
becomes (and every one refused, with its message), the check-ins a `Monitor` sends as `with`,
`async with` and decorator (their ids, statuses, durations and config), and the WARNINGs of a
monitor that cannot work.
"""

import asyncio
import inspect
import logging
import types

import pytest
import sentry_sdk.crons

from asab_sentry import crons

SCHEDULE = {"schedule": {"type": "interval", "value": 5, "unit": "minute"}}


def not_understood(schedule) -> str:
	return (
		"schedule {!r} is not understood; expected a crontab line such as '*/5 * * * *' or an interval of whole "
		"minutes such as '10m', '1h' or 600".format(schedule)
	)


def check_ins(s) -> list:
	return [(c["monitor_slug"], c["status"]) for c in s.items("check_in")]


def warnings(caplog) -> list:
	return [r.getMessage() for r in caplog.records if r.name.startswith("asab_sentry") and r.levelno == logging.WARNING]


class FakeClock(object):
	"""Stands in for the `time` module in crons.py: `monotonic()` moves only when told."""

	def __init__(self):
		self.Now = 1000.0

	def monotonic(self) -> float:
		return self.Now


@pytest.fixture
def clock(monkeypatch):
	fake = FakeClock()
	monkeypatch.setattr(crons, "time", types.SimpleNamespace(monotonic=fake.monotonic))
	return fake


class TestCrontab(object):
	"""A string of five whitespace-separated fields is a crontab line, sent trimmed."""

	@pytest.mark.parametrize("line", ["*/5 * * * *", "0 3 * * MON-FRI", "0\t3\t1\t*\t*", "1 2 3 4 5"])
	def test_five_fields(self, line):
		assert crons.monitor_config(line) == {"schedule": {"type": "crontab", "value": line}}

	def test_trimmed(self):
		assert crons.monitor_config("  */5 * * * *\n") == {"schedule": {"type": "crontab", "value": "*/5 * * * *"}}

	@pytest.mark.parametrize("line", ["* * * *", "* * * * * *", "*/5"])
	def test_other_field_counts_are_refused(self, line):
		with pytest.raises(crons.ScheduleError) as info:
			crons.monitor_config(line)
		assert str(info.value) == not_understood(line)

	def test_five_words_that_are_not_fields_are_refused(self):
		with pytest.raises(crons.ScheduleError):
			crons.monitor_config("every day at 5 pm")


class TestInterval(object):
	"""An interval (seconds or an ASAB duration) of whole minutes is sent in the largest unit that divides it: week, day, hour, minute."""

	@pytest.mark.parametrize("schedule,value,unit", [
		(60, 1, "minute"),
		(120, 2, "minute"),
		(600.0, 10, "minute"),
		(5400, 90, "minute"),
		(3600, 1, "hour"),
		(7200, 2, "hour"),
		(90000, 25, "hour"),
		(86400, 1, "day"),
		(172800, 2, "day"),
		(691200, 8, "day"),
		(604800, 1, "week"),
		(1209600, 2, "week"),
		("1m", 1, "minute"),
		("10m", 10, "minute"),
		("1.5h", 90, "minute"),
		("2h", 2, "hour"),
		("1d", 1, "day"),
		("7d", 1, "week"),
		("600", 10, "minute"),
	])
	def test_unit(self, schedule, value, unit):
		assert crons.monitor_config(schedule) == {"schedule": {"type": "interval", "value": value, "unit": unit}}

	def test_value_is_an_int(self):
		assert type(crons.monitor_config(600.0)["schedule"]["value"]) is int

	@pytest.mark.parametrize("schedule", [0, 30, 59, 59.9, 61, 90, 3601, -60, "30s", "90s", "61s", "", "every tuesday", float("nan"), float("inf"), [600], True])
	def test_refused(self, schedule):
		with pytest.raises(crons.ScheduleError) as info:
			crons.monitor_config(schedule)
		assert str(info.value) == not_understood(schedule)

	def test_schedule_error_is_a_value_error(self):
		assert issubclass(crons.ScheduleError, ValueError)


class TestMonitorConfig(object):
	"""No schedule, no config; a dict is the schedule as given (copied); `checkin_margin` and `max_runtime` as ints and `timezone` as text, each only when given."""

	def test_none(self):
		assert crons.monitor_config(None) is None

	def test_none_with_options(self):
		assert crons.monitor_config(None, checkin_margin=2) is None

	def test_dict_as_given(self):
		given = {"type": "interval", "value": 3, "unit": "month"}
		config = crons.monitor_config(given)
		assert config == {"schedule": {"type": "interval", "value": 3, "unit": "month"}}
		config["schedule"]["value"] = 4
		assert given["value"] == 3

	def test_only_the_schedule_by_default(self):
		assert crons.monitor_config("5m") == SCHEDULE

	def test_all_options(self):
		assert crons.monitor_config("5m", checkin_margin="2", max_runtime=5.0, timezone="Europe/Prague") == dict(
			SCHEDULE, checkin_margin=2, max_runtime=5, timezone="Europe/Prague",
		)

	def test_option_types(self):
		config = crons.monitor_config("5m", checkin_margin=2.0, max_runtime="7")
		assert type(config["checkin_margin"]) is int and type(config["max_runtime"]) is int

	@pytest.mark.parametrize("key", ["checkin_margin", "max_runtime"])
	def test_zero_is_kept(self, key):
		assert crons.monitor_config("5m", **{key: 0}) == dict(SCHEDULE, **{key: 0})

	@pytest.mark.parametrize("key,value", [("checkin_margin", 2), ("max_runtime", 3), ("timezone", "UTC")])
	def test_each_option_alone(self, key, value):
		assert crons.monitor_config("5m", **{key: value}) == dict(SCHEDULE, **{key: value})


class TestCheckIns(object):
	"""Entering sends `in_progress` with the config; leaving sends `ok` (or `error` on an exception) with the same check-in id, the duration and the config."""

	def test_with_block(self, sentry_app, clock):
		s = sentry_app()
		with s.Service.monitor("export", schedule="5m", checkin_margin=1):
			clock.Now += 2.5
		started, finished = s.items("check_in")
		assert (started["monitor_slug"], started["status"], started["duration"]) == ("export", "in_progress", None)
		assert (finished["monitor_slug"], finished["status"], finished["duration"]) == ("export", "ok", 2.5)
		assert started["check_in_id"] == finished["check_in_id"]
		assert started["monitor_config"] == finished["monitor_config"] == dict(SCHEDULE, checkin_margin=1)

	def test_failure_is_error_and_the_exception_propagates(self, sentry_app, clock):
		s = sentry_app()
		with pytest.raises(KeyError):
			with s.Service.monitor("export", schedule="5m"):
				clock.Now += 1
				raise KeyError("boom")
		assert check_ins(s) == [("export", "in_progress"), ("export", "error")]
		assert s.items("check_in")[1]["duration"] == 1.0

	def test_enter_returns_the_monitor(self, sentry_app):
		m = sentry_app().Service.monitor("export", schedule="5m")
		with m as entered:
			assert entered is m

	def test_exit_does_not_swallow(self):
		m = crons.Monitor("export", None, enabled=False)
		assert m.__exit__(KeyError, KeyError("boom"), None) is False
		assert m.__exit__(None, None, None) is False

	def test_without_a_schedule_no_config_is_sent(self, sentry_app):
		s = sentry_app()
		with s.Service.monitor("set-up-in-sentry"):
			pass
		assert check_ins(s) == [("set-up-in-sentry", "in_progress"), ("set-up-in-sentry", "ok")]
		assert ["monitor_config" in c for c in s.items("check_in")] == [False, False]

	def test_nested_use_of_one_monitor_pairs_inner_with_inner(self, sentry_app, clock):
		s = sentry_app()
		m = s.Service.monitor("export", schedule="5m")
		with m:
			clock.Now += 1
			with m:
				clock.Now += 2
			clock.Now += 4
		ids = [c["check_in_id"] for c in s.items("check_in")]
		assert [c["status"] for c in s.items("check_in")] == ["in_progress", "in_progress", "ok", "ok"]
		assert ids[2] == ids[1] and ids[3] == ids[0] and ids[0] != ids[1]
		assert [c["duration"] for c in s.items("check_in")][2:] == [2.0, 7.0]

	def test_exit_without_enter_closes_a_new_check_in(self, sentry_app, clock):
		s = sentry_app()
		m = s.Service.monitor("export", schedule="5m")
		m.__exit__(None, None, None)
		[finished] = s.items("check_in")
		assert (finished["status"], finished["duration"], finished["monitor_config"]) == ("ok", 0.0, SCHEDULE)

	def test_each_use_is_a_new_check_in(self, sentry_app):
		s = sentry_app()
		m = s.Service.monitor("export", schedule="5m")
		with m:
			pass
		with m:
			pass
		ids = [c["check_in_id"] for c in s.items("check_in")]
		assert ids[0] == ids[1] and ids[2] == ids[3] and ids[0] != ids[2]

	def test_async_with(self, sentry_app, clock):
		s = sentry_app()
		m = s.Service.monitor("async-block", schedule="5m")

		async def main(app):
			async with m as entered:
				assert entered is m
				clock.Now += 3

		s.run(main)
		started, finished = s.items("check_in")
		assert (started["status"], finished["status"], finished["duration"]) == ("in_progress", "ok", 3.0)
		assert started["check_in_id"] == finished["check_in_id"] and finished["monitor_config"] == SCHEDULE

	def test_async_with_failure(self, sentry_app):
		s = sentry_app()

		async def main(app):
			with pytest.raises(KeyError):
				async with s.Service.monitor("async-block", schedule="5m"):
					raise KeyError("boom")

		s.run(main)
		assert check_ins(s) == [("async-block", "in_progress"), ("async-block", "error")]

	def test_one_monitor_in_overlapping_tasks(self, sentry_app):
		s = sentry_app()
		m = s.Service.monitor("shared", schedule="5m")

		async def main(app):
			first_in, second_in = asyncio.Event(), asyncio.Event()

			async def first():
				async with m:
					first_in.set()
					await second_in.wait()
					raise RuntimeError("the first task fails")

			async def second():
				await first_in.wait()
				async with m:
					second_in.set()
					await asyncio.sleep(0)

			await asyncio.gather(first(), second(), return_exceptions=True)

		s.run(main)
		first_started, second_started = s.items("check_in")[:2]
		status = {c["check_in_id"]: c["status"] for c in s.items("check_in")[2:]}
		assert status == {first_started["check_in_id"]: "error", second_started["check_in_id"]: "ok"}


class TestDecorator(object):
	"""A decorated function, sync or async, checks in on every call with the monitor's slug and config; its arguments, result, exception and name are its own."""

	def test_sync(self, sentry_app, clock):
		s = sentry_app()

		@s.Service.monitor("sync-job", schedule="5m", max_runtime=3)
		def job(a, b=0):
			clock.Now += 1.5
			return a + b

		assert job(1, b=2) == 3
		started, finished = s.items("check_in")
		assert check_ins(s) == [("sync-job", "in_progress"), ("sync-job", "ok")]
		assert started["check_in_id"] == finished["check_in_id"] and finished["duration"] == 1.5
		assert started["monitor_config"] == finished["monitor_config"] == dict(SCHEDULE, max_runtime=3)

	def test_sync_failure(self, sentry_app):
		s = sentry_app()

		@s.Service.monitor("sync-job", schedule="5m")
		def job():
			raise KeyError("boom")

		with pytest.raises(KeyError):
			job()
		assert check_ins(s) == [("sync-job", "in_progress"), ("sync-job", "error")]

	def test_each_call_is_a_check_in(self, sentry_app):
		s = sentry_app()

		@s.Service.monitor("sync-job", schedule="5m")
		def job():
			pass

		job()
		job()
		ids = [c["check_in_id"] for c in s.items("check_in")]
		assert len(ids) == 4 and ids[0] == ids[1] and ids[2] == ids[3] and ids[0] != ids[2]

	def test_async(self, sentry_app, clock):
		s = sentry_app()
		seen = []

		@s.Service.monitor("async-job", schedule="5m", timezone="UTC")
		async def job(a, b=0):
			seen.append(check_ins(s))  # the job runs after the in_progress check-in
			clock.Now += 2
			await asyncio.sleep(0)
			return a + b

		async def main(app):
			assert await job(1, b=2) == 3

		s.run(main)
		assert seen == [[("async-job", "in_progress")]]
		started, finished = s.items("check_in")
		assert check_ins(s) == [("async-job", "in_progress"), ("async-job", "ok")]
		assert started["check_in_id"] == finished["check_in_id"] and finished["duration"] == 2.0
		assert finished["monitor_config"] == dict(SCHEDULE, timezone="UTC")

	def test_async_failure(self, sentry_app):
		s = sentry_app()

		@s.Service.monitor("async-job", schedule="5m")
		async def job():
			await asyncio.sleep(0)
			raise KeyError("boom")

		async def main(app):
			with pytest.raises(KeyError):
				await job()

		s.run(main)
		assert check_ins(s) == [("async-job", "in_progress"), ("async-job", "error")]

	def test_async_stays_a_coroutine_function(self):
		async def job():
			pass

		assert inspect.iscoroutinefunction(crons.Monitor("job", None, enabled=False)(job))

	def test_name_and_docstring_kept(self):
		def rebuild_index():
			"""Rebuild it."""

		async def rebuild_async():
			"""Rebuild it later."""

		m = crons.Monitor("job", None, enabled=False)
		assert (m(rebuild_index).__name__, m(rebuild_index).__doc__) == ("rebuild_index", "Rebuild it.")
		assert (m(rebuild_async).__name__, m(rebuild_async).__doc__) == ("rebuild_async", "Rebuild it later.")

	def test_disabled_decorator_runs_without_check_ins(self, sentry_app):
		s = sentry_app()
		m = crons.Monitor("job", SCHEDULE, enabled=False)

		async def main(app):
			assert await m(asyncio.sleep)(0, result=7) == 7

		assert m(lambda: 42)() == 42
		s.run(main)
		assert s.items("check_in") == []


class TestDisabled(object):
	"""A disabled monitor sends nothing and runs the job."""

	def test_with_block(self, sentry_app):
		s = sentry_app()
		ran = []
		with crons.Monitor("job", SCHEDULE, enabled=False):
			ran.append(1)
		assert ran == [1] and s.items("check_in") == []

	def test_enabled_by_default(self, sentry_app):
		s = sentry_app()
		with crons.Monitor("job", SCHEDULE):
			pass
		assert check_ins(s) == [("job", "in_progress"), ("job", "ok")]

	def test_monitor_passes_enabled(self):
		assert crons.monitor("job", "5m", enabled=False).Enabled is False
		assert crons.monitor("job", "5m").Enabled is True

	def test_a_disabled_service_monitors_nothing(self, sentry_app):
		s = sentry_app({"sentry": {"enabled": "false"}})
		assert s.Service.monitor("job", schedule="5m").Enabled is False


class TestSendFailure(object):
	"""A check-in that cannot be sent is a WARNING naming the monitor and the error; the job runs and its own exception is the one raised."""

	@pytest.fixture
	def refusing(self, monkeypatch):
		def capture_checkin(**kwargs):
			raise RuntimeError("no client")

		monkeypatch.setattr(sentry_sdk.crons, "capture_checkin", capture_checkin)

	def test_warning(self, sentry_app, refusing, caplog):
		sentry_app()
		ran = []
		with caplog.at_level(logging.WARNING, logger="asab_sentry"):
			with crons.Monitor("export", SCHEDULE):
				ran.append(1)
		assert ran == [1]
		assert warnings(caplog) == ["Cannot send a Sentry check-in for monitor 'export' (RuntimeError('no client'))."] * 2

	def test_send_returns_none(self, refusing):
		assert crons.Monitor("export", SCHEDULE)._send(status="ok") is None

	def test_the_jobs_exception_propagates(self, sentry_app, refusing):
		sentry_app()
		with pytest.raises(KeyError):
			with crons.Monitor("export", SCHEDULE):
				raise KeyError("boom")

	def test_what_is_handed_to_the_sdk(self, monkeypatch):
		seen = []
		monkeypatch.setattr(sentry_sdk.crons, "capture_checkin", lambda **kwargs: seen.append(kwargs) or "id-{}".format(len(seen)))
		with crons.Monitor("export", SCHEDULE):
			pass
		assert seen[0] == {"monitor_slug": "export", "status": "in_progress", "monitor_config": SCHEDULE}
		assert sorted(seen[1]) == ["check_in_id", "duration", "monitor_config", "monitor_slug", "status"]
		assert (seen[1]["check_in_id"], seen[1]["status"], seen[1]["monitor_config"]) == ("id-1", "ok", SCHEDULE)


class TestMonitorFactory(object):
	"""`monitor()`: a bad slug, schedule or option is a WARNING and a disabled monitor with no config; a good one is enabled with its config."""

	def test_good(self):
		m = crons.monitor("export", "5m", checkin_margin=2)
		assert (m.Slug, m.Config, m.Enabled) == ("export", dict(SCHEDULE, checkin_margin=2), True)

	def test_no_schedule(self):
		m = crons.monitor("export")
		assert (m.Slug, m.Config, m.Enabled) == ("export", None, True)

	@pytest.mark.parametrize("slug", ["", "   ", None, 42])
	def test_bad_slug(self, caplog, slug):
		with caplog.at_level(logging.WARNING, logger="asab_sentry"):
			m = crons.monitor(slug, "5m")
		assert (m.Slug, m.Config, m.Enabled) == (str(slug), None, False)
		assert warnings(caplog) == ["monitor(): the slug must be a non-empty string, not {!r}; the job is not monitored.".format(slug)]

	def test_bad_schedule(self, caplog):
		with caplog.at_level(logging.WARNING, logger="asab_sentry"):
			m = crons.monitor("export", "90s")
		assert (m.Slug, m.Config, m.Enabled) == ("export", None, False)
		assert warnings(caplog) == ["monitor('export'): {}; the job is not monitored.".format(not_understood("90s"))]

	def test_unknown_option(self, caplog):
		with caplog.at_level(logging.WARNING, logger="asab_sentry"):
			m = crons.monitor("export", "5m", colour="blue")
		assert (m.Slug, m.Config, m.Enabled) == ("export", None, False)
		[line] = warnings(caplog)
		assert line.startswith("monitor('export'): ") and "'colour'" in line and line.endswith("; the job is not monitored.")

	def test_bad_option_value(self, caplog):
		with caplog.at_level(logging.WARNING, logger="asab_sentry"):
			m = crons.monitor("export", "5m", checkin_margin="soon")
		assert (m.Slug, m.Config, m.Enabled) == ("export", None, False)
		assert warnings(caplog) == ["monitor('export'): invalid literal for int() with base 10: 'soon'; the job is not monitored."]

	def test_good_one_warns_nothing(self, caplog):
		with caplog.at_level(logging.WARNING, logger="asab_sentry"):
			crons.monitor("export", "*/5 * * * *")
		assert warnings(caplog) == []

	def test_bad_one_sends_nothing_and_runs_the_job(self, sentry_app, caplog):
		s = sentry_app()
		with caplog.at_level(logging.WARNING, logger="asab_sentry"):
			m = s.Service.monitor("", schedule="5m")
		assert m(lambda: 42)() == 42
		assert s.items("check_in") == []
