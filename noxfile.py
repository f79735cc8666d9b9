"""
The version matrix: the test suite on every supported Python and on the oldest and newest
sentry-sdk 2.x and asab releases asab-sentry claims to support (setup.cfg `install_requires`).

	pip install nox
	nox                                   # everything: 5 Pythons x 2 sentry-sdk x 2 asab
	nox -s "tests-3.9(sentry_sdk='oldest', asab='oldest')"
	nox -- tests/test_filtering.py        # a subset of the tests, on every combination
	nox -l                                # list the sessions

Interpreters come from the PATH (pyenv: `pyenv local 3.9 3.10 3.11 3.12 3.13`); a missing one is
skipped. CI runs only `./bin/test`; this is a documented command for a release.
"""

import nox

PYTHONS = ["3.9", "3.10", "3.11", "3.12", "3.13"]

#: The oldest releases the package supports (keep in step with setup.cfg) and the newest allowed.
BOUNDS = {
	"sentry-sdk": {"oldest": "sentry-sdk==2.51.0", "newest": "sentry-sdk>=2.51.0,<3"},
	"asab": {"oldest": "asab==25.15", "newest": "asab>=25.15"},
}

nox.options.error_on_missing_interpreters = False
nox.options.reuse_existing_virtualenvs = True


@nox.session(python=PYTHONS)
@nox.parametrize("sentry_sdk", ["oldest", "newest"])
@nox.parametrize("asab", ["oldest", "newest"])
def tests(session, sentry_sdk, asab):
	"""The suite (or the tests given after `--`) on one Python, sentry-sdk and asab."""
	session.install("-e", ".[test]")
	session.install("--upgrade", BOUNDS["sentry-sdk"][sentry_sdk], BOUNDS["asab"][asab])
	session.run("python", "-c", "import sys, asab, sentry_sdk; print(sys.version.split()[0], 'sentry-sdk', sentry_sdk.VERSION, 'asab', asab.__version__)")
	session.run("python", "-m", "pytest", *(session.posargs or ["tests"]))
