"""Embedding throughput of the bundled model by route (torch, ONNX, int8, bf16), where the time goes, and the limit."""

from __future__ import annotations

import contextlib
import logging
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from rag.config import RagConfig, load_config
from rag.embed.embedder import (
    OnnxEncoder,
    SentenceTransformerEmbedder,
    load_torch_model,
    plan_routes,
    resolve_model_path,
)
from rag.embed.route import BULK_PASSAGES, EmbeddingRoute, bf16_unit, cpu_flags

from .cpu import arithmetic_units, relevant_flags
from .data import QA_FILE, SEEDS, questions, recombined_passages
from .report import Row, command, machine

log = logging.getLogger(__name__)

PASSAGES = 96
BF16_PASSAGES = 16  # bf16 without a native unit runs at a few passages per second
ROUNDS = 5  # a shared 2-core host: the median of five rounds, each route interleaved with the others
# BERT-small shape of multilingual-e5-small
LAYERS, HIDDEN, FFN = 12, 384, 1536


def flops_per_passage(tokens: int) -> float:
    """Multiply-adds of the 12 encoder layers (projections, FFN, attention scores and mixing), x2 for FLOPs."""
    dense = 4 * HIDDEN * HIDDEN + 2 * HIDDEN * FFN
    attention = 2 * tokens * HIDDEN
    return 2.0 * LAYERS * tokens * (dense + attention)


def _latency_ms(run: Callable[[str], Any], texts: list[str]) -> tuple[float, float]:
    run(texts[0])
    times = []
    for text in texts:
        started = time.perf_counter()
        run(text)
        times.append((time.perf_counter() - started) * 1000)
    return float(np.percentile(times, 50)), float(np.percentile(times, 95))


def _torch_breakdown(model, texts: list[str], batch_size: int = 32) -> dict[str, float]:  # type: ignore[no-untyped-def]
    """Seconds in tokenisation, forward pass and pooling, with the batching sentence-transformers uses."""
    import torch

    transformer = model[0].auto_model
    tokenizer = model.tokenizer
    order = np.argsort([-len(t) for t in texts], kind="stable")
    spent = {"tokenise": 0.0, "model": 0.0, "pool": 0.0}
    with torch.inference_mode():
        for start in range(0, len(texts), batch_size):
            batch = ["passage: " + texts[i] for i in order[start:start + batch_size]]
            t0 = time.perf_counter()
            features = tokenizer(batch, padding=True, truncation=True, max_length=512, return_tensors="pt")
            t1 = time.perf_counter()
            hidden = transformer(input_ids=features["input_ids"], attention_mask=features["attention_mask"])[0]
            t2 = time.perf_counter()
            mask = features["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1)
            torch.nn.functional.normalize(pooled, dim=1).numpy()
            t3 = time.perf_counter()
            spent["tokenise"] += t1 - t0
            spent["model"] += t2 - t1
            spent["pool"] += t3 - t2
    return spent


def _onnx_breakdown(encoder: OnnxEncoder, texts: list[str], batch_size: int = 32) -> dict[str, float]:
    order = np.argsort([-len(t) for t in texts], kind="stable")
    spent = {"tokenise": 0.0, "model": 0.0, "pool": 0.0}
    for start in range(0, len(texts), batch_size):
        batch = ["passage: " + texts[i] for i in order[start:start + batch_size]]
        t0 = time.perf_counter()
        ids, mask = encoder.tokenize(batch)
        t1 = time.perf_counter()
        hidden = encoder.forward(ids, mask)
        t2 = time.perf_counter()
        encoder.pool(hidden, mask)
        t3 = time.perf_counter()
        spent["tokenise"] += t1 - t0
        spent["model"] += t2 - t1
        spent["pool"] += t3 - t2
    return spent


def _share(spent: dict[str, float], count: int) -> str:
    total = sum(spent.values())
    return ", ".join(f"{k} {v / count * 1000:.2f} ms ({v / total:.0%})" for k, v in spent.items())


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """transformers prints a load report for the missing (unused) pooler weights; keep the table readable."""
    names = ("transformers", "sentence_transformers", "transformers.modeling_utils")
    levels = [logging.getLogger(n).level for n in names]
    for n in names:
        logging.getLogger(n).setLevel(logging.ERROR)
    try:
        yield
    finally:
        for n, level in zip(names, levels):
            logging.getLogger(n).setLevel(level)


def _route_config(route: EmbeddingRoute) -> dict[str, str]:
    """The explicit settings that pin one route, whatever the host."""
    if route.runtime == "torch":
        return {"embed_backend": "torch", "precision": route.precision}
    return {"embed_backend": "onnx-int8" if route.precision == "int8" else "onnx", "precision": "auto"}


def _eval_recall(index_settings: dict[str, str], query_settings: dict[str, str]) -> dict[str, float]:
    """Hybrid recall@1/@5 per language on eval/qa.jsonl: the index embedded by one route, the questions by another."""
    from eval.items import load_items
    from eval.run import run_eval
    from rag.assistant import Assistant
    from rag.index.build import build_index

    with tempfile.TemporaryDirectory(prefix="rag-bench-eval-") as tmp:
        index_config = load_config(env={}, corpus_dir=SEEDS, index_dir=Path(tmp) / "index", **index_settings)
        build_index(index_config, SentenceTransformerEmbedder(index_config), show_progress=False)
        config = load_config(env={}, corpus_dir=SEEDS, index_dir=Path(tmp) / "index", **query_settings)
        report, _ = run_eval(Assistant(config, SentenceTransformerEmbedder(config)), load_items(QA_FILE), ["hybrid"],
                             progress=False)
    groups = report["modes"]["hybrid"]
    return {f"{lang} {k}": groups[lang][k] for lang in ("fr", "en") for k in ("recall@1", "recall@5")}


def paired_speedup(rates: list[float], baseline: list[float]) -> float:
    """The median over rounds of a route's rate over the baseline's rate in the same round.

    Both ran seconds apart, under about the same load from other processes: their ratio moves far less than
    either rate (on the shared 2-core host the baseline's rounds spanned 7-34 passages/s). A route measured in
    fewer rounds than the baseline is set against the baseline's median.
    """
    if len(rates) != len(baseline):
        return float(np.median(rates) / np.median(baseline))
    return float(np.median([r / b for r, b in zip(rates, baseline, strict=True)]))


def _interleaved_rates(routes: dict[str, tuple[Callable[[], np.ndarray], int]],
                       rounds: int = ROUNDS) -> tuple[dict[str, np.ndarray], dict[str, list[float]]]:
    """Run every route once per round, round after round; each route's passages/s of every round.

    On a shared machine other processes come and go: interleaving exposes every route to the same bursts,
    and the median of the rounds is the figure reported.
    """
    rates: dict[str, list[float]] = {name: [] for name in routes}
    vectors: dict[str, np.ndarray] = {}
    for name, (run, _) in routes.items():
        vectors[name] = run()  # warm-up (first-call allocations, lazy kernels)
    for _ in range(rounds):
        for name, (run, count) in routes.items():
            started = time.perf_counter()
            vectors[name] = run()
            rates[name].append(count / (time.perf_counter() - started))
    return vectors, rates


def _limit_row(unit_precision: str, flops: float, mean_tokens: float, threads: int, mhz: float,
               flags: frozenset[str], best: tuple[str, float], cmd: str) -> Row:
    unit = arithmetic_units(flags)[unit_precision]
    peak = threads * mhz * 1e6 * unit.flop_per_cycle
    name, rate = best
    return Row(
        "embed", f"arithmetic limit ({unit.precision}, {unit.name})",
        f"{flops / 1e9:.2f} GFLOP per passage ({LAYERS} layers, hidden {HIDDEN}, FFN {FFN}, {mean_tokens:.0f} tokens) "
        f"vs peak {peak / 1e9:,.0f} GFLOP/s ({threads} cores x {mhz / 1000:.2f} GHz x {unit.flop_per_cycle} "
        f"FLOP/cycle: "
        f"{unit.how}) = **at most {peak / flops:,.0f} passages/s**; {name} reaches {rate:.1f} "
        f"({rate * flops / peak:.1%} of peak)",
        cmd, {"unit": unit.name, "flop_per_cycle": unit.flop_per_cycle, "flops_per_passage": flops,
              "peak_flops": peak, "bound_passages_per_s": peak / flops})


def run(with_eval: bool = True) -> tuple[list[Row], list[str]]:
    import torch

    cmd = command("embed")
    flags = cpu_flags()
    native_bf16 = bf16_unit(flags)
    config: RagConfig = load_config(env={})
    chosen = plan_routes(config, flags)
    folder, _ = resolve_model_path(config)
    texts = recombined_passages(PASSAGES, seed=7)
    prefixed = ["passage: " + t for t in texts]
    threads = torch.get_num_threads()
    with _quiet():
        model = load_torch_model(config, folder)
        quantized = load_torch_model(config, folder)
    torch.ao.quantization.quantize_dynamic(quantized[0].auto_model, {torch.nn.Linear}, dtype=torch.qint8, inplace=True)
    encoders = {}
    load_s = {}
    for name, int8 in (("onnx", False), ("onnx-int8", True)):
        started = time.perf_counter()
        encoders[name] = OnnxEncoder(Path(folder), int8=int8)
        load_s[name] = time.perf_counter() - started
    token_counts = [len(ids) for ids in model.tokenizer(prefixed)["input_ids"]]
    mean_tokens = float(np.mean(token_counts))
    bf16_count = PASSAGES if native_bf16 else BF16_PASSAGES

    def encode(m, batch: int = 32) -> Callable[[], np.ndarray]:  # type: ignore[no-untyped-def]
        return lambda: m.encode(texts, prompt_name="document", batch_size=batch, normalize_embeddings=True)

    def unsorted() -> np.ndarray:  # one encode() call per batch of 32 in corpus order: no sorting across batches
        return np.vstack([model.encode(texts[i:i + 32], prompt_name="document", normalize_embeddings=True)
                          for i in range(0, len(texts), 32)])

    def bf16() -> np.ndarray:
        with torch.autocast("cpu", dtype=torch.bfloat16):
            return model.encode(texts[:bf16_count], prompt_name="document", batch_size=32, normalize_embeddings=True)

    labels = {
        "baseline": f"torch fp32, batch 32, length-sorted (sentence-transformers default) — **baseline**; "
                    f"{PASSAGES} passages of {mean_tokens:.0f} tokens on average",
        "b8": "torch fp32, batch 8, length-sorted",
        "b16": "torch fp32, batch 16, length-sorted",
        "b64": "torch fp32, batch 64, length-sorted",
        "unsorted": "torch fp32, batch 32, **unsorted** (batches in corpus order)",
        "torch-int8": "torch dynamic int8 (`quantize_dynamic`, Linear layers)",
        "onnx": "ONNX fp32 (onnxruntime, local export, eager attention), batch 32, length-sorted",
        "onnx-int8": "ONNX int8 dynamic (MatMul weights per-channel int8), batch 32, length-sorted",
        "bf16": f"torch bf16 autocast, batch 32, length-sorted ({native_bf16} runs bf16 natively)" if native_bf16 else
                f"torch bf16 autocast (first {BF16_PASSAGES} passages, one round: no AMX or AVX-512 BF16 here, "
                "bf16 is emulated)",
    }
    route_keys = {"onnx": ("onnx", "fp32"), "onnx-int8": ("onnx", "int8"), "bf16": ("torch", "bf16"),
                  "baseline": ("torch", "fp32")}
    for job, route in chosen.items():
        key = next(k for k, v in route_keys.items() if v == (route.runtime, route.precision))
        labels[key] += f"; ← `auto` for {'indexing' if job == 'index' else 'queries'} here"
    routes = {
        "baseline": (encode(model), PASSAGES), "b8": (encode(model, 8), PASSAGES),
        "b16": (encode(model, 16), PASSAGES), "b64": (encode(model, 64), PASSAGES),
        "unsorted": (unsorted, PASSAGES), "torch-int8": (encode(quantized), PASSAGES),
        "onnx": (lambda: encoders["onnx"].encode(texts, "passage", 32), PASSAGES),
        "onnx-int8": (lambda: encoders["onnx-int8"].encode(texts, "passage", 32), PASSAGES),
    }
    if native_bf16:
        routes["bf16"] = (bf16, bf16_count)
    vectors, rates = _interleaved_rates(routes)
    if not native_bf16:
        bf16_vectors, bf16_rates = _interleaved_rates({"bf16": (bf16, bf16_count)}, rounds=1)
        vectors.update(bf16_vectors)
        rates.update(bf16_rates)
    medians = {name: float(np.median(r)) for name, r in rates.items()}
    reference = vectors["baseline"]
    speedups = {name: paired_speedup(r, rates["baseline"]) for name, r in rates.items()}
    rows: list[Row] = [Row(
        "embed", "route `auto` chooses on this host (`embed_backend`, `precision` = auto)",
        f"**{chosen['index'].label} for indexing** ({chosen['index'].reason}); **{chosen['query'].label} for "
        f"queries** ({chosen['query'].reason}); flags seen: {relevant_flags(flags)}",
        "`python -m rag index` (logged at start: `embedding: ... for indexing, ... for queries`)",
        {"index": chosen["index"].label, "query": chosen["query"].label, "flags": sorted(flags)})]
    for name in ("baseline", "b8", "b16", "b64", "unsorted", "torch-int8", "bf16", "onnx", "onnx-int8"):
        cosine = float((vectors[name] * reference[: len(vectors[name])]).sum(1).min())
        rate = medians[name]
        spread = f"median of {len(rates[name])}: " + ", ".join(f"{r:.1f}" for r in sorted(rates[name]))
        extra = {"load_s": load_s[name]} if name in load_s else {}
        rows.append(Row("embed", labels[name], f"**{rate:.1f} passages/s** ({spread}); **{speedups[name]:.2f}x** "
                        f"the baseline (median of the rounds' ratios), cosine to fp32 min {cosine:.5f}", cmd,
                        {"route": name, "passages_per_s": rate, "rounds": rates[name], "speedup": speedups[name],
                         "cosine_min": cosine, **extra}))
    del quantized

    qs = questions()[:30]
    latencies = {
        "torch fp32": _latency_ms(lambda q: model.encode([q], prompt_name="query", normalize_embeddings=True), qs),
        "ONNX fp32": _latency_ms(lambda q: encoders["onnx"].encode([q], "query", 1), qs),
        "ONNX int8": _latency_ms(lambda q: encoders["onnx-int8"].encode([q], "query", 1), qs),
    }
    if native_bf16:
        def bf16_query(q: str) -> np.ndarray:
            with torch.autocast("cpu", dtype=torch.bfloat16):
                return model.encode([q], prompt_name="query", normalize_embeddings=True)

        latencies["torch bf16"] = _latency_ms(bf16_query, qs)
    rows.append(Row("embed", f"one query (p50 / p95 over {len(qs)} questions of eval/qa.jsonl)",
                    "; ".join(f"{k} {a:.1f} / {b:.1f} ms" for k, (a, b) in latencies.items()), cmd,
                    {"query_ms": latencies}))

    torch_spent = _torch_breakdown(model, texts)
    onnx_spent = _onnx_breakdown(encoders["onnx"], texts)
    rows.append(Row("embed", "where the time goes, per passage: torch fp32", _share(torch_spent, PASSAGES), cmd,
                    {"seconds": torch_spent}))
    rows.append(Row("embed", "where the time goes, per passage: ONNX fp32", _share(onnx_spent, PASSAGES), cmd,
                    {"seconds": onnx_spent}))

    mhz = machine().get("mhz", 0.0)
    flops = float(np.mean([flops_per_passage(t) for t in token_counts]))
    fp32_names = ("baseline", "b8", "b16", "b64", "unsorted", "onnx")
    best_fp32 = max(fp32_names, key=lambda n: medians[n])
    rows.append(_limit_row("fp32", flops, mean_tokens, threads, mhz, flags,
                           (f"the best fp32 route ({best_fp32})", medians[best_fp32]), cmd))
    if native_bf16:
        rows.append(_limit_row("bf16", flops, mean_tokens, threads, mhz, flags,
                               ("torch bf16 autocast", medians["bf16"]), cmd))

    if with_eval:
        settings = {"torch fp32": ({"embed_backend": "torch", "precision": "fp32"},) * 2,
                    "onnx": ({"embed_backend": "onnx"},) * 2, "onnx-int8": ({"embed_backend": "onnx-int8"},) * 2}
        if chosen["index"] != chosen["query"]:
            settings["auto (bulk)"] = (_route_config(chosen["index"]), {})
        recalls = {}
        for name, (index_settings, query_settings) in settings.items():
            with _quiet():
                recalls[name] = _eval_recall(index_settings, query_settings)
        base = recalls["torch fp32"]
        for name, figures in recalls.items():
            worst = min(figures[k] - base[k] for k in figures)
            verdict = ("reference" if name == "torch fp32" else "equal" if worst == 0 else
                       f"recall drops at most {-worst:.3f}")
            if name == "auto (bulk)":
                what = (f"eval hybrid recall, index embedded by {chosen['index'].label} (the bulk route `auto` takes "
                        f"from {BULK_PASSAGES} passages on), questions by {chosen['query'].label}")
                how = (f"`RAG_EMBED_BACKEND={_route_config(chosen['index'])['embed_backend']} "
                       f"RAG_PRECISION={chosen['index'].precision} python -m rag index`, then "
                       "`python -m rag eval --modes hybrid --json --no-build`")
            else:
                what = f"eval hybrid recall, index and questions embedded by {name}"
                env = " ".join(f"RAG_{key.upper()}={value}" for key, value in settings[name][0].items())
                how = f"`{env} python -m rag eval --modes hybrid --json`"
            rows.append(Row("embed", what, ", ".join(f"{k} {v:.3f}" for k, v in figures.items()) + f" ({verdict})",
                            how, {"recall": figures}))

    notes = [
        f"torch {torch.__version__} with {threads} threads (`torch.get_num_threads()`); onnxruntime intra-op threads "
        f"= {threads}. Every route encodes the same {PASSAGES} recombined seed passages (mean {mean_tokens:.0f} "
        f"tokens, max {max(token_counts)}); after a warm-up the routes run in turn for {ROUNDS} rounds and each "
        "reports the median of its rounds, so that load from other processes falls on all routes alike; the speed-up "
        "is the median of the per-round ratios to the baseline, which load moves far less than either rate.",
        f"CPU flags seen: {relevant_flags(flags)}; the arithmetic limits use the widest units they name "
        "(bench/cpu.py).",
        "sentence-transformers' own `backend=\"onnx\"` needs optimum-onnx, whose current release pins "
        "transformers < 4.58 (this project pins 5.24): the ONNX route therefore exports the folder with "
        "`torch.onnx.export` and runs it with onnxruntime directly (rag/embed/onnx_runtime.py), same tokenizer.json, "
        "same mean pooling; parity with torch is checked at export.",
    ]
    return rows, notes
