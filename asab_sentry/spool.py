"""
The durable spool: a directory where each envelope waits in its own file until the server has it.

Ownership: asab-sentry touches only what it created. A directory it creates (0700) or finds empty
gets a marker file (`.asab-sentry-spool`) and is its own; a directory with other files in it (say
`/tmp`) is never used directly: the spool goes to its subdirectory `asab-sentry/`. Inside its own
directory it reads, sends and deletes only files named as it names them
(`<time ns>-<pid>-<seq>.<category>.envelope`); anything else is left in place and reported once. An
existing directory keeps its mode. One process at a time owns a spool (an flock on `.lock`); it is
released by `close()`.

Files are written to the OS before `write()` returns (not fsynced, which would wait on the disk),
so they survive the process being killed; `sync()` (the sender, in the background) fsyncs them so
that they also survive a power cut. A failed write leaves no file behind.

The spool keeps no index: the delivery scheduler does (one owner of the state, under one lock).
"""

import errno
import fcntl
import itertools
import logging
import os
import re
import threading
import time
import typing

import asab

L = logging.getLogger(__name__)

SUFFIX = ".envelope"
MARKER = ".asab-sentry-spool"
LOCK = ".lock"
SUBDIRECTORY = "asab-sentry"
#: The names of asab-sentry's own envelope files; group 1 is the capture time (ns), group 2 the category.
NAME = re.compile(r"^(\d{20})-\d{7}-\d{6}\.([a-z_]{1,32})\.envelope$")
_OWN_EXTRA = re.compile(r"^\d{20}-\d{7}-\d{6}\.[a-z_]{1,32}\.envelope\.(tmp|corrupt)$")


class SpoolError(RuntimeError):
	"""The spool directory cannot be used; the message says why, in one line."""


class Found(typing.NamedTuple):
	"""An envelope file an earlier run left."""

	key: str
	category: str
	size: int
	created: float  # wall-clock seconds of the capture


def is_own(name: str) -> bool:
	"""True for a file asab-sentry may have made in its spool (envelope, temporary, corrupt, lock, marker)."""
	return name in (MARKER, LOCK) or NAME.match(name) is not None or _OWN_EXTRA.match(name) is not None


class DiskSpool(object):
	"""
	Envelope files in a directory asab-sentry owns (see the module's docstring).

	Args:
		directory: The configured `spool_dir`.

	Raises:
		SpoolError: The directory cannot be created, owned or locked, or another process owns it.
	"""

	durable = True

	def __init__(self, directory: str):
		self.Configured = os.path.abspath(directory)
		self._Seq = itertools.count()
		self._Lock = threading.Lock()
		self._Unsynced: typing.List[str] = []
		self._LockFile: typing.Optional[typing.IO] = None
		try:
			self.Directory = _own(self.Configured)
			self._LockFile = open(os.path.join(self.Directory, LOCK), "a")
		except OSError as e:
			raise SpoolError("cannot use the spool directory '{}': {}".format(self.Configured, e.strerror or e)) from None
		try:
			fcntl.flock(self._LockFile, fcntl.LOCK_EX | fcntl.LOCK_NB)
		except OSError as e:
			self._LockFile.close()
			self._LockFile = None
			if e.errno in (errno.EAGAIN, errno.EACCES):
				raise SpoolError("the spool directory '{}' is in use by another process; give each instance its own".format(self.Directory)) from None
			raise SpoolError("cannot lock the spool directory '{}': {}".format(self.Directory, e)) from None

	def load(self) -> typing.List[Found]:
		"""
		The envelopes an earlier run left, oldest first. Removes the temporary files of writes cut
		short (asab-sentry's own); reports foreign and corrupt files once and leaves them.
		"""
		found = []
		foreign = []
		corrupt = 0
		for name in sorted(os.listdir(self.Directory)):
			match = NAME.match(name)
			if match is not None:
				try:
					size = os.path.getsize(os.path.join(self.Directory, name))
				except OSError:
					continue
				found.append(Found(name, match.group(2), size, int(match.group(1)) / 1e9))
			elif name.endswith(".tmp") and _OWN_EXTRA.match(name):
				try:
					os.unlink(os.path.join(self.Directory, name))  # a write cut short: never returned to the caller
				except OSError:
					pass
			elif name.endswith(".corrupt") and _OWN_EXTRA.match(name):
				corrupt += 1
			elif name not in (MARKER, LOCK):
				foreign.append(name)
		if foreign:
			L.warning("Sentry spool '{}': {} file(s) that asab-sentry did not write are left alone (e.g. '{}').".format(self.Directory, len(foreign), foreign[0]))
		if corrupt:
			L.warning("Sentry spool '{}': {} corrupt envelope file(s) (*.corrupt) are kept for inspection and not sent.".format(self.Directory, corrupt))
		if found:
			L.log(asab.LOG_NOTICE, "Sentry spool '{}': {} envelope(s) left by an earlier run will be sent.".format(self.Directory, len(found)))
		return found

	def write(self, body: bytes, category: str) -> str:
		"""
		Write an envelope to its own file (a temporary name, then a rename) and return its key.

		Raises:
			OSError: The write failed (disk full, read-only...); no file is left behind.
		"""
		name = "{:020d}-{:07d}-{:06d}.{}{}".format(time.time_ns(), os.getpid() % 10000000, next(self._Seq) % 1000000, category, SUFFIX)
		path = os.path.join(self.Directory, name)
		fd = os.open(path + ".tmp", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
		try:
			try:
				view = memoryview(body)
				while view:
					view = view[os.write(fd, view):]
			finally:
				os.close(fd)
			os.rename(path + ".tmp", path)
		except BaseException:
			try:
				os.unlink(path + ".tmp")
			except OSError:
				pass
			raise
		with self._Lock:
			self._Unsynced.append(name)
		return name

	def read(self, key: str) -> bytes:
		"""
		The envelope's bytes.

		Raises:
			FileNotFoundError: The file is gone.
			OSError: It cannot be read now (too many open files, I/O error...): try again later.
		"""
		with open(os.path.join(self.Directory, key), "rb") as f:
			return f.read()

	def delete(self, key: str) -> None:
		"""Delete a sent (or refused) envelope's file."""
		try:
			os.unlink(os.path.join(self.Directory, key))
		except FileNotFoundError:
			pass

	def quarantine(self, key: str) -> None:
		"""Keep a corrupt envelope's file for inspection, out of the way: `<name>.corrupt`."""
		try:
			os.rename(os.path.join(self.Directory, key), os.path.join(self.Directory, key + ".corrupt"))
		except OSError:
			pass

	def sync(self) -> None:
		"""fsync the files written since the last call, and the directory."""
		with self._Lock:
			names, self._Unsynced = self._Unsynced, []
		if not names:
			return
		for name in names:
			try:
				_fsync(os.path.join(self.Directory, name))
			except FileNotFoundError:
				continue  # already sent and deleted
		_fsync(self.Directory)

	def close(self) -> None:
		"""Release the directory's lock (another `DiskSpool` may own it at once)."""
		if self._LockFile is not None:
			try:
				self._LockFile.close()
			except OSError:
				pass
			self._LockFile = None


def _own(directory: str) -> str:
	"""The directory the spool may own for the configured `directory`: itself, or its subdirectory."""
	if not os.path.lexists(directory):
		os.makedirs(directory, mode=0o700)
		_mark(directory)
		return directory
	if not os.path.isdir(directory):
		raise NotADirectoryError(errno.ENOTDIR, "not a directory")
	names = os.listdir(directory)
	if MARKER in names:
		return directory
	if all(is_own(name) for name in names):  # empty, or the spool of an earlier release
		_mark(directory)
		return directory
	sub = os.path.join(directory, SUBDIRECTORY)
	if os.path.lexists(sub):
		if not os.path.isdir(sub) or os.path.islink(sub) or not all(is_own(name) for name in os.listdir(sub)):
			raise FileExistsError(errno.EEXIST, "it has other files, and '{}' is not asab-sentry's".format(sub))
	else:
		os.mkdir(sub, 0o700)
	_mark(sub)
	L.log(asab.LOG_NOTICE, "Sentry spool: '{}' has files that are not asab-sentry's; the spool is its subdirectory '{}'.".format(directory, sub))
	return sub


def _mark(directory: str) -> None:
	path = os.path.join(directory, MARKER)
	if not os.path.exists(path):
		with open(path, "w") as f:
			f.write("This directory is an asab-sentry spool: one file per envelope waiting to be sent to Sentry.\n")


def _fsync(path: str) -> None:
	fd = os.open(path, os.O_RDONLY)
	try:
		os.fsync(fd)
	finally:
		os.close(fd)
