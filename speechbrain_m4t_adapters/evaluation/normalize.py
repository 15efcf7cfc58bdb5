"""Text normalisation applied to references and hypotheses before scoring.

:func:`normalize_text`, the same for every language: (1) Unicode NFC, so one Indic syllable
encoded two ways compares equal; (2) delete :data:`INVISIBLE_CHARS` (zero-width space, ZWNJ, ZWJ,
word joiner, BOM, soft hyphen, direction marks: unseen and used inconsistently), not spacing them,
so words stay whole; (3) every Unicode punctuation character (``P*``, incl. the danda ``।`` and
``॥``) to a space, keeping combining marks (``Mn``/``Mc``), symbols and digits; (4) ``str.lower()``
(cased scripts only); (5) whitespace runs to one space, ends stripped.

Example
-------
>>> normalize_text("ଆମେ ଭଲ ଅଛୁ। Hello, World!")
'ଆମେ ଭଲ ଅଛୁ hello world'
"""

import functools
import re
import string
import unicodedata
from collections.abc import Callable

#: Code points deleted in step 2 (named in the module docstring).
INVISIBLE_CHARS = ("\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u00ad", "\u200e", "\u200f")
_DELETE = {ord(c): None for c in INVISIBLE_CHARS}


def normalize_text(text: str, lang: str | None = None) -> str:
    """Normalise a reference or hypothesis for WER/CER (rules in the module docstring; ``lang`` unused).

    Example
    -------
    >>> normalize_text("মাছ\\u200c খায়॥  ")
    'মাছ খায়'
    """
    text = unicodedata.normalize("NFC", text).translate(_DELETE)
    chars = [" " if unicodedata.category(c).startswith("P") else c for c in text]
    return " ".join("".join(chars).lower().split())


# ------------------------------------------------------------------ Vistaar
#: What AI4Bharat's Vistaar benchmark deletes before scoring (their evaluation.py,
#: github.com/AI4Bharat/vistaar): ASCII punctuation, (double) danda, Urdu full stop, ' and -.
VISTAAR_PUNCTUATION = string.punctuation + "\u0964\u06d4'-\u0965"
_VISTAAR_DELETE = {ord(c): None for c in VISTAAR_PUNCTUATION}
#: ISO 639-3 -> indic-nlp-library language code. Maithili (Devanagari, absent from
#: Vistaar) uses the Devanagari normaliser; Urdu is not normalised, as in Vistaar.
INDICNLP_CODES = {
    "asm": "as", "ben": "bn", "guj": "gu", "hin": "hi", "kan": "kn", "mai": "hi", "mal": "ml",
    "mar": "mr", "nep": "ne", "ory": "or", "pan": "pa", "san": "sa", "snd": "sd", "tam": "ta", "tel": "te",
}  # fmt: skip


@functools.cache
def _indic_normalizer(code: str):
    try:
        from indicnlp.normalize.indic_normalize import IndicNormalizerFactory
    except ImportError as error:
        raise ImportError(
            "the 'vistaar' normaliser needs indic-nlp-library: pip install indic-nlp-library "
            "(or pip install speechbrain-m4t-adapters[indic])"
        ) from error
    return IndicNormalizerFactory().get_normalizer(code)


def normalize_vistaar(text: str, lang: str | None = None) -> str:
    """Normalise as AI4Bharat's Vistaar benchmark scores IndicWhisper.

    Deletes :data:`VISTAAR_PUNCTUATION` (hyphenated words merge, as there), applies the language's
    indic-nlp-library normaliser (:data:`INDICNLP_CODES`; others, e.g. Urdu, skip it) and squeezes
    and strips spaces. No NFC, no lowercasing; invisible characters are left to indic-nlp.

    Example
    -------
    >>> normalize_vistaar("ଆମେ  ଭଲ ଅଛୁ। well-known!", "ory")
    'ଆମେ ଭଲ ଅଛୁ wellknown'
    """
    text = text.translate(_VISTAAR_DELETE)
    code = INDICNLP_CODES.get(lang or "")
    if code is not None:
        text = _indic_normalizer(code).normalize(text)
    return re.sub(" +", " ", text).strip()


#: Named scoring normalisers: name -> ``f(text, lang) -> text``. "none" scores raw text.
NORMALIZERS: dict[str, Callable[[str, str | None], str]] = {
    "default": normalize_text,
    "vistaar": normalize_vistaar,
    "none": lambda text, lang=None: text,
}


def get_normalizer(name: str) -> Callable[[str, str | None], str]:
    """The normaliser called ``name`` (see :data:`NORMALIZERS`).

    Example
    -------
    >>> get_normalizer("default")("A, b")
    'a b'
    """
    if name not in NORMALIZERS:
        raise ValueError(f"unknown normaliser {name!r}; choose from {sorted(NORMALIZERS)}")
    return NORMALIZERS[name]
