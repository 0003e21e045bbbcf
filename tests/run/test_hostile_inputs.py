"""Hostile or broken input gets one clear line, and nothing is lost (issue 16, items 8-17):
real files (manifests in other encodings, damaged and read-only stores, YAML bombs, tiny
and animated photos), real `derm-stress` processes."""

from __future__ import annotations

import csv
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from PIL import Image

from derm_stress.datasets import Dataset, load_manifest
from derm_stress.errors import EXIT_STORE_DAMAGED, DatasetError, InvalidArgument
from derm_stress.run import export_run, load_config, load_run, run, to_dataframe
from tests.conftest import ROOT


def _cli(*args: str, cwd: Path = ROOT, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "derm_stress", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        **kwargs,
    )


def _write(path: Path, spec: Any) -> Path:
    path.write_text(yaml.safe_dump(spec))
    return path


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A finished run: the reference model, 12 cases x 3 conditions."""
    folder = tmp_path_factory.mktemp("finished")
    config = _write(
        folder / "c.yaml",
        {"image": ["none", {"op": "defocus", "severity": [2, 4]}], "dataset": {"limit": 12}},
    )
    run(load_config(config), folder / "run")
    return folder / "run"


def _snapshot(folder: Path) -> dict[str, tuple[int, str]]:
    """Every file in ``folder``: (mode, sha256 of its bytes)."""
    return {
        p.name: (p.stat().st_mode, hashlib.sha256(p.read_bytes()).hexdigest())
        for p in sorted(folder.iterdir())
    }


# -- item 8: encodings ----------------------------------------------------------------------


def _manifest_bytes(folder: Path, text: str, encoding: str, name: str = "cases.csv") -> Path:
    image = sorted((ROOT / "src/derm_stress/datasets/sample/images").glob("*.jpg"))[0]
    shutil.copyfile(image, folder / "a.jpg")
    path = folder / name
    path.write_bytes(text.encode(encoding))
    return path


def test_a_latin1_manifest_is_one_line_naming_line_and_byte(tmp_path: Path) -> None:
    text = "case_id,image,diagnosis,body_site\nc1,a.jpg,nevus,back\nc2,a.jpg,nevus,Évora\n"
    path = _manifest_bytes(tmp_path, text, "latin-1")
    with pytest.raises(DatasetError, match=r"line 3, byte 16 \(b'\\xc9'\) is not valid UTF-8"):
        len(load_manifest(path))
    config = _write(tmp_path / "c.yaml", {"dataset": {"manifest": "cases.csv"}})
    result = _cli("run", str(config), "--out", str(tmp_path / "run"), "--quiet")
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "dataset.encoding" in result.stderr
    assert "Traceback" not in result.stderr
    # with the encoding named, it loads
    config = _write(
        tmp_path / "c.yaml", {"dataset": {"manifest": "cases.csv", "encoding": "latin-1"}}
    )
    dataset = load_config(config)
    from derm_stress.run import load_dataset

    loaded = load_dataset(dataset.dataset, dataset.base_dir)
    assert [c.note.body_site for c in loaded] == ["back", "Évora"]


@pytest.mark.parametrize("name", ["cases.csv", "cases.jsonl"])
def test_utf8_with_a_byte_order_mark_loads(tmp_path: Path, name: str) -> None:
    if name.endswith(".csv"):
        text = "case_id,image,diagnosis,body_site\nc1,a.jpg,nevus,Évora\n"
    else:
        text = '{"case_id": "c1", "image": "a.jpg", "diagnosis": "nevus", "body_site": "Évora"}\n'
    dataset = load_manifest(_manifest_bytes(tmp_path, text, "utf-8-sig", name))
    assert [(c.case_id, c.note.body_site) for c in dataset] == [("c1", "Évora")]
    assert not dataset.issues


def test_an_unknown_encoding_is_a_config_error(tmp_path: Path) -> None:
    path = _manifest_bytes(tmp_path, "case_id,image,diagnosis\n", "utf-8")
    with pytest.raises(InvalidArgument, match="unknown encoding 'klingon'"):
        load_manifest(path, encoding="klingon")


# -- item 9: a damaged store ----------------------------------------------------------------


@pytest.mark.parametrize("damage", ["garbage", "truncated"])
def test_a_damaged_store_is_one_error_and_is_never_overwritten(
    finished: Path, tmp_path: Path, damage: str
) -> None:
    out = tmp_path / "run"
    shutil.copytree(finished, out)
    store = out / "results.sqlite"
    data = store.read_bytes()
    assert len(data) >= 8 * 4096  # several pages: truncation cuts results, not the header
    store.write_bytes(b"not a database " * 400 if damage == "garbage" else data[: len(data) // 3])
    before = store.read_bytes()
    config = _write(
        tmp_path / "c.yaml",
        {"image": ["none", {"op": "defocus", "severity": [2, 4]}], "dataset": {"limit": 12}},
    )
    for args in (
        ("run", str(config), "--out", str(out), "--quiet"),
        ("report", str(out), "-o", str(tmp_path / "r.html")),
        ("export", str(out), "-o", str(tmp_path / "r.csv")),
    ):
        result = _cli(*args)
        assert result.returncode == EXIT_STORE_DAMAGED, (args, result.stderr)
        assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
        assert f"the result store {store} is damaged" in result.stderr
        assert f"sqlite3 {store} .recover" in result.stderr
        assert store.read_bytes() == before  # left as it was


# -- item 10: reading never writes ----------------------------------------------------------


@pytest.fixture
def archived(finished: Path) -> Iterator[Path]:
    """A copy of the finished run in a folder nobody may write (mode 555, files 444)."""
    top = Path(tempfile.mkdtemp(prefix="derm-archived-"))
    top.chmod(0o755)
    run_dir = top / "run"
    shutil.copytree(finished, run_dir)
    for path in run_dir.iterdir():
        path.chmod(0o444)
    run_dir.chmod(0o555)
    (top / "out").mkdir()
    (top / "out").chmod(0o777)
    try:
        yield run_dir
    finally:
        run_dir.chmod(0o755)
        shutil.rmtree(top)


def _read_only(folder: Path, command: list[str]) -> list[str]:
    """``command`` run where ``folder`` cannot be written. Modes do that for a normal user;
    root ignores them, so for root the folder is bind-mounted read-only in a private mount
    namespace of the command alone (skipped where the machine does not allow it)."""
    if os.geteuid() != 0:
        return command
    wrap = ["unshare", "-m", "--propagation", "private", "sh", "-c",
            'mount --bind -o ro "$0" "$0" && exec "$@"', str(folder)]  # fmt: skip
    probe = subprocess.run(
        [*wrap, "sh", "-c", f"! touch {folder}/.probe 2>/dev/null"],
        capture_output=True,
        check=False,
    )
    if probe.returncode != 0 or shutil.which("unshare") is None:
        pytest.skip("running as root without mount namespaces: no read-only folder here")
    return [*wrap, *command]


def test_an_archived_read_only_run_is_reported_and_exported(archived: Path) -> None:
    before = _snapshot(archived)
    out = archived.parent / "out"
    script = (
        "import sys; from derm_stress.run import load_run, to_dataframe;"
        "run = load_run(sys.argv[1]); print(len(to_dataframe(run)), len(list(run.iter_rows())))"
    )
    py = [sys.executable, "-m", "derm_stress"]
    for command in (
        [*py, "report", str(archived), "-o", str(out / "r.html")],
        [*py, "export", str(archived), "-o", str(out / "r.csv")],
        [sys.executable, "-c", script, str(archived)],
    ):
        result = subprocess.run(
            _read_only(archived, command),
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert result.returncode == 0, (command, result.stderr)
    assert result.stdout.split() == ["36", "36"]
    assert (out / "r.html").stat().st_size > 10_000 and (out / "r.csv").is_file()
    assert _snapshot(archived) == before  # nothing created, changed or deleted


def test_reading_a_run_writes_nothing_in_it(finished: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    shutil.copytree(finished, out)
    before = _snapshot(out)
    data = load_run(out)
    assert len(to_dataframe(data)) == 36
    export_run(data, "csv", tmp_path / "r.csv")
    assert _snapshot(out) == before
    assert not [p for p in out.iterdir() if p.name.endswith(("-wal", "-shm"))]


# -- item 11: YAML bombs and long values in messages ----------------------------------------

BOMB = """\
a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]
b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]
c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]
d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]
e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]
f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]
g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f]
h: &h [*g, *g, *g, *g, *g, *g, *g, *g, *g]
i: &i [*h, *h, *h, *h, *h, *h, *h, *h, *h]
"""


@pytest.mark.parametrize("where", ["seed: *i", "name: *i", "dataset: {cases: *i}"])
def test_a_yaml_alias_bomb_is_refused_at_once(tmp_path: Path, where: str) -> None:
    # the anchors live under a key the config refuses anyway; the size check comes first
    text = "x:\n" + "".join(f"  {line}\n" for line in BOMB.splitlines()) + where + "\n"
    config = tmp_path / "bomb.yaml"
    config.write_text(text)
    result = _cli("grid", "show", str(config))
    assert result.returncode == 2
    assert "expands to more than 100,000 values" in result.stderr
    assert len(result.stderr) < 400


def test_long_values_are_cut_in_error_messages(tmp_path: Path) -> None:
    config = _write(tmp_path / "c.yaml", {"top_k": "k" * 100_000})
    with pytest.raises(InvalidArgument) as caught:
        load_config(config)
    assert "top_k: expected a positive integer" in str(caught.value)
    assert len(str(caught.value)) < 200


def test_a_recursive_yaml_value_is_refused(tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    config.write_text("seed: &s [*s]\n")
    with pytest.raises(InvalidArgument, match=r"refers to itself|invalid YAML"):
        load_config(config)


# -- item 12: raw answers are capped --------------------------------------------------------


def test_a_huge_raw_answer_is_stored_cut_with_its_length(tmp_path: Path) -> None:
    model = {"name": "m", "adapter": "callable", "target": "tests.run.helpers:huge"}
    config = _write(tmp_path / "c.yaml", {"dataset": {"limit": 3}, "models": [model]})
    run(load_config(config), tmp_path / "run")
    assert (tmp_path / "run" / "results.sqlite").stat().st_size < 1_000_000  # 30 MB answered
    rows = load_run(tmp_path / "run").rows
    assert [r.differential[:1] for r in rows] == [("MEL",)] * 3  # parsed before the cut
    for row in rows:
        assert row.result is not None
        assert len(row.result.answer.raw) == 20_000
        assert row.result.answer.extra["raw_chars"] == 10_000_012
    small = _write(
        tmp_path / "s.yaml", {"dataset": {"limit": 1}, "models": [model], "max_raw_chars": 50}
    )
    run(load_config(small), tmp_path / "small")
    (row,) = load_run(tmp_path / "small").rows
    assert row.result is not None and len(row.result.answer.raw) == 50
    with pytest.raises(InvalidArgument, match="max_raw_chars"):
        load_config(_write(tmp_path / "b.yaml", {"max_raw_chars": 0}))


# -- item 13: run names ---------------------------------------------------------------------


@pytest.mark.parametrize("name", ["../../../tmp/x", "a/b", "..", ".hidden", "x" * 101, ""])
def test_unsafe_run_names_are_refused(tmp_path: Path, name: str) -> None:
    config = _write(tmp_path / "c.yaml", {"name": name})
    result = _cli("run", str(config), "--quiet", cwd=tmp_path)
    assert result.returncode == 2
    assert "is not allowed: use letters, digits" in result.stderr
    assert not (tmp_path / "runs").exists()


def test_safe_run_names_and_file_stems(tmp_path: Path) -> None:
    assert load_config(_write(tmp_path / "c.yaml", {"name": "derm-v1.2_b"})).name == "derm-v1.2_b"
    with pytest.raises(InvalidArgument, match="no name: set, and the file name"):
        load_config(_write(tmp_path / "my grid.yaml", {}))


# -- item 14: CSV injection -----------------------------------------------------------------


def test_csv_cells_that_spreadsheets_run_are_neutralised(
    make_manifest: Any, tmp_path: Path
) -> None:
    formula = '=HYPERLINK("http://evil.example","x")'
    make_manifest([{"case_id": formula, "image": "@0", "diagnosis": "nevus"}])
    model = {"name": "m", "adapter": "callable", "target": "tests.run.helpers:spreadsheet"}
    config = _write(tmp_path / "c.yaml", {"dataset": {"manifest": "cases.csv"}, "models": [model]})
    run(load_config(config), tmp_path / "run")
    data = load_run(tmp_path / "run")
    export_run(data, "csv", tmp_path / "r.csv")
    with (tmp_path / "r.csv").open(newline="") as fh:
        (row,) = list(csv.DictReader(fh))
    assert row["case_id"] == "'" + formula
    assert row["raw_answer"].startswith("'=HYPERLINK")
    assert row["model"] == "m" and row["status"] == "ok"
    pq = pytest.importorskip("pyarrow.parquet")
    export_run(data, "parquet", tmp_path / "r.parquet")
    table = pq.read_table(tmp_path / "r.parquet").to_pylist()
    assert table[0]["case_id"] == formula  # Parquet keeps values as they are


# -- item 15: an empty config ---------------------------------------------------------------


@pytest.mark.parametrize("text", ["", "# only a comment\n", "---\n"])
def test_an_empty_config_is_an_error(tmp_path: Path, text: str) -> None:
    config = tmp_path / "c.yaml"
    config.write_text(text)
    result = _cli("run", str(config), "--quiet", cwd=tmp_path)
    assert result.returncode == 2
    assert "the config is empty" in result.stderr
    assert not (tmp_path / "runs").exists()


# -- item 16: tiny and multi-frame photos ---------------------------------------------------


def test_tiny_photos_are_input_errors_and_animations_warn(
    make_manifest: Any, tmp_path: Path
) -> None:
    (tmp_path / "img").mkdir(exist_ok=True)
    Image.new("RGB", (1, 1), (200, 120, 110)).save(tmp_path / "img" / "dot.png")
    Image.new("RGB", (20, 300), (200, 120, 110)).save(tmp_path / "img" / "strip.png")
    frames = [Image.new("RGB", (64, 64), (200, 120 + i, 110)) for i in range(3)]
    frames[0].save(tmp_path / "img" / "anim.gif", save_all=True, append_images=frames[1:])
    make_manifest(
        [
            {"case_id": "dot", "image": "img/dot.png", "diagnosis": "nevus"},
            {"case_id": "strip", "image": "img/strip.png", "diagnosis": "nevus"},
            {"case_id": "anim", "image": "img/anim.gif", "diagnosis": "nevus"},
            {"case_id": "fine", "image": "@0", "diagnosis": "nevus"},
        ]
    )
    config = _write(tmp_path / "c.yaml", {"dataset": {"manifest": "cases.csv"}})
    result = _cli("run", str(config), "--out", str(tmp_path / "run"), "--quiet")
    assert "2 results with unusable input" in result.stdout
    assert "1 input warnings" in result.stdout
    data = load_run(tmp_path / "run")
    errors = {r.case_id: r.error for r in data.rows if r.status == "input_error"}
    assert set(errors) == {"dot", "strip"}
    assert "is 1x1 px, under the minimum side of 32 px" in str(errors["dot"])
    assert [w["case"] for w in data.manifest.input_warnings] == ["anim"]
    assert "has 3 frames (GIF); the first is used" in data.manifest.input_warnings[0]["warning"]
    # the minimum is configurable
    config = _write(
        tmp_path / "c.yaml", {"dataset": {"manifest": "cases.csv", "min_image_side": 16}}
    )
    run(load_config(config), tmp_path / "lenient")
    lenient = load_run(tmp_path / "lenient")
    assert {r.case_id for r in lenient.rows if r.status == "input_error"} == {"dot"}


# -- item 17: one missing-value rule ----------------------------------------------------------


FIELDS = ("age", "sex", "fitzpatrick", "body_site", "size_mm", "itch", "other_history",
          "referral", "free_text", "duration_days")  # fmt: skip


def test_every_note_field_follows_one_missing_value_rule(make_manifest: Any) -> None:
    words = ["unknown", "UNK", "n/a", "", " NA ", "none", "-", "?"]
    rows = [
        {
            "case_id": f"c{i}",
            "image": "@0",
            "diagnosis": "nevus",
            **{f: word for f in FIELDS},
        }
        for i, word in enumerate(words)
    ]
    dataset: Dataset = load_manifest(make_manifest(rows))
    assert not dataset.issues
    assert [c.note.present() for c in dataset] == [()] * len(words)
