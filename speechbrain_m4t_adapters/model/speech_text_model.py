"""SeamlessM4T without its speech-output towers.

These subclasses build ``SeamlessM4T(v2)Model``'s attribute tree minus ``t2u_model`` and
``vocoder`` (unused by ASR): ``from_pretrained`` of the full hub checkpoint fills every kept
tensor and never materialises the ~300M speech-output parameters.
"""

import transformers.models.seamless_m4t.modeling_seamless_m4t as m4t_v1
import transformers.models.seamless_m4t_v2.modeling_seamless_m4t_v2 as m4t_v2
from torch import nn
from transformers import PretrainedConfig, SeamlessM4TModel, SeamlessM4Tv2Model

_SPEECH_OUTPUT_KEYS = [r"^t2u_model\.", r"^vocoder\."]


def _build_towers(model: nn.Module, config, modeling) -> None:
    """Initialise ``model`` as its ``PreTrainedModel`` with every tower but the T2U model and vocoder."""
    prefix = "SeamlessM4Tv2" if modeling is m4t_v2 else "SeamlessM4T"
    getattr(modeling, f"{prefix}PreTrainedModel").__init__(model, config)
    sizes = (config.vocab_size, config.hidden_size)
    model.shared = nn.Embedding(*sizes, config.pad_token_id)
    model.text_encoder = getattr(modeling, f"{prefix}Encoder")(config)
    model.speech_encoder = getattr(modeling, f"{prefix}SpeechEncoder")(config)
    model.text_decoder = getattr(modeling, f"{prefix}Decoder")(config)
    model.lm_head = nn.Linear(*reversed(sizes), bias=False)
    model.t2u_model = model.vocoder = None
    model.current_modality = "speech"
    model.main_input_name = "input_features"
    model.post_init()


class SeamlessM4Tv2SpeechTextModel(SeamlessM4Tv2Model):
    """SeamlessM4T v2 speech encoder + text encoder + shared decoder + LM head.

    Example
    -------
    >>> from speechbrain_m4t_adapters.tiny import tiny_config
    >>> model = SeamlessM4Tv2SpeechTextModel(tiny_config("v2", vocab_size=40))
    >>> model.t2u_model is None and model.vocoder is None
    True
    >>> model.lm_head.weight is model.shared.weight
    True
    """

    _keys_to_ignore_on_load_unexpected = _SPEECH_OUTPUT_KEYS

    def __init__(self, config: PretrainedConfig) -> None:
        _build_towers(self, config, m4t_v2)


class SeamlessM4TSpeechTextModel(SeamlessM4TModel):
    """SeamlessM4T v1 speech encoder + text encoder + shared decoder + LM head.

    Example
    -------
    >>> from speechbrain_m4t_adapters.tiny import tiny_config
    >>> model = SeamlessM4TSpeechTextModel(tiny_config("v1", vocab_size=40))
    >>> sorted(name for name, _ in model.named_children())
    ['lm_head', 'shared', 'speech_encoder', 'text_decoder', 'text_encoder']
    """

    _keys_to_ignore_on_load_unexpected = _SPEECH_OUTPUT_KEYS

    def __init__(self, config: PretrainedConfig) -> None:
        _build_towers(self, config, m4t_v1)


MODEL_CLASSES = {"seamless_m4t_v2": SeamlessM4Tv2SpeechTextModel, "seamless_m4t": SeamlessM4TSpeechTextModel}
