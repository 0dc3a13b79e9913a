"""The route per host and job: bf16 autocast indexes where AMX or AVX-512 BF16 runs it, ONNX fp32 answers queries
and indexes elsewhere, int8 only when asked; read from simulated CPU flag sets, no real CPU needed."""

from __future__ import annotations

from pathlib import Path

import pytest

from rag.embed.route import EmbeddingRoute, bf16_unit, choose_route, cpu_flags

BASE = {"fpu", "sse4_2", "avx", "f16c"}
ZEN3 = frozenset(BASE | {"avx2", "fma"})
AVX512_WITHOUT_BF16 = frozenset(ZEN3 | {"avx512f", "avx512bw", "avx512vl", "avx512_vnni"})  # Ice Lake
AVX512_BF16 = frozenset(AVX512_WITHOUT_BF16 | {"avx512_bf16"})  # Cooper Lake, Zen 4
AMX = frozenset(AVX512_BF16 | {"amx_bf16", "amx_tile", "amx_int8"})  # Sapphire Rapids
HOSTS = {"zen3": ZEN3, "avx512": AVX512_WITHOUT_BF16, "avx512_bf16": AVX512_BF16, "amx": AMX}


def test_on_an_amx_host_bulk_indexing_runs_torch_bf16_autocast_on_the_amx_tiles() -> None:
    route = choose_route(AMX, "index")
    assert (route.runtime, route.precision, route.unit) == ("torch", "bf16", "AMX")
    assert route.label == "torch bf16 autocast (AMX)"


def test_on_an_avx512_bf16_host_bulk_indexing_runs_torch_bf16_autocast() -> None:
    route = choose_route(AVX512_BF16, "index")
    assert (route.runtime, route.precision, route.unit) == ("torch", "bf16", "AVX-512 BF16")


@pytest.mark.parametrize("host", ["zen3", "avx512"])
def test_without_bf16_units_indexing_runs_onnx_fp32(host: str) -> None:
    route = choose_route(HOSTS[host], "index")
    assert (route.runtime, route.precision) == ("onnx", "fp32")
    assert "AVX-512 BF16" in route.reason and route.label == "ONNX fp32"


@pytest.mark.parametrize("host", sorted(HOSTS))
def test_queries_run_onnx_fp32_on_every_host(host: str) -> None:
    route = choose_route(HOSTS[host], "query")
    assert (route.runtime, route.precision) == ("onnx", "fp32")


@pytest.mark.parametrize("host", sorted(HOSTS))
@pytest.mark.parametrize("job", ["index", "query"])
def test_int8_is_never_chosen_unless_asked_for(host: str, job: str) -> None:
    assert choose_route(HOSTS[host], job).precision != "int8"
    assert choose_route(HOSTS[host], job, embed_backend="onnx-int8") == EmbeddingRoute(
        "onnx", "int8", "embed_backend = \"onnx-int8\"")


def test_precision_fp32_keeps_bf16_off_on_an_amx_host() -> None:
    assert choose_route(AMX, "index", precision="fp32").label == "ONNX fp32"


def test_an_explicit_onnx_backend_indexes_with_onnx_on_an_amx_host() -> None:
    assert choose_route(AMX, "index", embed_backend="onnx").label == "ONNX fp32"


def test_an_explicit_torch_backend_indexes_in_bf16_on_amx_and_queries_in_fp32() -> None:
    assert choose_route(AMX, "index", embed_backend="torch").label == "torch bf16 autocast (AMX)"
    assert choose_route(AMX, "query", embed_backend="torch").label == "torch fp32"


def test_a_model_without_onnx_export_runs_on_torch_in_fp32_on_an_avx2_host() -> None:
    for job in ("index", "query"):
        route = choose_route(ZEN3, job, onnx_available=False)
        assert (route.runtime, route.precision) == ("torch", "fp32")


def test_an_explicit_bf16_precision_runs_torch_bf16_for_both_jobs_even_without_units() -> None:
    for job in ("index", "query"):
        assert (choose_route(ZEN3, job, precision="bf16").runtime, choose_route(ZEN3, job, precision="bf16").precision) \
            == ("torch", "bf16")


def test_amx_without_its_bf16_instructions_is_not_a_bf16_unit() -> None:
    assert bf16_unit(AVX512_WITHOUT_BF16 | {"amx_tile", "amx_int8"}) == ""


def test_an_unknown_job_is_refused() -> None:
    with pytest.raises(ValueError, match="job"):
        choose_route(AMX, "rerank")


def test_cpu_flags_reads_the_first_flags_line_of_cpuinfo(tmp_path: Path) -> None:
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nmodel name\t: Xeon\nflags\t\t: fpu avx2 amx_bf16\n\nprocessor\t: 1\n"
                       "flags\t\t: fpu\n", encoding="utf-8")
    assert cpu_flags(cpuinfo) == {"fpu", "avx2", "amx_bf16"}


def test_cpu_flags_is_empty_where_there_is_no_cpuinfo(tmp_path: Path) -> None:
    assert cpu_flags(tmp_path / "missing") == frozenset()
