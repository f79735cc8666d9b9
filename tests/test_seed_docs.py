"""ASAB's own Sentry documentation, with the import changed, works unchanged."""

import os
import subprocess
import sys

from conftest import HERE, app_env, write_config


class TestAsabDocumentationExample(object):
	"""The documented config (DSN in config or env, environment, [sentry:logging]) and API calls."""

	def _run(self, tmp_path, config, **env):
		conf = write_config(tmp_path, config)
		return subprocess.run(
			[sys.executable, os.path.join(HERE, "apps", "seed_doc_app.py"), "-c", conf],
			env=app_env(**env), cwd=str(tmp_path), capture_output=True, text=True, timeout=60,
		)

	def test_dsn_in_configuration(self, recorder, tmp_path):
		config = "[sentry]\ndata_source_name={}\nenvironment=production_hogwarts\ntraces_sample_rate=1\n[sentry:logging]\nbreadcrumbs=info\nevents=notice\n".format(recorder.dsn)
		run = self._run(tmp_path, config)
		assert run.returncode == 0, run.stderr
		# events=notice, as the documentation shows: ASAB's own lifecycle NOTICEs become events too, as level info
		recorder.wait_for(5)
		lifecycle = [e for e in recorder.events() if e.get("logger") == "asab.application"]
		assert sorted(e["logentry"]["message"] for e in lifecycle) == ["is exiting ...", "is ready."]
		assert {e["level"] for e in lifecycle} == {"info"}
		events = [e for e in recorder.events() if e.get("logger") != "asab.application"]
		assert len(events) == 3, [e.get("message") or e.get("logentry") for e in events]
		assert events[0]["exception"]["values"][-1]["value"] == "collapsed"
		assert events[1]["message"] == "required_variable was not set"
		assert events[2]["tags"]["method"] == "my_function" and events[2]["tags"]["fooz"] == "buzz"
		assert {e["environment"] for e in events} == {"production_hogwarts"}
		txs = recorder.wait_for(2, "transaction")
		assert sorted(t["transaction"] for t in txs) == ["multiple tasks", "test sleeping"]
		multiple = [t for t in txs if t["transaction"] == "multiple tasks"][0]
		assert [s["description"] for s in multiple["spans"]] == ["task1", "task2"]

	def test_dsn_as_environment_variable_with_empty_section(self, recorder, tmp_path):
		run = self._run(tmp_path, "[sentry]\n", SENTRY_DSN=recorder.dsn)
		assert run.returncode == 0, run.stderr
		assert len(recorder.wait_for(3)) == 3
