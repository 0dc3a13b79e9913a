"""Composing cited answers: extractive by default, an optional LLM checked against its sources."""
