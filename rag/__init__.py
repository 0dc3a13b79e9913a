"""Cited question answering over news releases: load, clean, chunk, embed, retrieve, answer."""

__version__ = "0.1.0"
