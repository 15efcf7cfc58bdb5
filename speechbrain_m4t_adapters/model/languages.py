"""Language codes of SeamlessM4T's text decoder.

The authority is the checkpoint's ``generation_config.text_decoder_lang_to_code_id``
(``{"ory": 256067, ...}`` for v2-large), not a list hard-coded here: v1 medium
uses NLLB's 202 codes, large v1/v2 a 98-code list.
"""

from __future__ import annotations


class LanguageMap:
    """Check ISO 639-3 codes and map them to decoder token ids.

    Arguments
    ---------
    lang_to_id : dict
        Code -> token id, from the generation config.

    Example
    -------
    >>> langs = LanguageMap({"ory": 7, "mai": 8})
    >>> langs.id("ory"), langs.id("__mai__")
    (7, 8)
    >>> langs.id("xyz")
    Traceback (most recent call last):
    ...
    ValueError: unknown language code 'xyz'; this model's text decoder knows: mai, ory
    """

    def __init__(self, lang_to_id: dict[str, int]) -> None:
        if not lang_to_id:
            raise ValueError(
                "the model's generation_config has no text_decoder_lang_to_code_id; "
                "a checkpoint saved with _from_model_config=True loses it"
            )
        self.lang_to_id = {str(k): int(v) for k, v in lang_to_id.items()}

    @property
    def codes(self) -> list[str]:
        """Sorted valid codes."""
        return sorted(self.lang_to_id)

    def normalize(self, code: str) -> str:
        """``"__ory__"`` or ``"ory"`` -> ``"ory"``; unknown codes raise ``ValueError``."""
        bare = code.strip("_") if isinstance(code, str) else code
        if bare not in self.lang_to_id:
            raise ValueError(
                f"unknown language code {code!r}; this model's text decoder knows: {', '.join(self.codes)}"
            )
        return bare

    def id(self, code: str) -> int:
        """Decoder token id of ``code``."""
        return self.lang_to_id[self.normalize(code)]

    def __contains__(self, code: object) -> bool:
        return isinstance(code, str) and code.strip("_") in self.lang_to_id


class TextIds:
    """Text -> ``[__lang__, tokens..., </s>]``: decoder labels and text-encoder inputs.

    Small and picklable (tokenizer + language map), so data-loading workers
    get this instead of the whole model.

    Arguments
    ---------
    tokenizer : transformers tokenizer
        The checkpoint's ``SeamlessM4TTokenizer``.
    languages : LanguageMap
        Codes and their token ids.
    eos_id : int
        ``</s>``.
    """

    def __init__(self, tokenizer, languages: LanguageMap, eos_id: int) -> None:
        self.tokenizer = tokenizer
        self.languages = languages
        self.eos_id = eos_id

    def __call__(self, text: str, lang: str) -> list[int]:
        """Ids of ``text`` in language ``lang`` (unknown codes raise ``ValueError``)."""
        tokens = self.tokenizer(text, add_special_tokens=False)["input_ids"]
        return [self.languages.id(lang), *tokens, self.eos_id]
