"""Word embeddings: Moses words -> subword spans -> one vector per word (or per subword)."""

import pickle

import pytest
import torch

from wordot.embed import (
    EmbedConfig,
    SentenceError,
    embed_words,
    hidden_states,
    moses_words,
    sentence_problem,
    word_spans,
    words_of,
)
from wordot.models import load_encoder

SENTENCES = ["Ihre Schuhe passen nicht zu Ihrer Kleidung.", "Hast du das Cricket-Match gesehen?"]


@pytest.fixture(scope="module")
def tiny():
    model, tok = load_encoder("tiny")
    return model.eval(), tok


def test_moses_words_split_punctuation_and_keep_compounds():
    assert moses_words("Hast du das Cricket-Match gesehen?", "de") == [
        "Hast",
        "du",
        "das",
        "Cricket-Match",
        "gesehen",
        "?",
    ]
    assert moses_words("Your shoes don't match.", "en") == [
        "Your",
        "shoes",
        "don",
        "'t",
        "match",
        ".",
    ]


@pytest.mark.parametrize("pooling", ["last", "first", "mean"])
def test_word_vectors_are_the_right_subwords(tiny, pooling):
    model, tok = tiny
    with torch.no_grad():
        emb = embed_words(model, tok, SENTENCES, "de", EmbedConfig(pooling=pooling))
        words = words_of(SENTENCES, "de")
        sp = word_spans(tok, words)
        H = hidden_states(model, sp.encoding)
    assert emb.words == words  # nothing truncated, every word represented
    assert emb.mask.sum(1).tolist() == [len(w) for w in words]
    for b, spans in enumerate(sp.spans):
        for n, (s, e) in enumerate(spans):
            want = {"last": H[b, e], "first": H[b, s], "mean": H[b, s : e + 1].mean(0)}[pooling]
            assert torch.allclose(emb.vectors[b, n], want, atol=1e-6)
    assert (emb.vectors[1, len(words[1]) :] == 0).all()  # padding
    assert torch.allclose(emb.weights.sum(1), torch.ones(2))


def test_subword_mode_has_one_point_per_subword(tiny):
    model, tok = tiny
    emb = embed_words(model, tok, SENTENCES, "de", EmbedConfig(pooling="subword"))
    for b, sentence in enumerate(words_of(SENTENCES, "de")):
        n_sub = len(tok(sentence, is_split_into_words=True, add_special_tokens=False)["input_ids"])
        assert int(emb.mask[b].sum()) == n_sub == len(emb.words[b])
    assert emb.words[0][0] == tok.tokenize("Ihre")[0]
    assert max(emb.owners[1]) == len(words_of(SENTENCES, "de")[1]) - 1


def test_truncation_drops_whole_words_and_counts_them(tiny):
    model, tok = tiny
    long = " ".join(["Kleidung"] * 40)
    emb = embed_words(model, tok, [long, SENTENCES[0]], "de", EmbedConfig(max_length=16))
    kept = int(emb.mask[0].sum())
    n_sub = len(tok.tokenize("Kleidung"))
    assert kept == (16 - 2) // n_sub  # [CLS] + whole words + [SEP] within 16 tokens
    assert emb.words[0] == ["Kleidung"] * kept
    second = words_of([SENTENCES[0]], "de")[0]
    kept2 = int(emb.mask[1].sum())
    assert emb.words[1] == second[:kept2] and kept2 < len(second)  # a prefix of whole words
    assert emb.n_truncated == (40 - kept) + (len(second) - kept2)  # counted over the batch


def test_layer_choice_and_gradients(tiny):
    model, tok = tiny
    e0 = embed_words(model, tok, SENTENCES[:1], "de", EmbedConfig(layer=0))
    e_last = embed_words(model, tok, SENTENCES[:1], "de", EmbedConfig(layer=-1))
    assert not torch.allclose(e0.vectors, e_last.vectors)
    e_last.vectors.sum().backward()
    grads = [p.grad for p in model.parameters() if p.grad is not None]
    assert grads and all(torch.isfinite(g).all() for g in grads)
    model.zero_grad()
    with pytest.raises(ValueError, match="layer 9 out of range"):
        embed_words(model, tok, SENTENCES[:1], "de", EmbedConfig(layer=9))


def test_bad_sentences_are_named_by_index(tiny):
    model, tok = tiny
    with pytest.raises(ValueError, match=r"sentence 1 \(de\) is empty"):
        embed_words(model, tok, ["Gut.", "   "], "de")
    with pytest.raises(ValueError, match=r"sentence 0 \(en\) has only punctuation"):
        embed_words(model, tok, ["?!", "Fine."], "en")
    with pytest.raises(ValueError, match="no sentences given for de"):
        embed_words(model, tok, [], "de")
    with pytest.raises(ValueError, match="unknown pooling 'max'"):
        embed_words(model, tok, SENTENCES, "de", EmbedConfig(pooling="max"))
    with pytest.raises(TypeError, match="list of sentences, got the string 'Hallo'"):
        embed_words(model, tok, "Hallo", "de")


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("Gut.", None),
        ("1 + 1 = 2", None),
        ("我们", None),
        ("   \t", "is empty"),
        ("!!!", "has only punctuation or symbols"),
        ("👨\u200d👩\u200d👧", "has only punctuation or symbols"),  # emoji joined by ZWJ
        ("!\u200b?", "has only punctuation or symbols"),
        ("\u200b\u200b", "has only invisible characters"),
        ("\ufeff\x1b", "has only invisible characters"),
        ("\u0301", "has no letter or digit"),  # a lone combining accent
        (None, "is NoneType, not str"),
    ],
)
def test_sentence_problem_is_the_rule_of_words_of(text, problem):
    """One rule: what sentence_problem rejects, words_of (and so embed_words) rejects."""
    got = sentence_problem(text)
    assert (got or "").startswith(problem or "") and (got is None) == (problem is None)
    if problem is None:
        assert words_of([text], "de")
    else:
        with pytest.raises(SentenceError) as err:
            words_of(["Gut.", text], "de")
        assert (err.value.index, err.value.lang, err.value.problem) == (1, "de", got)


def test_zero_width_sentence_names_index_language_and_text(tiny):
    """Issue 14, item 2: this used to say "sentence 1 has no word the tokenizer can represent"
    (the zero-width spaces as Moses words), naming no language."""
    model, tok = tiny
    with pytest.raises(
        ValueError, match=r"sentence 1 \(de\) has only invisible .*'\\u200b\\u200b'"
    ):
        embed_words(model, tok, ["Gut.", "\u200b\u200b"], "de")
    with pytest.raises(SentenceError, match=r"sentence 0 \(en\) has only punctuation or sym"):
        embed_words(model, tok, ["!" * 200], "en")
    with pytest.raises(SentenceError, match=r"'!{80}'\.\.\.$"):  # the text, cut at 80
        embed_words(model, tok, ["!" * 200], "en")
    err = SentenceError(3, "fr", "…", "has only punctuation or symbols")
    again = pickle.loads(pickle.dumps(err))  # crosses process boundaries (worker runs)
    assert (str(again), again.index, again.lang) == (str(err), 3, "fr")


def test_a_sentence_whose_words_do_not_fit_names_its_language(tiny):
    _, tok = tiny
    word = "Kleidung" * 8
    with pytest.raises(SentenceError, match=r"sentence 0 \(de\) has no word that fits in max_le"):
        word_spans(tok, [[word]], max_length=4, lang="de")


def test_embed_config_rejects_bad_values():
    with pytest.raises(ValueError, match="layer must be an integer"):
        EmbedConfig(layer=1.5)
    with pytest.raises(ValueError, match="max_length must be at least 2"):
        EmbedConfig(max_length=0)
