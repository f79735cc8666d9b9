"""
Identity of the service: who sends the events (app class, version from the manifest, host and
the service/instance/node/site ids of the container), attached to every event.
"""

import dataclasses
import json
import logging
import os
import typing

import asab

L = logging.getLogger(__name__)

MANIFEST_PATHS = ("/app/MANIFEST.json", "/MANIFEST.json", "MANIFEST.json")

#: Environment variables whose values become tags of the same name, lower-cased.
ID_VARIABLES = ("SERVICE_ID", "INSTANCE_ID", "NODE_ID", "SITE_ID")


@dataclasses.dataclass(frozen=True)
class Identity:
	"""
	Who the service is: tags, server name and the version for the default release.

	Attributes:
		app_class: The application's class name, sent as tag `appclass`.
		host_name: `app.HostName` (honours `ASAB_HOSTNAME`), sent as `server_name`.
		version: `version` from MANIFEST.json, or None.
		ids: Tags from the SERVICE_ID, INSTANCE_ID, NODE_ID and SITE_ID environment variables that are set.
	"""

	app_class: str = ""
	host_name: typing.Optional[str] = None
	version: typing.Optional[str] = None
	ids: typing.Dict[str, str] = dataclasses.field(default_factory=dict)

	@classmethod
	def load(cls, app, environ: typing.Mapping[str, str]) -> "Identity":
		"""
		Collect the identity of `app` from its class, host name, manifest and environment.

		Args:
			app: The `asab.Application`.
			environ: The environment to read the ids from.

		Returns:
			The identity. A missing manifest gives `version=None`; a broken one, a WARNING too.
		"""
		manifest = _read_manifest(_manifest_path())
		version = manifest.get("version")
		return cls(
			app_class=app.__class__.__name__,
			host_name=getattr(app, "HostName", None),
			version=str(version) if version not in (None, "") else None,
			ids={name.lower(): environ[name] for name in ID_VARIABLES if environ.get(name)},
		)

	@property
	def tags(self) -> typing.Dict[str, str]:
		"""Tags that go on every event: `appclass` and the ids that are set."""
		tags = {"appclass": self.app_class}
		tags.update(self.ids)
		return tags

	def default_release(self) -> typing.Optional[str]:
		"""`<AppClass>@<version>` when the manifest has a version (Sentry parses it as semver), else None."""
		if self.version is None:
			return None
		return "{}@{}".format(self.app_class, self.version)


def _manifest_path() -> typing.Optional[str]:
	"""Where ASAB looks for the manifest: `[general] manifest`, then the usual paths."""
	configured = asab.Config.get("general", "manifest", fallback="")
	if configured:
		return configured
	for path in MANIFEST_PATHS:
		if os.path.isfile(path):
			return path
	return None


def _read_manifest(path: typing.Optional[str]) -> dict:
	if path is None:
		return {}
	try:
		with open(path) as f:
			manifest = json.load(f)
		if not isinstance(manifest, dict):
			raise ValueError("not a JSON object")
		return manifest
	except Exception as e:
		L.warning("Cannot read manifest '{}' ({}); release and version are not set from it.".format(path, e))
		return {}
