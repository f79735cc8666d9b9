"""
Sentry Crons: check-ins of scheduled work, so a periodic job that stops running or starts failing
alerts the team.

`SentryService.monitor(slug, schedule=...)` returns a `Monitor`, used as `with`, `async with` or a
decorator of sync and async functions: entering sends an `in_progress` check-in (with the monitor's
schedule, so Sentry creates or updates the monitor), leaving sends `ok` or `error` with the duration.
Built on sentry-sdk's public `sentry_sdk.crons.capture_checkin`.
"""

import contextvars
import functools
import inspect
import logging
import re
import time
import typing

import asab.utils
import sentry_sdk.crons

L = logging.getLogger(__name__)

_CRONTAB = re.compile(r"^\S+(\s+\S+){4}$")
#: One crontab field: numbers, `*`, `?`, ranges, steps, lists, `L`/`W`/`#`; or three-letter names (`MON-FRI`, `JAN,JUL`).
_CRON_FIELD = re.compile(r"^[0-9*?LW#/,\-]+$|^[A-Za-z]{3}([-,][A-Za-z]{3})*$")
_UNITS = (("week", 7 * 86400), ("day", 86400), ("hour", 3600), ("minute", 60))


class ScheduleError(ValueError):
	"""A monitor's schedule is not understood; the message says what is expected."""


def monitor_config(
	schedule: typing.Union[str, int, float, dict, None],
	checkin_margin: typing.Optional[int] = None,
	max_runtime: typing.Optional[int] = None,
	timezone: typing.Optional[str] = None,
) -> typing.Optional[dict]:
	"""
	Sentry's `monitor_config` for a schedule.

	Args:
		schedule: A crontab line (`"*/5 * * * *"`), an interval as an ASAB duration (`"10m"`,
			`"1h"`) or seconds (whole minutes; Sentry's smallest unit is the minute), a ready
			`monitor_config["schedule"]` dict, or None (the monitor is set up in Sentry's UI).
		checkin_margin: Minutes a check-in may be late before it counts as missed.
		max_runtime: Minutes a job may run before it counts as timed out.
		timezone: The crontab's time zone, e.g. `Europe/Prague`.

	Raises:
		ScheduleError: The schedule is not one of the above.
	"""
	if schedule is None:
		return None
	if isinstance(schedule, dict):
		config: dict = {"schedule": dict(schedule)}
	elif isinstance(schedule, str) and _CRONTAB.match(schedule.strip()):
		if not all(_CRON_FIELD.match(field) for field in schedule.split()):
			raise ScheduleError("schedule {!r} is not a crontab line; expected five fields such as '*/5 * * * *' or '0 3 * * MON-FRI'".format(schedule))
		config = {"schedule": {"type": "crontab", "value": schedule.strip()}}
	else:
		config = {"schedule": _interval(schedule)}
	if checkin_margin is not None:
		config["checkin_margin"] = int(checkin_margin)
	if max_runtime is not None:
		config["max_runtime"] = int(max_runtime)
	if timezone is not None:
		config["timezone"] = str(timezone)
	return config


def _interval(schedule) -> dict:
	try:
		seconds = float(schedule) if isinstance(schedule, (int, float)) else asab.utils.convert_to_seconds(str(schedule))
	except (ValueError, TypeError):
		seconds = -1.0
	if isinstance(schedule, bool) or not seconds >= 60 or seconds % 60 != 0:
		raise ScheduleError(
			"schedule {!r} is not understood; expected a crontab line such as '*/5 * * * *' or an interval of whole minutes such as '10m', '1h' or 600".format(schedule)
		)
	for unit, size in _UNITS:
		if seconds % size == 0:
			return {"type": "interval", "value": int(seconds // size), "unit": unit}
	raise AssertionError("unreachable: every whole minute divides by 60")


class Monitor(object):
	"""
	Check-ins of one monitored job (see the module's docstring). Never raises into the job: a
	check-in that cannot be sent is a WARNING, and the job's own exception propagates unchanged.

	Examples:
	```python
	@app.SentryService.monitor("rebuild-index", schedule="*/10 * * * *")
	async def rebuild_index():
		...

	with app.SentryService.monitor("nightly-export", schedule="1d"):
		export()
	```
	"""

	def __init__(self, slug: str, config: typing.Optional[dict], enabled: bool = True):
		self.Slug = slug
		self.Config = config
		self.Enabled = enabled
		# The check-ins this monitor has open, per task and thread (a context variable): one
		# Monitor used by overlapping tasks closes each task's own check-in.
		self._Active: contextvars.ContextVar[typing.Tuple[typing.Tuple[typing.Optional[str], float], ...]] = contextvars.ContextVar("asab_sentry_monitor_active", default=())

	def __enter__(self) -> "Monitor":
		check_in_id = None
		if self.Enabled:
			check_in_id = self._send(status="in_progress", monitor_config=self.Config)
		self._Active.set(self._Active.get() + ((check_in_id, time.monotonic()),))
		return self

	def __exit__(self, exc_type, exc, tb) -> typing.Literal[False]:
		active = self._Active.get()
		check_in_id, started = active[-1] if active else (None, time.monotonic())
		self._Active.set(active[:-1])
		if self.Enabled:
			self._send(
				check_in_id=check_in_id, status="error" if exc_type is not None else "ok",
				duration=time.monotonic() - started, monitor_config=self.Config,
			)
		return False

	async def __aenter__(self) -> "Monitor":
		return self.__enter__()

	async def __aexit__(self, exc_type, exc, tb) -> typing.Literal[False]:
		return self.__exit__(exc_type, exc, tb)

	def __call__(self, function):
		slug, config, enabled = self.Slug, self.Config, self.Enabled

		if inspect.iscoroutinefunction(function):
			@functools.wraps(function)
			async def async_wrapper(*args, **kwargs):
				with Monitor(slug, config, enabled):
					return await function(*args, **kwargs)
			return async_wrapper

		@functools.wraps(function)
		def wrapper(*args, **kwargs):
			with Monitor(slug, config, enabled):
				return function(*args, **kwargs)
		return wrapper

	def _send(self, **kwargs) -> typing.Optional[str]:
		try:
			return sentry_sdk.crons.capture_checkin(monitor_slug=self.Slug, **kwargs)
		except Exception as e:
			L.warning("Cannot send a Sentry check-in for monitor '{}' ({!r}).".format(self.Slug, e))
			return None


def monitor(slug: str, schedule=None, enabled: bool = True, **config) -> Monitor:
	"""
	A `Monitor` for `slug`; a bad slug or schedule is a WARNING and the job runs unmonitored.

	Args:
		slug: The monitor's slug in Sentry (letters, digits, `-`, `_`).
		schedule: See `monitor_config()`.
		enabled: False for a monitor that sends nothing (a disabled service).
		**config: `checkin_margin`, `max_runtime`, `timezone` (see `monitor_config()`).
	"""
	if not isinstance(slug, str) or slug.strip() == "":
		L.warning("monitor(): the slug must be a non-empty string, not {!r}; the job is not monitored.".format(slug))
		return Monitor(str(slug), None, enabled=False)
	try:
		config_dict = monitor_config(schedule, **config)
	except (ScheduleError, TypeError, ValueError) as e:
		L.warning("monitor('{}'): {}; the job is not monitored.".format(slug, e))
		return Monitor(slug, None, enabled=False)
	return Monitor(slug, config_dict, enabled=enabled)
