"""Hypothesis strategies for perturbations, conditions, notes and cases.

Plain functions with keyword-only options; an option takes a value or a strategy. Severities
shrink towards ``min_severity`` and operator choices towards the first name given, so a
failing property shrinks towards the mildest perturbation that still breaks it.

    from hypothesis import given
    from derm_stress.testing import strategies as ds

    @given(op=ds.operators(kind="image", families=["lighting"], max_severity=2))
    def test_mild_lighting(op): ...
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

from hypothesis import strategies as st
from hypothesis.strategies import SearchStrategy

from derm_stress.cases import Case, Note
from derm_stress.datasets import Dataset, load_sample
from derm_stress.errors import InvalidArgument
from derm_stress.perturb.base import MAX_SEVERITY, Operator, make_operator, registry
from derm_stress.perturb.condition import Condition
from derm_stress.perturb.note_ops import BLOCKS

T = TypeVar("T")

# options an operator cannot be built without, drawn here
_REQUIRED_OPTIONS: dict[str, SearchStrategy[dict[str, Any]]] = {
    "drop_fields": st.lists(
        st.sampled_from(Note.field_names()), min_size=1, max_size=4, unique=True
    ).map(lambda f: {"fields": f}),
    "drop_block": st.lists(
        st.sampled_from(sorted(BLOCKS)), min_size=1, max_size=2, unique=True
    ).map(lambda b: {"blocks": b}),
}


# defaults of ``notes`` (strategies are immutable, so sharing them is safe)
ANY_AGE: SearchStrategy[float | None] = st.none() | st.integers(0, 100).map(float)
ANY_SEX: SearchStrategy[str | None] = st.none() | st.sampled_from(["female", "male"])
ANY_SITE: SearchStrategy[str | None] = st.none() | st.sampled_from(
    ["face", "back", "chest", "arm", "leg", "hand", "scalp", "nose"]
)
NO_TEXT: SearchStrategy[str | None] = st.none()
ANY_TEXT: SearchStrategy[str | None] = st.none() | st.text(
    st.characters(codec="ascii", categories=["L", "N", "Zs", "P"]), min_size=1, max_size=80
)
BOTH_CONTEXTS: SearchStrategy[str] = st.sampled_from(["image_only", "full"])


def _strategy(value: T | SearchStrategy[T]) -> SearchStrategy[T]:
    return value if isinstance(value, SearchStrategy) else st.just(value)


def operator_names(
    *,
    kind: str | None = None,
    families: Sequence[str] | None = None,
    names: Sequence[str] | None = None,
) -> list[str]:
    """Registered operator names filtered by kind, family and an explicit list (in order)."""
    available = registry()
    chosen = list(names) if names is not None else sorted(available)
    unknown = [n for n in chosen if n not in available]
    if unknown:
        raise InvalidArgument(f"names: unknown operator(s) {unknown!r}")
    out = [
        n
        for n in chosen
        if (kind is None or available[n].kind == kind)
        and (families is None or available[n].family in families)
    ]
    if not out:
        raise InvalidArgument(
            f"no operator matches kind={kind!r}, families={families!r}, names={names!r}"
        )
    return out


@st.composite
def _operator(
    draw: st.DrawFn, names: list[str], min_severity: int, max_severity: int
) -> Operator[Any]:
    name = draw(st.sampled_from(names))
    cls = registry()[name]
    severity = draw(st.integers(min_severity, max_severity)) if cls.graded else max(1, min_severity)
    options = draw(_REQUIRED_OPTIONS[name]) if name in _REQUIRED_OPTIONS else {}
    return make_operator(name, severity, **options)


def operators(
    *,
    kind: str | None = None,
    families: Sequence[str] | None = None,
    names: Sequence[str] | None = None,
    min_severity: int | SearchStrategy[int] = 1,
    max_severity: int | SearchStrategy[int] = MAX_SEVERITY,
) -> SearchStrategy[Operator[Any]]:
    """Operators (``kind`` ``"image"`` or ``"note"``) at severities in the given bounds.

    Ungraded operators (``drop_fields``, ``sex_flip``...) are drawn at full effect whatever
    the bounds. Required options (which fields to drop) are drawn too.
    """
    pool = operator_names(kind=kind, families=families, names=names)
    bounds = st.tuples(_strategy(min_severity), _strategy(max_severity))

    def build(b: tuple[int, int]) -> SearchStrategy[Operator[Any]]:
        low, high = b
        if not 0 <= low <= high <= MAX_SEVERITY:
            raise InvalidArgument(
                f"severity bounds must satisfy 0 <= min_severity <= "
                f"max_severity <= {MAX_SEVERITY}, got {low!r}, {high!r}"
            )
        return _operator(pool, low, high)

    return bounds.flatmap(build)


def conditions(
    *,
    image_ops: SearchStrategy[Operator[Any]] | None = None,
    note_ops: SearchStrategy[Operator[Any]] | None = None,
    context: str | SearchStrategy[str] = BOTH_CONTEXTS,
    max_image_ops: int = 1,
    max_note_ops: int = 1,
) -> SearchStrategy[Condition]:
    """Conditions: up to ``max_image_ops`` image operators and, with ``context='full'``, up
    to ``max_note_ops`` note operators."""
    images = image_ops or operators(kind="image")
    notes_ = note_ops or operators(kind="note")

    @st.composite
    def build(draw: st.DrawFn) -> Condition:
        mode = draw(_strategy(context))
        img = tuple(draw(st.lists(images, max_size=max_image_ops)))
        note = tuple(draw(st.lists(notes_, max_size=max_note_ops))) if mode == "full" else ()
        return Condition(image_ops=img, context=mode, note_ops=note)  # type: ignore[arg-type]

    return build()


def notes(
    *,
    age: float | SearchStrategy[float | None] | None = ANY_AGE,
    sex: str | SearchStrategy[str | None] | None = ANY_SEX,
    body_site: str | SearchStrategy[str | None] | None = ANY_SITE,
    referral: str | SearchStrategy[str | None] | None = NO_TEXT,
    free_text: str | SearchStrategy[str | None] | None = ANY_TEXT,
) -> SearchStrategy[Note]:
    """Consultation notes with every field optional (symptoms and history drawn freely)."""
    maybe_bool = st.none() | st.booleans()
    return st.builds(
        Note,
        age=_strategy(age),
        sex=_strategy(sex),
        fitzpatrick=st.none() | st.integers(1, 6),
        body_site=_strategy(body_site),
        size_mm=st.none()
        | st.lists(st.integers(1, 40).map(float), min_size=1, max_size=2).map(tuple),
        duration_days=st.none() | st.integers(1, 3650).map(float),
        itch=maybe_bool,
        pain=maybe_bool,
        bleeding=maybe_bool,
        growth=maybe_bool,
        change=maybe_bool,
        elevation=maybe_bool,
        skin_cancer_history=maybe_bool,
        family_history=maybe_bool,
        referral=_strategy(referral),
        free_text=_strategy(free_text),
    )


def note_corruptions(
    *,
    families: Sequence[str] | None = None,
    min_severity: int | SearchStrategy[int] = 1,
    max_severity: int | SearchStrategy[int] = MAX_SEVERITY,
) -> SearchStrategy[Operator[Any]]:
    """Note operators (families: incomplete, erroneous, misleading, messy)."""
    return operators(
        kind="note", families=families, min_severity=min_severity, max_severity=max_severity
    )


def cases(
    *,
    dataset: Dataset | None = None,
    diagnoses: Sequence[str] | None = None,
    triage: str | None = None,
) -> SearchStrategy[Case]:
    """Cases drawn from a dataset (default: the bundled sample), optionally only those with
    the given diagnoses or triage level. Shrinks towards the dataset's first case."""
    data = dataset if dataset is not None else load_sample()
    pool = [
        c
        for c in data.cases
        if (diagnoses is None or c.diagnosis in diagnoses)
        and (triage is None or c.triage == triage)
    ]
    if not pool:
        raise InvalidArgument(
            f"no case with diagnoses={diagnoses!r}, triage={triage!r} in {data.name}"
        )
    return st.sampled_from(pool)
