"""Hygiene of the packaged vocabulary: terms name one condition, abbreviations that mean
several things are ambiguous, triage and hierarchy are complete and consistent."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from derm_stress.labels import (
    OTHER,
    TRIAGE_LEVELS,
    AmbiguousName,
    VocabularyError,
    _key,
    label,
    load_vocabulary,
    normalise_label,
    packaged_path,
    vocabulary,
)

ORIGINAL = {
    "ACK": ("Actinic keratosis", "premalignant", ()),
    "BCC": ("Basal cell carcinoma", "malignant", ()),
    "MEL": ("Melanoma", "malignant", ()),
    "NEV": ("Melanocytic nevus", "benign", ()),
    "SCC": ("Squamous cell carcinoma", "malignant", ("BOD",)),
    "SEK": ("Seborrhoeic keratosis", "benign", ()),
    "BOD": ("Bowen's disease (SCC in situ)", "premalignant", ()),
    "DF": ("Dermatofibroma", "benign", ()),
    "VASC": ("Vascular lesion", "benign", ()),
    "LENT": ("Solar lentigo", "benign", ()),
    "LPLK": ("Lichen planus-like keratosis", "benign", ()),
    "AKIEC": ("Actinic keratosis / intraepithelial carcinoma", "premalignant", ("ACK", "BOD")),
    "BKL": ("Benign keratosis-like lesion", "benign", ("SEK", "LENT", "LPLK")),
}
# abbreviations with several medical meanings: marked ambiguous, never resolve on their own
AMBIGUOUS = {
    "AD",
    "BP",
    "GA",
    "LP",
    "MM",
    "EM",
    "PV",
    "DH",
    "HS",
    "AN",
    "KS",
    "PAN",
    "MAC",
    "PIH",
    "EB",
    "PRP",
    "CALM",
    "CARP",
}
MUST_BE_EMERGENCY = [
    "STEVENS_JOHNSON_SYNDROME",
    "TOXIC_EPIDERMAL_NECROLYSIS",
    "SJS_TEN_OVERLAP",
    "DRESS",
    "NECROTISING_FASCIITIS",
    "ECZEMA_HERPETICUM",
    "ANGIOEDEMA",
    "ANAPHYLAXIS",
    "STAPHYLOCOCCAL_SCALDED_SKIN_SYNDROME",
    "MENINGOCOCCAEMIA",
    "PURPURA_FULMINANS",
    "TOXIC_SHOCK_SYNDROME",
    "ERYTHRODERMA",
    "GENERALISED_PUSTULAR_PSORIASIS",
    "HERPES_ZOSTER_OPHTHALMICUS",
    "KAWASAKI_DISEASE",
    "ORBITAL_CELLULITIS",
    "ROCKY_MOUNTAIN_SPOTTED_FEVER",
]
# malignant but indolent: seen soon rather than on an urgent pathway
INDOLENT_MALIGNANT = {"LYMPHOMATOID_PAPULOSIS"}
# umbrella entries whose differential is that of their subtypes
WITHOUT_LOOKALIKES = {"GENODERMATOSIS", "PSORIATIC_ARTHRITIS"}


def test_at_least_400_conditions_and_the_original_codes_keep_their_meaning() -> None:
    v = vocabulary()
    assert sum(1 for e in v if not e.members) >= 400
    for code, (name, malignancy, members) in ORIGINAL.items():
        entry = v.entry(code)
        assert (entry.name, entry.malignancy, entry.members) == (name, malignancy, members)
    assert [e.code for e in v][:13] == list(ORIGINAL)


def test_codes_are_upper_snake_and_every_entry_is_complete() -> None:
    v = vocabulary()
    for e in v:
        assert re.fullmatch(r"[A-Z][A-Z0-9]*(_[A-Z0-9]+)*", e.code) and e.code != OTHER
        assert e.name and e.triage in TRIAGE_LEVELS
        assert e.category in v.hierarchy and e.group in v.hierarchy[e.category].groups
        assert e.icd10cm or e.members, f"{e.code}: no ICD-10-CM code"
        if not e.members and e.code not in WITHOUT_LOOKALIKES:
            assert v.lookalikes(e.code), f"{e.code}: no look-alikes"


def test_the_raw_file_has_no_term_naming_two_entries() -> None:
    raw = yaml.safe_load(packaged_path().read_text(encoding="utf-8"))["entries"]
    owner: dict[str, str] = {}
    for code, body in raw.items():
        for text in (code, body["name"], *body.get("synonyms", [])):
            seen = owner.setdefault(_key(text), code)
            assert seen == code, f"{text!r} names both {seen} and {code}"


def test_a_synonym_naming_two_conditions_fails_to_load(tmp_path: Path) -> None:
    path = tmp_path / "dup.yaml"
    path.write_text("entries:\n  TINEA_CORPORIS:\n    add_synonyms: [shingles]\n")
    with pytest.raises(VocabularyError, match="'shingles' already names HERPES_ZOSTER"):
        load_vocabulary(path)


@pytest.mark.parametrize("abbreviation", sorted(AMBIGUOUS))
def test_ambiguous_abbreviations(abbreviation: str) -> None:
    assert any(abbreviation in e.ambiguous for e in vocabulary())
    with pytest.raises(AmbiguousName):
        normalise_label(abbreviation)


def test_short_abbreviations_are_reviewed() -> None:
    """An abbreviation of 2-4 letters that names an entry on its own must be one a
    dermatologist reads one way; new ones are added here on purpose."""
    reviewed = {
        "ACD",
        "ACK",
        "AFX",
        "AGA",
        "AGEP",
        "AK",
        "BCC",
        "BXO",
        "CBCL",
        "CCCA",
        "CLE",
        "CMN",
        "CTCL",
        "DF",
        "DFSP",
        "DIHS",
        "DLE",
        "DPN",
        "DSAP",
        "EAC",
        "EBA",
        "EDS",
        "EED",
        "EMPD",
        "FDE",
        "FFA",
        "GPP",
        "GVHD",
        "HAE",
        "HFMD",
        "HSP",
        "HSV",
        "HZO",
        "IGH",
        "JXG",
        "KP",
        "LCH",
        "LCV",
        "LPLK",
        "LPP",
        "LSC",
        "LYP",
        "MCC",
        "MEL",
        "MF",
        "NEV",
        "NF1",
        "NLD",
        "NV",
        "PCT",
        "PFB",
        "PLC",
        "PLE",
        "PMH",
        "PMLE",
        "PPK",
        "PPP",
        "PSA",
        "SCC",
        "SCLE",
        "SEK",
        "SJS",
        "SK",
        "SLE",
        "SSM",
        "SSSS",
        "TEN",
        "TMEP",
        "TSC",
        "TSS",
        "VASC",
        "XP",
        "CNH",
        "LGV",
        "RMSF",
        "SBCC",
        "NBCC",
        "PXE",
        "BKL",
        "CSCC",
        "AKIEC",
        "GA",
        "DH",
        "EM",
        "PV",
        "HS",
        "LP",
        "MM",
        "AD",
        "BP",
    }
    short = {
        t.upper()
        for e in vocabulary()
        for t in e.synonyms
        if re.fullmatch(r"[A-Za-z]{2,4}[0-9]?", t) and t.upper() == t.upper() and t != t.lower()
    }
    assert short <= reviewed, sorted(short - reviewed)


def test_triage_levels_follow_the_clinic() -> None:
    v = vocabulary()
    for code in MUST_BE_EMERGENCY:
        assert v.triage(code) == "emergency", code
    for e in v:
        if e.malignancy == "malignant" and e.code not in INDOLENT_MALIGNANT:
            assert TRIAGE_LEVELS.index(e.triage) >= TRIAGE_LEVELS.index("urgent"), e.code
    assert label("NEV").triage == "routine" and label("ACK").triage == "soon"


def test_hierarchy_has_three_levels_and_subtypes_stay_in_their_parent_category() -> None:
    v = vocabulary()
    assert len(v.hierarchy) >= 10
    for e in v:
        if e.parent is not None:
            parent = v.entry(e.parent)
            assert e.category == parent.category, (e.code, e.parent)
    examples = {
        "NUMMULAR_ECZEMA": ("inflammatory", "eczematous"),
        "TINEA_CORPORIS": ("infectious", "fungal"),
        "BCC": ("neoplastic_malignant", "keratinocyte_carcinoma"),
    }
    assert {c: (v.entry(c).category, v.entry(c).group) for c in examples} == examples
