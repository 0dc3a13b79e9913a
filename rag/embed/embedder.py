"""The multilingual sentence embedder: the offline bundled model by default, any sentence-transformers model by name."""

from __future__ import annotations

import contextlib
import importlib.util
import json
import logging
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Protocol

import numpy as np

from rag.config import BUNDLED_MODEL, RagConfig
from rag.embed.route import BULK_PASSAGES, EmbeddingRoute, choose_route, cpu_flags
from rag.embed.turns import QuestionsFirst
from rag.errors import ModelError

log = logging.getLogger(__name__)


def resolve_model_path(config: RagConfig) -> tuple[str, str]:
    """(what to hand to SentenceTransformer, a model id for the manifest)."""
    if config.model == BUNDLED_MODEL:
        from rag.embed.convert import BUNDLED_BIN_SHA256, ensure_bundled_model

        folder = ensure_bundled_model(config.model_cache_dir / "multilingual-e5-small")
        return str(folder), f"{BUNDLED_MODEL}@{BUNDLED_BIN_SHA256[:12]}"
    return config.model, config.model


def onnx_available(config: RagConfig) -> bool:
    """The ONNX export is known to give the torch vectors for the bundled model only (a BERT with mean pooling)."""
    return config.model == BUNDLED_MODEL and importlib.util.find_spec("onnxruntime") is not None


def plan_routes(config: RagConfig, flags: frozenset[str] | None = None,
                with_onnx: bool | None = None) -> dict[str, EmbeddingRoute]:
    """The route of each job ("index", "query") for this configuration on this host."""
    flags = cpu_flags() if flags is None else flags
    with_onnx = onnx_available(config) if with_onnx is None else with_onnx
    return {job: choose_route(flags, job, config.embed_backend, config.precision, with_onnx)
            for job in ("index", "query")}


class _Encoder(Protocol):
    dimension: int
    prompts: dict[str, str]

    def encode(self, texts: Sequence[str], prompt_name: str | None = None, batch_size: int = 32,
               show_progress: bool = False) -> np.ndarray: ...


class SentenceTransformerEmbedder:
    """A sentence-transformers folder with its own query/passage prompts (e5: 'query: ', 'passage: ').

    Each job has its route (rag/embed/route.py): queries and small batches of passages run on the query route,
    loaded at start so that a broken model shows at once; bulk indexing (embed_passages of BULK_PASSAGES texts
    or more) runs on the index route, loaded on its first use, so that a process that only answers questions
    never loads torch when the query route is ONNX. Runtimes: "torch" (sentence-transformers, fp32 or bf16
    autocast), "onnx" (the same weights exported locally and run by onnxruntime: identical vectors) or
    "onnx-int8" (MatMul weights quantised to int8: faster, cosine about 0.993 to fp32, so its vectors get their
    own model id).
    """

    def __init__(self, config: RagConfig, flags: frozenset[str] | None = None) -> None:
        started = time.perf_counter()
        self._config = config
        self._flags = cpu_flags() if flags is None else flags
        self._location, self.model_id = resolve_model_path(config)
        self.batch_size = config.embed_batch_size
        # One forward pass at a time, questions first: torch and onnxruntime already spread a pass over every
        # core, and concurrent passes from the page's worker threads oversubscribe them (measured: a 35 ms query
        # took about a second).
        self._turns = QuestionsFirst()
        self._encoders: dict[str, _Encoder] = {}
        self._torch_model = None  # one SentenceTransformer serves the fp32 and the bf16 route
        self.routes = plan_routes(config, self._flags)
        try:
            query_encoder = self._encoder(self.routes["query"])
        except Exception as exc:  # noqa: BLE001 - under "auto" any failure of the faster route falls back
            if self.routes["query"].runtime == "torch" or config.embed_backend != "auto":
                raise
            log.warning("cannot use the ONNX runtime, embedding with torch instead (same vectors): %s", exc)
            self.routes = plan_routes(config, self._flags, with_onnx=False)
            query_encoder = self._encoder(self.routes["query"])
        self.dimension = query_encoder.dimension
        prompts = query_encoder.prompts
        self._query_prompt = "query" if prompts.get("query") else None
        self._passage_prompt = next((n for n in ("document", "passage") if prompts.get(n)), None)
        if self.routes["query"].precision == "int8":
            self.model_id = f"{self.model_id}+onnx-int8"
        log.info("embedding: %s for indexing, %s for queries (%s; loaded in %.1fs)", self.routes["index"].label,
                 self.routes["query"].label, self.model_id, time.perf_counter() - started)

    @property
    def backend(self) -> str:
        """The runtime that answers queries, as an `embed_backend` value."""
        route = self.routes["query"]
        return "torch" if route.runtime == "torch" else "onnx-int8" if route.precision == "int8" else "onnx"

    def _encoder(self, route: EmbeddingRoute) -> _Encoder:
        key = f"{route.runtime}-{route.precision}"
        if key not in self._encoders:
            if route.runtime == "torch":
                if self._torch_model is None:
                    self._torch_model = load_torch_model(self._config, self._location)
                self._encoders[key] = _TorchEncoder(self._torch_model, bf16=route.precision == "bf16")
            else:
                self._encoders[key] = OnnxEncoder(Path(self._location), int8=route.precision == "int8")
        return self._encoders[key]

    def _bulk_encoder(self) -> _Encoder:
        route = self.routes["index"]
        try:
            return self._encoder(route)
        except Exception as exc:  # noqa: BLE001 - under "auto" the query route can always do the bulk job too
            chosen = self._config.embed_backend == "auto" and self._config.precision == "auto"
            if not chosen or route == self.routes["query"]:
                raise
            log.warning("cannot load the indexing route (%s), embedding with %s instead: %s", route.label,
                        self.routes["query"].label, exc)
            self.routes = {**self.routes, "index": self.routes["query"]}
            return self._encoder(self.routes["query"])

    def _encode(self, texts: Sequence[str], prompt_name: str | None, show_progress: bool, job: str,
                question: bool = False) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        with self._turns.turn(question):
            encoder = self._bulk_encoder() if job == "index" else self._encoder(self.routes["query"])
            vectors = encoder.encode(texts, prompt_name, self.batch_size, show_progress)
        return np.ascontiguousarray(vectors, dtype=np.float32)

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts, self._query_prompt, False, "query", question=True)

    def embed_passages(self, texts: Sequence[str], show_progress: bool = False) -> np.ndarray:
        job = "index" if len(texts) >= BULK_PASSAGES else "query"
        return self._encode(texts, self._passage_prompt, show_progress, job)


def load_torch_model(config: RagConfig, location: str):  # type: ignore[no-untyped-def]
    """The SentenceTransformer at `location` on the CPU (imports torch: about 5 s and 400 MB)."""
    started = time.perf_counter()
    try:
        import torch
        from sentence_transformers import SentenceTransformer
    except ImportError as exc:
        raise ModelError(f"sentence-transformers is not installed ({exc}); run `make install`") from exc
    try:
        model = SentenceTransformer(location, device="cpu", local_files_only=not config.allow_download)
    except Exception as exc:  # any failure of a third-party loader becomes one actionable error
        hint = (
            "it is not in the local cache and downloads are off (set allow_download = true in rag.toml)"
            if not config.allow_download and not Path(location).exists()
            else "check that the folder is a complete sentence-transformers model"
        )
        raise ModelError(f"cannot load embedding model '{config.model}' from {location}: {hint} ({exc})") from exc
    torch.set_num_threads(max(1, torch.get_num_threads()))
    log.info("loaded torch for %s in %.1fs", config.model, time.perf_counter() - started)
    return model


class _TorchEncoder:
    """sentence-transformers' own encode(), in fp32 or under bf16 autocast."""

    def __init__(self, model, bf16: bool = False) -> None:  # type: ignore[no-untyped-def]
        self._model = model
        self._bf16 = bf16
        self.dimension = int(model.get_embedding_dimension())
        self.prompts: dict[str, str] = dict(getattr(model, "prompts", {}) or {})

    @contextlib.contextmanager
    def _precision(self) -> Iterator[None]:
        import torch

        if self._bf16:
            with torch.autocast("cpu", dtype=torch.bfloat16):
                yield
        else:
            yield

    def encode(self, texts: Sequence[str], prompt_name: str | None = None, batch_size: int = 32,
               show_progress: bool = False) -> np.ndarray:
        with self._precision():
            vectors: np.ndarray = self._model.encode(
                list(texts), prompt_name=prompt_name, batch_size=batch_size, normalize_embeddings=True,
                convert_to_numpy=True, show_progress_bar=show_progress,
            )
        return vectors


class OnnxEncoder:
    """The folder's BERT run by onnxruntime: its tokenizer.json (read by rag/embed/tokenizer.py, which needs a
    fifth of the memory of the tokenizers library), mean pooling over real tokens, L2 norm.

    This is what the folder's modules.json (Transformer -> Pooling(mean, include_prompt) -> Normalize) does;
    other pooling modes are refused rather than silently computed wrongly.
    """

    def __init__(self, folder: Path, int8: bool = False, threads: int | None = None) -> None:
        if not folder.is_dir():
            raise ModelError(f"the ONNX backend needs a local model folder; {folder} is not one "
                             "(use embed_backend = \"torch\" for a hub model name)")
        try:
            from rag.embed.onnx_runtime import (
                INPUTS_EMBEDS,
                ONNX_SUBDIR,
                WordTable,
                ensure_onnx_model,
                make_session,
                words_path,
            )
            from rag.embed.tokenizer import UnigramTokenizer
        except ImportError as exc:
            raise ModelError(f"the ONNX backend needs onnxruntime and onnx ({exc}); run `make install`") from exc
        pooling = _read_json(folder / "1_Pooling" / "config.json")
        if not pooling.get("pooling_mode_mean_tokens") or not (folder / "2_Normalize").is_dir():
            raise ModelError(f"{folder} does not use mean pooling + Normalize; use embed_backend = \"torch\"")
        self.dimension = int(pooling["word_embedding_dimension"])
        self.prompts: dict[str, str] = _read_json(folder / "config_sentence_transformers.json").get("prompts", {})
        self._max_length = int(_read_json(folder / "sentence_bert_config.json").get("max_seq_length", 512))
        graph = ensure_onnx_model(folder, int8=int8)
        self._session = make_session(graph, threads)
        self._words = WordTable(words_path(graph))
        self._inputs_embeds = INPUTS_EMBEDS
        self._tokenizer = UnigramTokenizer.from_folder(folder, folder / ONNX_SUBDIR)

    def tokenize(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        return self._tokenizer.encode_batch(texts, self._max_length)

    def forward(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        inputs = {"input_ids": ids, "attention_mask": mask, self._inputs_embeds: self._words.lookup(ids)}
        hidden: np.ndarray = self._session.run(None, inputs)[0]
        return hidden

    @staticmethod
    def pool(hidden: np.ndarray, mask: np.ndarray) -> np.ndarray:
        weights = mask[..., None].astype(np.float32)
        vectors = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1.0)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return (vectors / np.maximum(norms, 1e-12)).astype(np.float32)

    def encode(self, texts: Sequence[str], prompt_name: str | None = None, batch_size: int = 32,
               show_progress: bool = False) -> np.ndarray:
        """Vectors in input order; batches are cut from the texts sorted by length, so padding stays small."""
        if prompt_name:
            texts = [self.prompts.get(prompt_name, "") + t for t in texts]
        order = np.argsort([-len(t) for t in texts], kind="stable")
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        starts = range(0, len(texts), batch_size)
        if show_progress:
            from tqdm import tqdm

            starts = tqdm(starts, desc="embedding", unit="batch")
        for start in starts:
            rows = order[start:start + batch_size]
            ids, mask = self.tokenize([texts[i] for i in rows])
            out[rows] = self.pool(self.forward(ids, mask), mask)
        return out


def _read_json(path: Path) -> dict:  # type: ignore[type-arg]
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ModelError(f"cannot read {path} ({exc}): is the model folder complete?") from exc
    return data if isinstance(data, dict) else {}
