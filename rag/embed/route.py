"""Which runtime and precision embed, per CPU and per job: the fastest route whose vectors match fp32's."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

JOBS = ("index", "query")
# embed_passages() of at least this many texts is bulk indexing. Below it the torch load (about 5 s on an idle
# 2-core host) costs more than bf16 saves: 200 passages at 24/s (ONNX fp32) against 67/s (bf16 on AMX) is 5.3 s.
BULK_PASSAGES = 200


@dataclass(frozen=True)
class EmbeddingRoute:
    """How one job is embedded: the runtime, its precision, and why this host and configuration chose it."""

    runtime: str  # "torch" (sentence-transformers) | "onnx" (onnxruntime over the local export)
    precision: str  # "fp32" | "bf16" (torch autocast) | "int8" (ONNX dynamic quantisation)
    reason: str
    unit: str = ""  # the matrix or vector unit a bf16 route runs on ("AMX", "AVX-512 BF16")

    @property
    def label(self) -> str:
        runtime = "ONNX" if self.runtime == "onnx" else "torch"
        precision = "bf16 autocast" if self.precision == "bf16" else self.precision
        return f"{runtime} {precision}" + (f" ({self.unit})" if self.unit else "")


def cpu_flags(cpuinfo: Path = Path("/proc/cpuinfo")) -> frozenset[str]:
    """The instruction-set flags of the first CPU listed (empty where /proc/cpuinfo does not exist)."""
    try:
        text = cpuinfo.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return frozenset()
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "flags":
            return frozenset(value.split())
    return frozenset()


def bf16_unit(flags: Iterable[str]) -> str:
    """The unit that runs bf16 matrix products natively, or "" when bf16 would be emulated (and slower than fp32)."""
    flags = set(flags)
    if {"amx_bf16", "amx_tile"} <= flags:
        return "AMX"
    if "avx512_bf16" in flags:
        return "AVX-512 BF16"
    return ""


def choose_route(flags: Iterable[str], job: str, embed_backend: str = "auto", precision: str = "auto",
                 onnx_available: bool = True) -> EmbeddingRoute:
    """The route for `job` ("index": bulk passages, "query": one question or a few passages) on a CPU with `flags`.

    `auto` picks, among the routes whose vectors match fp32 (cosine >= 0.9999 on the bench passages), the fastest:
    bf16 autocast for bulk indexing where AMX or AVX-512 BF16 runs it natively (2.8x torch fp32 on an AMX Xeon),
    ONNX fp32 elsewhere and for queries (it starts without torch and answers one query fastest). int8 changes the
    vectors (cosine 0.995), so it is only used when asked for. `onnx_available` is False for a model the ONNX
    export does not cover (any but the bundled one) or when onnxruntime is missing.
    """
    if job not in JOBS:
        raise ValueError(f"job must be one of {JOBS}, got {job!r}")
    unit = bf16_unit(flags)
    if embed_backend in ("onnx", "onnx-int8"):
        quantised = embed_backend == "onnx-int8"
        return EmbeddingRoute("onnx", "int8" if quantised else "fp32", f"embed_backend = \"{embed_backend}\"")
    torch_only = embed_backend == "torch" or not onnx_available
    why_torch = "embed_backend = \"torch\"" if embed_backend == "torch" else "no ONNX export for this model"
    if precision == "bf16":
        return EmbeddingRoute("torch", "bf16", "precision = \"bf16\" (only torch runs bf16)", unit)
    if precision == "auto" and job == "index" and unit:
        return EmbeddingRoute("torch", "bf16", f"{unit} runs bf16 natively: the fastest route for bulk passages "
                                               "whose vectors match fp32", unit)
    if torch_only:
        return EmbeddingRoute("torch", "fp32", why_torch)
    if precision == "fp32":
        return EmbeddingRoute("onnx", "fp32", "precision = \"fp32\": ONNX fp32 is the fastest fp32 route")
    if job == "query":
        return EmbeddingRoute("onnx", "fp32", "queries: ONNX fp32 starts without torch and runs one query fastest")
    return EmbeddingRoute("onnx", "fp32", "no AMX or AVX-512 BF16 (bf16 would be emulated, slower than fp32): "
                                          "ONNX fp32 is the fastest exact route")
