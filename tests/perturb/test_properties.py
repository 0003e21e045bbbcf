"""Property tests (hypothesis) over every image operator: arbitrary images and seeds."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from derm_stress.cases import Case, Note
from derm_stress.perturb import derive_rng, make_operator, registry, replay
from derm_stress.testing import strategies as ds

IMAGE_OPS = sorted(n for n, c in registry().items() if c.kind == "image")
CASE = Case("c1", (np.zeros((2, 2, 3), np.uint8),), Note(), "MEL")

images = st.integers(1, 48).flatmap(
    lambda h: st.integers(1, 48).flatmap(
        lambda w: arrays(np.uint8, (h, w, 3), elements=st.integers(0, 255))
    )
)


@settings(max_examples=60, deadline=None, derandomize=True)
@given(
    img=images,
    name=st.sampled_from(IMAGE_OPS),
    severity=st.integers(0, 5),
    seed=st.integers(0, 2**32),
)
def test_image_ops_preserve_shape_never_mutate_and_replay(
    img: np.ndarray, name: str, severity: int, seed: int
) -> None:
    before = img.copy()
    op = make_operator(name, severity)
    out, record = op(img, derive_rng(seed, "c1", "cond", "0"), CASE, "image[0]")
    assert out.shape == img.shape and out.dtype == np.uint8
    assert np.array_equal(img, before)
    assert np.array_equal(replay(record, img), out)
    if severity == 0:
        assert np.array_equal(out, img)


@settings(max_examples=40, deadline=None, derandomize=True)
@given(
    seed=st.integers(0, 2**63),
    case=st.text(min_size=1, max_size=12),
    cond=st.text(min_size=1, max_size=20),
)
def test_derived_rng_depends_only_on_its_inputs(seed: int, case: str, cond: str) -> None:
    a = derive_rng(seed, case, cond, "0").integers(0, 2**62, size=4)
    b = derive_rng(seed, case, cond, "0").integers(0, 2**62, size=4)
    c = derive_rng(seed, case, cond, "1").integers(0, 2**62, size=4)
    assert np.array_equal(a, b) and not np.array_equal(a, c)


NOTE_OPS = sorted(n for n, c in registry().items() if c.kind == "note")


@settings(max_examples=150, deadline=None, derandomize=True)
@given(
    note=ds.notes(referral=st.none() | st.just("?BCC")),
    op=ds.operators(kind="note", min_severity=0),
    seed=st.integers(0, 2**32),
    diagnosis=st.sampled_from(["ACK", "BCC", "MEL", "NEV", "SCC", "SEK", "BKL"]),
)
def test_note_ops_change_only_what_they_record_and_replay(
    note: Note, op: object, seed: int, diagnosis: str
) -> None:
    case = Case("c1", (np.zeros((2, 2, 3), np.uint8),), note, diagnosis)
    out, record = op(note, derive_rng(seed, "c1", "ctx", "0"), case, "note")  # type: ignore[operator]
    changed = {f for f in Note.field_names() if getattr(out, f) != getattr(note, f)}
    assert changed == {c[0] for c in record.changes}
    assert replay(record, note) == out
    if record.severity == 0:
        assert out == note
    again, _ = op(note, derive_rng(seed, "c1", "ctx", "0"), case, "note")  # type: ignore[operator]
    assert again == out
