"""The optional LLM answerer over an OpenAI-compatible endpoint (being written; extractive answers stand in)."""

from __future__ import annotations

from .config import RagConfig
from .protocols import Generator


def make_generator(config: RagConfig) -> Generator | None:
    return None
