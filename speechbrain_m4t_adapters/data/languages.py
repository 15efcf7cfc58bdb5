"""Mapping of corpus-specific language labels to ISO 639-3 codes.

Corpora label languages differently: RESPIN uses ``bn``/``mt``, Common Voice
and IndicVoices use ISO 639-1 (``or``, ``bn``) or names (``odia``), FLEURS
uses ``or_in`` and FLORES-200 uses ``ory_Orya``. Manifests always store the
ISO 639-3 code (``ory``, ``mai``, ``ben``, ``hin``, ``eng``), which is also
what SeamlessM4T uses for these languages.
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
    """Return the ISO 639-3 code for a corpus language label.

    Arguments
    ---------
    label : str
        E.g. ``"bn"``, ``"mt"``, ``"Odia"``, ``"or_in"``, ``"ory_Orya"``
        (case-insensitive, ``-`` treated as ``_``).

    Returns
    -------
    str
        ISO 639-3 code. A label that is already a 3-letter lowercase code is
        returned unchanged even if unknown here.

    Raises
    ------
    ValueError
        If the label is unknown.

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
