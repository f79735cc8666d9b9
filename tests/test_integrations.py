"""
sentry-sdk integrations chosen by name: `[sentry] integrations` / `SENTRY_INTEGRATIONS` and
`[sentry] disabled_integrations`. In-process; what reaches the transport shows which are on.
"""

import pytest

from asab_sentry import integrations


def sdk_integrations(s) -> list:
	s.Service.capture_message("which integrations?")
	return s.events()[-1]["sdk"]["integrations"]


def test_unknown_name_stops_the_app_listing_the_known_ones(sentry_app):
	with pytest.raises(SystemExit) as exit_info:
		sentry_app({"sentry": {"integrations": "httpx, nosuchthing"}})
	message = str(exit_info.value)
	assert message.startswith("asab-sentry: [sentry] integrations = 'httpx,nosuchthing' is invalid;")
	assert "unknown integration 'nosuchthing'; known: aiomysql, anthropic," in message
	assert "\n" not in message


def test_unknown_name_in_the_environment_names_the_variable(sentry_app):
	with pytest.raises(SystemExit) as exit_info:
		sentry_app(environ={"SENTRY_DSN": "http://0123456789abcdef0123456789abcdef@127.0.0.1:9/1", "SENTRY_INTEGRATIONS": "bogus"})
	assert str(exit_info.value).startswith("asab-sentry: SENTRY_INTEGRATIONS = 'bogus' (for [sentry] integrations) is invalid;")


def test_unknown_disabled_name_stops_the_app(sentry_app):
	with pytest.raises(SystemExit) as exit_info:
		sentry_app({"sentry": {"disabled_integrations": "bogus"}})
	assert "[sentry] disabled_integrations = 'bogus'" in str(exit_info.value)


def test_aiohttp_is_not_selectable(sentry_app):
	with pytest.raises(SystemExit) as exit_info:
		sentry_app({"sentry": {"integrations": "aiohttp"}})
	assert "'aiohttp' cannot be chosen: asab-sentry instruments asab.web itself" in str(exit_info.value)


def test_missing_package_names_what_to_install(sentry_app):
	with pytest.raises(SystemExit) as exit_info:
		sentry_app({"sentry": {"integrations": "pymongo"}})
	assert str(exit_info.value) == "asab-sentry: [sentry] integrations = 'pymongo': integration 'pymongo' needs the package 'pymongo': pip install pymongo"


def test_an_opt_in_integration_is_off_by_default(sentry_app):
	assert "sys_exit" not in sdk_integrations(sentry_app())


def test_an_opt_in_integration_is_turned_on_by_name(sentry_app):
	assert {"socket", "sys_exit"} <= set(sdk_integrations(sentry_app({"sentry": {"integrations": "socket, Sys_Exit"}})))


def test_from_the_environment(sentry_app):
	s = sentry_app(environ={"SENTRY_DSN": "http://0123456789abcdef0123456789abcdef@127.0.0.1:9/1", "SENTRY_INTEGRATIONS": "sys_exit"})
	assert "sys_exit" in sdk_integrations(s)


# The SDK installs an integration once per process and never takes it back, so what
# `disabled_integrations` turns off is shown in a fresh process.

DISABLED_SCRIPT = """
import sys, asyncio
import httpx
from asab_sentry.testing import sentry_app
with sentry_app({"sentry": {"disabled_integrations": sys.argv[1], "traces_sample_rate": "1"}}) as s:
	async def main(app):
		with s.Service.transaction("task", "call out"):
			async with httpx.AsyncClient() as client:
				await client.get(sys.argv[2])
	s.run(main)
	s.Service.capture_message("which integrations?")
	[transaction] = s.transactions()
	print("SPANS", len([span for span in transaction["spans"] if span["op"] == "http.client"]))
	print("INTEGRATIONS", ",".join(s.events()[0]["sdk"]["integrations"]))
"""


def run_disabled(tmp_path, names: str, url: str):
	import subprocess
	import sys
	from conftest import app_env
	result = subprocess.run([sys.executable, "-c", DISABLED_SCRIPT, names, url], capture_output=True, text=True, timeout=60, env=app_env(), cwd=str(tmp_path))
	assert result.returncode == 0, result.stderr
	values = dict(line.split(" ", 1) for line in result.stdout.splitlines() if line.startswith(("SPANS", "INTEGRATIONS")))
	return int(values["SPANS"]), values["INTEGRATIONS"].split(",")


def test_a_default_integration_is_on(sentry_app):
	assert "threading" in sdk_integrations(sentry_app())


@pytest.mark.subprocess
def test_default_integrations_are_turned_off(tmp_path, recorder):
	"""httpx is one the SDK turns on by itself; disabling it (and threading) leaves asab-sentry's own on."""
	url = "http://127.0.0.1:{}/api/orders".format(recorder.port)
	spans, found = run_disabled(tmp_path, "httpx,threading", url)
	assert spans == 0
	assert "httpx" not in found and "threading" not in found and "logging" in found
	spans, found = run_disabled(tmp_path, "threading", url)  # the same run with httpx left on
	assert spans == 1 and "httpx" in found


def test_httpx_spans_as_in_seed_000(sentry_app, recorder):
	"""Seed 000 appends HttpxIntegration; here `integrations = httpx`: outgoing requests are spans."""
	import httpx
	s = sentry_app({"sentry": {"integrations": "httpx", "traces_sample_rate": "1"}})
	url = "http://127.0.0.1:{}/api/orders".format(recorder.port)

	async def main(app):
		with s.Service.transaction("task", "call out"):
			async with httpx.AsyncClient() as client:
				await client.get(url)

	s.run(main)
	[transaction] = s.transactions()
	assert [span["description"] for span in transaction["spans"] if span["op"] == "http.client"] == ["GET " + url]


def test_registry_names_classes_the_sdk_defines():
	import importlib.util
	checked = 0
	for name, known in integrations.REGISTRY.items():
		if known.package is None or importlib.util.find_spec(name) is not None:
			cls = integrations.load_class(name)
			assert cls.identifier.replace("_", "") == name.replace("_", ""), name
			checked += 1
	assert checked >= 7  # those needing no package, and httpx


THREAD_SCRIPT_CONFIG = {"sentry": {"integrations": "threading"}}


def capture_in_a_thread(s):
	import threading
	s.Service.set_tag("from_main", "yes")
	thread = threading.Thread(target=lambda: s.Service.capture_message("from a thread"))
	thread.start()
	thread.join()
	return s.events()[-1]["tags"]


def test_a_thread_sees_the_callers_tags_by_default(sentry_app):
	assert capture_in_a_thread(sentry_app(THREAD_SCRIPT_CONFIG)).get("from_main") == "yes"


def test_integration_options_from_its_section(sentry_app):
	"""`[sentry:integration:threading] propagate_scope = false`: a thread no longer sees the caller's tags."""
	s = sentry_app(dict(THREAD_SCRIPT_CONFIG, **{"sentry:integration:threading": {"propagate_scope": "false"}}))
	assert "from_main" not in capture_in_a_thread(s)


def test_unknown_integration_option_stops_the_app(sentry_app):
	with pytest.raises(SystemExit) as exit_info:
		sentry_app(dict(THREAD_SCRIPT_CONFIG, **{"sentry:integration:threading": {"colour": "blue"}}))
	message = str(exit_info.value)
	assert message.startswith("asab-sentry: [sentry:integration:threading] is invalid: ")
	assert "'colour'" in message and "sentry_sdk.integrations.threading.ThreadingIntegration" in message and "\n" not in message


def test_options_of_an_integration_not_turned_on_stop_the_app(sentry_app):
	with pytest.raises(SystemExit) as exit_info:
		sentry_app({"sentry:integration:redis": {"max_data_size": "100"}})
	assert str(exit_info.value) == "asab-sentry: [sentry:integration:redis] configures 'redis', which is not in [sentry] integrations; add it there"
