"""
Where envelopes wait until the server has them: in memory, or in a durable spool directory.

Both stores keep envelopes in the order they were captured, are bounded (the oldest are dropped
first, and counted), and are shared by the caller's thread (put) and the sender thread
(peek/remove).

The disk spool writes each envelope to its own file before `put()` returns: written to the OS (not
fsynced, which would wait on the disk), so it survives the process being killed; the sender thread
fsyncs files in the background so that they also survive a power cut within about a second. Files
are 0600 in a 0700 directory, named so that sorting them gives the capture order; a file is
deleted only once the server accepted it (or refused it for good). One process at a time owns a
spool directory (an flock on `.lock`).
"""

import collections
import errno
import fcntl
import itertools
import logging
import os
import threading
import time
import typing

import asab

from .stats import DeliveryStats

L = logging.getLogger(__name__)

SUFFIX = ".envelope"


class SpoolError(RuntimeError):
	"""The spool directory cannot be used; the message says why, in one line."""


class Item(typing.NamedTuple):
	"""One stored envelope."""

	key: str
	category: str
	size: int


class _Store(object):
	"""The ordered, bounded index both stores share; subclasses keep the bodies."""

	#: The reason counted when the bound evicts the oldest envelope.
	EVICTED = "queue_full"

	def __init__(self, max_size: int, stats: DeliveryStats):
		self.MaxSize = max_size
		self.Stats = stats
		self._Lock = threading.Lock()
		self._Items: typing.Deque[Item] = collections.deque()
		self._Size = 0

	def __len__(self) -> int:
		return len(self._Items)

	def peek(self, skip: typing.Container[typing.Optional[str]] = ()) -> typing.Optional[typing.Tuple[Item, bytes]]:
		"""The oldest envelope whose category is not in `skip`, with its body; None when there is none."""
		with self._Lock:
			item = next((i for i in self._Items if i.category not in skip), None)
		if item is not None:
			body = self._read(item)
			if body is not None:
				return item, body
			with self._Lock:
				present = item in self._Items  # else evicted meanwhile, and counted then
			if present:
				self.remove(item)  # unreadable: nothing to send
				self.Stats.drop("spool_unreadable")
		return None

	def remove(self, item: Item) -> None:
		"""Forget an envelope (it was delivered, or refused for good)."""
		with self._Lock:
			try:
				self._Items.remove(item)
			except ValueError:
				return
			self._Size -= item.size
		self._delete(item)

	def categories(self) -> typing.Set[str]:
		"""The categories of the stored envelopes."""
		with self._Lock:
			return {item.category for item in self._Items}

	def drop_where(self, predicate: typing.Callable[[Item], bool]) -> int:
		"""Forget every envelope for which `predicate` is true; returns how many."""
		with self._Lock:
			doomed = [item for item in self._Items if predicate(item)]
			for item in doomed:
				self._Items.remove(item)
				self._Size -= item.size
		for item in doomed:
			self._delete(item)
		return len(doomed)

	def _add(self, item: Item) -> None:
		evicted = []
		with self._Lock:
			self._Items.append(item)
			self._Size += item.size
			while self._Size > self.MaxSize and len(self._Items) > 1:
				old = self._Items.popleft()
				self._Size -= old.size
				evicted.append(old)
		for old in evicted:
			self._delete(old)
			self.Stats.drop(self.EVICTED)

	def _read(self, item: Item) -> typing.Optional[bytes]:
		raise NotImplementedError()

	def _delete(self, item: Item) -> None:
		raise NotImplementedError()

	def sync(self) -> None:
		"""Make stored envelopes durable (a no-op in memory)."""

	def close(self) -> None:
		"""Release what the store holds (the spool's lock)."""


class MemoryQueue(_Store):
	"""Envelopes in memory, bounded by total size: what a process without a spool has."""

	def __init__(self, max_size: int, stats: DeliveryStats):
		super().__init__(max_size, stats)
		self._Bodies: typing.Dict[str, bytes] = {}
		self._Seq = itertools.count()

	def put(self, body: bytes, category: str) -> None:
		"""Keep an envelope."""
		key = str(next(self._Seq))
		self._Bodies[key] = body
		self._add(Item(key, category, len(body)))

	def _read(self, item: Item) -> typing.Optional[bytes]:
		return self._Bodies.get(item.key)

	def _delete(self, item: Item) -> None:
		self._Bodies.pop(item.key, None)


class DiskSpool(_Store):
	"""
	Envelopes as files in `directory`; what an earlier run left there is sent first.

	Raises:
		SpoolError: The directory cannot be created or used, or another process owns it.
	"""

	EVICTED = "spool_full"

	def __init__(self, directory: str, max_size: int, stats: DeliveryStats):
		super().__init__(max_size, stats)
		self.Directory = os.path.abspath(directory)
		self._Seq = itertools.count()
		self._Unsynced: typing.List[str] = []
		try:
			os.makedirs(self.Directory, mode=0o700, exist_ok=True)
			os.chmod(self.Directory, 0o700)
			self._LockFile = open(os.path.join(self.Directory, ".lock"), "a")
		except OSError as e:
			raise SpoolError("cannot use the spool directory '{}': {}".format(self.Directory, e.strerror or e)) from None
		try:
			fcntl.flock(self._LockFile, fcntl.LOCK_EX | fcntl.LOCK_NB)
		except OSError as e:
			self._LockFile.close()
			if e.errno in (errno.EAGAIN, errno.EACCES):
				raise SpoolError("the spool directory '{}' is in use by another process; give each instance its own".format(self.Directory)) from None
			raise SpoolError("cannot lock the spool directory '{}': {}".format(self.Directory, e)) from None
		self._load()

	def _load(self) -> None:
		names = sorted(os.listdir(self.Directory))
		for name in names:
			path = os.path.join(self.Directory, name)
			if name.endswith(".tmp"):
				os.unlink(path)  # a write cut short by a crash: never returned to the caller
			elif name.endswith(SUFFIX):
				category = name[:-len(SUFFIX)].rsplit(".", 1)[-1]
				self._add(Item(name, category, os.path.getsize(path)))
		if self._Items:
			L.log(asab.LOG_NOTICE, "Sentry spool '{}': {} envelope(s) left by an earlier run will be sent.".format(self.Directory, len(self._Items)))

	def put(self, body: bytes, category: str) -> None:
		"""Write an envelope to its own file (atomically: a temporary name, then a rename)."""
		name = "{:020d}-{:07d}-{:06d}.{}{}".format(time.time_ns(), os.getpid(), next(self._Seq) % 1000000, category, SUFFIX)
		path = os.path.join(self.Directory, name)
		fd = os.open(path + ".tmp", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
		try:
			view = memoryview(body)
			while view:
				view = view[os.write(fd, view):]
		finally:
			os.close(fd)
		os.rename(path + ".tmp", path)
		with self._Lock:
			self._Unsynced.append(name)
		self._add(Item(name, category, len(body)))
		self.Stats.add("spooled")

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

	def _read(self, item: Item) -> typing.Optional[bytes]:
		try:
			with open(os.path.join(self.Directory, item.key), "rb") as f:
				return f.read()
		except OSError:
			return None

	def _delete(self, item: Item) -> None:
		try:
			os.unlink(os.path.join(self.Directory, item.key))
		except FileNotFoundError:
			pass

	def close(self) -> None:
		"""Release the directory's lock."""
		try:
			self._LockFile.close()
		except OSError:
			pass


def _fsync(path: str) -> None:
	fd = os.open(path, os.O_RDONLY)
	try:
		os.fsync(fd)
	finally:
		os.close(fd)
