"""
Profiling: `[sentry] profiles_sample_rate` on sentry-sdk's continuous profiler, in its `trace`
lifecycle (the profiler samples while a sampled transaction runs).

The rate is the share of processes (profiling sessions) that profile, decided once at start, as
the SDK's `profile_session_sample_rate` does; transaction-based profiling (`profiles_sample_rate`
in sentry-sdk) is deprecated there. The SDK's profiler sends its samples when the last profiled
transaction ends, or per minute while transactions keep running; on every flush (and so at a
graceful stop) asab-sentry makes sure what it holds is handed to the transport first.
"""

import logging
import typing

from . import _sdk

L = logging.getLogger(__name__)


def options(rate: float) -> typing.Dict[str, typing.Any]:
	"""The sentry-sdk options for a profiling rate (none when 0)."""
	if rate <= 0:
		return {}
	return {"profile_session_sample_rate": rate, "profile_lifecycle": "trace"}


def flush() -> None:
	"""Send the samples the profiler holds now (nothing when it holds none)."""
	try:
		_sdk.flush_profile_chunk()
	except Exception as e:
		L.warning("Cannot send the profiler's samples ({!r}).".format(e))
