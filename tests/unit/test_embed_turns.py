"""Turns at the model: one pass at a time, and a question is not starved by an upload's batches."""

from __future__ import annotations

import threading
import time

from rag.embed.turns import QuestionsFirst


def test_a_question_waiting_goes_before_the_next_batch_of_the_same_build() -> None:
    """The builder gives the model back and asks for it again at once (an upload's loop): with a plain lock
    its thread takes it back before the waiting question's thread runs; here the question goes first."""
    turns = QuestionsFirst()
    order: list[str] = []

    def ask() -> None:
        with turns.turn(question=True):
            order.append("question")

    question = threading.Thread(target=ask)
    with turns.turn(question=False):
        question.start()
        deadline = time.monotonic() + 5
        while turns.questions_waiting == 0 and time.monotonic() < deadline:
            time.sleep(0.001)
        assert turns.questions_waiting == 1
    with turns.turn(question=False):
        order.append("next batch")
    question.join(5)
    assert order == ["question", "next batch"]


def test_only_one_pass_runs_at_a_time() -> None:
    turns = QuestionsFirst()
    inside, most = [0], [0]
    guard = threading.Lock()

    def work(question: bool) -> None:
        for _ in range(20):
            with turns.turn(question):
                with guard:
                    inside[0] += 1
                    most[0] = max(most[0], inside[0])
                time.sleep(0.001)
                with guard:
                    inside[0] -= 1

    threads = [threading.Thread(target=work, args=(n % 2 == 0,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert most[0] == 1


def test_a_failing_pass_gives_the_model_back() -> None:
    turns = QuestionsFirst()
    try:
        with turns.turn(question=False):
            raise RuntimeError("the model failed")
    except RuntimeError:
        pass
    done = threading.Event()
    threading.Thread(target=lambda: (turns.turn(question=True).__enter__(), done.set())).start()
    assert done.wait(2)
