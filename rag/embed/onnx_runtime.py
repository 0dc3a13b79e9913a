"""Export a local sentence-transformers BERT folder to ONNX (fp32, and int8 by dynamic quantisation), offline."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

from rag.errors import ModelError
from rag.files import publish, write_atomically

log = logging.getLogger(__name__)

# Bumped whenever the exported graph changes, so that older exports are redone.
EXPORT_FORMAT = "rag.onnx_model/1"  # the name of an export on disk, kept when the module moved
ONNX_SUBDIR = "onnx"
FP32_FILE = "model.onnx"
INT8_FILE = "model_int8.onnx"
# What the ONNX route runs: the same graph without its word-embedding lookup, which reads `inputs_embeds`
# instead, and its other weights in a `.data` file that onnxruntime maps rather than parses (the session opens in
# 0.3 s instead of 2 s). The 250k x 384 fp32 table (384 MB, 4x the rest of the model) goes to a `.words.npy`
# file whose rows are read when a token needs them, so that a process holds none of it. The inline files stay
# (under their names and in the marker) for any checkout that reads only those.
SPLIT_SUFFIX = ".split.onnx"
WORDS_SUFFIX = ".words.npy"
INPUTS_EMBEDS = "inputs_embeds"
MARKER = "export.json"
# Parity that an fp32 export must reach against torch on a few sentences before it is published.
MIN_FP32_COSINE = 0.9999
_PARITY_TEXTS = [
    "passage: Le Comité militaire de l'OTAN s'est réuni à Bruxelles le 15 mai 2024.",
    "query: Who opened the bi-annual meeting with partners?",
    "passage: Les participants de 26 pays partenaires ont discuté de la résilience.",
]


def _fingerprint(folder: Path) -> dict[str, object]:
    """Cheap identity of the weights the export came from: size and mtime change when the folder is rewritten."""
    weights = folder / "model.safetensors"
    stat = weights.stat()
    return {"format": EXPORT_FORMAT, "weights_size": stat.st_size, "weights_mtime_ns": stat.st_mtime_ns}


def split_name(inline: str) -> str:
    return inline.removesuffix(".onnx") + SPLIT_SUFFIX


def words_name(inline: str) -> str:
    return inline.removesuffix(".onnx") + WORDS_SUFFIX


def _is_current(folder: Path, filename: str) -> bool:
    target = folder / ONNX_SUBDIR / filename
    try:
        marker = json.loads((folder / ONNX_SUBDIR / MARKER).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return False
    if filename.endswith(SPLIT_SUFFIX):
        inline = filename.removesuffix(SPLIT_SUFFIX) + ".onnx"
        if not (target.with_name(filename + ".data").is_file() and target.with_name(words_name(inline)).is_file()):
            return False
    return target.is_file() and marker.get("source") == _fingerprint(folder) and filename in marker.get("files", [])


@contextlib.contextmanager
def _export_lock(folder: Path) -> Iterator[None]:
    import fcntl

    (folder / ONNX_SUBDIR).mkdir(exist_ok=True)
    with open(folder / ONNX_SUBDIR / ".lock", "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _write_marker(folder: Path, filename: str) -> None:
    path = folder / ONNX_SUBDIR / MARKER
    try:
        marker = json.loads(path.read_text(encoding="utf-8"))
        files = marker["files"] if marker.get("source") == _fingerprint(folder) else []
    except (OSError, json.JSONDecodeError, KeyError):
        files = []
    marker = {"source": _fingerprint(folder), "files": sorted({*files, filename})}
    write_atomically(path, json.dumps(marker, indent=2).encode("utf-8"))


def _export_fp32(folder: Path, target: Path) -> None:
    import torch
    from transformers import AutoModel, AutoTokenizer

    # Eager attention exports as plain MatMul/Softmax, which onnxruntime runs faster on CPU than the
    # graph traced from scaled_dot_product_attention (measured by bench/__main__.py --only embed).
    model = AutoModel.from_pretrained(str(folder), attn_implementation="eager").eval()

    class LastHiddenState(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.bert = model

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
            return self.bert(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state

    tokenizer = AutoTokenizer.from_pretrained(str(folder))
    batch = tokenizer(_PARITY_TEXTS, padding=True, return_tensors="pt")
    # Traced on an unpadded example: tracing a padded one bakes its padding into the mask arithmetic
    # (cosine 0.989 on other batches); the padded batch is then the parity check.
    example = (torch.ones(2, 16, dtype=torch.long), torch.ones(2, 16, dtype=torch.long))
    dynamic = {"input_ids": {0: "batch", 1: "tokens"}, "attention_mask": {0: "batch", 1: "tokens"},
               "last_hidden_state": {0: "batch", 1: "tokens"}}
    with torch.no_grad():
        # Computed before exporting: after tracing, this model object no longer gives the same outputs.
        expected = LastHiddenState()(batch["input_ids"], batch["attention_mask"]).numpy()
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        # The TorchScript exporter needs no extra package (the dynamo one needs onnxscript).
        torch.onnx.export(LastHiddenState(), example, str(target),
                          input_names=["input_ids", "attention_mask"], output_names=["last_hidden_state"],
                          dynamic_axes=dynamic, opset_version=17, dynamo=False)
    session = make_session(target, threads=1)
    inputs = {"input_ids": batch["input_ids"].numpy(), "attention_mask": batch["attention_mask"].numpy()}
    got = session.run(None, inputs)[0]
    cosine = mean_pool_cosines(expected, got, batch["attention_mask"].numpy())
    if cosine.min() < MIN_FP32_COSINE:
        raise ModelError(f"the ONNX export of {folder} disagrees with torch (cosine {cosine.min():.5f}); "
                         "use embed_backend = \"torch\"")


def _export_fp32_in_child(folder: Path, target: Path) -> None:
    """Run the export in a child process: its 2.5 GB peak and the torch import leave with it, and when the
    system kills it for lack of memory the caller gets a ModelError (which `auto` turns into torch) instead of
    dying with it."""
    package_root = str(Path(__file__).resolve().parents[1])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [package_root, os.environ.get("PYTHONPATH")]))}
    # -P: the current directory must not come first on the path, where another "rag" package could shadow ours.
    result = subprocess.run([sys.executable, "-P", "-m", "rag.embed.onnx_runtime", str(folder), str(target)],
                            capture_output=True, text=True, env=env, check=False)
    if result.returncode == 0:
        return
    if result.returncode == -signal.SIGKILL:
        reason = ("the export process was killed (SIGKILL), which is what the system does when memory runs out "
                  "(the export needs about 2.5 GB)")
    elif result.returncode < 0:
        reason = f"the export process was stopped by {signal.Signals(-result.returncode).name}"
    else:
        lines = [line for line in result.stderr.splitlines() if line.strip()]
        reason = lines[-1].removeprefix("error: ").rstrip(".") if lines else f"exit code {result.returncode}"
    raise ModelError(f"cannot export {folder} to ONNX: {reason}; use embed_backend = \"torch\"")


def mean_pool_cosines(a: np.ndarray, b: np.ndarray, mask: np.ndarray) -> np.ndarray:
    def pool(hidden: np.ndarray) -> np.ndarray:
        vectors = (hidden * mask[..., None]).sum(1) / mask.sum(1, keepdims=True)
        return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)

    return (pool(a) * pool(b)).sum(1)


def _quantize_int8(source: Path, target: Path) -> None:
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    # Only the MatMuls: quantising the word-embedding Gather as well was slower and no more accurate.
    # Per-channel scales keep cosine to fp32 near 0.993 (per-tensor: 0.977). reduce_range (7-bit) is
    # not needed: it halves speed on this AVX2 CPU for no accuracy gain.
    root = logging.getLogger()
    level = root.level
    root.setLevel(max(level, logging.WARNING))  # the quantiser logs one INFO line per tensor on the root logger
    try:
        quantize_dynamic(source, target, op_types_to_quantize=["MatMul"], per_channel=True,
                         weight_type=QuantType.QInt8, extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT})
    finally:
        root.setLevel(level)


def ensure_onnx_model(folder: Path, int8: bool = False) -> Path:
    """The split ONNX graph of a local model folder (its word table in `words_path(graph)`), exported (and
    quantised) on first use; a minute at most, no network."""
    folder = Path(folder)
    inline = INT8_FILE if int8 else FP32_FILE
    filename = split_name(inline)
    if _is_current(folder, filename):
        return folder / ONNX_SUBDIR / filename
    if not (folder / "model.safetensors").is_file():
        raise ModelError(f"the ONNX backend needs a local model folder with model.safetensors; {folder} has none")
    try:
        with _export_lock(folder):
            if _is_current(folder, filename):
                return folder / ONNX_SUBDIR / filename
            started = time.perf_counter()
            if not _is_current(folder, FP32_FILE):
                _publish(folder, FP32_FILE, lambda tmp: _export_fp32_in_child(folder, tmp))
            if int8 and not _is_current(folder, INT8_FILE):
                _publish(folder, INT8_FILE, lambda tmp: _quantize_int8(folder / ONNX_SUBDIR / FP32_FILE, tmp))
            _publish_split(folder, inline)
            log.info("exported %s to ONNX (%s) in %.1fs", folder.name, filename, time.perf_counter() - started)
    except OSError as exc:
        raise ModelError(f"cannot write the ONNX export under {folder / ONNX_SUBDIR}: {exc}") from exc
    return folder / ONNX_SUBDIR / filename


def words_path(graph: Path) -> Path:
    """The word table that goes with a split graph."""
    return graph.with_name(words_name(graph.name.removesuffix(SPLIT_SUFFIX) + ".onnx"))


def split_word_lookup(model) -> np.ndarray:  # type: ignore[no-untyped-def]
    """Remove the graph's lookup in its word-embedding table, in place: the lookup's result becomes the input
    `inputs_embeds`, and the table (returned) leaves the graph. Everything after the lookup is unchanged, so the
    outputs are the same bits (checked by tests/integration/test_onnx_embedding.py)."""
    from onnx import TensorProto, helper, numpy_helper

    graph = model.graph
    tables = {t.name: t for t in graph.initializer if len(t.dims) == 2}
    lookups = [n for n in graph.node if n.op_type == "Gather" and n.input[0] in tables
               and "input_ids" in n.input[1:]]
    if len(lookups) != 1:
        raise ModelError(f"expected one word-embedding lookup on input_ids in the ONNX graph, found {len(lookups)}")
    lookup = lookups[0]
    table = numpy_helper.to_array(tables[lookup.input[0]])
    graph.node.remove(lookup)
    graph.initializer.remove(tables[lookup.input[0]])
    for node in graph.node:
        for i, name in enumerate(node.input):
            if name == lookup.output[0]:
                node.input[i] = INPUTS_EMBEDS
    graph.input.append(helper.make_tensor_value_info(INPUTS_EMBEDS, TensorProto.FLOAT,
                                                     ["batch", "tokens", table.shape[1]]))
    return table


def _publish_split(folder: Path, inline: str) -> None:
    """Write `inline` as a split graph with its weights in a `.data` file, and its word table: the data files
    first, then the graph that names them."""
    import onnx

    filename = split_name(inline)
    target = folder / ONNX_SUBDIR
    with tempfile.TemporaryDirectory(prefix=".split-", dir=target) as work:
        model = onnx.load(str(target / inline))
        table = split_word_lookup(model)
        np.save(Path(work) / words_name(inline), np.ascontiguousarray(table, dtype="<f4"))
        del table
        onnx.save_model(model, str(Path(work) / filename), save_as_external_data=True, all_tensors_to_one_file=True,
                        location=filename + ".data", size_threshold=1024)
        del model
        for name in (words_name(inline), filename + ".data", filename):
            (Path(work) / name).chmod(0o644)
            os.replace(Path(work) / name, target / name)
    _write_marker(folder, filename)


class WordTable:
    """Rows of a `.words.npy` table, read with pread when a token needs them: no mapping, so the process holds
    no page of the table (a mapping would keep 64 KB around every token read, 140 MB after 20 questions)."""

    def __init__(self, path: Path) -> None:
        try:
            with open(path, "rb") as handle:
                version = np.lib.format.read_magic(handle)
                read_header = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                               else np.lib.format.read_array_header_2_0)
                shape, fortran_order, dtype = read_header(handle)
                self._offset = handle.tell()
        except (OSError, ValueError) as exc:
            raise ModelError(f"cannot read the word table {path} ({exc}): delete its folder to export it again") \
                from exc
        if fortran_order or dtype != np.dtype("<f4") or len(shape) != 2:
            raise ModelError(f"{path} is not a float32 table: delete its folder to export it again")
        self.rows, self.dimension = int(shape[0]), int(shape[1])
        self._row_bytes = self.dimension * 4
        self._fd = os.open(path, os.O_RDONLY)

    def __del__(self) -> None:
        with contextlib.suppress(AttributeError, OSError):
            os.close(self._fd)

    def lookup(self, ids: np.ndarray) -> np.ndarray:
        """float32 [*ids.shape, dimension]: row `i` of the table for every id `i`."""
        unique, inverse = np.unique(ids, return_inverse=True)
        if len(unique) and (unique[0] < 0 or unique[-1] >= self.rows):
            raise ModelError(f"token id {int(unique[-1])} is outside the word table ({self.rows} rows)")
        found = np.empty((len(unique), self.dimension), dtype=np.float32)
        for slot, token in enumerate(unique.tolist()):
            found[slot] = np.frombuffer(os.pread(self._fd, self._row_bytes, self._offset + token * self._row_bytes),
                                        dtype="<f4")
        return found[inverse.reshape(ids.shape)]


def _publish(folder: Path, filename: str, write: Callable[[Path], object]) -> None:
    """Write through a temp file in the same folder, then rename: readers never see half a model."""
    publish(folder / ONNX_SUBDIR / filename, write, mode=0o644)
    _write_marker(folder, filename)


def make_session(path: Path, threads: int | None = None):  # type: ignore[no-untyped-def]
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads or len(os.sched_getaffinity(0))
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def main(argv: list[str] | None = None) -> int:
    """`python -m rag.embed.onnx_runtime FOLDER TARGET`: the fp32 export alone, as ensure_onnx_model runs it."""
    folder, target = (argv if argv is not None else sys.argv[1:])
    try:
        _export_fp32(Path(folder), Path(target))
    except ModelError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
