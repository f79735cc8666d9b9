"""
The spool under faults, in-process: whose files it touches, a full or read-only disk, files it
cannot read now or that are corrupt, and a spool handed from one service to the next.
"""

import errno
import logging
import os
import stat

import asab
import pytest

from asab_sentry.spool import DiskSpool, MARKER, SUBDIRECTORY, SpoolError, pending

from test_transport_scheduler import Rig, event


@pytest.fixture
def rig():
	made = []

	def make(*args, **kwargs):
		r = Rig(*args, **kwargs)
		made.append(r)
		return r

	yield make
	for r in made:
		r.close()


def envelopes(directory):
	"""The keys of the envelopes waiting in a spool directory."""
	return [found.key for found in pending(directory)]


class TestOwnership(object):
	"""asab-sentry touches only what it created."""

	def test_shared_directory_is_left_alone(self, rig, tmp_path):
		shared = tmp_path / "tmp"
		shared.mkdir()
		os.chmod(str(shared), 0o1777)
		foreign = {
			"session.tmp": b"someone's temporary file",
			"backup.envelope": b'{"event_id":"0"}\n{"type":"event"}\n{}\n',
			"00000000000000000001-0000001-000001.error.envelope.bak": b"x",
		}
		for name, data in foreign.items():
			(shared / name).write_bytes(data)
		r = rig(spool_dir=str(shared))
		r.Transport.capture_envelope(event("mine"))
		r.pump_all()
		assert r.messages() == ["mine"]  # the foreign envelope was not sent
		assert {n: (shared / n).read_bytes() for n in foreign} == foreign
		assert stat.S_IMODE(os.stat(str(shared)).st_mode) == 0o1777
		assert r.Spool.Directory == str(shared / SUBDIRECTORY)
		assert stat.S_IMODE(os.stat(r.Spool.Directory).st_mode) == 0o700

	def test_existing_empty_directory_keeps_its_mode(self, rig, tmp_path):
		own = tmp_path / "spool"
		own.mkdir()
		os.chmod(str(own), 0o750)
		r = rig(spool_dir=str(own), default=(503, {}))
		r.Transport.capture_envelope(event("e"))
		assert r.Spool.Directory == str(own) and (own / MARKER).exists()
		assert stat.S_IMODE(os.stat(str(own)).st_mode) == 0o750
		assert len(envelopes(str(own))) == 1

	def test_foreign_file_in_own_directory_is_reported_once_and_kept(self, rig, tmp_path, caplog):
		own = tmp_path / "spool"
		DiskSpool(str(own)).close()  # made and marked by asab-sentry
		(own / "notes.txt").write_text("mine, not yours")
		(own / "other.envelope").write_text("not asab-sentry's")
		r = rig(spool_dir=str(own))
		r.Transport.capture_envelope(event("e"))
		r.pump_all()
		assert r.messages() == ["e"]
		assert (own / "notes.txt").read_text() == "mine, not yours" and (own / "other.envelope").exists()
		assert len([rec for rec in caplog.records if "did not write" in rec.getMessage()]) == 1

	def test_subdirectory_that_is_not_ours_is_an_error(self, tmp_path):
		shared = tmp_path / "shared"
		(shared / SUBDIRECTORY).mkdir(parents=True)
		(shared / "x.txt").write_text("x")
		(shared / SUBDIRECTORY / "y.txt").write_text("y")
		with pytest.raises(SpoolError, match="not asab-sentry's"):
			DiskSpool(str(shared))
		assert (shared / SUBDIRECTORY / "y.txt").read_text() == "y"

	def test_spool_of_an_earlier_release_is_adopted(self, rig, tmp_path):
		old = tmp_path / "spool"
		old.mkdir()
		(old / ".lock").write_text("")
		name = "{:020d}-{:07d}-{:06d}.error.envelope".format(1_700_000_000 * 10 ** 9, 42, 0)
		(old / name).write_bytes(event("left").serialize())
		r = rig(spool_dir=str(old))
		r.pump_all()
		assert r.messages() == ["left"] and envelopes(str(old)) == []


class TestDiskFull(object):
	"""A failed write leaves no file, the event still goes out from memory, one WARNING, counted."""

	@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EROFS, errno.EDQUOT])
	def test_write_error(self, rig, tmp_path, caplog, monkeypatch, code):
		spool = tmp_path / "spool"
		r = rig(spool_dir=str(spool))
		real_write = os.write

		def full(fd, data):
			raise OSError(code, os.strerror(code))

		monkeypatch.setattr(os, "write", full)
		for i in range(5):
			r.Transport.capture_envelope(event("e{}".format(i)))
		monkeypatch.setattr(os, "write", real_write)
		assert [n for n in os.listdir(str(spool)) if n.endswith(".tmp")] == []
		r.pump_all()
		assert r.messages() == ["e{}".format(i) for i in range(5)]
		s = r.Stats.snapshot()
		assert s["unspooled"] == 5 and s["sent"] == 5 and s["dropped"] == 0
		assert len([rec for rec in caplog.records if rec.levelno == logging.WARNING and "Cannot write to the Sentry spool" in rec.getMessage()]) == 1

	def test_read_only_directory(self, rig, tmp_path, monkeypatch):
		"""A spool remounted read-only: creating the file fails (mocked: the tests may run as root)."""
		spool = tmp_path / "spool"
		r = rig(spool_dir=str(spool))
		real_open = os.open

		def read_only(path, flags, *args, **kwargs):
			if flags & os.O_CREAT:
				raise OSError(errno.EROFS, os.strerror(errno.EROFS))
			return real_open(path, flags, *args, **kwargs)

		monkeypatch.setattr(os, "open", read_only)
		r.Transport.capture_envelope(event("e"))
		monkeypatch.setattr(os, "open", real_open)
		r.pump_all()
		assert r.messages() == ["e"] and sorted(os.listdir(str(spool))) == [".asab-sentry-spool", ".lock"]
		assert r.Stats.snapshot()["unspooled"] == 1


class TestUnreadable(object):
	"""A file is dropped only when proved corrupt; a read that fails now is tried again."""

	def test_emfile_on_read_keeps_the_envelope(self, rig, tmp_path, monkeypatch):
		spool = tmp_path / "spool"
		r = rig(spool_dir=str(spool))
		r.Transport.capture_envelope(event("e"))
		real_read = DiskSpool.read
		failures = [OSError(errno.EMFILE, "Too many open files")] * 2

		def flaky(self, key):
			if failures:
				raise failures.pop(0)
			return real_read(self, key)

		monkeypatch.setattr(DiskSpool, "read", flaky)
		r.pump_all()
		assert r.messages() == [] and len(envelopes(str(spool))) == 1  # kept, not deleted
		r.run_for(15.0, step=0.5)
		assert r.messages() == ["e"] and envelopes(str(spool)) == []
		assert r.Stats.snapshot()["dropped"] == 0

	def test_corrupt_file_is_kept_aside_and_counted(self, rig, tmp_path, caplog):
		spool = tmp_path / "spool"
		DiskSpool(str(spool)).close()
		bad = "{:020d}-{:07d}-{:06d}.error.envelope".format(1_700_000_000 * 10 ** 9, 1, 0)
		(spool / bad).write_bytes(b"\x00\x01 not json\n")
		r = rig(spool_dir=str(spool))
		r.Transport.capture_envelope(event("good"))
		r.pump_all()
		assert r.messages() == ["good"]
		assert (spool / (bad + ".corrupt")).read_bytes() == b"\x00\x01 not json\n"
		assert r.Stats.snapshot()["dropped.spool_corrupt"] == 1

	def test_leftover_temporary_file_of_ours_is_removed(self, rig, tmp_path):
		spool = tmp_path / "spool"
		DiskSpool(str(spool)).close()
		tmp = "{:020d}-{:07d}-{:06d}.error.envelope.tmp".format(1_700_000_000 * 10 ** 9, 1, 0)
		(spool / tmp).write_bytes(b"half")
		rig(spool_dir=str(spool))
		assert not (spool / tmp).exists()


class TestHandOver(object):
	"""A closed transport releases the spool at once."""

	def test_second_spool_after_close(self, rig, tmp_path):
		spool = str(tmp_path / "spool")
		first = rig(spool_dir=spool, default=(503, {}))
		first.Transport.capture_envelope(event("from the first"))
		with pytest.raises(SpoolError, match="in use"):
			DiskSpool(spool)
		first.Transport.kill()
		second = rig(spool_dir=spool)
		second.pump_all()
		assert second.messages() == ["from the first"]


class TestOrder(object):
	"""What an earlier run left is sent in capture order, before what is captured now."""

	def test_replay_in_capture_order(self, rig, tmp_path):
		spool = str(tmp_path / "spool")
		first = rig(spool_dir=spool, default=(503, {}))
		for i in range(5):
			first.Transport.capture_envelope(event("old {}".format(i)))
		first.Transport.kill()
		second = rig(spool_dir=spool)
		second.Transport.capture_envelope(event("new"))
		second.pump_all()
		assert second.messages() == ["old 0", "old 1", "old 2", "old 3", "old 4", "new"]


class TestSync(object):
	"""The senders fsync the spool at most every `SYNC_INTERVAL`, and at close."""

	def test_at_most_one_fsync_per_interval_and_one_at_close(self, rig, tmp_path, monkeypatch):
		from asab_sentry import transport
		r = rig(spool_dir=str(tmp_path / "spool"))
		calls = []
		original = r.Spool.sync
		monkeypatch.setattr(r.Spool, "sync", lambda: calls.append(r.Clock.monotonic()) or original())
		r.Transport.capture_envelope(event("a"))
		r.Transport._sync()
		r.Transport.capture_envelope(event("b"))
		r.Clock.advance(transport.SYNC_INTERVAL / 2)
		r.Transport._sync()
		assert len(calls) == 1
		r.Clock.advance(transport.SYNC_INTERVAL / 2)
		r.Transport._sync()
		assert len(calls) == 2
		r.Transport.kill()
		assert len(calls) == 3


def segments(directory):
	return sorted(n for n in os.listdir(directory) if n.endswith(".segment"))


class TestSegments(object):
	"""Envelopes are appended to segment files; sent ones are acknowledged; a segment with nothing left goes."""

	def test_captures_share_one_segment_file(self, rig, tmp_path):
		spool = tmp_path / "spool"
		r = rig(spool_dir=str(spool), default=(503, {}))
		for i in range(20):
			r.Transport.capture_envelope(event("e{}".format(i)))
		assert len(segments(str(spool))) == 1
		assert {stat.S_IMODE(os.stat(str(spool / n)).st_mode) for n in segments(str(spool))} == {0o600}
		assert len(envelopes(str(spool))) == 20

	def test_sent_envelopes_are_not_sent_again_after_a_restart(self, rig, tmp_path):
		spool = str(tmp_path / "spool")
		first = rig(spool_dir=spool, script=[(200, {})] * 3, default=(503, {}))
		for i in range(5):
			first.Transport.capture_envelope(event("e{}".format(i)))
		for _ in range(3):
			first.Transport.pump()
		assert first.messages() == ["e0", "e1", "e2"]
		first.Transport.kill()
		assert len(envelopes(spool)) == 2
		second = rig(spool_dir=spool)
		second.pump_all()
		assert second.messages() == ["e3", "e4"]
		second.Transport.kill()
		assert sorted(os.listdir(spool)) == [".asab-sentry-spool", ".lock"]  # the segment and its acks went

	def test_a_sent_segment_is_deleted_when_the_next_one_starts(self, tmp_path):
		spool = DiskSpool(str(tmp_path / "spool"), segment_size=1)  # every envelope starts a new segment
		try:
			first = spool.write(event("a").serialize(), "error")
			assert len(segments(spool.Directory)) == 1
			spool.delete(first)
			assert len(segments(spool.Directory)) == 1  # still the one being written
			second = spool.write(event("b").serialize(), "error")
			assert segments(spool.Directory) == [second.split(":")[0]]
			assert [f.key for f in pending(spool.Directory)] == [second]
		finally:
			spool.close()

	def test_an_unsent_segment_stays_until_its_last_envelope_goes(self, tmp_path):
		spool = DiskSpool(str(tmp_path / "spool"), segment_size=1)
		try:
			keys = [spool.write(event(m).serialize(), "error") for m in "abc"]
			assert len(segments(spool.Directory)) == 3
			spool.delete(keys[1])
			assert segments(spool.Directory) == [keys[0].split(":")[0], keys[2].split(":")[0]]
			assert spool.read(keys[0]) == event("a").serialize()
		finally:
			spool.close()

	def test_close_deletes_a_segment_with_nothing_left(self, tmp_path):
		spool = DiskSpool(str(tmp_path / "spool"))
		key = spool.write(event("a").serialize(), "error")
		spool.delete(key)
		spool.close()
		assert segments(spool.Directory) == []

	def test_a_write_cut_short_leaves_no_half_record(self, tmp_path, monkeypatch):
		"""The disk fills in the middle of an envelope: the part written is cut off again, the next envelope is whole."""
		spool = DiskSpool(str(tmp_path / "spool"))
		real_write = os.write
		calls = []

		def half_then_full(fd, data):
			calls.append(len(data))
			if len(calls) == 1:
				return real_write(fd, bytes(data[:len(data) // 2]))
			raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

		try:
			spool.write(event("first").serialize(), "error")
			monkeypatch.setattr(os, "write", half_then_full)
			with pytest.raises(OSError):
				spool.write(event("lost").serialize(), "error")
			monkeypatch.setattr(os, "write", real_write)
			spool.write(event("third").serialize(), "error")
		finally:
			spool.close()
		again = DiskSpool(str(tmp_path / "spool"))
		try:
			found = again.load()
			assert [again.read(f.key) for f in found] == [event("first").serialize(), event("third").serialize()]
		finally:
			again.close()

	def test_a_torn_tail_is_reported_and_what_is_before_it_sent(self, rig, tmp_path, caplog):
		spool = str(tmp_path / "spool")
		first = DiskSpool(spool)
		first.write(event("whole").serialize(), "error")
		first.close()
		[name] = segments(spool)
		with open(os.path.join(spool, name), "ab") as f:
			f.write(b"ASE1\x00\x00\x10\x00 torn by a power cut")
		r = rig(spool_dir=spool)
		r.pump_all()
		assert r.messages() == ["whole"]
		assert len([rec for rec in caplog.records if rec.levelno == logging.WARNING and "damaged record" in rec.getMessage()]) == 1
		assert os.path.exists(os.path.join(spool, name + ".corrupt")) and not os.path.exists(os.path.join(spool, name))

	def test_a_flipped_byte_is_caught_by_the_checksum(self, tmp_path):
		spool = str(tmp_path / "spool")
		first = DiskSpool(spool)
		one = first.write(event("one").serialize(), "error")
		key = first.write(event("two").serialize(), "error")
		first.close()
		[name] = segments(spool)
		offset = int(key.split(":")[1])
		with open(os.path.join(spool, name), "r+b") as f:
			f.seek(offset + 5)
			byte = f.read(1)
			f.seek(offset + 5)
			f.write(bytes([byte[0] ^ 0x01]))
		assert [f.key for f in pending(spool)] == [one]  # "two" no longer checks; "one" still does


class TestSegmentFiles(object):
	"""The spool's files, rule by rule: keys, categories and times, rotation, acknowledgements, quarantine, fsync."""

	def test_key_names_the_segment_offset_and_length(self, tmp_path):
		spool = DiskSpool(str(tmp_path / "spool"))
		try:
			body = event("a").serialize()
			key = spool.write(body, "transaction")
			name, offset, length = key.split(":")
			assert segments(spool.Directory) == [name]
			assert int(length) == len(body)
			with open(os.path.join(spool.Directory, name), "rb") as f:
				assert f.read()[int(offset):] == body
		finally:
			spool.close()

	def test_category_and_capture_time_come_back_at_start(self, tmp_path, monkeypatch):
		spool = DiskSpool(str(tmp_path / "spool"))
		monkeypatch.setattr("time.time_ns", lambda: 1_700_000_000_123_000_000)
		spool.write(event("a").serialize(), "transaction")
		spool.write(event("b").serialize(), "error")
		spool.close()
		monkeypatch.undo()
		again = DiskSpool(str(tmp_path / "spool"))
		try:
			found = again.load()
			assert [(f.category, f.created) for f in found] == [("transaction", 1_700_000_000_123_000_000 / 1e9), ("error", 1_700_000_000_123_000_000 / 1e9)]
			assert [f.size for f in found] == [len(event("a").serialize()), len(event("b").serialize())]
		finally:
			again.close()

	def test_oldest_first_across_old_files_and_segments(self, tmp_path, monkeypatch):
		directory = tmp_path / "spool"
		spool = DiskSpool(str(directory))
		monkeypatch.setattr("time.time_ns", lambda: 1_800_000_000 * 10 ** 9)
		spool.write(event("new").serialize(), "error")
		spool.close()
		monkeypatch.undo()
		old = "{:020d}-{:07d}-{:06d}.error.envelope".format(1_700_000_000 * 10 ** 9, 1, 0)
		(directory / old).write_bytes(event("old").serialize())
		again = DiskSpool(str(directory))
		try:
			found = again.load()
			assert [again.read(f.key) for f in found] == [event("old").serialize(), event("new").serialize()]
			assert found[0] == (old, "error", len(event("old").serialize()), 1_700_000_000.0)
		finally:
			again.close()

	def test_rotation_at_the_segment_size(self, tmp_path):
		body = event("a").serialize()
		record = len(body) + 21 + len("error")
		spool = DiskSpool(str(tmp_path / "spool"), segment_size=2 * record)
		try:
			keys = [spool.write(body, "error") for _ in range(3)]
			names = [k.split(":")[0] for k in keys]
			assert names[0] == names[1] != names[2]  # full at exactly two records
		finally:
			spool.close()

	def test_a_long_category_is_cut(self, tmp_path):
		spool = DiskSpool(str(tmp_path / "spool"))
		spool.write(b"x", "c" * 300)
		spool.close()
		assert [f.category for f in pending(spool.Directory)] == ["c" * 255]

	def test_acknowledgements_survive_a_restart(self, tmp_path):
		spool = DiskSpool(str(tmp_path / "spool"))
		keys = [spool.write(event(m).serialize(), "error") for m in "abc"]
		spool.delete(keys[0])
		spool.delete(keys[2])
		spool.close()
		assert [f.key for f in pending(spool.Directory)] == [keys[1]]

	def test_a_segment_with_everything_sent_is_deleted_at_start(self, tmp_path):
		spool = DiskSpool(str(tmp_path / "spool"))
		key = spool.write(b"x", "error")
		spool.delete(key)
		# as a killed process leaves it: the segment and its acknowledgements, not deleted
		spool._Active = None
		spool._LockFile.close()
		spool._LockFile = None
		assert len(segments(spool.Directory)) == 1
		again = DiskSpool(spool.Directory)
		try:
			assert again.load() == []
			assert sorted(os.listdir(spool.Directory)) == [".asab-sentry-spool", ".lock"]
		finally:
			again.close()

	def test_acknowledgements_without_their_segment_are_removed(self, tmp_path):
		directory = tmp_path / "spool"
		DiskSpool(str(directory)).close()
		orphan = "{:020d}-{:07d}-{:06d}.segment.acks".format(1, 1, 1)
		(directory / orphan).write_bytes(b"\x00" * 8)
		spool = DiskSpool(str(directory))
		spool.load()
		spool.close()
		assert not (directory / orphan).exists()

	def test_a_torn_segment_with_nothing_whole_is_kept_aside_at_once(self, tmp_path):
		directory = tmp_path / "spool"
		DiskSpool(str(directory)).close()
		name = "{:020d}-{:07d}-{:06d}.segment".format(1, 1, 1)
		(directory / name).write_bytes(b"ASE1\x00\x00")
		spool = DiskSpool(str(directory))
		try:
			assert spool.load() == []
			assert (directory / (name + ".corrupt")).exists() and not (directory / name).exists()
		finally:
			spool.close()

	def test_reading_a_record_of_a_segment_left_by_an_earlier_run(self, tmp_path):
		first = DiskSpool(str(tmp_path / "spool"))
		first.write(event("a").serialize(), "error")
		first.close()
		second = DiskSpool(str(tmp_path / "spool"))
		try:
			[found] = second.load()
			assert second.read(found.key) == event("a").serialize()
		finally:
			second.close()

	def test_reading_a_forgotten_segment_is_gone(self, tmp_path):
		spool = DiskSpool(str(tmp_path / "spool"))
		try:
			with pytest.raises(FileNotFoundError):
				spool.read("{:020d}-{:07d}-{:06d}.segment:0:10".format(1, 1, 1))
		finally:
			spool.close()

	def test_a_record_cut_off_is_gone_not_short(self, tmp_path):
		spool = DiskSpool(str(tmp_path / "spool"))
		try:
			key = spool.write(b"0123456789", "error")
			name, offset, _ = key.split(":")
			with open(os.path.join(spool.Directory, name), "r+b") as f:
				f.truncate(int(offset) + 4)
			with pytest.raises(FileNotFoundError):
				spool.read(key)
		finally:
			spool.close()

	def test_deleting_twice_or_unknown_keys_changes_nothing(self, tmp_path):
		spool = DiskSpool(str(tmp_path / "spool"), segment_size=1)
		try:
			a = spool.write(b"a", "error")
			b = spool.write(b"b", "error")
			spool.delete("{:020d}-{:07d}-{:06d}.segment:0:1".format(1, 1, 1))
			spool.delete("no-such-file.envelope")
			assert [f.key for f in pending(spool.Directory)] == [a, b]
		finally:
			spool.close()

	def test_quarantine_keeps_the_bytes_aside_and_forgets_the_record(self, tmp_path):
		spool = DiskSpool(str(tmp_path / "spool"))
		try:
			key = spool.write(b"not an envelope", "error")
			kept = spool.quarantine(key)
			name, offset, _ = key.split(":")
			assert kept == "{}.{}.corrupt".format(name, offset)
			with open(os.path.join(spool.Directory, kept), "rb") as f:
				assert f.read() == b"not an envelope"
			assert pending(spool.Directory) == []
		finally:
			spool.close()

	def test_quarantine_of_an_old_file_renames_it(self, tmp_path):
		directory = tmp_path / "spool"
		DiskSpool(str(directory)).close()
		old = "{:020d}-{:07d}-{:06d}.error.envelope".format(1_700_000_000 * 10 ** 9, 1, 0)
		(directory / old).write_bytes(b"junk")
		spool = DiskSpool(str(directory))
		try:
			assert spool.quarantine(old) == old + ".corrupt"
			assert (directory / (old + ".corrupt")).read_bytes() == b"junk"
		finally:
			spool.close()

	def test_sync_fsyncs_the_segment_its_acks_and_the_directory(self, tmp_path, monkeypatch):
		spool = DiskSpool(str(tmp_path / "spool"))
		synced = []
		real = os.fsync

		def record(fd):
			synced.append(os.readlink("/proc/self/fd/{}".format(fd)))
			return real(fd)

		monkeypatch.setattr(os, "fsync", record)
		try:
			key = spool.write(b"x", "error")
			spool.write(b"y", "error")
			spool.delete(key)
			spool.sync()
			name = key.split(":")[0]
			assert sorted(os.path.basename(p) for p in synced) == sorted([name, name + ".acks", "spool"])
			synced.clear()
			spool.sync()
			assert synced == []  # nothing new
		finally:
			spool.close()


def spool_messages(caplog, level=logging.WARNING):
	return [r.getMessage() for r in caplog.records if r.levelno == level and r.name == "asab_sentry.spool"]


class TestSpoolMessages(object):
	"""What the spool says, word for word: at start about what it found, and when it cannot be used."""

	def test_what_an_earlier_run_left(self, tmp_path, caplog):
		directory = tmp_path / "spool"
		first = DiskSpool(str(directory))
		first.write(b"a", "error")
		first.write(b"b", "error")
		first.close()
		(directory / "notes.txt").write_text("x")
		(directory / "other.acks").write_text("x")
		for i in range(2):
			(directory / "{:020d}-{:07d}-{:06d}.error.envelope.corrupt".format(1, 1, i)).write_bytes(b"x")
		torn = "{:020d}-{:07d}-{:06d}.segment".format(2, 2, 2)
		(directory / torn).write_bytes(b"ASE1")
		second = DiskSpool(str(directory))
		try:
			with caplog.at_level(logging.INFO, logger="asab_sentry.spool"):
				second.load()
		finally:
			second.close()
		d = str(directory)
		assert spool_messages(caplog) == [
			"Sentry spool '{}': 2 file(s) that asab-sentry did not write are left alone (e.g. 'notes.txt').".format(d),
			"Sentry spool '{}': 2 corrupt envelope file(s) (*.corrupt) are kept for inspection and not sent.".format(d),
			"Sentry spool '{}': 1 segment(s) end in a damaged record (a write cut by a power cut?); the envelopes before it are sent, the segment is then kept as '<name>.corrupt' (e.g. '{}').".format(d, torn),
		]
		assert spool_messages(caplog, asab.LOG_NOTICE) == ["Sentry spool '{}': 2 envelope(s) left by an earlier run will be sent.".format(d)]
		assert (directory / "notes.txt").exists() and (directory / "other.acks").exists()

	def test_foreign_temporary_file_in_its_own_directory_is_kept(self, tmp_path):
		directory = tmp_path / "spool"
		DiskSpool(str(directory)).close()
		(directory / "mine.tmp").write_text("not asab-sentry's")
		spool = DiskSpool(str(directory))
		spool.load()
		spool.close()
		assert (directory / "mine.tmp").exists()

	def test_directory_that_cannot_be_made(self, tmp_path):
		(tmp_path / "file").write_text("x")
		with pytest.raises(SpoolError) as caught:
			DiskSpool(str(tmp_path / "file" / "spool"))
		assert str(caught.value) == "cannot use the spool directory '{}': Not a directory".format(tmp_path / "file" / "spool")

	def test_in_use(self, tmp_path):
		first = DiskSpool(str(tmp_path / "spool"))
		try:
			with pytest.raises(SpoolError) as caught:
				DiskSpool(str(tmp_path / "spool"))
			assert str(caught.value) == "the spool directory '{}' is in use by another process; give each instance its own".format(tmp_path / "spool")
		finally:
			first.close()

	def test_marker_says_what_the_directory_is(self, tmp_path):
		DiskSpool(str(tmp_path / "spool")).close()
		assert (tmp_path / "spool" / MARKER).read_text() == "This directory is an asab-sentry spool: envelopes waiting to be sent to Sentry, in *.segment files.\n"

	def test_a_directory_of_segments_without_a_marker_is_its_own(self, tmp_path):
		"""(A spool whose marker was deleted: its files are asab-sentry's, so it is used, not a subdirectory.)"""
		directory = tmp_path / "spool"
		first = DiskSpool(str(directory))
		first.write(b"a", "error")
		first.close()
		(directory / MARKER).unlink()
		again = DiskSpool(str(directory))
		try:
			assert again.Directory == str(directory) and len(again.load()) == 1
		finally:
			again.close()


class TestSegmentEdges(object):
	"""The segment format at its edges: empty records, damaged headers, torn acknowledgements, odd bytes."""

	def test_an_empty_record_is_a_record(self, tmp_path):
		spool = DiskSpool(str(tmp_path / "spool"))
		key = spool.write(b"", "")
		spool.close()
		assert [(f.key, f.category, f.size) for f in pending(spool.Directory)] == [(key, "", 0)]

	def test_a_wrong_magic_ends_the_reading(self, tmp_path):
		spool = DiskSpool(str(tmp_path / "spool"))
		first = spool.write(b"one", "error")
		second = spool.write(b"two", "error")
		spool.close()
		name, offset, _ = second.split(":")
		header_at = int(offset) - 21 - len("error")
		with open(os.path.join(spool.Directory, name), "r+b") as f:
			f.seek(header_at)
			f.write(b"XSE1")
		assert [f.key for f in pending(spool.Directory)] == [first]

	def test_a_torn_acknowledgement_is_ignored(self, tmp_path):
		spool = DiskSpool(str(tmp_path / "spool"))
		a = spool.write(b"a", "error")
		b = spool.write(b"b", "error")
		spool.delete(a)
		spool.close()
		with open(os.path.join(spool.Directory, a.split(":")[0] + ".acks"), "ab") as f:
			f.write(b"\x00\x00\x00")  # a power cut in the middle of the next acknowledgement
		assert [f.key for f in pending(spool.Directory)] == [b]

	def test_acknowledgements_kept_across_two_restarts(self, tmp_path):
		directory = str(tmp_path / "spool")
		spool = DiskSpool(directory)
		keys = [spool.write(m.encode(), "error") for m in "abc"]
		spool.delete(keys[0])
		spool.close()
		for _ in range(2):
			again = DiskSpool(directory)
			try:
				assert [f.key for f in again.load()] == keys[1:]
			finally:
				again.close()

	def test_odd_bytes_in_a_category(self, tmp_path):
		import struct
		import zlib
		directory = tmp_path / "spool"
		DiskSpool(str(directory)).close()
		body = b"{}"
		record = struct.pack(">4sIIqB", b"ASE1", len(body), zlib.crc32(body), 10 ** 18, 2) + b"\xffx" + body
		name = "{:020d}-{:07d}-{:06d}.segment".format(3, 3, 3)
		(directory / name).write_bytes(record)
		assert [f.category for f in pending(str(directory))] == ["\ufffdx"]

	def test_a_non_ascii_category_is_written_readably(self, tmp_path):
		spool = DiskSpool(str(tmp_path / "spool"))
		spool.write(b"x", "caf\u00e9")
		spool.close()
		assert [f.category for f in pending(spool.Directory)] == ["caf?"]

	def test_old_envelope_files_are_pending(self, tmp_path):
		directory = tmp_path / "spool"
		DiskSpool(str(directory)).close()
		name = "{:020d}-{:07d}-{:06d}.transaction.envelope".format(1_700_000_000 * 10 ** 9, 1, 0)
		(directory / name).write_bytes(b"12345")
		assert pending(str(directory)) == [(name, "transaction", 5, 1_700_000_000.0)]

	def test_acknowledgement_file_is_private(self, tmp_path):
		spool = DiskSpool(str(tmp_path / "spool"))
		key = spool.write(b"a", "error")
		spool.write(b"b", "error")
		spool.delete(key)
		spool.close()
		acks = os.path.join(spool.Directory, key.split(":")[0] + ".acks")
		assert stat.S_IMODE(os.stat(acks).st_mode) == 0o600

	def test_a_write_that_cannot_be_cut_off_goes_to_a_new_segment(self, tmp_path, monkeypatch):
		spool = DiskSpool(str(tmp_path / "spool"))
		try:
			first = spool.write(b"first", "error")
			real_write = os.write

			def half(fd, data):
				real_write(fd, bytes(data[:3]))
				raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

			def no_truncate(fd, length):
				raise OSError(errno.EIO, os.strerror(errno.EIO))

			monkeypatch.setattr(os, "write", half)
			monkeypatch.setattr(os, "ftruncate", no_truncate)
			with pytest.raises(OSError):
				spool.write(b"lost", "error")
			monkeypatch.undo()
			third = spool.write(b"third", "error")
			assert third.split(":")[0] != first.split(":")[0]
			assert spool.read(first) == b"first" and spool.read(third) == b"third"
		finally:
			spool.close()

	def test_nothing_written_nothing_fsynced(self, tmp_path, monkeypatch):
		spool = DiskSpool(str(tmp_path / "spool"))
		synced = []
		monkeypatch.setattr(os, "fsync", lambda fd: synced.append(fd))
		try:
			spool.sync()
			assert synced == []
		finally:
			spool.close()

	def test_an_acknowledgement_alone_is_fsynced(self, tmp_path, monkeypatch):
		spool = DiskSpool(str(tmp_path / "spool"))
		key = spool.write(b"a", "error")
		spool.write(b"b", "error")
		spool.sync()
		synced = []
		real = os.fsync

		def record(fd):
			synced.append(os.path.basename(os.readlink("/proc/self/fd/{}".format(fd))))
			return real(fd)

		monkeypatch.setattr(os, "fsync", record)
		try:
			spool.delete(key)
			spool.sync()
			name = key.split(":")[0]
			assert sorted(synced) == sorted([name, name + ".acks", "spool"])  # the acks file is new: the directory too
		finally:
			spool.close()


class TestGoneWarning(object):
	"""An envelope whose record is gone is counted as spool_missing, with a WARNING saying which and why."""

	def test_segment_cut_short(self, rig, tmp_path, caplog):
		spool = tmp_path / "spool"
		r = rig(spool_dir=str(spool))
		r.Transport.capture_envelope(event("e"))
		[key] = envelopes(str(spool))
		name, offset, _ = key.split(":")
		with open(str(spool / name), "r+b") as f:
			f.truncate(int(offset) + 2)
		r.pump_all()
		assert r.Stats.snapshot()["dropped.spool_missing"] == 1
		assert "A spooled Sentry envelope disappeared before it was sent ('{}': segment '{}' ends before the envelope at {}); counted as spool_missing.".format(key, name, offset) in [
			rec.getMessage() for rec in caplog.records if rec.levelno == logging.WARNING
		]

	def test_segment_forgotten(self, rig, tmp_path, caplog):
		spool = tmp_path / "spool"
		r = rig(spool_dir=str(spool))
		r.Transport.capture_envelope(event("e"))
		[key] = envelopes(str(spool))
		name = key.split(":")[0]
		r.Spool._Segments.pop(name)
		r.pump_all()
		assert "A spooled Sentry envelope disappeared before it was sent ('{}': no segment '{}'); counted as spool_missing.".format(key, name) in [
			rec.getMessage() for rec in caplog.records if rec.levelno == logging.WARNING
		]
