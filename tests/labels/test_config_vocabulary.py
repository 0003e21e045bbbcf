"""``vocabulary: FILE`` in a run config: local terms load, errors are early, the manifest
records the vocabulary's fingerprint, and the packaged vocabulary is back afterwards."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import yaml

from derm_stress.errors import InvalidArgument, UnknownName
from derm_stress.labels import ENV_VARIABLE, normalise_label, vocabulary
from derm_stress.run import load_config, run
from tests.conftest import ManifestFactory

LOCAL = """
entries:
  PSORIASIS:
    add_synonyms: [schuppenflechte]
  CLINIC_WART_REVIEW:
    name: Wart review
    synonyms: [wart clinic review]
    parent: VIRAL_WART
    icd10cm: [B07.9]
icd10cm_owners:
  B07.9: VIRAL_WART
"""


def _config(tmp_path: Path, manifest: Path, vocabulary_file: str | None) -> Path:
    spec = {
        "image": ["none"],
        "context": ["image_only"],
        "dataset": {"manifest": manifest.name},
    }
    if vocabulary_file is not None:
        spec["vocabulary"] = vocabulary_file
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


def test_a_run_uses_its_vocabulary_file_and_records_it(
    tmp_path: Path, make_manifest: ManifestFactory
) -> None:
    (tmp_path / "local.yaml").write_text(LOCAL)
    manifest = make_manifest(
        [
            {"case_id": "a", "image": "@0", "diagnosis": "Schuppenflechte"},
            {"case_id": "b", "image": "@1", "diagnosis": "wart clinic review"},
            {"case_id": "c", "image": "@2", "diagnosis": "L40.0"},
        ]
    )
    config = load_config(_config(tmp_path, manifest, "local.yaml"))
    assert config.vocabulary == (tmp_path / "local.yaml").resolve()
    summary = run(config, tmp_path / "run")
    assert summary.cases == 3 and summary.dataset_issues == 0
    recorded = json.loads((tmp_path / "run" / "manifest.json").read_text())["vocabulary"]
    assert recorded["file"] == str(config.vocabulary)
    assert recorded["fingerprint"] != vocabulary().fingerprint
    assert recorded["entries"] == len(vocabulary()) + 1
    # outside the run the packaged vocabulary is active again
    assert ENV_VARIABLE not in os.environ
    with pytest.raises(UnknownName):
        normalise_label("schuppenflechte")


def test_without_a_file_the_packaged_vocabulary_is_recorded(
    tmp_path: Path, make_manifest: ManifestFactory
) -> None:
    manifest = make_manifest([{"case_id": "a", "image": "@0", "diagnosis": "psoriasis"}])
    run(load_config(_config(tmp_path, manifest, None)), tmp_path / "run")
    recorded = json.loads((tmp_path / "run" / "manifest.json").read_text())["vocabulary"]
    assert recorded == {
        "file": None,
        "fingerprint": vocabulary().fingerprint,
        "entries": len(vocabulary()),
    }


def test_a_bad_vocabulary_file_fails_when_the_config_is_loaded(
    tmp_path: Path, make_manifest: ManifestFactory
) -> None:
    manifest = make_manifest([{"case_id": "a", "image": "@0", "diagnosis": "psoriasis"}])
    (tmp_path / "bad.yaml").write_text("entries:\n  PSORIASIS:\n    triage: whenever\n")
    with pytest.raises(InvalidArgument, match="entry PSORIASIS, field triage: 'whenever'"):
        load_config(_config(tmp_path, manifest, "bad.yaml"))
    with pytest.raises(InvalidArgument, match="not found"):
        load_config(_config(tmp_path, manifest, "missing.yaml"))
    path = _config(tmp_path, manifest, None)
    path.write_text(path.read_text() + "vocabulary: [a, b]\n")
    with pytest.raises(InvalidArgument, match="vocabulary: expected a file name"):
        load_config(path)


def test_the_environment_variable_activates_a_file(tmp_path: Path) -> None:
    (tmp_path / "local.yaml").write_text(LOCAL)
    os.environ[ENV_VARIABLE] = str(tmp_path / "local.yaml")
    try:
        assert normalise_label("schuppenflechte") == "PSORIASIS"
    finally:
        del os.environ[ENV_VARIABLE]
    with pytest.raises(UnknownName):
        normalise_label("schuppenflechte")


def test_a_finished_runs_vocabulary_can_be_loaded_again(
    tmp_path: Path, make_manifest: ManifestFactory
) -> None:
    from derm_stress.labels import run_vocabulary

    (tmp_path / "local.yaml").write_text(LOCAL)
    manifest = make_manifest([{"case_id": "a", "image": "@0", "diagnosis": "schuppenflechte"}])
    run(load_config(_config(tmp_path, manifest, "local.yaml")), tmp_path / "run")
    recorded = json.loads((tmp_path / "run" / "manifest.json").read_text())
    vocab, warning = run_vocabulary(recorded)
    assert warning is None and vocab.normalise("schuppenflechte") == "PSORIASIS"
    (tmp_path / "local.yaml").write_text(LOCAL.replace("schuppenflechte", "psoriasis nova"))
    vocab, warning = run_vocabulary(recorded)
    assert warning is not None and "may differ" in warning and "\n" not in warning
    (tmp_path / "local.yaml").unlink()
    vocab, warning = run_vocabulary(recorded)
    assert warning is not None and "cannot be loaded" in warning
    assert vocab.fingerprint == vocabulary().fingerprint
    assert run_vocabulary({}) == (vocabulary(), None)  # runs from before the vocabulary
