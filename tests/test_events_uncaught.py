"""
Which exceptions are events (issue 10, findings 1 to 3): one event per site an exception leaves
unhandled, never per exception object; handled ones are not events; exception-less ERROR lines of
the loop's exception handler are.
"""

import asyncio
import gc
import logging

import pytest

from asab_sentry import uncaught


def _types(events):
	return [e["exception"]["values"][-1]["type"] if "exception" in e else e.get("message") or e.get("logentry", {}).get("message") for e in events]


async def _forget(tasks):
	"""Wait until the tasks are done, drop them and collect, so asyncio reports what nobody retrieved."""
	await asyncio.wait(tasks)
	tasks.clear()
	gc.collect()
	await asyncio.sleep(0)


class TestLoopHandlerLines(object):
	"""Finding 1: ERROR lines the loop handler logs without an exception object are events."""

	@pytest.mark.parametrize("message", ["Unclosed client session", "Task was destroyed but it is pending!"])
	def test_exceptionless_context_is_an_event(self, sentry_app, message):
		s = sentry_app()

		async def main(app):
			asyncio.get_running_loop().call_exception_handler({"message": message})
			app.SentryService.capture_message("marker")

		s.run(main)
		texts = [e.get("logentry", {}).get("message") or e.get("message") or "" for e in s.events()]
		assert len(texts) == 2 and message in texts[0] and texts[1] == "marker", texts
		assert s.events()[0]["level"] == "error"

	def test_a_reported_exception_is_not_logged_as_a_second_event(self, sentry_app):
		s = sentry_app()

		async def main(app):
			asyncio.get_running_loop().call_exception_handler({"message": "Exception in callback", "exception": KeyError("k")})
			app.SentryService.capture_message("marker")

		s.run(main)
		assert _types(s.events()) == ["KeyError", "marker"]
		assert s.events()[0]["exception"]["values"][-1]["mechanism"] == {"type": "asyncio", "handled": False}


class TestOnePerSite(object):
	"""Finding 2: five tasks failing on one shared future are five events, each with its own tags."""

	def test_shared_future_five_tasks_five_events(self, sentry_app):
		s = sentry_app()

		async def main(app):
			shared = asyncio.get_running_loop().create_future()

			async def request(i):
				app.SentryService.set_tag("request", str(i))
				app.SentryService.set_user({"id": str(i)})
				await shared

			tasks = [asyncio.ensure_future(request(i)) for i in range(5)]
			await asyncio.sleep(0)
			shared.set_exception(RuntimeError("backend down"))
			await _forget(tasks)
			app.SentryService.capture_message("marker")

		s.run(main)
		events = s.events()
		assert _types(events) == ["RuntimeError"] * 5 + ["marker"]
		assert sorted(e["tags"]["request"] for e in events[:5]) == ["0", "1", "2", "3", "4"]
		assert sorted(e["user"]["id"] for e in events[:5]) == ["0", "1", "2", "3", "4"]
		assert all(e["exception"]["values"][-1]["mechanism"]["handled"] is False for e in events[:5])
		assert "request" not in events[5]["tags"]

	def test_capture_unhandled_once_per_call_and_log_lines_of_the_flow_are_not_events(self, sentry_app):
		s = sentry_app()
		shared = RuntimeError("shared")

		async def main(app):
			async def handler(i):
				app.SentryService.set_tag("request", str(i))
				uncaught.capture_unhandled(shared, "aiohttp")
				logging.getLogger("aiohttp.server").error("Error handling request", exc_info=shared)
				logging.getLogger("asab.web").error("Exception in handler", exc_info=shared)

			await asyncio.gather(*(handler(i) for i in range(5)))
			app.SentryService.capture_message("marker")

		s.run(main)
		events = s.events()
		assert _types(events) == ["RuntimeError"] * 5 + ["marker"]
		assert {e["exception"]["values"][-1]["mechanism"]["type"] for e in events[:5]} == {"aiohttp"}
		assert sorted(e["tags"]["request"] for e in events[:5]) == ["0", "1", "2", "3", "4"]

	def test_log_line_in_another_flow_is_its_own_event(self, sentry_app):
		s = sentry_app()

		async def main(app):
			exc = RuntimeError("x")
			uncaught.capture_unhandled(exc, "aiohttp")

			async def other():
				logging.getLogger("app").error("seen elsewhere", exc_info=exc)

			await asyncio.ensure_future(other())

		s.run(main)
		assert _types(s.events()) == ["RuntimeError", "RuntimeError"]


class TestHandledIsNotAnEvent(object):
	"""Finding 3: exceptions the caller handles are not events; an unhandled task's is, once."""

	def test_handled_task_exceptions_send_nothing(self, sentry_app):
		s = sentry_app()

		async def fail():
			await asyncio.sleep(0)
			raise ValueError("handled")

		async def main(app):
			await asyncio.gather(fail(), fail(), return_exceptions=True)
			task = asyncio.ensure_future(fail())
			try:
				await task
			except ValueError:
				pass
			try:
				await asyncio.wait_for(fail(), timeout=5)
			except ValueError:
				pass
			late = asyncio.ensure_future(fail())
			await asyncio.wait([late])
			late.exception()
			del task, late
			gc.collect()
			await asyncio.sleep(0)
			app.SentryService.capture_message("marker")

		s.run(main)
		assert _types(s.events()) == ["marker"]

	def test_unretrieved_task_exception_is_one_event_with_the_task_tags(self, sentry_app):
		s = sentry_app()

		async def main(app):
			async def crash():
				app.SentryService.set_tag("in_task", "yes")
				raise RuntimeError("nobody awaits me")

			await _forget([asyncio.ensure_future(crash())])
			app.SentryService.capture_message("marker")

		s.run(main)
		events = s.events()
		assert _types(events) == ["RuntimeError", "marker"]
		assert events[0]["tags"]["in_task"] == "yes"
		assert events[0]["exception"]["values"][-1]["mechanism"] == {"type": "asyncio", "handled": False}

	def test_main_exception_is_one_event(self, sentry_app):
		s = sentry_app()

		async def main(app):
			app.SentryService.set_tag("in_main", "yes")
			raise KeyError("main")

		with pytest.raises(KeyError):
			s.run(main)
		events = s.events()
		assert _types(events) == ["KeyError"]
		assert events[0]["tags"]["in_main"] == "yes"
		assert events[0]["exception"]["values"][-1]["mechanism"] == {"type": "asab.main", "handled": False}
		gc.collect()  # ASAB's tasks that the crash left pending are destroyed now, on this test's client

	def test_cancelled_task_marks_the_transaction_cancelled(self, sentry_app):
		s = sentry_app({"sentry": {"traces_sample_rate": "1"}})

		async def main(app):
			async def work():
				with app.SentryService.transaction("task", "cancelled work"):
					await asyncio.sleep(60)

			task = asyncio.ensure_future(work())
			await asyncio.sleep(0.01)
			task.cancel()
			await asyncio.wait([task])

		s.run(main)
		tx, = s.transactions()
		assert tx["contexts"]["trace"]["status"] == "cancelled"
		assert s.events() == []
