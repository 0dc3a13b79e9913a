"""Turning release files into clean text, sentences and passages."""
