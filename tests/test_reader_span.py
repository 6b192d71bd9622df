"""The reader's span head: the shipped MiniLM (real onnxruntime) and the shipped head find the answer's span in a sentence."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from hyperloom.agent import reader_span
from hyperloom.agent.reader_span import FEATURES, REFIT, Head, Scored, SpanHeadError, columns, loaded

CELLO = "I also started learning the cello last month — lessons every Tuesday evening with a teacher called Ines."


@pytest.fixture(scope="module")
def model() -> reader_span.SpanModel:
    """The shipped head on the shipped encoder, whether or not the reader uses it (`reader_span.ENABLED`)."""
    found, notice = loaded()
    assert found is not None, notice
    return found


def best(model: reader_span.SpanModel, question: str, sentence: str) -> str:
    _, lo, hi = model.read(question, [sentence])[0].best()
    return sentence[lo:hi]


def test_the_head_finds_the_teacher_s_name(model) -> None:
    assert best(model, "Who teaches Jonas the cello?", CELLO) == "Ines"


def test_every_sentence_token_is_scored_and_offsets_point_into_the_sentence(model) -> None:
    scored = model.read("Who teaches Jonas?", [CELLO, "Hi!"])
    assert len(scored) == 2
    for s, text in zip(scored, [CELLO, "Hi!"]):
        assert len(s.offsets) == len(s.start) == len(s.end) > 0
        assert s.offsets[0][0] >= 0 and s.offsets[-1][1] <= len(text)


def test_a_missing_head_file_names_the_file_and_the_refit_command(tmp_path: Path) -> None:
    model, notice = loaded(tmp_path / "reader_span.npz")
    assert model is None and "reader_span.npz" in notice and REFIT in notice and "without it" in notice
    with pytest.raises(SpanHeadError):
        Head.load(tmp_path / "reader_span.npz")


@pytest.mark.parametrize("content", [b"", b"not a numpy file", b"PK\x03\x04 truncated zip"])
def test_a_corrupted_head_file_names_the_file_and_the_refit_command(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "reader_span.npz"
    path.write_bytes(content)
    model, notice = loaded(path)
    assert model is None and str(path) in notice and REFIT in notice


def test_a_head_of_the_wrong_shape_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "reader_span.npz"
    np.savez(path, mean=np.zeros(3), scale=np.ones(3), w1=np.zeros((4, 2)), b1=np.zeros(2), w2=np.zeros((2, 2)), b2=np.zeros(2))
    assert loaded(path)[0] is None


def test_the_columns_of_real_candidates_favour_the_span_the_head_reads(model) -> None:
    from hyperloom.agent.question import analyse
    from hyperloom.agent.reader_candidates import candidates
    from hyperloom.agent.reader_evidence import passages

    question = "Who teaches Jonas the cello?"
    hits = [cello_hit(question)]
    found = candidates(analyse(question), hits)
    x = columns(reader_span.read_passages(model, question, passages(question, hits)), found)
    assert x.shape == (len(found), len(FEATURES)) and x[:, 1].sum() >= 1
    top = [c.text for c, row in zip(found, x) if row[1]]
    assert any("Ines" in t for t in top), top


def test_while_the_reader_ranks_without_the_head_nothing_is_encoded_and_it_still_answers() -> None:
    from hyperloom.agent.reader import feature_names, read

    assert not reader_span.ENABLED and reader_span.shipped() is None
    assert not set(FEATURES) & set(feature_names())
    assert read("Who teaches Jonas the cello?", [cello_hit("Who teaches Jonas the cello?")]).text == "Ines"


def cello_hit(question: str):
    from hyperloom.retrieval.search import Hit
    from hyperloom.retrieval.spans import best_spans

    return Hit("s1:6", 1.0, CELLO, "Jonas", "2024-03-02T18:10:00", best_spans("s1:6", CELLO, question), "s1", "demo")


def test_columns_prefer_the_candidate_the_head_scores_best() -> None:
    from hyperloom.agent.reader_candidates import Candidate
    from hyperloom.retrieval.spans import Span

    s = Scored(np.array([[0, 1], [2, 7], [8, 12]]), np.array([0.0, 3.0, 1.0]), np.array([0.0, 2.0, 1.0]))
    text = "I teach Ines"
    cands = [Candidate(text[a:b], Span("t", a, b, text[a:b]), "chunk", np.zeros(1), ("t", 0)) for a, b in ((0, 1), (2, 7), (8, 12))]
    x = columns({("t", 0): s}, cands)
    assert x.shape == (3, len(FEATURES))
    assert list(x[:, 1]) == [0.0, 1.0, 0.0] and x[1, 0] == 1.0 and x[1, 2] == 1.0
