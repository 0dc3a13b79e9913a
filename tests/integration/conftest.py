"""The chat page served on a free local port, once per test session, over the real model and index."""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from typing import TYPE_CHECKING

import pytest

from rag.assistant import Assistant

if TYPE_CHECKING:
    from ui.app import PageAssistant

# Questions whose answers the real index holds, with a string the correct answer contains.
KNOWN_ANSWERS = [
    ("Qui a ouvert la réunion semestrielle de l'EMI avec les partenaires tenue fin 2024 ?", "Adamczak"),
    ("Qui a ouvert la réunion du Comité militaire de janvier 2025 ?", "Rutte"),
    ("Combien de pays partenaires ont participé à la réunion du 20 novembre 2024 ?", "26 pays"),
    ("Qu'est-ce que le mécanisme PAF-N présenté en juin 2024 ?", "PAF-N"),
    ("Quand s'est tenue la réunion du Comité militaire en présence de Mark Rutte ?", "15 et 16 janvier 2025"),
    ("Where did the informal workshops with partner nations take place in November 2022?", "Bruxelles"),
    ("How many Allied defence chiefs took part in the January 2025 Military Committee session?", "trente-deux"),
    ("Which NATO body convened the virtual Chiefs of Defence session with operational partners in June 2024?",
     "Comité militaire"),
]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def _served(assistant: PageAssistant) -> Iterator[str]:
    from ui.app import build_app, launch

    app = build_app(assistant)
    url = launch(app, "127.0.0.1", free_port(), block=False)
    try:
        yield url
    finally:
        app.close()


@pytest.fixture(scope="session")
def ui_url(real_assistant: Assistant) -> Iterator[str]:
    """The page over the real assistant, served in a background thread for the whole session."""
    with _served(real_assistant) as url:
        yield url


@pytest.fixture
def serve_page() -> Iterator[Callable[[PageAssistant], str]]:
    """Serve the page for any assistant-like object (e.g. a scripted one) until the test ends."""
    with ExitStack() as stack:
        yield lambda assistant: stack.enter_context(_served(assistant))


@pytest.fixture(scope="session")
def known_answers() -> list[tuple[str, str]]:
    return KNOWN_ANSWERS
