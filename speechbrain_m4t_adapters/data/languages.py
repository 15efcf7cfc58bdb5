"""Mapping of corpus-specific language labels to ISO 639-3 codes.

Corpora label languages differently: RESPIN ``bn``/``mt``, Common Voice and IndicVoices ISO 639-1
(``or``) or names (``odia``), FLEURS ``or_in``, FLORES-200 ``ory_Orya``. Manifests store the ISO
639-3 code (``ory``, ``mai``, ``ben``, ``hin``, ``eng``), which SeamlessM4T also uses.
"""

from __future__ import annotations

# "mt" is RESPIN's label for Maithili (not Maltese, its ISO 639-1 meaning).
_ALIASES = {
    "ory": ("ory", "or", "ori", "odia", "oriya", "or_in", "ory_orya"),
    "mai": ("mai", "mt", "maithili", "mai_deva"),
    "ben": ("ben", "bn", "bengali", "bangla", "bn_in", "ben_beng"),
    "hin": ("hin", "hi", "hindi", "hi_in", "hin_deva"),
    "eng": ("eng", "en", "english", "en_us", "eng_latn"),
}
#: ISO 639-3 -> FLORES-200 file stem, for the languages of the mini model.
FLORES_CODES = {
    "eng": "eng_Latn",
    "hin": "hin_Deva",
    "ben": "ben_Beng",
    "asm": "asm_Beng",
    "guj": "guj_Gujr",
    "kan": "kan_Knda",
    "mal": "mal_Mlym",
    "mar": "mar_Deva",
    "npi": "npi_Deva",
    "pan": "pan_Guru",
    "tam": "tam_Taml",
    "tel": "tel_Telu",
    "ory": "ory_Orya",
    "mai": "mai_Deva",
}

_LOOKUP = {alias: iso for iso, aliases in _ALIASES.items() for alias in aliases}


def lookup_language(label: str) -> str | None:
    """Return the ISO 639-3 code of a known label, or None (no guessing).

    Example
    -------
    >>> lookup_language("Odia"), lookup_language("v1")
    ('ory', None)
    """
    return _LOOKUP.get(label.strip().lower().replace("-", "_"))


def to_iso639_3(label: str) -> str:
    """The ISO 639-3 code of a corpus label (``bn``, ``mt``, ``Odia``, ``or_in``, ``ory_Orya``).

    Case-insensitive, ``-`` read as ``_``; an unknown 3-letter code is returned as is, another
    unknown label raises ValueError.

    Example
    -------
    >>> to_iso639_3("mt"), to_iso639_3("ory_Orya"), to_iso639_3("Bengali")
    ('mai', 'ory', 'ben')
    """
    key = label.strip().lower().replace("-", "_")
    if key in _LOOKUP:
        return _LOOKUP[key]
    if len(key) == 3 and key.isalpha():
        return key
    raise ValueError(f"unknown language label {label!r}; pass an ISO 639-3 code")
