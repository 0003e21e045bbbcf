"""The vocabulary API: lookups, hierarchy, match levels, ICD-10-CM codes, user files."""

from __future__ import annotations

from pathlib import Path

import pytest

from derm_stress.errors import UnknownName
from derm_stress.labels import (
    OTHER,
    AmbiguousName,
    Entry,
    Label,
    VocabularyError,
    is_correct,
    label,
    load_vocabulary,
    match_level,
    normalise_label,
    triage_for,
    use_vocabulary,
    vocabulary,
)


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("psoriasis", "PSORIASIS"),
        ("Psoriasis vulgaris", "PLAQUE_PSORIASIS"),
        ("atopic eczema", "ATOPIC_DERMATITIS"),
        ("Cellulitis", "CELLULITIS"),
        ("tinea corporis", "TINEA_CORPORIS"),
        ("hives", "URTICARIA"),
        ("ringworm", "TINEA"),
        ("shingles", "HERPES_ZOSTER"),
        ("cold sore", "HERPES_LABIALIS"),
        ("athlete’s foot", "TINEA_PEDIS"),
        ("athletes foot", "TINEA_PEDIS"),
        ("Bowens disease", "BOD"),
        ("Behcet disease", "BEHCETS_DISEASE"),
        ("Behçet's disease", "BEHCETS_DISEASE"),
        ("discoid eczema", "NUMMULAR_ECZEMA"),
        ("ATOPIC_DERMATITIS", "ATOPIC_DERMATITIS"),
    ],
)
def test_names_synonyms_lay_terms_and_codes(text: str, code: str) -> None:
    assert normalise_label(text) == code


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("L40.0", "PLAQUE_PSORIASIS"),
        ("l400", "PLAQUE_PSORIASIS"),
        ("B35.4", "TINEA_CORPORIS"),
        ("C44.91", "BCC"),
        ("C44.311", "BCC"),
        ("C43.5 9", None),
    ],
)
def test_icd10cm_codes_listed_by_entries(text: str, code: str | None) -> None:
    if code is None:
        with pytest.raises(UnknownName):
            normalise_label(text)
    else:
        assert normalise_label(text) == code


def test_unlisted_icd_code_is_named_and_placed_under_its_nearest_listed_ancestor() -> None:
    code = normalise_label("L40.59")  # other psoriatic arthropathy: under L40 (PSORIASIS)
    assert code == "ICD10CM:L40.59"
    entry = label(code)
    assert entry.name == "Other psoriatic arthropathy"
    assert (entry.category, entry.group, entry.parent) == (
        "inflammatory",
        "papulosquamous",
        "PSORIASIS",
    )
    assert normalise_label("ICD10CM:L40.59") == code and code in vocabulary()
    assert match_level(code, "PSORIASIS") == "exact"  # more specific than the reference
    # no answer can be more precise than the entry an unlisted code sits under
    assert match_level("PSORIASIS", code) == "exact"
    assert match_level("PLAQUE_PSORIASIS", code) == "group"


def test_unlisted_icd_code_without_listed_ancestor_is_unclassified() -> None:
    entry = label(normalise_label("J45.909"))  # asthma: no entry lists any ancestor
    assert entry.category == "unclassified" and entry.parent is None
    assert entry.triage == "routine" and match_level(entry.code, "ECZEMA") is None


def test_invalid_icd_code_is_rejected() -> None:
    with pytest.raises(UnknownName, match="shaped like an ICD-10-CM code"):
        normalise_label("L99.99")


@pytest.mark.parametrize("text", ["AD", "BP", "GA", "LP", "MM", "mm"])
def test_ambiguous_abbreviations_never_resolve_on_their_own(text: str) -> None:
    with pytest.raises(AmbiguousName, match="ambiguous"):
        normalise_label(text)


def test_unknown_names_suggest_close_entries() -> None:
    with pytest.raises(UnknownName, match=r"did you mean Psoriasis \(PSORIASIS\)"):
        normalise_label("psoriasys")


def test_entry_fields_and_the_label_alias() -> None:
    entry = label("PLAQUE_PSORIASIS")
    assert Label is Entry and isinstance(entry, Entry)
    assert entry.parent == "PSORIASIS" and entry.icd10cm == ("L40.0",)
    assert (entry.category, entry.group) == ("inflammatory", "papulosquamous")
    assert entry.malignancy == "benign" and entry.triage == "routine"
    assert "NUMMULAR_ECZEMA" in entry.lookalikes
    assert vocabulary().ancestors("PLAQUE_PSORIASIS") == ("PSORIASIS",)
    assert "PLAQUE_PSORIASIS" in vocabulary().descendants("PSORIASIS")


def test_lookalikes_are_listed_then_reverse() -> None:
    v = vocabulary()
    assert v.lookalikes("TINEA_CORPORIS")[:2] == ("NUMMULAR_ECZEMA", "PSORIASIS")
    assert "TINEA_CORPORIS" in v.lookalikes("GRANULOMA_ANNULARE")  # both list each other


def test_match_levels() -> None:
    assert match_level("PSORIASIS", "PSORIASIS") == "exact"
    assert match_level("PLAQUE_PSORIASIS", "PSORIASIS") == "exact"  # more specific
    assert match_level("SEK", "BKL") == "exact"  # member of a group label
    assert match_level("GUTTATE_PSORIASIS", "PLAQUE_PSORIASIS") == "group"
    assert match_level("PITYRIASIS_ROSEA", "PSORIASIS") == "group"  # same group
    assert match_level("TINEA_CORPORIS", "PSORIASIS") is None
    assert match_level("BKL", "SEK") == "group"
    assert match_level(OTHER, "PSORIASIS") is None
    assert match_level("TINEA_CORPORIS", ["PSORIASIS", "TINEA"]) == "exact"  # any reference
    assert is_correct("PLAQUE_PSORIASIS", "PSORIASIS") and not is_correct("PSORIASIS", "TINEA")


def test_four_triage_levels() -> None:
    assert triage_for("TOXIC_EPIDERMAL_NECROLYSIS") == "emergency"
    assert triage_for("NECROTISING_FASCIITIS") == "emergency"
    assert triage_for("ECZEMA_HERPETICUM") == "emergency"
    assert triage_for("MEL") == "urgent" and triage_for("BOD") == "soon"
    assert triage_for("ACNE_VULGARIS") == "routine" and triage_for(OTHER) is None


def test_terms_for_the_parser() -> None:
    terms = vocabulary().terms()
    assert ("shingles", "HERPES_ZOSTER", False) in terms
    assert ("mm", "MEL", True) in terms
    assert all(key == key.strip().lower() for key, _, _ in terms)


def test_fingerprint_is_stable_and_content_based(tmp_path: Path) -> None:
    assert vocabulary().fingerprint == load_vocabulary().fingerprint
    extra = tmp_path / "local.yaml"
    extra.write_text("entries:\n  PSORIASIS:\n    add_synonyms: [schuppenflechte]\n")
    assert load_vocabulary(extra).fingerprint != vocabulary().fingerprint


def test_user_file_adds_and_overrides(tmp_path: Path) -> None:
    extra = tmp_path / "clinic.yaml"
    extra.write_text(
        """
entries:
  PSORIASIS:
    add_synonyms: [schuppenflechte]
  BCC:
    triage: soon
  CLINIC_LUMP:
    name: Unclassified lump for review
    synonyms: [lump nos]
    icd10cm: [R22.9]
    category: other
    group: unspecified
    lookalikes: [LIPOMA]
"""
    )
    local = load_vocabulary(extra)
    assert local.normalise("Schuppenflechte") == "PSORIASIS"
    assert local.normalise("psoriasis vulgaris") == "PLAQUE_PSORIASIS"  # the rest is kept
    assert local.triage("BCC") == "soon" and vocabulary().triage("BCC") == "urgent"
    assert local.normalise("lump NOS") == "CLINIC_LUMP" and "CLINIC_LUMP" in local.lookalikes(
        "LIPOMA"
    )
    with use_vocabulary(local):
        assert normalise_label("lump nos") == "CLINIC_LUMP" and triage_for("BCC") == "soon"
    with pytest.raises(UnknownName):
        normalise_label("lump nos")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("entries:\n  NEW_THING:\n    synonyms: [x]\n", "entry NEW_THING, field name: required"),
        (
            "entries:\n  NEW:\n    name: New\n    synonym: [x]\n",
            "entry NEW: unknown field 'synonym'; did you mean 'synonyms'",
        ),
        (
            "entries:\n  PSORIASIS:\n    triage: asap\n",
            "entry PSORIASIS, field triage: 'asap' is not one of",
        ),
        ("entries:\n  PSORIASIS:\n    malignancy: evil\n", "entry PSORIASIS, field malignancy"),
        (
            "entries:\n  X_Y:\n    name: Thing\n    category: other\n    group: unspecified\n"
            "    synonyms: [hives]\n",
            "entry X_Y, field synonyms: 'hives' already names URTICARIA",
        ),
        (
            "entries:\n  X:\n    name: X\n    category: inflamatory\n",
            "entry X, field category: unknown category 'inflamatory'; did you mean 'inflammatory'",
        ),
        (
            "entries:\n  X:\n    name: X\n    category: inflammatory\n    group: nope\n",
            "entry X, field group",
        ),
        (
            "entries:\n  X:\n    name: X\n    parent: PSORIASISS\n",
            "entry X, field parent: unknown entry code",
        ),
        (
            "entries:\n  X:\n    name: X\n    category: other\n    group: unspecified\n"
            "    parent: PSORIASISS\n",
            "entry X, field parent: unknown entry code 'PSORIASISS'",
        ),
        (
            "entries:\n  X:\n    name: X\n    category: other\n    group: unspecified\n"
            "    icd10cm: [L40.0X]\n",
            "entry X, field icd10cm: 'L40.0X' is not in ICD-10-CM",
        ),
        (
            "entries:\n  X:\n    name: X\n    icd10cm: [psoriasis]\n",
            "entry X, field icd10cm: 'psoriasis' is not an ICD-10-CM code",
        ),
        ("entries:\n  lower:\n    name: X\n", "entry code 'lower' must be UPPER_SNAKE_CASE"),
        (
            "entries:\n  PSORIASIS:\n    parent: PLAQUE_PSORIASIS\n",
            "entry PSORIASIS, field parent: cycle",
        ),
        (
            "entries:\n  X:\n    name: X\n    category: other\n    group: unspecified\n"
            "    ambiguous: [hives]\n",
            "entry X, field ambiguous: 'hives' is also an unambiguous term of URTICARIA",
        ),
        ("entries: [1, 2]\n", "'entries' must map codes to entries"),
        ("entries:\n  X: [\n", "invalid YAML"),
        ("entrys: {}\n", "unknown top-level key 'entrys'"),
    ],
)
def test_user_file_errors_name_entry_and_field(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(VocabularyError) as info:
        load_vocabulary(path)
    assert message in str(info.value) and str(path) in str(info.value)
    assert "\n" not in str(info.value)


def test_missing_user_file(tmp_path: Path) -> None:
    with pytest.raises(VocabularyError, match="not found"):
        load_vocabulary(tmp_path / "nope.yaml")


@pytest.mark.parametrize(
    ("text", "home"),
    [
        ("L03.115", "CELLULITIS"),  # cellulitis of right lower limb
        ("C44.301", "SKIN_CANCER"),  # unspecified malignant neoplasm of skin of nose
        ("T23.201A", "BURN"),  # burn of second degree of right hand
        ("B35.5", "TINEA"),  # tinea imbricata
        ("L89.153", "PRESSURE_ULCER"),
    ],
)
def test_site_specific_hospital_codes_land_under_their_condition(text: str, home: str) -> None:
    code = normalise_label(text)
    assert code.startswith("ICD10CM:") and label(code).parent == home
    assert match_level(code, home) == "exact" and match_level(home, code) == "exact"
    assert label(code).triage == label(home).triage


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("Psoriasis, unspecified", "PSORIASIS"),
        ("Eczema NOS", "ECZEMA"),
        ("Atopic dermatitis (eczema)", "ATOPIC_DERMATITIS"),
        ("Dermatitis, atopic", "ATOPIC_DERMATITIS"),
        ("Keratoses, actinic", "ACK"),
        ("Seborrhoeic warts", "SEK"),
        ("Melanoma, unspecified site", "MEL"),
        # an ICD-10-CM description, as hospital exports write it
        ("Herpesviral vesicular dermatitis", "HERPES_LABIALIS"),
        ("Zoster without complications", "HERPES_ZOSTER"),
        ("Melanocytic nevi of trunk", "NEV"),
        ("Cellulitis of left lower limb", "ICD10CM:L03.116"),  # its ICD description
        ("Cellulitis of leg", "CELLULITIS"),
        ("Onychomycosis of toenail", "ONYCHOMYCOSIS"),
        ("Chronic plaque psoriasis", "PLAQUE_PSORIASIS"),
        ("Recurrent herpes labialis", "HERPES_LABIALIS"),
        ("Kawasaki", "KAWASAKI_DISEASE"),
        ("Behcets", "BEHCETS_DISEASE"),
        ("Eczema - atopic", "ATOPIC_DERMATITIS"),
        ("Psoriasis flare", "PSORIASIS"),
        ("Actinic keratosis x3", "ACK"),
        ("Basal cell ca", "BCC"),
    ],
)
def test_clinic_and_hospital_forms_of_a_label(text: str, code: str) -> None:
    assert normalise_label(text) == code


@pytest.mark.parametrize("text", ["?BCC vs SCC", "rash", "lesion", "benign", "normal skin"])
def test_vague_or_uncertain_labels_are_not_guessed(text: str) -> None:
    with pytest.raises(UnknownName):
        normalise_label(text)


def test_a_user_file_that_expands_through_aliases_is_refused(tmp_path: Path) -> None:
    lines = ["a: &a [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 7):
        lines.append(
            f"{chr(97 + i)}: &{chr(97 + i)} [*{chr(96 + i)}" + f", *{chr(96 + i)}" * 9 + "]"
        )
    lines.append("entries: {}")
    path = tmp_path / "bomb.yaml"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(VocabularyError, match="refused") as info:
        load_vocabulary(path)
    assert "\n" not in str(info.value)
