"""The served page: cold start to first answer, resident memory, and answers per second for 1-16 gradio clients."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from .data import REPO, SEEDS, questions
from .report import Row, command, versus_target

log = logging.getLogger(__name__)

CLIENTS = (1, 4, 16)
COLD_STARTS = 3
PAGE_MIB, PAGE_SECONDS = 500, 4.0  # targets of issue 17: after the first answer, and to it
SECONDS_PER_LEVEL = 15.0
START_TIMEOUT_S = 180.0
ENDPOINT = "/ask"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _memory(pid: int) -> dict[str, int]:
    values = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            values[key] = int(rest.split()[0]) * 1024
    return values


@contextlib.contextmanager
def _server(index_dir: Path, port: int, log_path: Path, env: dict[str, str]) -> Iterator[subprocess.Popen[bytes]]:
    args = [sys.executable, "-m", "rag", "serve", "--port", str(port), "--index-dir", str(index_dir),
            "--corpus-dir", str(SEEDS), "--no-build", "-q"]
    with log_path.open("wb") as out:
        process = subprocess.Popen(args, cwd=REPO, stdout=out, stderr=subprocess.STDOUT, env=env)
        try:
            yield process
        finally:
            if process.poll() is None:
                process.send_signal(signal.SIGINT)
                try:
                    process.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()


def _connect(url: str, process: subprocess.Popen[bytes], deadline: float):  # type: ignore[no-untyped-def]
    from gradio_client import Client

    while time.perf_counter() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited with code {process.returncode} before answering")
        try:
            return Client(url, verbose=False)
        except Exception:  # noqa: BLE001 - not listening yet
            time.sleep(0.1)
    raise TimeoutError(f"no page at {url} after {START_TIMEOUT_S:.0f} s")


def _ask_kwargs(client) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """Defaults of every parameter of /ask but the question, read from the served API."""
    api = client.view_api(print_info=False, return_format="dict")
    parameters = api["named_endpoints"][ENDPOINT]["parameters"]
    return {p["parameter_name"]: p["parameter_default"] for p in parameters[1:] if p.get("parameter_has_default")}


def _details(result: Any) -> dict[str, Any] | None:
    """The answer details among the /ask outputs (the dict with 'answer'), or None when there is no answer."""
    items = result if isinstance(result, (list, tuple)) else [result]
    return next((item for item in items if isinstance(item, dict) and item.get("answer")), None)


def _answered(result: Any) -> bool:
    return _details(result) is not None


def _load(url: str, clients: int, asked: list[str], seconds: float) -> dict[str, Any]:
    from gradio_client import Client

    latencies: list[float] = []
    server_ms: list[float] = []
    failures = [0]
    lock = threading.Lock()
    start_gate = threading.Barrier(clients + 1)

    def worker(offset: int) -> None:
        client = Client(url, verbose=False)
        kwargs = _ask_kwargs(client)
        start_gate.wait()
        i = offset
        while time.perf_counter() < stop_at:
            t0 = time.perf_counter()
            try:
                details = _details(client.predict(asked[i % len(asked)], api_name=ENDPOINT, **kwargs))
            except Exception:  # noqa: BLE001 - a failed request is counted, not fatal
                details = None
            with lock:
                if details is not None:
                    latencies.append((time.perf_counter() - t0) * 1000)
                    server_ms.append(float((details.get("timings_ms") or {}).get("total", "nan")))
                else:
                    failures[0] += 1
            i += clients

    stop_at = float("inf")
    threads = [threading.Thread(target=worker, args=(k,), daemon=True) for k in range(clients)]
    for thread in threads:
        thread.start()
    start_gate.wait()
    started = time.perf_counter()
    stop_at = started + seconds
    for thread in threads:
        thread.join(timeout=seconds + 120)
    elapsed = time.perf_counter() - started
    return {"clients": clients, "answers": len(latencies), "failures": failures[0],
            "answers_per_s": len(latencies) / elapsed,
            "p50_ms": float(np.percentile(latencies, 50)) if latencies else None,
            "p95_ms": float(np.percentile(latencies, 95)) if latencies else None,
            "answer_p50_ms": float(np.nanpercentile(server_ms, 50)) if server_ms else None}


@contextlib.contextmanager
def _first_answer(index_dir: Path, log_path: Path, env: dict[str, str],
                  question: str) -> Iterator[tuple[subprocess.Popen[bytes], str, dict[str, float]]]:
    """Start the page, ask one question over gradio_client; yields the running server, its URL and the figures."""
    port = _free_port()
    url = f"http://127.0.0.1:{port}/"
    started = time.perf_counter()
    with _server(index_dir, port, log_path, env) as process:
        try:
            client = _connect(url, process, started + START_TIMEOUT_S)
            listening = time.perf_counter() - started
            first = client.predict(question, api_name=ENDPOINT, **_ask_kwargs(client))
        except Exception as exc:
            raise RuntimeError(f"{exc}; server log:\n{log_path.read_text(errors='replace')[-3000:]}") from exc
        cold = time.perf_counter() - started
        if not _answered(first):
            raise RuntimeError(f"the first answer came back without an answer: {str(first)[:300]}")
        yield process, url, {"cold_start_s": cold, "listening_s": listening,
                             "rss_mib": _memory(process.pid)["VmRSS"] / 2**20}


def run() -> tuple[list[Row], list[str]]:
    from gradio_client import Client  # noqa: F401 - imported before any clock starts: not part of the page's start

    cmd = command("serve")
    asked = questions()
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "GRADIO_ANALYTICS_ENABLED": "False", "PYTHONUNBUFFERED": "1"}
    env = {k: v for k, v in env.items() if not k.startswith("RAG_")}  # the page runs with the default config
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="rag-bench-serve-") as tmp:
        index_dir = Path(tmp) / "index"
        started = time.perf_counter()
        subprocess.run([sys.executable, "-m", "rag", "index", "--index-dir", str(index_dir), "--corpus-dir",
                        str(SEEDS), "-q"], cwd=REPO, env=env, check=True, capture_output=True)
        index_s = time.perf_counter() - started
        log_path = Path(tmp) / "serve.log"
        starts: list[dict[str, float]] = []
        for _ in range(COLD_STARTS - 1):
            with _first_answer(index_dir, log_path, env, asked[0]) as (_, _, figures):
                starts.append(figures)
        with _first_answer(index_dir, log_path, env, asked[0]) as (process, url, figures):
            starts.append(figures)
            cold = sorted(f["cold_start_s"] for f in starts)
            listening = float(np.median([f["listening_s"] for f in starts]))
            rss = sorted(f["rss_mib"] for f in starts)
            cold_verdict = versus_target(float(np.median(cold)), PAGE_SECONDS, "s")
            rss_verdict = versus_target(float(np.median(rss)), PAGE_MIB, "MiB")
            rows.append(Row("serve", f"cold start: `python -m rag serve` process start to first answer over "
                            f"gradio_client, index already built (median of {COLD_STARTS} starts)",
                            f"**{np.median(cold):.1f} s** (runs: {', '.join(f'{c:.1f}' for c in cold)}; page answering "
                            f"its API after {listening:.1f} s); {cold_verdict}"
                            f"; building the bundled index beforehand: {index_s:.1f} s", cmd,
                            {"cold_start_s": cold, "listening_s": listening, "index_build_s": index_s}))
            levels = [_load(url, clients, asked, SECONDS_PER_LEVEL) for clients in CLIENTS]
            loaded = _memory(process.pid)
            rows.append(Row("serve", f"resident memory of the serving process, bundled corpus (median of "
                            f"{COLD_STARTS} starts)",
                            f"**{np.median(rss):,.0f} MiB** after the first answer (runs: "
                            f"{', '.join(f'{r:.0f}' for r in rss)}); {rss_verdict}"
                            f"; {loaded['VmRSS'] / 2**20:,.0f} MiB after the load runs "
                            f"(peak {loaded['VmHWM'] / 2**20:,.0f} MiB)", cmd,
                            {"rss_first_answer_mib": rss, "rss_loaded": loaded["VmRSS"], "peak": loaded["VmHWM"]}))
            for level in levels:
                rows.append(Row("serve", f"{level['clients']} concurrent gradio_client client(s), "
                                f"{SECONDS_PER_LEVEL:.0f} s", f"**{level['answers_per_s']:.1f} answers/s**, latency "
                                f"p50 {level['p50_ms']:.0f} ms, p95 {level['p95_ms']:.0f} ms "
                                f"({level['answers']} answers, {level['failures']} failed); of which "
                                f"`Assistant.ask` p50 {level['answer_p50_ms']:.0f} ms", cmd, level))
    notes = [
        "The page is ui/app.py as served by `rag serve` with the default config (extractive answers, "
        "`concurrency_limit` 4 questions at a time); each client is a `gradio_client.Client` in its own thread of "
        "the benchmark process, cycling through the questions of eval/qa.jsonl. The clients share the machine's "
        "2 cores with the server, so the figures at 16 clients include the clients' own cost.",
        "A cold start is timed from the server process's start to the first answer received by a gradio_client "
        "(imported beforehand), which also fetches the page's config and API description first; `rag ask`'s "
        "own cold start and memory are in the startup part.",
    ]
    return rows, notes
