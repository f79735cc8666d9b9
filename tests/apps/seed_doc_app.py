"""
The example of ASAB's Sentry documentation (shared/seeds/001), with the import changed to asab_sentry.
"""

import time

import asab


class MyApplication(asab.Application):
	def __init__(self):
		super().__init__()
		if "sentry" in asab.Config.sections():
			import asab_sentry as asab_sentry
			self.SentryService = asab_sentry.SentryService(self)

	async def main(self):
		sentry_service = self.SentryService
		sentry_svc = self.SentryService

		try:
			call_collapsing_function()
		except Exception as e:
			sentry_service.capture_exception(e)

		required_variable = None
		if required_variable is None:
			sentry_service.capture_message("required_variable was not set")

		def my_function():
			sentry_service.set_tag("method", "my_function")
			sentry_service.set_tags({"foo": "bar", "fooz": "buzz"})
			sentry_service.capture_message("tagged")

		my_function()

		with sentry_service.transaction("speed test", "test sleeping"):
			time.sleep(0.01)

		with sentry_svc.transaction("speed test", "multiple tasks"):
			with sentry_svc.span("task", "task1"):
				pass
			with sentry_svc.span("task", "task2"):
				pass

		self.stop()


def call_collapsing_function():
	raise RuntimeError("collapsed")


if __name__ == "__main__":
	MyApplication().run()
