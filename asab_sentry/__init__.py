"""
asab-sentry: Sentry error tracking and performance monitoring for ASAB applications.

Add the module and write a `[sentry]` section in the configuration:

```python
import asab
import asab_sentry

class MyApplication(asab.Application):
	def __init__(self):
		super().__init__(modules=[asab_sentry.Module])
```

Importing this package changes no configuration: it never creates a `[sentry]` section.
"""

import logging

import asab

from .config import ConfigError, SentryConfig, mask_dsn
from .crons import Monitor
from .identity import Identity
from .service import SentryService
from .tags import TagError, validate_tag
from .tracing import Timing

L = logging.getLogger(__name__)

__all__ = [
	"Module",
	"SentryService",
	"SentryConfig",
	"ConfigError",
	"Identity",
	"Timing",
	"Monitor",
	"TagError",
	"validate_tag",
	"mask_dsn",
]


class Module(asab.Module):
	"""
	The asab-sentry module: it builds the `SentryService` and sets `app.SentryService`, with or
	without a `[sentry]` section (the DSN may come from `SENTRY_DSN`). Without a DSN the service
	is disabled, every call a no-op, and one WARNING says how to set it.

	Examples:
	```python
	app = asab.Application(modules=[asab_sentry.Module])
	app.SentryService.capture_message("hello")
	```
	"""

	def __init__(self, app):
		super().__init__(app)
		service = app.get_service("asab.SentryService")
		if service is None:
			service = SentryService(app)
		app.SentryService = service
