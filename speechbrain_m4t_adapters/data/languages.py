"""Corpus language labels -> ISO 639-3 codes (``ory``, ``mai``, ``ben``, ``hin``, ``eng``: what
manifests store and SeamlessM4T uses). Corpora differ: RESPIN ``bn``/``mt``, Common Voice and
IndicVoices ISO 639-1 (``or``) or names (``odia``), FLEURS ``or_in``, FLORES-200 ``ory_Orya``."""

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
    stem[:3]: stem
    for stem in "eng_Latn hin_Deva ben_Beng asm_Beng guj_Gujr kan_Knda mal_Mlym mar_Deva npi_Deva pan_Guru "
    "tam_Taml tel_Telu ory_Orya mai_Deva".split()
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
    if key in _LOOKUP or (len(key) == 3 and key.isalpha()):
        return _LOOKUP.get(key, key)
    raise ValueError(f"unknown language label {label!r}; pass an ISO 639-3 code")
