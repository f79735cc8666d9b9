"""Registration: the module, the [sentry] section check, the service name and the disabled service."""

import subprocess
import sys

from conftest import app_env


class TestRegistration(object):
	"""How the service comes to be, or not."""

	def test_import_creates_no_sentry_section(self):
		code = "import asab, asab_sentry; print('sentry' in asab.Config.sections())"
		out = subprocess.run([sys.executable, "-c", code], env=app_env(), capture_output=True, text=True, check=True)
		assert out.stdout.strip() == "False"

	def test_module_without_section_reports_with_sentry_dsn(self, recorder, run_app):
		# issue 10, finding 12: SENTRY_DSN alone is enough; no AttributeError on app.SentryService
		run = run_app("message", recorder.dsn, config="[general]\n")
		assert run.returncode == 0, run.stderr
		assert len(recorder.wait_for(1)) == 1

	def test_module_without_section_or_dsn_is_disabled_and_says_why(self, recorder, run_app):
		run = run_app("message", None, config="[general]\n")
		assert run.returncode == 0, run.stderr
		assert "no DSN" in run.stderr and "SENTRY_DSN" in run.stderr

	def test_service_name_is_kept(self, recorder, tmp_path):
		code = (
			"import asab, asab_sentry\n"
			"asab.Config.read_string('[sentry]\\n')\n"
			"app = asab.Application(args=[], modules=[asab_sentry.Module])\n"
			"print(app.get_service('asab.SentryService') is app.SentryService)\n"
		)
		out = subprocess.run([sys.executable, "-c", code], env=app_env(recorder.dsn), capture_output=True, text=True, cwd=str(tmp_path))
		assert out.stdout.strip() == "True", out.stderr

	def test_no_dsn_is_a_disabled_service_and_one_warning(self, run_app):
		run = run_app("disabled")
		assert run.returncode == 0, run.stderr
		assert run.values("EVENT_ID") == ["None"]
		assert run.values("DISABLED_OK") == [""]
		warnings = [line for line in run.stderr.splitlines() if "WARNING" in line]
		assert len(warnings) == 1
		assert "[sentry] data_source_name" in warnings[0] and "SENTRY_DSN" in warnings[0]

	def test_enabled_false_sends_nothing(self, recorder, run_app):
		run = run_app("disabled", recorder.dsn, SENTRY_ENABLED="false")
		assert run.returncode == 0, run.stderr
		assert run.values("EVENT_ID") == ["None"]
		assert recorder.Requests == 0

	def test_dsn_key_is_masked_in_logs(self, recorder, run_app):
		run = run_app("message", recorder.dsn, args=[], config="[sentry]\n[logging]\nlevel=DEBUG\n")
		assert run.returncode == 0
		assert "0123456789abcdef0123456789abcdef" not in run.stderr + run.stdout


class TestExampleConfig(object):
	"""etc/asab-sentry.conf is valid as shipped and documents every key of the README's table."""

	def _text(self):
		import os
		with open(os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "etc", "asab-sentry.conf")) as f:
			return f.read()

	def test_loads_and_reports(self, recorder, run_app):
		run = run_app("message", recorder.dsn, config=self._text())
		assert run.returncode == 0, run.stderr
		assert len(recorder.wait_for(1)) == 1

	def test_every_readme_key_is_in_it(self):
		import os
		import re
		with open(os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "README.md")) as f:
			readme = f.read()
		keys = re.findall(r"^\| `\[sentry(?::logging)?\] (\w+)`", readme, re.M)
		assert len(keys) >= 12
		text = self._text()
		for key in keys:
			assert re.search(r"^#?{}=".format(key), text, re.M), key
