"""Heap-snapshot attribution on snapshots of real Node processes."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from leakbench.attribution.heapsnap.growth import grown_classes
from leakbench.attribution.heapsnap.reader import SnapshotError, read_snapshot
from leakbench.attribution.heapsnap.report import HTML, MARKDOWN
from leakbench.attribution.heapsnap.window import SNAPSHOT_DIR, HeapSnapshotWindow
from leakbench.reporters import write_reports
from leakbench.reporters.summary_text import SummaryText
from leakbench.verdict.results import Summary

HERE = Path(__file__).parent
# The module's fixture is built once: its tests go to one xdist worker (``--dist loadgroup`` in pyproject).
pytestmark = [
    pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed"),
    pytest.mark.xdist_group(__name__),
]


def snapshots(tmp_path: Path, mode: str, marks: tuple[int, ...] = (100, 300, 500)) -> list[Path]:
    subprocess.run(
        ["node", "--expose-gc", str(HERE / "records.js"), mode, str(tmp_path), *map(str, marks)],
        check=True,
        timeout=120,
    )
    return [tmp_path / f"{mode}-{mark}.heapsnapshot" for mark in marks]


@pytest.fixture(scope="module")
def leaky(tmp_path_factory) -> list[Path]:
    return snapshots(tmp_path_factory.mktemp("leaky"), "leaky")


def assert_reads_as_json_load(path: Path, whole: dict) -> None:
    graph = read_snapshot(path)
    width = len(whole["snapshot"]["meta"]["node_fields"])
    nodes = np.array(whole["nodes"]).reshape(-1, width)
    edges = np.array(whole["edges"]).reshape(-1, 3)
    assert (graph.node_type == nodes[:, 0]).all() and (graph.node_name == nodes[:, 1]).all()
    assert (graph.node_id == nodes[:, 2]).all() and (graph.self_size == nodes[:, 3]).all()
    assert (np.diff(graph.first_edge.astype(np.int64)) == nodes[:, 4]).all()
    assert (graph.edge_type == edges[:, 0]).all() and (graph.edge_to == edges[:, 2] // width).all()
    some = range(0, len(edges), 7)
    assert graph.edge_names(some) == {e: int(edges[e, 1]) for e in some}
    strings = whole["strings"]
    assert graph.strings(range(len(strings))) == dict(enumerate(strings))


def test_the_streaming_reader_reads_what_json_load_reads(leaky, tmp_path):
    whole = json.loads(leaky[0].read_text())
    assert_reads_as_json_load(leaky[0], whole)  # as V8 lays it out: a string a line
    one_line = tmp_path / "one-line.heapsnapshot"
    one_line.write_text(json.dumps(whole))  # as another writer might: read literal by literal
    assert_reads_as_json_load(one_line, whole)


def test_a_cut_or_foreign_file_is_one_error_not_a_traceback(leaky, tmp_path):
    cut = tmp_path / "cut.heapsnapshot"
    data = leaky[0].read_bytes()
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(SnapshotError, match="cut.heapsnapshot"):
        read_snapshot(cut)
    foreign = tmp_path / "foreign.heapsnapshot"
    foreign.write_text('{"hello": [1, 2, 3]}')
    with pytest.raises(SnapshotError, match="not a V8 heap snapshot"):
        read_snapshot(foreign)


def test_a_map_that_keeps_a_record_per_session_is_named_with_its_holder(leaky):
    rows = grown_classes(leaky)
    first = rows[0]
    assert first.name == "RunRecord"
    assert first.counts == (100, 300, 500) and first.new == 400
    assert first.retained >= first.new * 4096  # each record's payload is its own
    assert first.path == ("Map", "runs (module scope)")
    assert first.text().startswith("RunRecord x 400, ") and first.text().endswith(" <- Map <- runs (module scope)")


def test_two_snapshots_are_one_step(leaky):
    rows = grown_classes([leaky[0], leaky[2]])
    assert rows[0].name == "RunRecord" and rows[0].counts == (100, 500)


def test_paths_use_the_programs_own_names_for_what_holds(tmp_path):
    subprocess.run(
        ["node", "--expose-gc", str(HERE / "holders.js"), str(tmp_path), "50", "150", "250"], check=True, timeout=120
    )
    rows = {row.name: row for row in grown_classes([tmp_path / f"holders-{n}.heapsnapshot" for n in (50, 150, 250)])}
    assert rows["Event"].path == ("Array", "globalThis.events")
    assert rows["Entry"].path == ("Map", "cache (module scope)")
    assert rows["Item"].path[:2] == ("Array", "inner (closure scope)")
    assert all(row.new == 200 for name, row in rows.items() if name in ("Event", "Entry", "Item"))


def test_a_clean_loop_reports_nothing_grown(tmp_path):
    assert grown_classes(snapshots(tmp_path, "clean")) == []


class Target:
    """A live Node process driven over stdin: ``step N`` sessions, ``snap PATH``."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen(
            ["node", "--expose-gc", str(HERE / "session_server.js")],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

    def send(self, line: str) -> None:
        assert self.proc.stdin and self.proc.stdout
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()
        if self.proc.stdout.readline() != "ok\n":
            raise RuntimeError("the target is gone")

    def take(self, path: Path) -> None:
        self.send(f"snap {path}")

    def close(self) -> None:
        self.proc.kill()
        self.proc.wait()


@pytest.fixture
def target():
    t = Target()
    yield t
    t.close()


def test_the_window_snapshots_a_live_target_and_cleans_up(target, tmp_path):
    window = HeapSnapshotWindow(target.take, tmp_path, iterations=40, warmup=8)
    window.open()
    for i in range(8, 41):
        target.send("step 10")
        window.boundary(i)
    window.close(32)
    rows = window.report(None, failed=True)["heap_growth"]
    assert rows[0]["constructor"] == "RunRecord" and rows[0]["path"] == ["Map", "runs (module scope)"]
    assert not (tmp_path / SNAPSHOT_DIR).exists()  # deleted once read


def test_a_run_stopped_early_is_still_attributed(target, tmp_path):
    # A leak spends its budget and the run stops at boundary 40 of 100: the target is gone at close().
    window = HeapSnapshotWindow(target.take, tmp_path, iterations=100, warmup=4, keep=True)
    window.open()
    for i in range(4, 41):
        target.send("step 10")
        window.boundary(i)
    target.close()
    window.close(16)
    rows = window.report(None, failed=True)["heap_growth"]
    assert rows[0]["constructor"] == "RunRecord"
    assert len(window.snapshots()) == 3 and all(p.exists() for p in window.snapshots())  # kept on request


def test_a_passing_run_is_not_analysed_and_leaves_no_files(target, tmp_path):
    window = HeapSnapshotWindow(target.take, tmp_path, iterations=8, warmup=0)
    window.open()
    for i in range(9):
        target.send("step 1")
        window.boundary(i)
    window.close(8)
    assert window.report(None, failed=False) == {}
    assert not (tmp_path / SNAPSHOT_DIR).exists()


def test_a_failing_snapshot_warns_once_and_costs_nothing_else(tmp_path, capsys):
    calls = []

    def broken(path: Path) -> None:
        calls.append(path)
        raise ConnectionResetError("socket dropped")

    window = HeapSnapshotWindow(broken, tmp_path, iterations=20, warmup=2)
    window.open()
    for i in range(2, 21):
        window.boundary(i)
    window.close(18)
    report = window.report(None, failed=True)
    assert "socket dropped" in report["heap_growth_error"] and "heap_growth" not in report
    assert len(calls) == 1
    assert capsys.readouterr().err.count("warning") == 1


ROWS = [
    {
        "constructor": "RunRecord",
        "counts": [100, 300, 500],
        "self_sizes": [1, 2, 3],
        "new": 400,
        "retained": 1_700_000,
        "path": ["Map", "runs (module scope)"],
        "text": "RunRecord x 400, 1.62 MiB <- Map <- runs (module scope)",
    }
]


def test_the_grown_constructors_reach_every_report(tmp_path):
    summary = Summary(verdict="leak", heap_growth=ROWS)
    summary.save(tmp_path)
    loaded = Summary.load(tmp_path)
    assert loaded.heap_growth == ROWS
    text = "\n".join(SummaryText(loaded).details())
    assert "RunRecord x 400, 1.62 MiB <- Map <- runs (module scope)" in text
    write_reports(tmp_path, loaded)
    assert "runs (module scope)" in (tmp_path / MARKDOWN).read_text()
    assert "runs (module scope)" in (tmp_path / HTML).read_text()
    assert "RunRecord" in SummaryText(loaded).failure_message(tmp_path)


def test_snapshots_that_cannot_be_read_cost_the_attribution_not_the_run(tmp_path, capsys):
    window = HeapSnapshotWindow(lambda path: path.write_text('{"snapshot": '), tmp_path, iterations=4, warmup=0)
    window.open()
    for i in range(5):
        window.boundary(i)
    window.close(4)
    report = window.report(None, failed=True)
    assert report["heap_growth"] == [] and "not a V8 heap snapshot" in report["heap_growth_error"]
    assert capsys.readouterr().err.count("warning") == 1
    assert SummaryText(Summary(verdict="leak", **report)).details() == [
        f"heap snapshots: {report['heap_growth_error']}"
    ]
