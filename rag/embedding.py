"""The multilingual sentence embedder: the offline bundled model by default, any sentence-transformers model by name."""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Iterator, Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np

from .config import BUNDLED_MODEL, RagConfig
from .errors import ModelError

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
        from .model_convert import BUNDLED_BIN_SHA256, ensure_bundled_model

        folder = ensure_bundled_model(config.model_cache_dir / "multilingual-e5-small")
        return str(folder), f"{BUNDLED_MODEL}@{BUNDLED_BIN_SHA256[:12]}"
    return config.model, config.model


class SentenceTransformerEmbedder:
    """Wraps SentenceTransformer with the model's own query/passage prompts (e5: 'query: ', 'passage: ')."""

    def __init__(self, config: RagConfig) -> None:
        started = time.perf_counter()
        try:
            import torch
            from sentence_transformers import SentenceTransformer
        except ImportError as exc:
            raise ModelError(f"sentence-transformers is not installed ({exc}); run `make install`") from exc
        location, self.model_id = resolve_model_path(config)
        try:
            self._model = SentenceTransformer(
                location, device="cpu", local_files_only=not config.allow_download
            )
        except Exception as exc:  # any failure of a third-party loader becomes one actionable error
            hint = (
                "it is not in the local cache and downloads are off (set allow_download = true in rag.toml)"
                if not config.allow_download and not Path(location).exists()
                else "check that the folder is a complete sentence-transformers model"
            )
            raise ModelError(f"cannot load embedding model '{config.model}' from {location}: {hint} ({exc})") from exc
        torch.set_num_threads(max(1, torch.get_num_threads()))
        self.dimension = int(self._model.get_embedding_dimension())
        self.use_bf16 = config.precision == "bf16" or (config.precision == "auto" and cpu_supports_bf16())
        self.batch_size = config.embed_batch_size
        prompts = getattr(self._model, "prompts", {}) or {}
        self._query_prompt = "query" if prompts.get("query") else None
        self._passage_prompt = next((n for n in ("document", "passage") if prompts.get(n)), None)
        log.info(
            "loaded %s (dim %d, %s) in %.1fs",
            self.model_id, self.dimension, "bf16 autocast" if self.use_bf16 else "fp32", time.perf_counter() - started,
        )

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
        with self._precision():
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
