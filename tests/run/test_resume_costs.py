"""What a resume with nothing to do still pays for (issue 17), cut without changing what
it writes or detects: the manifest's text, the run lock's record, no worker threads, the
file signature, and the bundled layout's folder parsed once per process."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from derm_stress import cases
from derm_stress.cases import Case, Note
from derm_stress.run import parse_config, run
from derm_stress.run.harness import case_record_dict, manifest_text
from derm_stress.run.lock import LOCK_NAME, RunLock
from derm_stress.schema import CASE_META_FIELDS, CaseRecord
from derm_stress.testing.strategies import notes
from tests.conftest import PAD_DIR

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=3),
    lambda inner: (
        st.lists(inner, max_size=2) | st.dictionaries(st.text(max_size=2), inner, max_size=2)
    ),
    max_leaves=6,
)
KEYS = st.sampled_from(["config", "status", "é", ""])


@given(st.lists(st.dictionaries(KEYS, JSON, max_size=3), max_size=3))
def test_the_manifest_text_is_json_dumps_with_indent_1_whatever_was_written_before(
    manifests: list[dict[str, Any]],
) -> None:
    for data in manifests:  # the same keys again and again, values changing or not
        assert manifest_text(data) == json.dumps(data, indent=1, default=str)


def test_values_equal_in_python_but_not_in_json_are_written_as_they_are() -> None:
    for value in (1, 1.0, True, 1, [1], [True], {"a": Path("/x")}, {"a": "/x"}):
        data = {"format_version": 2, "config": {"seed": value}}
        assert manifest_text(data) == json.dumps(data, indent=1, default=str)
    assert manifest_text({1: "a", "b": []}) == json.dumps({1: "a", "b": []}, indent=1)


def test_the_lock_record_replaces_a_longer_one_whole(tmp_path: Path) -> None:
    (tmp_path / LOCK_NAME).write_text("x" * 500)
    with RunLock(tmp_path):
        record = json.loads((tmp_path / LOCK_NAME).read_text(encoding="utf-8"))
    assert record["pid"] == os.getpid() and set(record) == {"pid", "host", "started"}


def test_the_file_signature_is_the_one_stores_already_hold(tmp_path: Path) -> None:
    """Signatures are kept in stores: the text hashed is still ``repr`` of the photos'
    tuples and the note's sorted items (taken before and after the note's part is kept)."""
    photos = [tmp_path / "a.jpg", tmp_path / "b.jpg"]
    for photo in photos:
        photo.write_bytes(b"x" * 10)
    note = Note(age=41.5, sex="female", size_mm=(6.0, 5.0), itch=True, free_text="it's ok")
    case = Case("c", tuple(photos), note, "NEV")
    now = time.time() + 10
    for _ in range(2):
        parts: list[object] = []
        for photo in photos:
            s = os.stat(photo)
            parts.append((str(photo), s.st_size, s.st_ino, s.st_mtime_ns, s.st_ctime_ns))
        parts.append(sorted(note.to_dict().items()))
        assert case.file_signature(now=now) == hashlib.sha256(repr(parts).encode()).hexdigest()


def _pad_folder(root: Path, rows: int) -> Path:
    (root / "images").mkdir(parents=True)
    lines = (PAD_DIR / "metadata.csv").read_text().splitlines()
    for row in lines[1 : rows + 1]:
        stem = row.split(",")[24].removesuffix(".png")
        shutil.copyfile(PAD_DIR / "images" / f"{stem}.jpg", root / "images" / f"{stem}.jpg")
    (root / "metadata.csv").write_text("\n".join(lines[: rows + 1]) + "\n")
    return root


@pytest.fixture
def settled(monkeypatch: pytest.MonkeyPatch) -> None:
    """Files count as settled at once (no racy window), so a resume may reuse stored
    fingerprints."""
    monkeypatch.setattr(cases, "RACY_SECONDS", 0.0)


def test_a_resume_with_nothing_to_do_starts_no_thread_and_a_changed_row_is_rerun(
    tmp_path: Path, settled: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = _pad_folder(tmp_path / "pad", 3)
    spec = {
        "image": ["none", {"op": "gaussian_noise", "severity": 2}],
        "context": ["image_only", "full"],
        "dataset": {"pad_ufes_20": str(folder)},
        "models": [{"name": "a", "adapter": "callable", "target": "tests.run.helpers:recorder_a"}],
    }
    config = parse_config(spec, tmp_path, "resume")
    first = run(config, tmp_path / "run")
    assert first.calls == 3 * 4
    started: list[str] = []
    start = threading.Thread.start

    def counting(self: threading.Thread) -> None:
        started.append(self.name)
        start(self)

    monkeypatch.setattr(threading.Thread, "start", counting)
    again = run(config, tmp_path / "run")
    assert again.calls == 0 and again.reused == 12 and started == []
    text = (tmp_path / "run" / "manifest.json").read_text(encoding="utf-8")
    assert text == json.dumps(json.loads(text), indent=1) and '"status": "complete"' in text
    # the folder is parsed once per process, but a changed row (same size) is seen
    time.sleep(0.05)  # the file system's clock moves on: the change gets times of its own
    meta = folder / "metadata.csv"
    lines = meta.read_text().splitlines()
    assert ",NECK," in lines[2]
    meta.write_text(
        "\n".join([*lines[:2], lines[2].replace(",NECK,", ",FACE,"), *lines[3:]]) + "\n"
    )
    changed = run(config, tmp_path / "run")
    assert changed.calls == 4 and changed.reused == 8 and started


@given(
    notes(),
    st.lists(st.sampled_from(["MEL", "NEV", "BCC", "SCC"]), min_size=1, max_size=3, unique=True),
    st.none() | st.sampled_from(["routine", "soon", "urgent", "emergency"]),
    st.dictionaries(
        st.sampled_from([*CASE_META_FIELDS, "patient_id"]), st.sampled_from(["", "x", "3"])
    ),
    st.booleans(),
    st.none() | st.text(max_size=4),
)
def test_a_case_record_dict_is_the_record_as_a_dict(
    note: Note,
    diagnoses: list[str],
    triage: Any,
    meta: dict[str, str],
    array: bool,
    fingerprint: str | None,
) -> None:
    images: tuple[Any, ...] = (
        (Path("a.jpg"), np.zeros((2, 2, 3), np.uint8)) if array else (Path("b.jpg"),)
    )
    case = Case("c", images, note, diagnoses[0], meta, tuple(diagnoses), triage)
    record = CaseRecord(  # field by field, as the harness built its records before
        id=case.case_id,
        diagnosis=case.diagnosis,
        diagnoses=tuple(case.diagnoses),
        triage=case.triage,
        triage_source=case.triage_source,
        fingerprint=fingerprint,
        fitzpatrick=case.note.fitzpatrick,
        body_site=case.note.body_site,
        meta={k: case.meta[k] for k in CASE_META_FIELDS if case.meta.get(k)},
        images=tuple(str(i) for i in case.images if not isinstance(i, np.ndarray)),
        note=case.note.to_dict(),
    )
    built, expected = case_record_dict(case, fingerprint), record.to_dict()
    assert built == expected and list(built) == list(expected)
    assert json.dumps(built) == json.dumps(expected)  # what the store compares
