"""
A pytest plugin that keeps only the in-process tests: `pytest -p inprocess_only` (with tests/ on
`sys.path`). `bin/mutants` runs mutmut with it, because a mutant lives only in the test process:
a test that starts the app in a subprocess or talks to a real server cannot see it, and costs
seconds per mutant.

A test is dropped (reported as deselected) when it uses a fixture that starts a process or a
server (`run_app`, `start_app`, or any fixture whose name contains `bugsink`), is marked
`@pytest.mark.subprocess` (it starts processes through a helper), or when its class (or the function itself, outside a
class) starts processes on its own (its source mentions `subprocess`, `Popen` or `run_group`).
Everything else runs, including tests that use the in-process `recorder`.
"""

import inspect
import typing

#: Fixtures that start the app in a subprocess or a real server.
SLOW_FIXTURES = frozenset(("run_app", "start_app", "bugsink"))

#: Markers of a test that starts processes through a helper (`@pytest.mark.subprocess`).
SLOW_MARKERS = ("subprocess",)

#: Source fragments of a test that starts processes itself.
SLOW_CALLS = ("subprocess", "Popen", "run_group")


def is_out_of_process(item) -> bool:
	"""True when the test item needs another process (see the module docstring)."""
	if any(item.get_closest_marker(name) for name in SLOW_MARKERS):
		return True
	fixtures = getattr(item, "fixturenames", ())
	if SLOW_FIXTURES.intersection(fixtures) or any("bugsink" in name for name in fixtures):
		return True
	owner: typing.Any = getattr(item, "cls", None) or getattr(item, "function", None)
	if owner is None:
		return False
	try:
		source = inspect.getsource(owner)
	except (OSError, TypeError):
		return False
	return any(call in source for call in SLOW_CALLS)


def pytest_collection_modifyitems(config, items) -> None:
	keep, drop = [], []
	for item in items:
		(drop if is_out_of_process(item) else keep).append(item)
	if drop:
		config.hook.pytest_deselected(items=drop)
		items[:] = keep
