"""The scrubber's own corners: Sentry logs, a failing scrubber, bounded caches, and the benchmark's quick mode."""

import logging
import os
import subprocess
import sys

import pytest

from asab_sentry import scrubbing

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_log_items_are_scrubbed():
	"""Sentry Logs (`before_send_log`): the body and the attributes."""
	log = {
		"severity_text": "error", "body": "login failed for joe password=l-pw",
		"attributes": {"sentry.environment": "prod", "X-Api-Key": "l-key", "url": "https://h/?token=l-tok"},
	}
	scrubbing.Scrubber().scrub_log(log)
	assert log["body"] == "login failed for joe password=[Filtered]"
	assert log["attributes"] == {"sentry.environment": "prod", "X-Api-Key": "[Filtered]", "url": "https://h/?token=[Filtered]"}


def test_a_failing_scrubber_withholds_the_content(sentry_app, monkeypatch, caplog):
	"""A bug in the scrubber never lets unscrubbed data out: the event keeps only its type and time."""
	s = sentry_app()

	def broken(self, event):
		raise RuntimeError("scrubber bug")

	monkeypatch.setattr(scrubbing.Scrubber, "scrub_event", broken)
	s.Service.capture_message("m", extras={"note": "would-leak"})
	event, = s.events()
	assert "would-leak" not in str(event) and "extra" not in event
	assert event["message"] == "asab-sentry could not scrub this event; its content is withheld"
	assert event["level"] == "info" and event["event_id"]
	assert any(r.levelno == logging.WARNING and "scrubber bug" in r.getMessage() for r in caplog.records)


def test_caches_are_bounded():
	scrubber = scrubbing.Scrubber()
	for i in range(scrubbing._CACHE_LIMIT + 10):
		scrubber.decide("key{}".format(i))
		scrubber.scrub_string("k{}=v".format(i))
	assert len(scrubber._Decisions) <= scrubbing._CACHE_LIMIT
	assert len(scrubber._Strings) <= scrubbing._STRING_CACHE_LIMIT
	assert scrubber.scrub_string("password=x") == "password=[Filtered]"


@pytest.mark.parametrize("key", ["passwordPolicy", "oauth_token", "X-CSRF-Token", "Proxy-Authorization", "aws.secretAccessKey"])
def test_decisions_are_the_same_cached_or_not(key):
	scrubber = scrubbing.Scrubber()
	first = scrubber.is_secret(key)
	assert first is True and scrubber.is_secret(key) is first


def test_benchmark_quick_mode_runs():
	"""`benchmarks/scrubbing.py --quick` runs in seconds and prints both tables with figures for every scrubber."""
	run = subprocess.run(
		[sys.executable, os.path.join(ROOT, "benchmarks", "scrubbing.py"), "--quick"],
		cwd=ROOT, capture_output=True, text=True, timeout=120,
	)
	assert run.returncode == 0, run.stderr
	rows = [line for line in run.stdout.splitlines() if line.startswith("| ") and not line.startswith("| |")]
	by_name = {r.split("|")[1].strip(): [float(c.replace(",", "")) for c in r.split("|")[2:-1]] for r in rows}
	assert list(by_name) == [
		"error event", "error event: secrets left in clear", "transaction, 50 spans", "transaction, 50 spans: secrets left in clear",
		"capture_message (100 breadcrumbs) + transaction (20 spans)",
	]
	for name in ("error event", "transaction, 50 spans", "capture_message (100 breadcrumbs) + transaction (20 spans)"):
		assert len(by_name[name]) >= 2 and all(f > 0 for f in by_name[name]), name
	# asab-sentry's scrubber leaves nothing; the SDK's default scrubber leaves some on the same events
	assert by_name["error event: secrets left in clear"][0] == 0 and by_name["error event: secrets left in clear"][1] > 0
	assert by_name["transaction, 50 spans: secrets left in clear"][0] == 0
