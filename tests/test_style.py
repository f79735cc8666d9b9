"""House style: flake8 with ASAB's settings (setup.cfg) is clean on the package and the tests."""

import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_flake8_is_clean():
	run = subprocess.run([sys.executable, "-m", "flake8", "asab_sentry", "tests"], cwd=ROOT, capture_output=True, text=True)
	assert run.returncode == 0, run.stdout + run.stderr
