"""Language codes of SeamlessM4T's text decoder.

The authority is the checkpoint's ``generation_config.text_decoder_lang_to_code_id``, not a
hard-coded list: v1 medium uses NLLB's 202 codes, large v1/v2 a 98-code list.
"""

from collections.abc import Sequence

import torch
from torch.nn.utils.rnn import pad_sequence


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
            known = ", ".join(self.codes)
            raise ValueError(f"unknown language code {code!r}; this model's text decoder knows: {known}")
        return bare

    def id(self, code: str) -> int:
        """Decoder token id of ``code``."""
        return self.lang_to_id[self.normalize(code)]


def teacher_forcing(labels: torch.Tensor, eos_id: int, pad_id: int) -> torch.Tensor:
    """Decoder inputs for ``labels`` (B, L) padded with -100: ``[</s>, labels[:-1]]``, padding -> ``pad_id``.

    Example
    -------
    >>> teacher_forcing(torch.tensor([[7, 5, 2], [7, 2, -100]]), eos_id=2, pad_id=1).tolist()
    [[2, 7, 5], [2, 7, 1]]
    """
    start = torch.full_like(labels[:, :1], eos_id)
    shifted = torch.cat([start, labels[:, :-1]], dim=1)
    return shifted.masked_fill(labels == -100, pad_id)


def _pad(seqs: Sequence[Sequence[int]], value: int) -> torch.Tensor:
    """(B, longest) long tensor of ``seqs``, right-padded with ``value``."""
    tensors = [torch.as_tensor(s, dtype=torch.long) for s in seqs]
    return pad_sequence(tensors, batch_first=True, padding_value=value)


class TextIds:
    """Text -> ``[__lang__, tokens, </s>]``: decoder labels and text-encoder inputs, padded batches.

    Small and picklable, so data-loading workers get this instead of the whole model.

    Arguments
    ---------
    tokenizer : transformers tokenizer
        The checkpoint's ``SeamlessM4TTokenizer``.
    languages : LanguageMap
        Codes and their token ids.
    eos_id : int
        ``</s>`` (end of sequence and decoder start).
    pad_id : int
        Padding id.
    """

    def __init__(self, tokenizer, languages: LanguageMap, eos_id: int, pad_id: int = 0) -> None:
        self.tokenizer = tokenizer
        self.languages = languages
        self.eos_id = eos_id
        self.pad_id = pad_id

    def __call__(self, text: str, lang: str) -> list[int]:
        """Ids of ``text`` in language ``lang`` (unknown codes raise ``ValueError``)."""
        tokens = self.tokenizer(text, add_special_tokens=False)["input_ids"]
        return [self.languages.id(lang), *tokens, self.eos_id]

    def batch_targets(
        self,
        targets: Sequence[Sequence[int]] | Sequence[str],
        langs: Sequence[str] | str | None = None,
        device: torch.device | str | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Decoder inputs (B, L) ``[</s>, __lang__, tokens...]`` and labels (B, L) ``[__lang__, ..., </s>]``.

        ``targets`` are id lists (from calling this object) or strings (then ``langs`` is needed);
        labels are padded with -100, inputs with ``pad_id``; both on ``device`` (default CPU).
        """
        if targets and isinstance(targets[0], str):
            targets = self._encode(targets, langs)
        labels = _pad(targets, -100).to(device)
        return teacher_forcing(labels, self.eos_id, self.pad_id), labels

    def batch_sources(
        self, texts: Sequence[str], langs: Sequence[str] | str, device: torch.device | str | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Text-encoder ids (B, L) ``[__lang__, tokens..., </s>]`` and attention mask (B, L) on ``device``."""
        seqs = self._encode(texts, langs)
        mask = _pad([[1] * len(s) for s in seqs], 0)
        return _pad(seqs, self.pad_id).to(device), mask.to(device)

    def _encode(self, texts: Sequence[str], langs: Sequence[str] | str | None) -> list[list[int]]:
        """Ids of each text in its language (one code: all of them)."""
        if isinstance(langs, str) or langs is None:
            langs = [langs] * len(texts)
        return [self(text, lang) for text, lang in zip(texts, langs)]
