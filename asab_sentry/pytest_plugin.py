"""
The pytest plugin of asab-sentry (entry point `pytest11`, loaded when asab-sentry is installed).

Fixture `sentry_events`: what the application under test sends to Sentry, kept in memory (see
`asab_sentry.testing.capture_events`). The application is the value of your `asab_app` fixture if
you define one, else the ASAB application already built in the test process, else one built for
the test (configure it with `@pytest.mark.sentry_config({"sentry": {...}})`). Tags, user, contexts
and breadcrumbs never carry over from one test to the next.

Examples:
```python
def test_empty_order_is_reported(asab_app, sentry_events):
	asyncio.run(asab_app.handle_order({"id": "o-1", "items": 0}))
	[event] = sentry_events.events()
	assert event["tags"]["order_id"] == "o-1"
```
"""

import logging

import pytest

L = logging.getLogger(__name__)


def pytest_configure(config):
	"""Register the plugin's marker."""
	config.addinivalue_line("markers", "sentry_config(sections): config sections of the application `sentry_events` builds")


@pytest.fixture
def sentry_events(request):
	"""
	An `asab_sentry.testing.CapturedEvents`: `.events()`, `.transactions()`, `.check_ins()`,
	`.logs()`, `.items(type)`, `.Service`, `.App`.
	"""
	from .testing import capture_events

	app = None
	try:
		app = request.getfixturevalue("asab_app")
	except pytest.FixtureLookupError:
		pass
	marker = request.node.get_closest_marker("sentry_config")
	config = marker.args[0] if marker and marker.args else None
	with capture_events(app, config=config) as captured:
		yield captured
