"""recovery.py's scan and resync on real event files (TensorBoard's own writer), damaged byte
by byte: what is counted as damage, and which records come back after it.

Record 0 of every file is the `file_version` event EventFileWriter writes first; record
i >= 1 is the event of step STEPS[i - 1]. No TensorFlow, no TensorBoard process: fast.
"""

import os
import re

import pytest
from tensorboard.backend.event_processing import event_file_loader
from tensorboard.compat.proto import event_pb2
from tensorboard.compat.proto import summary_pb2
from tensorboard.summary.writer.record_writer import RecordWriter

import hostile_util as hu
from tb_sparsity_plugin.reading import logdir_files
from tb_sparsity_plugin.reading import recovery

TAG = hu.SPARSITY % "dense"
STEPS = list(range(0, 100, 10))  # ten events, records 1..10


def write_run(run_dir, steps=STEPS):
    """One closed event file of sparsity scalars (value = step / 1000) in `run_dir`."""
    hu.write_series(run_dir, {TAG: [(s, s / 1000.0) for s in steps]})
    (path,) = hu.event_files(run_dir)
    return path


def event_record(step):
    """A serialized Event with one sparsity scalar, as the writer frames it."""
    event = event_pb2.Event(step=step, wall_time=1.0)
    event.summary.value.append(hu.scalar_value(TAG, step / 1000.0))
    return event.SerializeToString()


def append_records(path, payloads):
    with open(path, "ab") as f:
        writer = RecordWriter(f)
        for payload in payloads:
            writer.write(payload)
        writer.flush()


def insert_bytes(path, record_index, junk):
    """Insert `junk` before record `record_index`."""
    offset, _ = hu.record_offsets(path)[record_index]
    with open(path, "rb") as f:
        data = f.read()
    with open(path, "wb") as f:
        f.write(data[:offset] + junk + data[offset:])


def recovered_points(run_dir, run="run"):
    """(skipped, [(step, value)]) of DamageScanner.scan_run on run_dir's parent logdir."""
    scanner = recovery.DamageScanner(os.path.dirname(run_dir))
    skipped, events = scanner.scan_run(run)
    points = [(e.step, round(recovery.scalar_of(e.summary.value[0]), 6)) for e in events]
    return skipped, points


def points(steps):
    return [(s, round(s / 1000.0, 6)) for s in steps]


def loader_steps(path):
    """The steps TensorBoard's own Python loader delivers from `path`."""
    return [e.step for e in event_file_loader.EventFileLoader(path).Load()
            if e.HasField("summary")]


@pytest.fixture
def run_dir(tmp_path):
    return str(tmp_path / "run")


def test_a_clean_file_has_no_damage_and_nothing_to_recover(run_dir):
    path = write_run(run_dir)
    scan = recovery.scan_file(path)
    assert (scan.damaged, scan.incomplete, scan.recovered) == (0, False, [])
    assert scan.offset == scan.size == os.path.getsize(path)
    assert recovered_points(run_dir) == ({}, [])


@pytest.mark.parametrize("where", ["data", "length"])
def test_one_damaged_record_costs_only_itself(run_dir, where):
    path = write_run(run_dir)
    hu.flip_byte(path, 4, where)  # the event of step 30
    skipped, got = recovered_points(run_dir)
    assert skipped == {recovery.REASON_DAMAGED: 1}
    assert got == points(STEPS[4:])  # steps 40..90: everything after the damaged record
    # What TensorBoard's loader delivers plus what was recovered: all but the damaged one.
    assert loader_steps(path) == STEPS[:3]
    assert loader_steps(path) + [s for s, _ in got] == [s for s in STEPS if s != 30]


def test_two_damaged_regions_are_counted_and_resynced_separately(run_dir):
    path = write_run(run_dir)
    hu.flip_byte(path, 2)  # step 10
    hu.flip_byte(path, 7, "length")  # step 60
    skipped, got = recovered_points(run_dir)
    assert skipped == {recovery.REASON_DAMAGED: 2}
    assert got == points([20, 30, 40, 50, 70, 80, 90])


@pytest.mark.parametrize("junk", [
    bytes(range(256)) * 3,  # garbage with zero bytes that look like a length's high bytes
    bytes(1 << 20),  # a megabyte of zeros, as a crashed writer or a preallocated file leaves
    b"\x05" + bytes(11) + b"\x01\x02\x03",  # a plausible length with a wrong length CRC
], ids=["garbage", "zeros", "fake_header"])
def test_resync_skips_inserted_bytes(run_dir, junk):
    path = write_run(run_dir)
    insert_bytes(path, 5, junk)  # before the event of step 40
    skipped, got = recovered_points(run_dir)
    assert skipped == {recovery.REASON_DAMAGED: 1}
    assert got == points(STEPS[4:])


def test_garbage_to_the_end_of_the_file_recovers_nothing(run_dir):
    path = write_run(run_dir)
    with open(path, "ab") as f:
        f.write(bytes(range(1, 256)) * 8)
    skipped, got = recovered_points(run_dir)
    assert skipped == {recovery.REASON_DAMAGED: 1} and got == []


def test_an_incomplete_last_record_is_not_damage_and_completes_when_the_file_grows(run_dir):
    path = write_run(run_dir)
    with open(path, "rb") as f:
        whole = f.read()
    hu.truncate_mid_record(path)  # the writer is half-way through the step-90 record
    first = recovery.scan_file(path)
    assert (first.damaged, first.incomplete, first.recovered) == (0, True, [])
    assert first.offset == sum(hu.record_offsets(path)[-1])  # resumes at the partial record
    with open(path, "ab") as f:  # the writer finishes the record
        f.write(whole[os.path.getsize(path):])
    second = recovery.scan_file(path, first)
    assert (second.damaged, second.incomplete, second.recovered) == (0, False, [])
    assert second.offset == len(whole)
    assert recovered_points(run_dir) == ({}, [])


def test_growth_after_damage_is_scanned_once_and_recovered(run_dir):
    path = write_run(run_dir)
    hu.flip_byte(path, 9)  # step 80
    first = recovery.scan_file(path)
    assert first.damaged == 1 and len(first.recovered) == 1  # step 90
    append_records(path, [event_record(100), event_record(110)])
    second = recovery.scan_file(path, first)
    assert second.damaged == 1  # the same region, not counted again
    assert [event_pb2.Event.FromString(r).step for r in second.recovered] == [90, 100, 110]
    assert first.recovered == second.recovered[:1]  # the earlier scan is not mutated
    assert recovery.scan_file(path, second) is second  # unchanged file: cached answer


def test_a_good_record_that_is_not_an_event_counts_as_damage(run_dir):
    path = write_run(run_dir)
    hu.flip_byte(path, 3)  # step 20
    append_records(path, [b"\xff\xff\xff\xff not a protobuf", event_record(100)])
    skipped, got = recovered_points(run_dir)
    assert skipped == {recovery.REASON_DAMAGED: 2}  # the flipped record and the non-event
    assert got == points(STEPS[3:] + [100])


def test_runs_outside_the_logdir_are_not_scanned(tmp_path):
    logdir = tmp_path / "logdir"
    path = write_run(str(tmp_path / "outside"))
    hu.flip_byte(path, 2)
    write_run(str(logdir / "run"))
    scanner = recovery.DamageScanner(str(logdir))
    assert scanner.scan_run("../outside") == ({}, [])
    assert scanner.scan_run(str(tmp_path / "outside")) == ({}, [])
    assert scanner.fingerprint("run") and scanner.fingerprint("../outside") == ()
    remote = recovery.DamageScanner("s3://bucket/logs")
    assert remote.scan_run("../outside") == ({}, []) and remote.unchecked("../outside") is None


def test_a_remote_logdir_this_process_cannot_read_is_left_unchecked_with_the_reason():
    """Buckets are scanned through TensorBoard's filesystem layer (tests/unit/reading/test_remote_logdirs.py
    against emulators); a scheme it has no filesystem for is skipped, and says why."""
    scanner = recovery.DamageScanner("nosuchscheme://bucket/logs")
    assert scanner.fingerprint("exp/metrics") == ()
    assert scanner.scan_run("exp/metrics") == ({}, [])
    reason = scanner.unchecked("exp/metrics")
    assert "nosuchscheme://bucket/logs/exp/metrics cannot be listed" in reason
    # What the filesystem said (TensorBoard's stub, or TensorFlow's gfile once imported).
    assert re.search(r"\((ValueError|NotFoundError|UnimplementedError): .+\)$", reason), reason
    # The tab claims no problem it cannot check (TensorBoard's data server may read it).
    assert logdir_files.logdir_problem("nosuchscheme://bucket/logs") is None


@pytest.mark.parametrize("value,expected", [
    (hu.scalar_value(TAG, 0.25), 0.25),
    (summary_pb2.Summary.Value(tag=TAG, simple_value=0.5), 0.5),  # the legacy form
    (hu.tensor_value(TAG, [0.1, 0.2]), None),  # not a scalar
    (hu.tensor_value(TAG, "text"), None),
])
def test_scalar_of(value, expected):
    assert recovery.scalar_of(value) == expected


def test_a_range_is_read_exactly_and_shorter_at_the_end_of_the_file(tmp_path):
    path = str(tmp_path / "f")
    content = bytes(range(256)) * 40
    with open(path, "wb") as f:
        f.write(content)
    for offset, size in ((0, len(content)), (5, 100), (len(content) - 10, 10), (100, 0)):
        with logdir_files.open_range(path, offset, size) as data:
            assert data[:] == content[offset:offset + size] and len(data) == size
    with logdir_files.open_range(path, len(content) - 10, 1000) as data:  # the file shrank
        assert data == content[-10:]


def test_scanning_big_files_in_a_thread_leaves_no_memory_behind(tmp_path):
    """The background scan reads each new part of an event file in one go (tens of MB).
    Read into the heap, glibc kept such a buffer in the scanning thread's arena for the life
    of the process (+22 MB on the medium benchmark logdir; +16 MB here); read into an
    anonymous map, it is given back when the scan of the file ends. Measured in a fresh
    process: this one's heap already has room to spare."""
    import subprocess
    import sys

    paths = []
    for i in range(3):
        paths.append(write_run(str(tmp_path / ("big%d" % i))))
        append_records(paths[-1], [b"x" * (1 << 20)] * 16)  # 16 MB of good records
    script = (
        "import sys, threading, psutil\n"
        "from tb_sparsity_plugin.reading import recovery\n"
        "me = psutil.Process(); before = me.memory_info().rss\n"
        "scans = []\n"
        "scan = lambda: scans.extend(recovery.scan_file(p) for p in sys.argv[1:])\n"
        "t = threading.Thread(target=scan)\n"
        "t.start(); t.join()\n"
        "print(me.memory_info().rss - before, *(s.offset for s in scans))\n")
    out = subprocess.run([sys.executable, "-c", script] + paths, capture_output=True,
                         text=True, timeout=120, check=True)
    grown, *offsets = map(int, out.stdout.split())
    assert offsets == [os.path.getsize(p) for p in paths]  # every byte scanned
    assert grown < 6e6, "scanning 3 x 16 MB left %.1f MB behind" % (grown / 1e6)
