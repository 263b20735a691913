"""From examples to model inputs: NLI sentence pairs, and QA's doc-stride windows.

:func:`prepare_qa` cuts each (question, context) into windows of ``max_length`` tokens as XTREME
(and BERT) do: the question, at most ``max_query_length`` tokens, is repeated in every window,
and the context parts of consecutive windows start ``doc_stride`` tokens apart, so they overlap
by ``window - doc_stride`` tokens. :class:`QAFeatures` keeps, per window, the character offsets
of its tokens and which tokens have their maximum context in it (BERT's rule for where a span
may start), for :func:`wordot.xtreme.postprocess.postprocess_qa`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from tokenizers import Encoding, Tokenizer, normalizers

if TYPE_CHECKING:
    import datasets


def set_lowercase(tokenizer: Any) -> bool:
    """Make a BERT WordPiece tokenizer lowercase and strip accents (XTREME's
    ``--do_lower_case``); offsets still point into the original text. Returns whether it
    applied: SentencePiece tokenizers (XLM-R) ignore the flag, in XTREME as here."""
    backend = getattr(tokenizer, "backend_tokenizer", None)
    norm = getattr(backend, "normalizer", None)
    if not isinstance(norm, normalizers.BertNormalizer):
        return False
    backend.normalizer = normalizers.BertNormalizer(
        clean_text=norm.clean_text,
        handle_chinese_chars=norm.handle_chinese_chars,
        strip_accents=None,  # follows lowercase, as in BERT's BasicTokenizer
        lowercase=True,
    )
    return True


def wants_token_types(model: Any) -> bool:
    """Whether ``model`` has segment embeddings (BERT: yes; XLM-R: one type only, no)."""
    return getattr(model.config, "type_vocab_size", 0) > 1


def encode_nli(
    tokenizer: Any,
    ds: datasets.Dataset,
    max_length: int,
    *,
    token_type_ids: bool = True,
    batch: int = 2048,
) -> list[dict[str, Any]]:
    """``[{"input_ids", "attention_mask", ["token_type_ids"], "labels"}]``, one per pair,
    truncated longest-first to ``max_length`` tokens (unpadded; batches are padded later)."""
    out: list[dict[str, Any]] = []
    keys = ["input_ids", "attention_mask"] + (["token_type_ids"] if token_type_ids else [])
    for start in range(0, len(ds), batch):
        rows = ds[start : start + batch]
        enc = tokenizer(
            rows["premise"],
            rows["hypothesis"],
            truncation=True,
            max_length=max_length,
            return_token_type_ids=token_type_ids,
        )
        for i, label in enumerate(rows["label"]):
            item = {k: enc[k][i] for k in keys}
            item["labels"] = int(label)
            out.append(item)
    return out


@dataclass
class QAFeatures:
    """Doc-stride windows of (question, context) examples; ``F`` windows of ``L`` tokens.

    ``offsets[f, t]`` is the character span of token ``t`` in its example's context, ``-1`` for
    question, special and padding tokens; ``max_context[f, t]`` says whether window ``f`` is the
    one where context token ``t`` has the most context on both sides (BERT's rule, which
    decides which window may start a span); ``doc_start[f]`` is the position of the window's
    first context token in the whole context's tokens. ``start_positions``/``end_positions`` are
    training labels (0, the first token, when the answer is not wholly inside the window).
    """

    input_ids: np.ndarray  # (F, L) int32 (compact; models get int64 batches)
    attention_mask: np.ndarray  # (F, L) int8
    token_type_ids: np.ndarray | None  # (F, L) int8
    example_index: np.ndarray  # (F,) row of the example
    window_index: np.ndarray  # (F,) 0, 1, ... within the example
    doc_start: np.ndarray  # (F,)
    offsets: np.ndarray | None  # (F, L, 2) int32
    max_context: np.ndarray | None  # (F, L) bool
    start_positions: np.ndarray | None = None  # (F,)
    end_positions: np.ndarray | None = None  # (F,)
    skipped: tuple[int, ...] = ()  # examples whose answer text is not at answer_start

    def __len__(self) -> int:
        return int(self.input_ids.shape[0])

    def arrays(self, labels: bool = False) -> dict[str, np.ndarray]:
        """The model inputs ``{name: (F, L)}`` (and with ``labels`` the ``(F,)`` span labels)."""
        out = {"input_ids": self.input_ids, "attention_mask": self.attention_mask}
        if self.token_type_ids is not None:
            out["token_type_ids"] = self.token_type_ids
        if labels:
            if self.start_positions is None or self.end_positions is None:
                raise ValueError("features were prepared without answers: no span labels")
            out["start_positions"] = self.start_positions
            out["end_positions"] = self.end_positions
        return out


def prepare_qa(
    tokenizer: Any,
    questions: Sequence[str],
    contexts: Sequence[str],
    answers: Sequence[Mapping[str, Sequence[Any]]] | None = None,
    *,
    max_length: int = 384,
    doc_stride: int = 128,
    max_query_length: int = 64,
    token_type_ids: bool = True,
    keep_offsets: bool = True,
    chunk: int = 256,
) -> QAFeatures:
    """Cut each (question, context) into windows of ``max_length`` tokens, as XTREME does.

    The question (at most ``max_query_length`` tokens) is repeated in every window; the windows'
    context parts start ``doc_stride`` tokens apart (XTREME's and BERT's meaning of doc stride:
    the step, so consecutive windows overlap by ``window - doc_stride`` tokens). With
    ``answers`` (the first answer of each example is used, as in SQuAD training) the
    start/end labels are filled in. ``keep_offsets=False`` (training) drops the offsets and the
    maximum-context table, which only the answer search needs.
    """
    if len(questions) != len(contexts) or (answers is not None and len(answers) != len(contexts)):
        raise ValueError("questions, contexts (and answers) must have the same length")
    qs, q_lens = _truncated_questions(tokenizer, questions, max_query_length)
    answer_chars, skipped = _answer_chars(contexts, answers)
    windows = _Windows(tokenizer, max_length, doc_stride, token_type_ids, keep_offsets)
    rows = sorted(windows.cut(qs, q_lens, contexts, answer_chars, chunk), key=lambda r: r[:2])
    return _stack(rows, max_length, token_type_ids, keep_offsets, answers is not None, skipped)


# ---------------------------------------------------------------------------------------------
# the steps of prepare_qa
# ---------------------------------------------------------------------------------------------

Row = tuple[int, int, dict[str, Any]]  # (example, window, the window's arrays and positions)


def _truncated_questions(
    tokenizer: Any, questions: Sequence[str], max_query_length: int
) -> tuple[list[str], list[int]]:
    """Questions cut to ``max_query_length`` tokens, and their token counts."""
    enc = tokenizer(list(questions), add_special_tokens=False, return_offsets_mapping=True)
    out, lengths = [], []
    for q, ids, offs in zip(questions, enc["input_ids"], enc["offset_mapping"], strict=True):
        if len(ids) > max_query_length:
            q = q[: offs[max_query_length - 1][1]]
        out.append(q)
    for ids in tokenizer(out, add_special_tokens=False)["input_ids"]:
        lengths.append(min(len(ids), max_query_length))
    return out, lengths


def _answer_chars(
    contexts: Sequence[str], answers: Sequence[Mapping[str, Sequence[Any]]] | None
) -> tuple[dict[int, tuple[int, int]], list[int]]:
    """``{example: (first char, end char)}`` of each first answer, and the examples skipped
    because the answer text is not at its ``answer_start``."""
    chars: dict[int, tuple[int, int]] = {}
    skipped: list[int] = []
    if answers is None:
        return chars, skipped
    for i, (ctx, ans) in enumerate(zip(contexts, answers, strict=True)):
        text, start = ans["text"][0], int(ans["answer_start"][0])
        if ctx[start : start + len(text)] != text:
            skipped.append(i)  # XTREME skips these too ("Could not find answer")
        else:
            chars[i] = (start, start + len(text))
    return chars, skipped


class _Windows:
    """The tokenizers library directly (a copy, so the caller's tokenizer keeps its settings):
    the same windows as ``tokenizer(..., return_overflowing_tokens=True)``, without the slow
    conversion of every window to Python lists."""

    def __init__(
        self,
        tokenizer: Any,
        max_length: int,
        doc_stride: int,
        token_type_ids: bool,
        keep_offsets: bool,
    ):
        self.max_length, self.doc_stride = max_length, doc_stride
        self.token_type_ids, self.keep_offsets = token_type_ids, keep_offsets
        self.specials = tokenizer.num_special_tokens_to_add(pair=True)
        self.backend = Tokenizer.from_str(tokenizer.backend_tokenizer.to_str())
        self.backend.enable_padding(
            length=max_length,
            pad_id=tokenizer.pad_token_id,
            pad_type_id=getattr(tokenizer, "pad_token_type_id", 0),
            pad_token=tokenizer.pad_token,
        )

    def cut(
        self,
        questions: Sequence[str],
        q_lens: Sequence[int],
        contexts: Sequence[str],
        answer_chars: Mapping[int, tuple[int, int]],
        chunk: int,
    ) -> Iterator[Row]:
        """Every window of every example; questions of one length are encoded together."""
        by_len: dict[int, list[int]] = defaultdict(list)
        for i, n in enumerate(q_lens):
            by_len[n].append(i)
        for q_len, idxs in sorted(by_len.items()):
            window = self.max_length - q_len - self.specials  # context tokens in a full window
            if window <= 0:
                raise ValueError(f"max_length {self.max_length} leaves no room for the context")
            step = min(self.doc_stride, window)
            self.backend.enable_truncation(
                self.max_length, stride=window - step, strategy="only_second"
            )
            for c0 in range(0, len(idxs), chunk):
                part = idxs[c0 : c0 + chunk]
                encodings = self.backend.encode_batch([(questions[i], contexts[i]) for i in part])
                for ex, first in zip(part, encodings, strict=True):
                    for w, enc in enumerate([first, *first.overflowing]):
                        yield ex, w, self._row(enc, w * step, answer_chars.get(ex))

    def _row(self, enc: Encoding, doc_start: int, answer: tuple[int, int] | None) -> dict:
        """One window's arrays, where its context starts, and its span labels (0 if the
        answer is not wholly inside)."""
        seq = np.array([-1 if s is None else s for s in enc.sequence_ids])
        ctx = np.flatnonzero(seq == 1)
        offs = np.full((self.max_length, 2), -1, dtype=np.int32)
        offs[ctx] = np.asarray(enc.offsets, dtype=np.int32)[ctx]
        row = {
            "input_ids": np.asarray(enc.ids, dtype=np.int32),
            "attention_mask": np.asarray(enc.attention_mask, dtype=np.int8),
            "token_type_ids": np.asarray(enc.type_ids, dtype=np.int8)
            if self.token_type_ids
            else None,
            "offsets": offs if self.keep_offsets else None,
            "doc_start": doc_start,
            "n_ctx": len(ctx),
            "first_ctx": int(ctx[0]) if len(ctx) else 0,
            "start": 0,
            "end": 0,
        }
        if answer is not None and len(ctx):
            a0, a1 = answer
            if offs[ctx[0], 0] <= a0 and offs[ctx[-1], 1] >= a1:
                row["start"] = int(ctx[offs[ctx, 0] <= a0].max())
                row["end"] = int(ctx[offs[ctx, 1] >= a1].min())
        return row


def _max_context(rows: Sequence[Row], length: int) -> np.ndarray:
    """``(F, L)``: whether window ``f`` is where its context token has the most context on both
    sides (BERT's ``_check_is_max_context``, vectorised; ties go to the earlier window)."""
    max_ctx = np.zeros((len(rows), length), dtype=bool)
    by_example: dict[int, list[int]] = defaultdict(list)
    for f, (ex, _, _) in enumerate(rows):
        by_example[ex].append(f)
    for feats in by_example.values():
        size = max(rows[f][2]["doc_start"] + rows[f][2]["n_ctx"] for f in feats)
        best_score = np.full(size, -np.inf)
        best_feat = np.full(size, -1)
        for f in feats:
            r = rows[f][2]
            pos = np.arange(r["doc_start"], r["doc_start"] + r["n_ctx"])
            left, right = pos - r["doc_start"], r["doc_start"] + r["n_ctx"] - 1 - pos
            score = np.minimum(left, right) + 0.01 * r["n_ctx"]
            better = score > best_score[pos]
            best_score[pos[better]] = score[better]
            best_feat[pos[better]] = f
        for f in feats:
            r = rows[f][2]
            pos = np.arange(r["doc_start"], r["doc_start"] + r["n_ctx"])
            max_ctx[f, r["first_ctx"] : r["first_ctx"] + r["n_ctx"]] = best_feat[pos] == f
    return max_ctx


def _stack(
    rows: Sequence[Row],
    length: int,
    token_type_ids: bool,
    keep_offsets: bool,
    labelled: bool,
    skipped: Sequence[int],
) -> QAFeatures:
    def stack(key: str) -> np.ndarray:
        if not rows:
            return np.zeros((0, length), dtype=np.int32)
        return np.stack([r[2][key] for r in rows])

    def column(key: str) -> np.ndarray:
        return np.asarray([r[2][key] for r in rows], dtype=np.int64)

    return QAFeatures(
        input_ids=stack("input_ids"),
        attention_mask=stack("attention_mask"),
        token_type_ids=stack("token_type_ids") if token_type_ids else None,
        example_index=np.asarray([r[0] for r in rows], dtype=np.int64),
        window_index=np.asarray([r[1] for r in rows], dtype=np.int64),
        doc_start=column("doc_start"),
        offsets=np.stack([r[2]["offsets"] for r in rows]) if keep_offsets else None,
        max_context=_max_context(rows, length) if keep_offsets else None,
        start_positions=column("start") if labelled else None,
        end_positions=column("end") if labelled else None,
        skipped=tuple(skipped),
    )
