"""Generator derivation, version 2 (``RNG_VERSION``): the stream of every operator
application is a documented function of its key, and conditions whose streams changed get new
store keys.

The known-answer test computes the expected draws without NumPy's generator code: the key's
32-byte BLAKE2b digest (``hashlib``), read as four little-endian 64-bit words, seeds PCG64 by
its published ``srandom`` (state ``w0:w1``, stream ``w2:w3``), and the 64-bit outputs come from
PCG's XSL-RR output function, all written here in plain Python integers.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml
from numpy.random.bit_generator import ISeedSequence

from derm_stress.cases import Case, Note
from derm_stress.perturb import (
    NO_DRAWS,
    RNG_VERSION,
    Condition,
    build_probe,
    derive_rng,
    derive_seed,
    make_operator,
    operator_rng,
)
from derm_stress.perturb.base import _DigestWords, rng_digest, rng_from_digest
from derm_stress.perturb.compose import OneOf

MASK64 = 2**64 - 1
MASK128 = 2**128 - 1
# PCG's default 128-bit multiplier (O'Neill, PCG_DEFAULT_MULTIPLIER_128)
MULTIPLIER = (2549297995355413924 << 64) + 4865540595714422341


def pcg64_outputs(digest: bytes, n: int) -> list[int]:
    """The first ``n`` 64-bit outputs of PCG64 (XSL-RR 128/64) seeded from the digest."""
    w = [int.from_bytes(digest[8 * i : 8 * i + 8], "little") for i in range(4)]
    initstate, initseq = (w[0] << 64) | w[1], (w[2] << 64) | w[3]
    inc = ((initseq << 1) | 1) & MASK128
    state = (0 * MULTIPLIER + inc) & MASK128  # srandom: state 0, step, add, step
    state = (state + initstate) & MASK128
    state = (state * MULTIPLIER + inc) & MASK128
    out = []
    for _ in range(n):
        state = (state * MULTIPLIER + inc) & MASK128
        rot = state >> 122
        xored = ((state >> 64) ^ state) & MASK64
        out.append(((xored >> rot) | (xored << ((-rot) & 63))) & MASK64)
    return out


def test_version_is_two() -> None:
    assert RNG_VERSION == 2


@pytest.mark.parametrize(
    "key",
    [
        (0, "PAT_1516_1765_530", "img=motion_blur", "0:image[0]"),
        (2**40 + 3, "case-é", "ctx=misleading_referral", "1:note"),
        (7, "", "", ""),
    ],
)
def test_stream_is_pcg64_seeded_by_the_blake2b_digest_of_the_key(
    key: tuple[int, str, str, str],
) -> None:
    text = "\x1f".join(map(str, key)).encode("utf-8")
    digest = hashlib.blake2b(text, digest_size=32).digest()
    assert rng_digest(*key) == digest
    expected = pcg64_outputs(digest, 6)
    got = derive_rng(*key).bit_generator.random_raw(6)
    assert [int(v) for v in got] == expected
    # the first doubles follow from the same outputs (53 high bits)
    doubles = derive_rng(*key).random(3)
    assert list(doubles) == [(v >> 11) * 2.0**-53 for v in expected[:3]]
    op = make_operator("motion_blur", 3)
    assert [int(v) for v in operator_rng(op, *key).bit_generator.random_raw(6)] == expected


def test_a_known_answer_vector() -> None:
    """Pinned so that a change of key, separator or seeding cannot pass unnoticed."""
    rng = derive_rng(0, "PAT_1516_1765_530", "img=motion_blur", "0:image[0]")
    assert rng_digest(0, "PAT_1516_1765_530", "img=motion_blur", "0:image[0]").hex() == (
        KNOWN_DIGEST
    )
    assert [int(v) for v in rng.bit_generator.random_raw(3)] == KNOWN_OUTPUTS


KNOWN_DIGEST = "0d1780246489226737f40ad1f43eae8eba5888b9a8c2637678fc26440271da8b"
KNOWN_OUTPUTS = [10146845690997395815, 12049122637654093770, 7224140199254065512]


def test_derive_seed_is_unchanged() -> None:
    """The bootstraps' seed keeps version 1's derivation (16-byte digest, big-endian)."""
    parts = (7, "case", "img=blur", "0:image[0]")
    digest = hashlib.blake2b("\x1f".join(map(str, parts)).encode(), digest_size=16).digest()
    assert derive_seed(*parts) == int.from_bytes(digest, "big") == KNOWN_SEED


KNOWN_SEED = 268299299140804487195402830674342368036  # recorded at db7ecba


def test_different_keys_give_different_streams() -> None:
    base = (7, "c1", "img=motion_blur", "0:image[0]")
    first = derive_rng(*base).bit_generator.random_raw(4)
    for i, value in enumerate((8, "c2", "img=defocus", "0:image[1]")):
        other = list(base)
        other[i] = value
        assert not np.array_equal(derive_rng(*other).bit_generator.random_raw(4), first)


def test_generators_are_fresh_objects_sharing_no_state() -> None:
    a = derive_rng(1, "c", "k", "0")
    b = derive_rng(1, "c", "k", "0")
    assert a is not b and a.bit_generator is not b.bit_generator
    a.random(100)
    assert b.random() == derive_rng(1, "c", "k", "0").random()


def test_same_key_same_stream_in_another_process() -> None:
    code = (
        "from derm_stress.perturb import derive_rng;"
        "print(list(derive_rng(5, 'PAT_1', 'img=hair', '0:image[0]').integers(0, 2**62, 4)))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONHASHSEED": "123", "PYTHONPATH": str(Path(__file__).parents[2] / "src")},
    )
    here = [int(v) for v in derive_rng(5, "PAT_1", "img=hair", "0:image[0]").integers(0, 2**62, 4)]
    assert json.loads(out.stdout.strip().replace("np.int64(", "").replace(")", "")) == here


def test_the_seed_words_refuse_what_pcg64_does_not_ask_for() -> None:
    words = _DigestWords(bytes(range(32)))
    assert isinstance(words, ISeedSequence)
    state = words.generate_state(4, np.uint64)
    assert state.dtype == np.uint64 and state.tolist() == [
        int.from_bytes(bytes(range(8 * i, 8 * i + 8)), "little") for i in range(4)
    ]
    with pytest.raises(ValueError, match="4 uint64 words"):
        words.generate_state(8, np.uint32)
    with pytest.raises(ValueError, match="4 uint64 words"):
        words.generate_state(2, np.uint64)
    with pytest.raises(ValueError, match="32-byte digest"):
        rng_from_digest(bytes(16))
    with pytest.raises(ValueError, match="32-byte digest"):
        _DigestWords(bytearray(32))  # type: ignore[arg-type]


def test_severities_of_one_operator_still_share_their_draws() -> None:
    image = np.full((256, 256, 3), 120, np.uint8)
    case = Case("c1", (image,), Note(), "MEL")
    params = []
    for severity in (1, 3, 5):
        condition = Condition((make_operator("motion_blur", severity),))
        probe = build_probe(case, condition, 3, [image])
        params.append(dict(probe.applied[0].params))
    angles = {p["angle_deg"] for p in params}
    assert len(angles) == 1, params
    assert len({p["length"] for p in params}) == 3


# --- store keys -----------------------------------------------------------------------


def cond(*image: str, context: str = "image_only", note: tuple[str, ...] = ()) -> Condition:
    ops = tuple(make_operator(*n.split("@")[:1], int(n.split("@")[1])) for n in image)
    notes = tuple(make_operator(n.split("@")[0], int(n.split("@")[1])) for n in note)
    return Condition(ops, context, notes)  # type: ignore[arg-type]


def test_drawing_conditions_get_the_rng_suffix_and_the_others_keep_their_keys() -> None:
    assert Condition().key_id == "img=none|ctx=image_only"
    assert Condition(context="full").key_id == "img=none|ctx=full"
    assert cond("motion_blur@0").key_id == "img=motion_blur@0|ctx=image_only"
    assert cond("motion_blur@3").key_id == "img=motion_blur@3|ctx=image_only#rng=v2"
    # draws nothing: no generator suffix, kernel bumps as before
    low = "img=low_resolution@3|ctx=image_only#low_resolution=v2"
    assert cond("low_resolution@3").key_id == low
    jpeg = "img=jpeg_compression@3|ctx=image_only#jpeg_compression=v2"
    assert cond("jpeg_compression@3").key_id == jpeg
    forwarded = cond("messaging_app@3")
    assert forwarded.key_id == forwarded.id + "#messaging_app=v2,rng=v2"
    blur = "img=gaussian_blur@3|ctx=image_only#gaussian_blur=v2"
    assert cond("gaussian_blur@3").key_id == blur
    both = cond("gaussian_blur@3", "motion_blur@2")
    assert both.key_id == both.id + "#gaussian_blur=v2,rng=v2"
    noted = cond("low_resolution@3", context="full", note=("misleading_referral@5",))
    assert noted.key_id == noted.id + "#low_resolution=v2,rng=v2"
    one_of = Condition(
        (OneOf([make_operator("defocus", 3), make_operator("jpeg_compression", 3)]),)
    )
    # draws its choice; either choice's kernel version counts
    assert one_of.key_id == one_of.id + "#defocus=v2,jpeg_compression=v2,rng=v2"
    assert one_of.spec.key == one_of.key_id
    nested = Condition(
        (
            OneOf(
                [
                    OneOf([make_operator("defocus", 0), make_operator("exposure", 2)]),
                    make_operator("perspective", 1),
                ]
            ),
        )
    )
    assert nested.key_id == nested.id + "#perspective=v2,rng=v2"  # defocus@0 never runs
    assert operator_rng(make_operator("defocus", 3), 0, "c", "k", "0") is NO_DRAWS


def test_a_store_made_with_version_1_keys_is_resumed_without_reusing_drawn_results(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The baseline, the note as given and an operator that draws nothing are reused; the
    conditions whose streams changed (a drawing image operator, a drawing note operator)
    are perturbed and asked again."""
    from derm_stress.perturb import condition as condition_module
    from derm_stress.run import load_config, load_run, run

    grid = {
        "image": [
            "none",
            {"op": "gaussian_noise", "severity": [2]},
            {"op": "jpeg_compression", "severity": [3]},
        ],
        "context": ["image_only", "full", {"op": "misleading_referral", "severity": [5]}],
        "dataset": {"limit": 3},
    }
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(grid))
    monkeypatch.setattr(condition_module, "RNG_VERSION", 1)  # the keys before version 2
    first = run(load_config(path), tmp_path / "run")
    assert first.calls == 27
    old = json.loads((tmp_path / "run" / "manifest.json").read_text())
    assert all("rng=" not in c.get("key", "") for c in old["conditions"])
    monkeypatch.undo()
    second = run(load_config(path), tmp_path / "run")
    manifest = json.loads((tmp_path / "run" / "manifest.json").read_text())
    keys = {c["id"]: c.get("key", c["id"]) for c in manifest["conditions"]}
    redone = sorted(i for i, k in keys.items() if "rng=v2" in k)
    assert redone == [
        "img=gaussian_noise@2|ctx=full",
        "img=gaussian_noise@2|ctx=image_only",
        "img=gaussian_noise@2|ctx=misleading_referral@5",
        "img=jpeg_compression@3|ctx=misleading_referral@5",
        "img=none|ctx=misleading_referral@5",
    ]
    assert second.calls == 3 * len(redone) and second.reused == 27 - 3 * len(redone)
    data = load_run(tmp_path / "run")
    assert len(data.rows) == 27 and {r.status for r in data.rows} == {"ok"}
    third = run(load_config(path), tmp_path / "run")
    assert third.calls == 0 and third.reused == 27
