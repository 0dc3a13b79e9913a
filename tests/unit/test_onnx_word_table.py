"""The ONNX route takes the word-embedding lookup out of the graph: same outputs, table rows read from disk."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from rag.embed.onnx_runtime import INPUTS_EMBEDS, WordTable, split_word_lookup
from rag.errors import ModelError

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

RNG = np.random.default_rng(0)
TABLE = RNG.standard_normal((50, 4)).astype(np.float32)
WEIGHTS = RNG.standard_normal((4, 3)).astype(np.float32)


def _tiny_bert():  # type: ignore[no-untyped-def]
    """input_ids -> Gather(table) -> x mask -> MatMul: the shape of the exported graph's first and last steps."""
    from onnx import TensorProto, helper, numpy_helper

    nodes = [
        helper.make_node("Gather", ["words.weight", "input_ids"], ["looked_up"]),
        helper.make_node("Cast", ["attention_mask"], ["mask_f"], to=TensorProto.FLOAT),
        helper.make_node("Unsqueeze", ["mask_f", "last_axis"], ["mask_3d"]),
        helper.make_node("Mul", ["looked_up", "mask_3d"], ["masked"]),
        helper.make_node("MatMul", ["masked", "dense.weight"], ["last_hidden_state"]),
    ]
    graph = helper.make_graph(
        nodes, "tiny",
        [helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch", "tokens"]),
         helper.make_tensor_value_info("attention_mask", TensorProto.INT64, ["batch", "tokens"])],
        [helper.make_tensor_value_info("last_hidden_state", TensorProto.FLOAT, ["batch", "tokens", 3])],
        [numpy_helper.from_array(TABLE, "words.weight"), numpy_helper.from_array(WEIGHTS, "dense.weight"),
         numpy_helper.from_array(np.array([-1], dtype=np.int64), "last_axis")])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def _run(model, inputs: dict[str, np.ndarray]) -> np.ndarray:  # type: ignore[no-untyped-def]
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return np.asarray(session.run(None, inputs)[0])


def test_the_split_graph_fed_the_table_rows_gives_the_same_bits() -> None:
    ids = np.array([[0, 7, 49, 7], [3, 3, 1, 0]], dtype=np.int64)
    mask = np.array([[1, 1, 1, 1], [1, 1, 1, 0]], dtype=np.int64)
    model = _tiny_bert()
    expected = _run(model, {"input_ids": ids, "attention_mask": mask})
    table = split_word_lookup(model)
    assert np.array_equal(table, TABLE)
    assert "words.weight" not in {t.name for t in model.graph.initializer}
    got = _run(model, {"input_ids": ids, "attention_mask": mask, INPUTS_EMBEDS: table[ids]})
    assert np.array_equal(got, expected)


def test_a_graph_without_a_word_lookup_is_refused() -> None:
    model = _tiny_bert()
    split_word_lookup(model)
    with pytest.raises(ModelError, match="word-embedding lookup"):
        split_word_lookup(model)


def test_the_word_table_reads_the_rows_of_its_npy_file(tmp_path: Path) -> None:
    np.save(tmp_path / "words.npy", TABLE)
    ids = np.array([[5, 0, 49], [5, 5, 2]])
    rows = WordTable(tmp_path / "words.npy").lookup(ids)
    assert rows.dtype == np.float32 and np.array_equal(rows, TABLE[ids])


def test_a_token_outside_the_table_is_a_model_error(tmp_path: Path) -> None:
    np.save(tmp_path / "words.npy", TABLE)
    with pytest.raises(ModelError, match="outside the word table"):
        WordTable(tmp_path / "words.npy").lookup(np.array([[1, 50]]))
