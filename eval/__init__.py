"""Evaluation data and tools for the press-release Q&A chatbot."""
