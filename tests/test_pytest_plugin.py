"""
The pytest plugin (`sentry_events`, loaded through the package's `pytest11` entry point) and the
`capture_events()` context manager it is built on. The plugin's tests run in an inner pytest
process, as a user's suite would: the README's example verbatim, an application with a real DSN
(its transport swapped and put back), one the fixture builds, and scope state reset between tests.
"""

import os
import re
import subprocess
import sys

import pytest

from conftest import app_env

HERE = os.path.dirname(os.path.abspath(__file__))
README = os.path.join(os.path.dirname(HERE), "README.md")


def readme_example(name: str) -> str:
	with open(README) as f:
		text = f.read()
	match = re.search(r"<!-- example: {} -->\n```python\n(.*?)```".format(re.escape(name)), text, re.S)
	assert match, "README has no example {}".format(name)
	return match.group(1)


def run_pytest(tmp_path, files: dict, *args: str) -> subprocess.CompletedProcess:
	for name, text in files.items():
		(tmp_path / name).write_text(text)
	return subprocess.run(
		[sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-n", "0", "-p", "no:randomly", *args, str(tmp_path)],
		capture_output=True, text=True, timeout=120, env=app_env(), cwd=str(tmp_path),
	)


@pytest.mark.subprocess
def test_readme_example_passes(tmp_path):
	result = run_pytest(tmp_path, {"test_orders.py": readme_example("test_orders.py")})
	assert result.returncode == 0, result.stdout + result.stderr
	assert "2 passed" in result.stdout


@pytest.mark.subprocess
def test_readme_example_fails_when_the_handler_stops_reporting(tmp_path):
	source = readme_example("test_orders.py").replace("self.SentryService.capture_exception(e)", "pass")
	result = run_pytest(tmp_path, {"test_orders.py": source})
	assert result.returncode == 1
	assert "1 failed, 1 passed" in result.stdout


ENABLED_APP = '''
import asab, asab_sentry, pytest, sentry_sdk
from asab_sentry.transport import DeliveryTransport


@pytest.fixture(scope="module")
def asab_app():
	asab.Config.read_dict({"sentry": {"data_source_name": "http://0123456789abcdef0123456789abcdef@127.0.0.1:9/1", "environment": "real"}})
	return asab.Application(args=[], modules=[asab_sentry.Module])


def test_a_sets_a_tag_and_captures(asab_app, sentry_events):
	assert not isinstance(sentry_sdk.get_client().transport, DeliveryTransport)
	asab_app.SentryService.set_tag("leaky", "yes")
	asab_app.SentryService.add_breadcrumb(message="crumb of a")
	asab_app.SentryService.capture_message("from a")
	[event] = sentry_events.events()
	assert event["message"] == "from a" and event["environment"] == "real"
	assert event["tags"]["leaky"] == "yes"


def test_b_starts_clean(asab_app, sentry_events):
	asab_app.SentryService.capture_message("from b")
	[event] = sentry_events.events()
	assert "leaky" not in event["tags"]
	assert event["tags"]["appclass"] == "Application"
	assert [c.get("message") for c in event.get("breadcrumbs", {}).get("values", [])] == []


def test_c_transport_is_back_after_the_fixture(asab_app):
	assert isinstance(sentry_sdk.get_client().transport, DeliveryTransport)
'''

BUILT_APP = '''
import pytest, sentry_sdk


@pytest.mark.sentry_config({"sentry": {"environment": "built", "traces_sample_rate": "1"}})
def test_fixture_builds_an_app(sentry_events):
	with sentry_events.Service.transaction("task", "t1"):
		pass
	sentry_events.Service.capture_message("hi")
	assert sentry_events.events()[0]["environment"] == "built"
	assert [t["transaction"] for t in sentry_events.transactions()] == ["t1"]


def test_nothing_left_after(sentry_events):
	assert sentry_events.events() == [] and sentry_events.transactions() == []
'''


DISABLED_APP = '''
import asab, asab_sentry, pytest


class App(asab.Application):
	def __init__(self):
		super().__init__(args=[], modules=[asab_sentry.Module])
		self.SentryService.add_event_processor(self.drop_noise)

	def drop_noise(self, event, hint):
		return None if event.get("message") == "noise" else event


@pytest.fixture(scope="module")
def asab_app():
	asab.Config.read_dict({"sentry": {"ignore_errors": "KeyError"}})  # no DSN: disabled outside the fixture
	return App()


def test_filters_of_a_disabled_service_apply(asab_app, sentry_events):
	assert asab_app.SentryService.Enabled
	asab_app.SentryService.capture_message("noise")
	asab_app.SentryService.capture_message("signal")
	try:
		{}["x"]
	except KeyError as e:
		asab_app.SentryService.capture_exception(e)
	assert [e["message"] for e in sentry_events.events()] == ["signal"]


def test_disabled_again_after(asab_app):
	assert not asab_app.SentryService.Enabled
	assert asab_app.SentryService.capture_message("x") is None
'''


@pytest.mark.subprocess
def test_disabled_app_is_started_for_the_test_with_its_filters(tmp_path):
	result = run_pytest(tmp_path, {"test_disabled.py": DISABLED_APP})
	assert result.returncode == 0, result.stdout + result.stderr
	assert "2 passed" in result.stdout


@pytest.mark.subprocess
def test_enabled_app_is_bound_and_restored_and_scopes_reset(tmp_path):
	result = run_pytest(tmp_path, {"test_enabled.py": ENABLED_APP})
	assert result.returncode == 0, result.stdout + result.stderr
	assert "3 passed" in result.stdout


@pytest.mark.subprocess
def test_fixture_builds_an_app_when_there_is_none(tmp_path):
	result = run_pytest(tmp_path, {"test_built.py": BUILT_APP})
	assert result.returncode == 0, result.stdout + result.stderr
	assert "2 passed" in result.stdout


def test_capture_events_builds_an_application_in_process():
	from asab_sentry.testing import capture_events
	with capture_events(config={"sentry": {"environment": "cm"}}) as sent:
		sent.Service.capture_message("hello")
		events = sent.events()
	assert [(e["message"], e["environment"]) for e in events] == [("hello", "cm")]
