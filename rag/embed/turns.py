"""Whose turn the model is: one forward pass at a time, and a question before any batch of passages."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager


class QuestionsFirst:
    """One forward pass at a time (torch and onnxruntime already spread a pass over every core; concurrent
    passes oversubscribe them). A batch of passages takes the model only when no question is waiting for it:
    with a plain lock, the thread embedding an upload takes the model back the moment it lets it go, and a
    question asked during the upload could wait for the whole build."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._busy = False
        self._questions_waiting = 0

    @property
    def questions_waiting(self) -> int:
        return self._questions_waiting

    @contextmanager
    def turn(self, question: bool) -> Iterator[None]:
        with self._changed:
            if question:
                self._questions_waiting += 1
            try:
                self._changed.wait_for(lambda: not self._busy and (question or not self._questions_waiting))
            finally:
                if question:
                    self._questions_waiting -= 1
            self._busy = True
        try:
            yield
        finally:
            with self._changed:
                self._busy = False
                self._changed.notify_all()
