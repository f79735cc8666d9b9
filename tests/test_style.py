"""House style: flake8 with ASAB's settings (setup.cfg) is clean on the package and the tests."""

import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_flake8_is_clean():
	run = subprocess.run([sys.executable, "-m", "flake8", "asab_sentry", "tests"], cwd=ROOT, capture_output=True, text=True)
	assert run.returncode == 0, run.stdout + run.stderr


def test_mypy_is_clean():
	"""The package ships py.typed: its annotations must hold."""
	run = subprocess.run(
		[sys.executable, "-m", "mypy", "asab_sentry", "--ignore-missing-imports", "--cache-dir", os.path.join(ROOT, ".cache", "mypy")],
		cwd=ROOT, capture_output=True, text=True,
	)
	assert run.returncode == 0, run.stdout + run.stderr
