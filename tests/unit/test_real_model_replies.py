"""Every recorded reply of the real small models, replayed through the fake Ollama (real HTTP)
into the core chat turn: the actions the person asked for are proposed with the right arguments,
nothing is proposed for questions, thanks or narration, and nothing runs twice or from a
placeholder."""

from __future__ import annotations

import pytest

from tests.fakes.model_replay import (
    MODELS,
    load_records,
    narration_writes,
    placeholder_proposals,
    reached,
    repeated_runs,
    replay,
)
from tests.fakes.ollama_server import FakeOllama

RECORDS = load_records()


@pytest.fixture(scope="module")
def fake():
    with FakeOllama(models=MODELS) as server:
        yield server


def test_the_corpus_covers_both_models_and_both_kinds_of_prompt():
    assert {r["model"] for r in RECORDS} == set(MODELS)
    assert sum(1 for r in RECORDS if not r["intended"]) >= 10
    assert sum(1 for r in RECORDS if r["tool_calls"]) >= 20


@pytest.mark.parametrize(
    "record", RECORDS, ids=[f"{r['model'][-4:]}-{i:02d}" for i, r in enumerate(RECORDS)]
)
async def test_replayed_reply_proposes_what_the_person_asked_for(record, fake, tmp_path):
    out = await replay(record, fake, tmp_path)
    if record["intended"]:
        assert reached(record["intended"], out.proposed), (record["prompt"], out.proposed)
    else:
        assert out.proposed == [] and out.refused == [], (record["prompt"], out.proposed)
        assert out.done == []
    assert narration_writes(record, out) == 0
    assert placeholder_proposals(record, out) == 0
    assert repeated_runs(out) == 0
    assert out.requests <= 7
