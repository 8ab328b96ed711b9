"""The `search` tool: rank the chunks that ingest jobs indexed by how often they use the query's words."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from runwire.jetstream.chunk_store import ChunkStore
from runwire_agent.domain.events import Risk
from runwire_agent.tools.toolbox import ToolContext, ToolFailed

MAX_HITS = 3
SNIPPET_CHARACTERS = 240
_WORD_RE = re.compile(r"[a-z0-9]+")
_STOPWORDS_TEXT = """
the and for are but not you all any can had her was one our out has what with this that from they have
will about which when make like into than them then there these does also more some such only other
could would should their how why who whom where please tell says said document
"""
STOPWORDS = frozenset(_STOPWORDS_TEXT.split())


def terms(text: str) -> list[str]:
    """The words of `text` that carry meaning: lowercase, at least 3 characters, not stopwords."""
    return [w for w in _WORD_RE.findall(text.lower()) if len(w) >= 3 and w not in STOPWORDS]


def score(query_terms: list[str], text: str) -> tuple[int, int]:
    """(how many of the query's words the chunk uses, how often it uses them): coverage ranks first."""
    words = _WORD_RE.findall(text.lower())
    wanted = set(query_terms)
    used = [w for w in words if w in wanted]
    return len(set(used)), len(used)


def snippet(text: str) -> str:
    """The start of a chunk on one line, cut at a word."""
    flat = " ".join(text.split())
    if len(flat) <= SNIPPET_CHARACTERS:
        return flat
    return flat[:SNIPPET_CHARACTERS].rsplit(" ", 1)[0] + " \u2026"


class SearchTool:
    """Searches `{"query": ..., "jobs": [job ids]}` in the project's chunk index."""

    name = "search"
    description = "Find the passages of ingested documents that best match a query."
    risk: Risk = "low"

    def __init__(self, chunks: ChunkStore) -> None:
        self._chunks = chunks

    def estimate_cost(self, arguments: Mapping[str, Any]) -> float:
        return 0.0

    async def run(self, context: ToolContext, arguments: Mapping[str, Any]) -> Any:
        query = str(arguments.get("query", ""))
        jobs = [str(j) for j in arguments.get("jobs", [])]
        query_terms = terms(query)
        if not query_terms:
            raise ToolFailed(f"the query {query!r} has no searchable words")
        ranked: list[tuple[int, int, int, int, str, str]] = []
        searched = 0
        for order, job in enumerate(jobs):
            for chunk in await self._chunks.chunks(context.project, job):
                searched += 1
                matched, occurrences = score(query_terms, chunk.text)
                if matched:
                    ranked.append((-matched, -occurrences, order, chunk.index, job, chunk.text))
        ranked.sort()
        hits = [
            {"job": job, "chunk": index, "matched": -matched, "score": -occurrences, "text": snippet(text)}
            for matched, occurrences, _, index, job, text in ranked[:MAX_HITS]
        ]
        return {"query": query, "terms": query_terms, "searched_chunks": searched, "hits": hits}
