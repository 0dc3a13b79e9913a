"""The multilingual sentence embedder: the offline bundled model by default, any sentence-transformers model by name."""

from __future__ import annotations

import contextlib
import importlib.util
import json
import logging
import threading
import time
from collections.abc import Iterator, Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np

from rag.config import BUNDLED_MODEL, RagConfig
from rag.errors import ModelError

log = logging.getLogger(__name__)


@lru_cache(maxsize=1)
def cpu_supports_bf16() -> bool:
    """bf16 matmuls are only fast with AMX or AVX-512 BF16; elsewhere autocast would slow things down."""
    try:
        flags = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False
    return "amx_bf16" in flags or "avx512_bf16" in flags


def resolve_model_path(config: RagConfig) -> tuple[str, str]:
    """(what to hand to SentenceTransformer, a model id for the manifest)."""
    if config.model == BUNDLED_MODEL:
        from rag.embed.convert import BUNDLED_BIN_SHA256, ensure_bundled_model

        folder = ensure_bundled_model(config.model_cache_dir / "multilingual-e5-small")
        return str(folder), f"{BUNDLED_MODEL}@{BUNDLED_BIN_SHA256[:12]}"
    return config.model, config.model


def preferred_backend(config: RagConfig) -> str:
    """The runtime `embed_backend = "auto"` means: ONNX for the bundled model, whose export is known to give
    the torch vectors, and torch for any other model, which may not be a BERT with mean pooling. An explicit
    `precision = "bf16"` also means torch: only torch runs bf16."""
    if config.embed_backend != "auto":
        return config.embed_backend
    if config.precision == "bf16":
        return "torch"
    return "onnx" if config.model == BUNDLED_MODEL and importlib.util.find_spec("onnxruntime") else "torch"


class SentenceTransformerEmbedder:
    """A sentence-transformers folder with its own query/passage prompts (e5: 'query: ', 'passage: ').

    `embed_backend` picks the runtime: "torch" (sentence-transformers, fp32 or bf16 autocast), "onnx" (the
    same weights exported locally and run by onnxruntime: identical vectors) or "onnx-int8" (MatMul weights
    quantised to int8: faster, cosine about 0.993 to fp32, so its vectors get their own model id).
    """

    def __init__(self, config: RagConfig) -> None:
        started = time.perf_counter()
        location, self.model_id = resolve_model_path(config)
        self.batch_size = config.embed_batch_size
        # One forward pass at a time: torch already spreads a pass over every core, and concurrent passes
        # from the page's worker threads oversubscribe them (measured: a 35 ms query took about a second).
        self._lock = threading.Lock()
        self.backend = preferred_backend(config)
        self.use_bf16 = False
        if self.backend != "torch":
            try:
                self._onnx = OnnxEncoder(Path(location), int8=self.backend == "onnx-int8")
            except Exception as exc:  # noqa: BLE001 - under "auto" any failure of the faster route falls back
                if config.embed_backend != "auto":
                    raise
                log.warning("cannot use the ONNX runtime, embedding with torch instead (same vectors): %s", exc)
                self.backend = "torch"
        if self.backend == "torch":
            self._model = self._load_torch(config, location)
            self.dimension = int(self._model.get_embedding_dimension())
            self.use_bf16 = config.precision == "bf16" or (config.precision == "auto" and cpu_supports_bf16())
            prompts = getattr(self._model, "prompts", {}) or {}
        else:
            self.dimension = self._onnx.dimension
            prompts = self._onnx.prompts
            if self.backend == "onnx-int8":
                self.model_id = f"{self.model_id}+onnx-int8"
        self._query_prompt = "query" if prompts.get("query") else None
        self._passage_prompt = next((n for n in ("document", "passage") if prompts.get(n)), None)
        log.info(
            "loaded %s (dim %d, %s) in %.1fs", self.model_id, self.dimension,
            "bf16 autocast" if self.use_bf16 else self.backend if self.backend != "torch" else "fp32",
            time.perf_counter() - started,
        )

    @staticmethod
    def _load_torch(config: RagConfig, location: str):  # type: ignore[no-untyped-def]
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
        return model

    @contextlib.contextmanager
    def _precision(self) -> Iterator[None]:
        import torch

        if self.use_bf16:
            with torch.autocast("cpu", dtype=torch.bfloat16):
                yield
        else:
            yield

    def _encode(self, texts: Sequence[str], prompt_name: str | None, show_progress: bool) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        if self.backend != "torch":
            prompt = self._onnx.prompts.get(prompt_name, "") if prompt_name else ""
            with self._lock:  # onnxruntime also spreads one run over every core
                return self._onnx.encode([prompt + t for t in texts], self.batch_size, show_progress)
        with self._lock, self._precision():
            vectors = self._model.encode(
                list(texts),
                prompt_name=prompt_name,
                batch_size=self.batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=show_progress,
            )
        return np.ascontiguousarray(vectors, dtype=np.float32)

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts, self._query_prompt, False)

    def embed_passages(self, texts: Sequence[str], show_progress: bool = False) -> np.ndarray:
        return self._encode(texts, self._passage_prompt, show_progress)


class OnnxEncoder:
    """The folder's BERT run by onnxruntime: its tokenizer.json, mean pooling over real tokens, L2 norm.

    This is what the folder's modules.json (Transformer -> Pooling(mean, include_prompt) -> Normalize) does;
    other pooling modes are refused rather than silently computed wrongly.
    """

    def __init__(self, folder: Path, int8: bool = False, threads: int | None = None) -> None:
        if not folder.is_dir():
            raise ModelError(f"the ONNX backend needs a local model folder; {folder} is not one "
                             "(use embed_backend = \"torch\" for a hub model name)")
        try:
            from tokenizers import Tokenizer

            from rag.embed.onnx_runtime import ensure_onnx_model, make_session
        except ImportError as exc:
            raise ModelError(f"the ONNX backend needs onnxruntime and onnx ({exc}); run `make install`") from exc
        pooling = _read_json(folder / "1_Pooling" / "config.json")
        if not pooling.get("pooling_mode_mean_tokens") or not (folder / "2_Normalize").is_dir():
            raise ModelError(f"{folder} does not use mean pooling + Normalize; use embed_backend = \"torch\"")
        self.dimension = int(pooling["word_embedding_dimension"])
        self.prompts: dict[str, str] = _read_json(folder / "config_sentence_transformers.json").get("prompts", {})
        max_length = int(_read_json(folder / "sentence_bert_config.json").get("max_seq_length", 512))
        self._tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        pad_id = self._tokenizer.token_to_id("<pad>")
        self._tokenizer.enable_padding(pad_id=1 if pad_id is None else pad_id, pad_token="<pad>")
        self._tokenizer.enable_truncation(max_length)
        self._session = make_session(ensure_onnx_model(folder, int8=int8), threads)

    def tokenize(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        encodings = self._tokenizer.encode_batch(list(texts))
        ids = np.array([e.ids for e in encodings], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
        return ids, mask

    def forward(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        hidden: np.ndarray = self._session.run(None, {"input_ids": ids, "attention_mask": mask})[0]
        return hidden

    @staticmethod
    def pool(hidden: np.ndarray, mask: np.ndarray) -> np.ndarray:
        weights = mask[..., None].astype(np.float32)
        vectors = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1.0)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return (vectors / np.maximum(norms, 1e-12)).astype(np.float32)

    def encode(self, texts: Sequence[str], batch_size: int = 32, show_progress: bool = False) -> np.ndarray:
        """Vectors in input order; batches are cut from the texts sorted by length, so padding stays small."""
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
