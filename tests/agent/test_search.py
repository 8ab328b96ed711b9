"""The search tool over the real chunk index: which words count, and how passages are ranked."""

from __future__ import annotations

import pytest
from nats.aio.client import Client as NATS

from runwire.contract.chunks import Chunk
from runwire.jetstream.chunk_store import ChunkStore
from runwire_agent.tools.search_tool import SearchTool, score, snippet, terms
from runwire_agent.tools.toolbox import ToolContext, ToolFailed


def test_terms_drop_short_words_and_stopwords() -> None:
    assert terms("What do the Foxes eat, and why?") == ["foxes", "eat"]


def test_score_counts_distinct_words_before_repetitions() -> None:
    assert score(["foxes", "eat"], "Foxes eat mice. Foxes!") == (2, 3)


def test_snippet_is_one_line_cut_at_a_word() -> None:
    assert snippet("a\nb  c") == "a b c"
    assert snippet("word " * 100).endswith("word \u2026")


async def test_a_passage_using_more_query_words_ranks_first(nc: NATS, project: str) -> None:
    chunks = await ChunkStore.open(nc)
    texts = ["Arctic foxes, fennec foxes, red foxes.", "Foxes eat rodents.", "Owls hunt at night."]
    for index, text in enumerate(texts):
        await chunks.put(project, "job-s", Chunk(index=index, start=0, end=len(text), text=text))
    result = await SearchTool(chunks).run(
        ToolContext(project, "run-1"), {"query": "what do foxes eat", "jobs": ["job-s"]}
    )
    assert [(h["chunk"], h["matched"], h["score"]) for h in result["hits"]] == [(1, 2, 2), (0, 1, 3)]
    assert result["searched_chunks"] == 3


async def test_a_query_without_searchable_words_fails_the_step(nc: NATS, project: str) -> None:
    with pytest.raises(ToolFailed, match="has no searchable words"):
        await SearchTool(await ChunkStore.open(nc)).run(
            ToolContext(project, "r"), {"query": "what is it", "jobs": []}
        )
