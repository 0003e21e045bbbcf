"""Every ICD-10-CM code of the vocabulary exists and its official description fits its entry."""

from __future__ import annotations

import re

from derm_stress.labels import icd, vocabulary

_STOP = set(
    [
        "of",
        "and",
        "the",
        "or",
        "with",
        "without",
        "unspecified",
        "other",
        "specified",
        "skin",
        "site",
        "disease",
        "disorder",
        "disorders",
        "nos",
        "due",
        "to",
        "in",
        "on",
        "by",
        "not",
        "elsewhere",
        "classified",
        "initial",
        "encounter",
        "type",
        "acute",
        "chronic",
    ]
)

# (entry, code) pairs whose code is the residual ("other specified ...") category the
# ICD-10-CM index assigns the condition to, so the description shares no word with it.
# Reviewed one by one; a new pair must be added here on purpose.
RESIDUAL = {
    ("LPLK", "L85.8"),
    ("KERATOSIS_PILARIS", "L85.8"),
    ("MILIA", "L72.0"),
    ("POST_INFLAMMATORY_HYPOPIGMENTATION", "L81.9"),
    ("HYPERPIGMENTATION", "L81.9"),
    ("SKIN_TAG", "L91.8"),
    ("SEBACEOUS_HYPERPLASIA", "L73.8"),
    ("FORDYCE_SPOTS", "L73.8"),
    ("JESSNER_LYMPHOCYTIC_INFILTRATE", "L98.8"),
    ("NEUTROPHILIC_DERMATOSIS", "L98.8"),
    ("CUTANEOUS_PSEUDOLYMPHOMA", "L98.8"),
    ("PHOTODERMATOSIS", "L56.9"),
    ("PHOTODERMATOSIS", "L56.8"),
    ("PHOTODERMATOSIS", "L56"),
    ("ACTINIC_CHEILITIS", "L56.8"),
    ("ACTINIC_PRURIGO", "L56.8"),
    ("PARONYCHIA", "L03.019"),
    ("PARONYCHIA", "L03.039"),
    ("PITTED_KERATOLYSIS", "L08.89"),
    ("TINEA_FACIEI", "B35.8"),
    ("TINEA_INCOGNITO", "B35.8"),
    ("MALASSEZIA_FOLLICULITIS", "B36.8"),
    ("SEABATHERS_ERUPTION", "L27.8"),
    ("TICK_BITE", "W57.XXXA"),
    ("DERMATOSIS_PAPULOSA_NIGRA", "L82.1"),
    ("POROKERATOSIS", "Q82.8"),
    ("POROKERATOSIS_OF_MIBELLI", "Q82.8"),
    ("PSEUDOXANTHOMA_ELASTICUM", "Q82.8"),
    ("SYRINGOMA", "D23.9"),
    ("CLEAR_CELL_ACANTHOMA", "D23.9"),
    ("TRICHOEPITHELIOMA", "D23.9"),
    ("PILOMATRICOMA", "D23.9"),
    ("CHONDROID_SYRINGOMA", "D23.9"),
    ("HIDROCYSTOMA", "D23.9"),
    ("TRICHILEMMOMA", "D23.9"),
    ("TRICHOFOLLICULOMA", "D23.9"),
    ("SYRINGOCYSTADENOMA_PAPILLIFERUM", "D23.9"),
    ("INVERTED_FOLLICULAR_KERATOSIS", "D23.9"),
    ("FIBROUS_PAPULE", "D23.9"),
    ("NEUROTHEKEOMA", "D23.9"),
    ("ACQUIRED_DIGITAL_FIBROKERATOMA", "D23.9"),
    ("VERRUCIFORM_XANTHOMA", "D23.9"),
    ("DIGITAL_MUCOUS_CYST", "M67.40"),
    ("GIANT_CELL_TUMOUR_OF_TENDON_SHEATH", "D21.10"),
    ("GLOMUS_TUMOUR", "D18.01"),
    ("VENOUS_LAKE", "I78.8"),
    ("TELANGIECTASIA", "I78.8"),
    ("ANGIOLEIOMYOMA", "D21.9"),
    ("LEIOMYOMA", "D21.9"),
    ("XANTHOMA", "E78.5"),
    ("SEBACEOUS_CARCINOMA", "C44.99"),
    ("EXTRAMAMMARY_PAGET_DISEASE", "C44.99"),
    ("MICROCYSTIC_ADNEXAL_CARCINOMA", "C44.99"),
    ("DERMATOFIBROSARCOMA_PROTUBERANS", "C49.9"),
    ("ANGIOSARCOMA", "C49.9"),
    ("LEIOMYOSARCOMA", "C49.9"),
    ("ATYPICAL_FIBROXANTHOMA", "C49.9"),
    ("IDIOPATHIC_GUTTATE_HYPOMELANOSIS", "L81.5"),
    ("PROGRESSIVE_MACULAR_HYPOMELANOSIS", "L81.6"),
    ("ERYTHEMA_DYSCHROMICUM_PERSTANS", "L81.8"),
    ("LIVEDO_RETICULARIS", "R23.8"),
    ("ACROCYANOSIS", "I73.8"),
    ("NOTALGIA_PARAESTHETICA", "G58.8"),
    ("SUN_DAMAGED_SKIN", "L57.9"),
    ("FRICTION_BLISTER", "T14.8XXA"),
    ("PEARLY_PENILE_PAPULES", "N48.89"),
}


def _stem(word: str) -> str:
    word = word.replace("naev", "nev").replace("haem", "hem").replace("oedema", "edema")
    for ending in ("es", "us", "um", "ae", "i", "a", "s", "e"):
        if word.endswith(ending) and len(word) - len(ending) >= 3:
            return word[: -len(ending)][:5]
    return word[:5]


def _words(text: str) -> set[str]:
    return {_stem(w) for w in re.findall(r"[a-z]+", text.lower()) if w not in _STOP and len(w) > 2}


def test_every_code_exists_in_icd10cm() -> None:
    missing = [(e.code, c) for e in vocabulary() for c in e.icd10cm if not icd.exists(c)]
    assert not missing, missing


def test_descriptions_fit_their_entries() -> None:
    lib = icd._library()
    misfits = []
    for entry in vocabulary():
        mine = set().union(*(_words(t) for t in (entry.name, *entry.synonyms)))
        for code in entry.icd10cm:
            official = lib.get_description(code) + " " + " ".join(lib.get_inclusion_term(code))
            if not _words(official) & mine and (entry.code, code) not in RESIDUAL:
                misfits.append(f"{entry.code} {code}: {lib.get_description(code)}")
    assert not misfits, misfits


def test_residual_list_has_no_stale_pairs() -> None:
    listed = {(e.code, c) for e in vocabulary() for c in e.icd10cm}
    assert listed >= RESIDUAL, RESIDUAL - listed


def test_codes_listed_by_several_entries_have_a_named_owner() -> None:
    v = vocabulary()
    by_code: dict[str, list[str]] = {}
    for entry in v:
        for code in entry.icd10cm:
            by_code.setdefault(code, []).append(entry.code)
    for code, owners in by_code.items():
        expected = v.icd_owners[code] if len(owners) > 1 else owners[0]
        assert v.normalise(code) == expected
        assert v.normalise(code.replace(".", "")) == expected
