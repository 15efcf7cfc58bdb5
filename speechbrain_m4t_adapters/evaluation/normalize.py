"""Text normalisation applied to references and hypotheses before scoring.

:func:`normalize_text` applies, in this order:

1. **Unicode NFC.** Indic text can encode the same syllable with different
   code-point sequences (e.g. Bengali ো as U+09CB or as U+09C7 U+09BE); NFC
   makes them compare equal.
2. **Remove invisible joiners/markers**: U+200B ZERO WIDTH SPACE, U+200C ZERO
   WIDTH NON-JOINER, U+200D ZERO WIDTH JOINER, U+2060 WORD JOINER, U+FEFF
   (BOM / zero width no-break space), U+00AD SOFT HYPHEN and the directional
   marks U+200E/U+200F. ZWJ/ZWNJ only select a glyph form (e.g. Bengali
   র‍্য ya-phala, half forms in Devanagari); they are used inconsistently by
   transcribers and by models, and they are invisible, so counting them
   would penalise differences nobody can see. They are deleted, not turned
   into spaces, so words are not split.
3. **Punctuation to space**: every character whose Unicode category starts
   with ``P`` (ASCII punctuation, quotes, dashes, the Devanagari danda ``।``
   U+0964 and double danda ``॥`` U+0965, which Bengali, Odia and Maithili
   also use) becomes a space, so ``"a,b"`` gives two words as written. Combining
   marks (categories ``Mn``/``Mc``: vowel signs, virama, nukta,
   anusvara, chandrabindu) are never touched, so Indic words survive
   unchanged. Symbols (``S*``, e.g. ``₹``, ``%``) and digits are kept.
4. **Lowercase** with ``str.lower()``, which only affects cased scripts
   (Latin in code-mixed text); Indic scripts have no case.
5. **Whitespace**: runs of whitespace become one space; ends are stripped.

The same rules apply to every language; ``lang`` is accepted so that callers
can pass it already, for language-specific rules later.

Example
-------
>>> normalize_text("ଆମେ ଭଲ ଅଛୁ। Hello, World!")
'ଆମେ ଭଲ ଅଛୁ hello world'
"""

from __future__ import annotations

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
#: Characters AI4Bharat's Vistaar benchmark deletes before scoring: ASCII
#: punctuation plus danda, double danda, Urdu full stop, apostrophe and hyphen
#: (their evaluation.py, github.com/AI4Bharat/vistaar).
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

    1. delete :data:`VISTAAR_PUNCTUATION` (words joined by a hyphen merge, as there);
    2. the indic-nlp-library normaliser of the language (:data:`INDICNLP_CODES`;
       other languages, e.g. Urdu or English, skip this step);
    3. runs of spaces become one; ends are stripped (jiwer's WER/CER strip too).

    No Unicode NFC, no lowercasing, invisible characters are left to the indic-nlp
    normaliser (it removes ZWJ/ZWNJ in most scripts).

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
