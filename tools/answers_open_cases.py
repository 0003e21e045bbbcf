# ruff: noqa: E501  (one case per line reads best)
"""Hand-written differentials behind tests/data/answers_open.jsonl.

One line per case: ``triage | item ; item ; ...`` in rank order. An item is ``written`` (the
words the answer uses, also its expected name) or ``written=expected`` where the answer uses
a lay term, an abbreviation, a plural or a misspelling and ``expected`` is the condition a
dermatologist reading it would record. Triage ``-`` means the case states none. Each
differential was written to be clinically coherent (look-alikes a dermatologist would weigh
together); expected names are resolved through the vocabulary in the test.
"""

from __future__ import annotations

DIFFERENTIALS = """
routine | plaque psoriasis ; nummular eczema ; tinea corporis
routine | psoriasis vulgaris=plaque psoriasis ; seborrhoeic dermatitis ; pityriasis rosea
soon | guttate psoriasis ; pityriasis rosea ; secondary syphilis
emergency | generalised pustular psoriasis ; acute generalized exanthematous pustulosis ; staphylococcal scalded skin syndrome
routine | inverse psoriasis ; erythrasma ; intertrigo ; cutaneous candidiasis
routine | scalp psoriasis ; seborrhoeic dermatitis ; tinea capitis
routine | nail psoriasis ; onychomycosis ; lichen planus
routine | atopic dermatitis ; allergic contact dermatitis ; scabies
routine | atopic eczema=atopic dermatitis ; ichthyosis vulgaris ; keratosis pilaris
routine | discoid eczema=nummular eczema ; tinea corporis ; plaque psoriasis
routine | allergic contact dermatitis ; irritant contact dermatitis ; atopic dermatitis
routine | irritant contact dermatitis ; dyshidrotic eczema ; tinea manuum
routine | pompholyx=dyshidrotic eczema ; palmoplantar pustulosis ; tinea pedis
routine | stasis dermatitis ; cellulitis ; lipodermatosclerosis
soon | venous eczema=stasis dermatitis ; venous leg ulcer ; cellulitis
routine | seborrhoeic dermatitis ; rosacea ; perioral dermatitis
routine | seborrheic dermatitis=seborrhoeic dermatitis ; psoriasis ; tinea versicolor
routine | lichen simplex chronicus ; prurigo nodularis ; lichen planus
routine | asteatotic eczema ; stasis dermatitis ; xerosis
emergency | eczema herpeticum ; impetigo ; atopic dermatitis
routine | hand eczema ; tinea manuum ; palmoplantar psoriasis=psoriasis
routine | napkin dermatitis ; cutaneous candidiasis ; seborrhoeic dermatitis
routine | lichen planus ; lichenoid drug eruption ; lichen simplex chronicus
routine | oral lichen planus ; leukoplakia ; oral candidiasis
soon | lichen sclerosus ; vitiligo ; morphoea
routine | pityriasis rosea ; guttate psoriasis ; tinea corporis
routine | pityriasis rubra pilaris ; erythrodermic psoriasis ; cutaneous t-cell lymphoma
urgent | erythroderma ; erythrodermic psoriasis ; sezary syndrome
routine | pityriasis lichenoides chronica ; guttate psoriasis ; lymphomatoid papulosis
routine | lichen nitidus ; lichen planus ; keratosis pilaris
routine | urticaria ; urticarial vasculitis ; bullous pemphigoid
routine | chronic spontaneous urticaria ; dermographism ; urticarial vasculitis
emergency | angioedema ; urticaria ; cellulitis
routine | hives=urticaria ; insect bite reaction ; erythema multiforme
routine | acne vulgaris ; rosacea ; perioral dermatitis
routine | rosacea ; seborrhoeic dermatitis ; lupus erythematosus
routine | acne rosacea=rosacea ; seborrhoeic dermatitis ; acne vulgaris
routine | rhinophyma ; rosacea ; basal cell carcinoma
soon | hidradenitis suppurativa ; furunculosis ; pilonidal sinus
routine | folliculitis ; acne vulgaris ; pseudofolliculitis barbae
routine | perioral dermatitis ; rosacea ; seborrhoeic dermatitis
routine | pseudofolliculitis barbae ; folliculitis ; acne keloidalis nuchae
routine | milia ; syringoma ; sebaceous hyperplasia
urgent | bullous pemphigoid ; pemphigus vulgaris ; linear iga disease
urgent | pemphigus vulgaris ; bullous pemphigoid ; stevens-johnson syndrome
soon | pemphigus foliaceus ; impetigo ; seborrhoeic dermatitis
routine | dermatitis herpetiformis ; scabies ; bullous pemphigoid
soon | epidermolysis bullosa acquisita ; porphyria cutanea tarda ; bullous pemphigoid
urgent | mucous membrane pemphigoid ; pemphigus vulgaris ; lichen planus
soon | pemphigoid gestationis ; bullous pemphigoid ; urticaria
soon | discoid lupus erythematosus ; subacute cutaneous lupus erythematosus ; lichen planopilaris
soon | subacute cutaneous lupus erythematosus ; psoriasis ; dermatomyositis
urgent | systemic lupus erythematosus ; dermatomyositis ; rosacea
urgent | dermatomyositis ; systemic lupus erythematosus ; seborrhoeic dermatitis
soon | morphoea ; lichen sclerosus ; systemic sclerosis
urgent | systemic sclerosis ; morphoea ; eosinophilic fasciitis
routine | livedo reticularis ; erythema ab igne ; cutaneous polyarteritis nodosa
urgent | leukocytoclastic vasculitis ; henoch-schonlein purpura ; pigmented purpuric dermatosis
urgent | iga vasculitis ; leukocytoclastic vasculitis ; meningococcal septicaemia
routine | pigmented purpuric dermatosis ; stasis dermatitis ; leukocytoclastic vasculitis
urgent | pyoderma gangrenosum ; ecthyma ; venous leg ulcer
urgent | sweet syndrome ; erythema multiforme ; cellulitis
routine | granuloma annulare ; tinea corporis ; sarcoidosis
soon | sarcoidosis ; granuloma annulare ; lupus vulgaris
routine | necrobiosis lipoidica ; granuloma annulare ; sarcoidosis
soon | erythema multiforme ; urticaria ; fixed drug eruption
soon | erythema nodosum ; cellulitis ; erythema induratum
emergency | stevens-johnson syndrome ; toxic epidermal necrolysis ; erythema multiforme
emergency | toxic epidermal necrolysis ; staphylococcal scalded skin syndrome ; stevens-johnson syndrome
routine | fixed drug eruption ; erythema multiforme ; bullous pemphigoid
urgent | morbilliform drug eruption ; viral exanthem ; drug reaction with eosinophilia and systemic symptoms
emergency | dress syndrome=drug reaction with eosinophilia and systemic symptoms ; morbilliform drug eruption ; measles
routine | erythema annulare centrifugum ; tinea corporis ; granuloma annulare
routine | polymorphic light eruption ; lupus erythematosus ; photoallergic dermatitis
routine | sunburn ; phototoxic reaction ; polymorphic light eruption
routine | prurigo nodularis ; lichen simplex chronicus ; hypertrophic lichen planus=lichen planus
routine | neurotic excoriations ; scabies ; prurigo nodularis
routine | keratosis pilaris ; folliculitis ; acne vulgaris
routine | impetigo ; herpes simplex ; eczema
soon | bullous impetigo ; bullous pemphigoid ; insect bite reaction
emergency | cellulitis ; erysipelas ; necrotising fasciitis
emergency | erysipelas ; cellulitis ; contact dermatitis
emergency | necrotising fasciitis ; cellulitis ; pyoderma gangrenosum
soon | skin abscess ; furuncle ; epidermoid cyst
soon | boil=furuncle ; carbuncle ; hidradenitis suppurativa
routine | erythrasma ; tinea cruris ; intertrigo
routine | pitted keratolysis ; tinea pedis ; plantar warts
soon | ecthyma ; impetigo ; pyoderma gangrenosum
urgent | staphylococcal scalded skin syndrome ; toxic epidermal necrolysis ; scarlet fever
soon | leprosy ; sarcoidosis ; tinea corporis
soon | lupus vulgaris ; sarcoidosis ; discoid lupus erythematosus
soon | mycobacterium marinum infection ; sporotrichosis ; cutaneous leishmaniasis
routine | tinea corporis ; nummular eczema ; granuloma annulare
routine | ringworm ; pityriasis rosea ; nummular eczema
routine | tinea pedis ; dyshidrotic eczema ; pitted keratolysis
routine | athlete's foot=tinea pedis ; interdigital erythrasma=erythrasma ; contact dermatitis
routine | tinea cruris ; erythrasma ; inverse psoriasis
routine | jock itch=tinea cruris ; intertrigo ; cutaneous candidiasis
soon | tinea capitis ; alopecia areata ; seborrhoeic dermatitis
soon | kerion ; bacterial folliculitis ; tinea capitis
routine | pityriasis versicolor ; vitiligo ; pityriasis alba
routine | tinea versicolor=pityriasis versicolor ; seborrhoeic dermatitis ; confluent and reticulated papillomatosis
routine | onychomycosis ; nail psoriasis ; onycholysis
routine | fungal nail infection=onychomycosis ; nail psoriasis ; lichen planus
routine | tinea faciei ; rosacea ; discoid lupus erythematosus
routine | tinea incognito ; nummular eczema ; psoriasis
routine | cutaneous candidiasis ; intertrigo ; inverse psoriasis
routine | angular cheilitis ; perioral dermatitis ; herpes simplex
soon | sporotrichosis ; mycobacterium marinum infection ; pyoderma gangrenosum
urgent | herpes zoster ; herpes simplex ; contact dermatitis
urgent | shingles=herpes zoster ; zosteriform herpes simplex=herpes simplex ; bullous impetigo
routine | herpes labialis ; impetigo ; angular cheilitis
routine | cold sore=herpes labialis ; impetigo ; perioral dermatitis
routine | genital herpes ; syphilitic chancre ; genital warts
routine | chickenpox=varicella ; hand foot and mouth disease ; insect bite reaction
routine | molluscum contagiosum ; viral warts ; milia
routine | common wart=viral wart ; molluscum contagiosum ; seborrhoeic keratosis
routine | plantar wart ; callus ; corn
routine | verruca ; corn ; pitted keratolysis
routine | genital warts ; molluscum contagiosum ; skin tag
routine | hand foot and mouth disease ; varicella ; viral exanthem
urgent | measles ; rubella ; morbilliform drug eruption
routine | viral exanthem ; morbilliform drug eruption ; pityriasis rosea
routine | orf ; pyogenic granuloma ; keratoacanthoma
routine | scabies ; atopic dermatitis ; dermatitis herpetiformis
soon | crusted scabies ; psoriasis ; seborrhoeic dermatitis
routine | head lice=pediculosis capitis ; seborrhoeic dermatitis ; tinea capitis
routine | pediculosis pubis ; scabies ; folliculitis
routine | cutaneous larva migrans ; tinea corporis ; insect bite reaction
routine | insect bite reaction ; papular urticaria ; scabies
routine | bed bug bites ; scabies ; papular urticaria
soon | tick bite ; erythema migrans ; insect bite reaction
soon | erythema migrans ; tinea corporis ; cellulitis
soon | lyme disease ; granuloma annulare ; erythema multiforme
soon | cutaneous leishmaniasis ; sporotrichosis ; basal cell carcinoma
routine | tungiasis ; plantar wart ; foreign body granuloma
soon | secondary syphilis ; pityriasis rosea ; guttate psoriasis
routine | myiasis ; furuncle ; tungiasis
routine | melanocytic nevus ; seborrhoeic keratosis ; melanoma
urgent | melanoma ; dysplastic nevus ; seborrhoeic keratosis
urgent | nodular melanoma ; pyogenic granuloma ; nodular basal cell carcinoma
urgent | superficial spreading melanoma ; dysplastic nevus ; solar lentigo
urgent | acral lentiginous melanoma ; subungual haematoma ; acral nevus
urgent | amelanotic melanoma ; pyogenic granuloma ; basal cell carcinoma
routine | blue nevus ; melanoma ; dermatofibroma
routine | spitz nevus ; melanoma ; juvenile xanthogranuloma
routine | congenital nevus ; cafe au lait macule ; becker nevus
routine | halo nevus ; vitiligo ; melanoma
routine | becker nevus ; cafe au lait macule ; congenital nevus
routine | mole=melanocytic nevus ; seborrhoeic keratosis ; dermatofibroma
routine | seborrhoeic keratosis ; solar lentigo ; melanoma
routine | seborrheic keratosis=seborrhoeic keratosis ; viral wart ; pigmented basal cell carcinoma
routine | solar lentigo ; seborrhoeic keratosis ; lentigo maligna
routine | age spot=solar lentigo ; freckles ; seborrhoeic keratosis
routine | skin tag ; neurofibroma ; intradermal nevus
routine | acrochordon=skin tag ; seborrhoeic keratosis ; molluscum contagiosum
routine | epidermoid cyst ; lipoma ; pilar cyst
routine | sebaceous cyst=epidermoid cyst ; pilar cyst ; lipoma
routine | pilar cyst ; epidermoid cyst ; pilomatricoma
routine | lipoma ; epidermoid cyst ; neurofibroma
routine | dermatofibroma ; melanocytic nevus ; dermatofibrosarcoma protuberans
routine | keloid ; hypertrophic scar ; dermatofibrosarcoma protuberans
routine | hypertrophic scar ; keloid ; dermatofibroma
routine | cherry angioma ; pyogenic granuloma ; angiokeratoma
soon | pyogenic granuloma ; amelanotic melanoma ; kaposi sarcoma
routine | infantile haemangioma ; pyogenic granuloma ; port-wine stain
routine | port-wine stain ; infantile haemangioma ; salmon patch
routine | spider angioma ; cherry angioma ; telangiectasia
routine | venous lake ; blue nevus ; melanoma
routine | sebaceous hyperplasia ; basal cell carcinoma ; molluscum contagiosum
routine | syringoma ; milia ; xanthelasma
routine | xanthelasma ; syringoma ; sebaceous hyperplasia
routine | neurofibroma ; skin tag ; intradermal nevus
routine | digital mucous cyst ; giant cell tumour of tendon sheath ; viral wart
soon | actinic keratosis ; squamous cell carcinoma ; basal cell carcinoma
routine | pilomatricoma ; epidermoid cyst ; calcinosis cutis
routine | nevus sebaceus ; epidermal nevus ; juvenile xanthogranuloma
routine | epidermal nevus ; linear lichen planus=lichen planus ; nevus sebaceus
routine | juvenile xanthogranuloma ; spitz nevus ; mastocytoma
routine | urticaria pigmentosa ; cafe au lait macule ; congenital nevus
routine | mastocytosis ; urticaria pigmentosa ; urticaria
routine | porokeratosis ; actinic keratosis ; tinea corporis
routine | disseminated superficial actinic porokeratosis ; actinic keratosis ; stucco keratosis
soon | actinic keratosis ; bowen's disease ; squamous cell carcinoma
soon | solar keratosis=actinic keratosis ; seborrhoeic keratosis ; superficial basal cell carcinoma
soon | bowen's disease ; superficial basal cell carcinoma ; nummular eczema
soon | actinic cheilitis ; squamous cell carcinoma ; herpes labialis
soon | leukoplakia ; oral lichen planus ; oral candidiasis
urgent | basal cell carcinoma ; squamous cell carcinoma ; sebaceous hyperplasia
urgent | nodular basal cell carcinoma ; intradermal nevus ; sebaceous hyperplasia
soon | superficial basal cell carcinoma ; bowen's disease ; nummular eczema
urgent | morphoeic basal cell carcinoma ; scar ; morphoea
urgent | squamous cell carcinoma ; keratoacanthoma ; hypertrophic actinic keratosis=actinic keratosis
urgent | keratoacanthoma ; squamous cell carcinoma ; molluscum contagiosum
urgent | merkel cell carcinoma ; amelanotic melanoma ; cutaneous metastasis
urgent | mycosis fungoides ; nummular eczema ; plaque psoriasis
urgent | sezary syndrome ; erythrodermic psoriasis ; drug reaction with eosinophilia and systemic symptoms
urgent | lymphomatoid papulosis ; pityriasis lichenoides et varioliformis acuta ; folliculitis
urgent | primary cutaneous b-cell lymphoma ; pseudolymphoma ; sarcoidosis
urgent | kaposi sarcoma ; pyogenic granuloma ; bacillary angiomatosis
urgent | dermatofibrosarcoma protuberans ; keloid ; dermatofibroma
urgent | angiosarcoma ; bruise ; rosacea
urgent | cutaneous metastasis ; epidermoid cyst ; merkel cell carcinoma
urgent | extramammary paget's disease ; intertrigo ; cutaneous candidiasis
urgent | sebaceous carcinoma ; chalazion ; basal cell carcinoma
urgent | atypical fibroxanthoma ; squamous cell carcinoma ; pyogenic granuloma
urgent | leukaemia cutis ; sweet syndrome ; sarcoidosis
routine | vitiligo ; pityriasis alba ; idiopathic guttate hypomelanosis
routine | melasma ; post-inflammatory hyperpigmentation ; lichen planus pigmentosus
routine | post-inflammatory hyperpigmentation ; melasma ; fixed drug eruption
routine | idiopathic guttate hypomelanosis ; vitiligo ; pityriasis versicolor
routine | cafe au lait macule ; congenital nevus ; becker nevus
routine | pityriasis alba ; pityriasis versicolor ; vitiligo
routine | acanthosis nigricans ; confluent and reticulated papillomatosis ; seborrhoeic keratosis
routine | freckles ; solar lentigo ; cafe au lait macule
routine | post-inflammatory hypopigmentation ; vitiligo ; pityriasis alba
routine | drug-induced hyperpigmentation ; melasma ; post-inflammatory hyperpigmentation
routine | alopecia areata ; tinea capitis ; trichotillomania
routine | androgenetic alopecia ; telogen effluvium ; frontal fibrosing alopecia
routine | male pattern baldness=androgenetic alopecia ; alopecia areata ; telogen effluvium
routine | telogen effluvium ; androgenetic alopecia ; alopecia areata
soon | frontal fibrosing alopecia ; lichen planopilaris ; traction alopecia
soon | lichen planopilaris ; discoid lupus erythematosus ; folliculitis decalvans
routine | trichotillomania ; alopecia areata ; tinea capitis
routine | traction alopecia ; frontal fibrosing alopecia ; androgenetic alopecia
soon | central centrifugal cicatricial alopecia ; traction alopecia ; lichen planopilaris
soon | folliculitis decalvans ; dissecting cellulitis of the scalp ; lichen planopilaris
routine | paronychia ; herpetic whitlow ; ingrown toenail
routine | ingrown toenail ; paronychia ; pyogenic granuloma
routine | subungual haematoma ; acral lentiginous melanoma ; onychomycosis
urgent | longitudinal melanonychia ; subungual melanoma ; subungual haematoma
routine | onycholysis ; onychomycosis ; nail psoriasis
routine | neurofibromatosis ; cafe au lait macule ; tuberous sclerosis
routine | ichthyosis vulgaris ; xerosis ; atopic dermatitis
routine | darier disease ; hailey-hailey disease ; seborrhoeic dermatitis
routine | hailey-hailey disease ; intertrigo ; inverse psoriasis
soon | epidermolysis bullosa ; bullous impetigo ; staphylococcal scalded skin syndrome
routine | tuberous sclerosis ; neurofibromatosis ; acne vulgaris
soon | xeroderma pigmentosum ; freckles ; solar lentigo
routine | incontinentia pigmenti ; epidermal nevus ; linear lichen planus=lichen planus
routine | xerosis ; asteatotic eczema ; ichthyosis vulgaris
routine | chilblains ; raynaud phenomenon ; lupus pernio
routine | miliaria ; folliculitis ; viral exanthem
soon | pressure ulcer ; venous leg ulcer ; arterial ulcer
soon | venous leg ulcer ; arterial ulcer ; pyoderma gangrenosum
urgent | diabetic foot ulcer ; arterial ulcer ; pressure ulcer
routine | striae distensae ; morphoea ; lichen sclerosus
routine | grover disease ; folliculitis ; darier disease
routine | erythema ab igne ; livedo reticularis ; post-inflammatory hyperpigmentation
soon | porphyria cutanea tarda ; epidermolysis bullosa acquisita ; bullous pemphigoid
routine | calcinosis cutis ; xanthoma ; milia
routine | xanthoma ; xanthelasma ; juvenile xanthogranuloma
urgent | calciphylaxis ; pyoderma gangrenosum ; cellulitis
routine | lichen amyloidosis ; lichen simplex chronicus ; prurigo nodularis
routine | fordyce spots ; milia ; molluscum contagiosum
routine | behcet's disease ; oral lichen planus ; herpes simplex
routine | cheilitis ; angular cheilitis ; herpes labialis
routine | callus ; corn ; plantar wart
"""


# Written out in full: (style, text, expected names ("OTHER: text" for an unknown
# condition), triage, status)
EXTRA: list[tuple[str, str, list[str], str | None, str]] = [
    (
        "refusal",
        "I'm sorry, but I can't diagnose skin conditions from photographs. Please see a doctor.",
        [],
        None,
        "unparseable",
    ),
    (
        "refusal",
        "As an AI model I am unable to provide a diagnosis. A dermatologist should assess this rash.",
        [],
        None,
        "unparseable",
    ),
    (
        "refusal",
        "I cannot determine what this is from the image provided.",
        [],
        None,
        "unparseable",
    ),
    (
        "refusal",
        "Lo siento, no puedo dar un diagnóstico. I cannot provide a medical diagnosis.",
        [],
        None,
        "unparseable",
    ),
    (
        "refusal",
        "The photo is too dark and blurred to say anything useful. Please retake it in daylight.",
        [],
        None,
        "unparseable",
    ),
    ("refusal", "", [], None, "unparseable"),
    (
        "refusal",
        "Unable to assess: image unreadable. Triage: routine",
        [],
        "routine",
        "unparseable",
    ),
    (
        "unknown",
        "1. Schnitzler syndrome\n2. Urticarial vasculitis\n3. Chronic spontaneous urticaria",
        ["OTHER: Schnitzler syndrome", "urticarial vasculitis", "chronic spontaneous urticaria"],
        None,
        "ok",
    ),
    (
        "unknown",
        "1) Bazex syndrome; 2) psoriasis; 3) tinea manuum",
        ["OTHER: Bazex syndrome", "psoriasis", "tinea manuum"],
        None,
        "ok",
    ),
    (
        "unknown",
        '{"differential": ["Flegel disease", "prurigo nodularis", "Galli-Galli disease"]}',
        ["OTHER: Flegel disease", "prurigo nodularis", "OTHER: Galli-Galli disease"],
        None,
        "ok",
    ),
    (
        "unknown",
        "| Rank | Diagnosis |\n|---|---|\n| 1 | Degos disease |\n| 2 | Lichen sclerosus |",
        ["OTHER: Degos disease", "lichen sclerosus"],
        None,
        "ok",
    ),
    (
        "unknown",
        "- Rowell syndrome\n- Erythema multiforme\n- Subacute cutaneous lupus erythematosus",
        ["OTHER: Rowell syndrome", "erythema multiforme", "subacute cutaneous lupus erythematosus"],
        None,
        "ok",
    ),
    (
        "unknown",
        "1. Multicentric reticulohistiocytosis 2. Sarcoidosis 3. Granuloma annulare",
        ["OTHER: Multicentric reticulohistiocytosis", "sarcoidosis", "granuloma annulare"],
        None,
        "ok",
    ),
    (
        "unknown",
        '[{"diagnosis": "Scleredema", "confidence": 0.5}, {"diagnosis": "Morphoea", "confidence": 0.3}]',
        ["OTHER: Scleredema", "morphoea"],
        None,
        "ok",
    ),
    (
        "unknown",
        "1. Kikuchi disease\n2. Lupus erythematosus\nTriage: soon",
        ["OTHER: Kikuchi disease", "lupus erythematosus"],
        "soon",
        "ok",
    ),
    (
        "unknown",
        "1. Granular parakeratosis\n2. Hailey-Hailey disease\n3. Intertrigo",
        ["OTHER: Granular parakeratosis", "hailey-hailey disease", "intertrigo"],
        None,
        "ok",
    ),
    (
        "ambiguous_abbreviation",
        "1. AD\n2. Contact dermatitis\n3. Scabies",
        ["atopic dermatitis", "contact dermatitis", "scabies"],
        None,
        "ok",
    ),
    (
        "ambiguous_abbreviation",
        "Atopic dermatitis (AD) is most likely; flexural AD often looks like this. Contact dermatitis is a differential.",
        ["atopic dermatitis", "contact dermatitis"],
        None,
        "ok",
    ),
    (
        "ambiguous_abbreviation",
        "Tense bullae in an elderly patient: bullous pemphigoid (BP) first, then linear IgA disease. Check BP before any steroid.",
        ["bullous pemphigoid", "linear iga disease"],
        None,
        "ok",
    ),
    (
        "ambiguous_abbreviation",
        "Annular plaque on the hand: GA (granuloma annulare) over tinea corporis.",
        ["granuloma annulare", "tinea corporis"],
        None,
        "ok",
    ),
    (
        "ambiguous_abbreviation",
        "The lesion is 4 mm; MM cannot be excluded and a dysplastic nevus is likely.",
        ["melanoma", "dysplastic nevus"],
        None,
        "ok",
    ),
    (
        "ambiguous_abbreviation",
        "Known AD since childhood. The new annular patch is tinea corporis.",
        ["tinea corporis"],
        None,
        "ok",
    ),
    (
        "ambiguous_abbreviation",
        "Ddx: BCC > SCC > AK. Urgent.",
        ["basal cell carcinoma", "squamous cell carcinoma", "actinic keratosis"],
        "urgent",
        "ok",
    ),
    (
        "negation_trap",
        "Not psoriasis but nummular eczema; tinea corporis should be excluded with scrapings.",
        ["nummular eczema", "tinea corporis"],
        None,
        "ok",
    ),
    (
        "negation_trap",
        "No evidence of scabies, lice or bed bugs. This looks like atopic dermatitis.",
        ["atopic dermatitis"],
        None,
        "ok",
    ),
    (
        "negation_trap",
        "Psoriasis and seborrhoeic dermatitis are unlikely; the scaling pattern suggests tinea capitis.",
        ["tinea capitis"],
        None,
        "ok",
    ),
    (
        "negation_trap",
        "Melanoma cannot be excluded, so a melanocytic nevus is only the second option. Refer urgently.",
        ["melanoma", "melanocytic nevus"],
        "urgent",
        "ok",
    ),
    (
        "negation_trap",
        "I would not exclude cellulitis. Stasis dermatitis is the more likely diagnosis.",
        ["cellulitis", "stasis dermatitis"],
        None,
        "ok",
    ),
    (
        "negation_trap",
        "Urticaria rather than urticarial vasculitis, as each weal lasts under 24 hours.",
        ["urticaria"],
        None,
        "ok",
    ),
    (
        "negation_trap",
        "Neither scabies nor lice explains this; it is prurigo nodularis.",
        ["prurigo nodularis"],
        None,
        "ok",
    ),
    (
        "negation_trap",
        "Biopsy to rule out squamous cell carcinoma; actinic keratosis is the working diagnosis.",
        ["squamous cell carcinoma", "actinic keratosis"],
        None,
        "ok",
    ),
    (
        "negation_trap",
        "1. Pityriasis rosea\n2. Guttate psoriasis - unlikely\n3. Secondary syphilis",
        ["pityriasis rosea", "secondary syphilis"],
        None,
        "ok",
    ),
    (
        "negation_trap",
        "Differential:\n- Vitiligo\n- Pityriasis alba\n\nRuled out:\n- Pityriasis versicolor (negative KOH)",
        ["vitiligo", "pityriasis alba"],
        None,
        "ok",
    ),
    (
        "specific_beats_parent",
        "1. Eczema, most likely nummular eczema\n2. Psoriasis\n3. Tinea corporis",
        ["nummular eczema", "psoriasis", "tinea corporis"],
        None,
        "ok",
    ),
    (
        "specific_beats_parent",
        "This is psoriasis, the guttate type (guttate psoriasis), following a sore throat. Pityriasis rosea is the alternative.",
        ["guttate psoriasis", "pityriasis rosea"],
        None,
        "ok",
    ),
    (
        "specific_beats_parent",
        "Nummular eczema versus plaque psoriasis.",
        ["nummular eczema", "plaque psoriasis"],
        None,
        "ok",
    ),
    (
        "specific_beats_parent",
        "Superficial spreading melanoma is my first concern, then a dysplastic nevus.",
        ["superficial spreading melanoma", "dysplastic nevus"],
        None,
        "ok",
    ),
    (
        "lay",
        "Looks like ringworm to me, or maybe just a patch of eczema.",
        ["ringworm", "eczema"],
        None,
        "ok",
    ),
    (
        "lay",
        "My guess is shingles - the rash is on one side only. Could be a cold sore spreading though.",
        ["herpes zoster", "cold sore"],
        None,
        "ok",
    ),
    ("lay", "Probably hives; antihistamines should settle it.", ["urticaria"], None, "ok"),
    ("lay", "Classic athlete's foot between the toes.", ["tinea pedis"], None, "ok"),
    ("lay", "This is a skin tag, nothing to worry about. Routine.", ["skin tag"], "routine", "ok"),
    (
        "lay",
        "Looks like a boil; if it doesn't settle it might be an abscess.",
        ["furuncle", "abscess"],
        None,
        "ok",
    ),
    (
        "lay",
        "Head lice, almost certainly. Scabies is possible if others at home itch.",
        ["pediculosis capitis", "scabies"],
        None,
        "ok",
    ),
    (
        "lay",
        "A verruca on the sole; a corn is the other option.",
        ["verruca", "corn"],
        None,
        "ok",
    ),
    ("triage_words", "Impetigo. Not urgent: routine GP review.", ["impetigo"], "routine", "ok"),
    (
        "triage_words",
        "Eczema herpeticum needs same-day assessment; secondary impetigo is the alternative.",
        ["eczema herpeticum", "impetigo"],
        "emergency",
        "ok",
    ),
    (
        "triage_words",
        "Probable squamous cell carcinoma. Refer on the two-week wait.",
        ["squamous cell carcinoma"],
        "urgent",
        "ok",
    ),
    (
        "triage_words",
        "Stevens-Johnson syndrome: call 999 / go to the ER now.",
        ["stevens-johnson syndrome"],
        "emergency",
        "ok",
    ),
    (
        "triage_words",
        "Likely seborrhoeic keratosis; no need for urgent referral.",
        ["seborrhoeic keratosis"],
        "routine",
        "ok",
    ),
    (
        "triage_words",
        "Necrotising fasciitis must be excluded as an emergency; cellulitis is more likely.",
        ["necrotising fasciitis", "cellulitis"],
        "emergency",
        "ok",
    ),
    (
        "triage_words",
        '{"diagnosis": "Bullous pemphigoid", "triage": "same-day"}',
        ["bullous pemphigoid"],
        "emergency",
        "ok",
    ),
    (
        "triage_words",
        '{"differential": ["pyogenic granuloma", "amelanotic melanoma"], "urgency": "2-week wait"}',
        ["pyogenic granuloma", "amelanotic melanoma"],
        "urgent",
        "ok",
    ),
]
