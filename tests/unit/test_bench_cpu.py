"""The bench's arithmetic limit comes from the CPU it runs on: vector width and matrix units read from its flags."""

from __future__ import annotations

from pathlib import Path

from bench.cpu import arithmetic_units, relevant_flags
from bench.report import Row, format_table

ZEN3 = {"sse4_2", "avx", "avx2", "fma"}
AVX512 = ZEN3 | {"avx512f", "avx512bw", "avx512_vnni"}
AVX512_BF16 = AVX512 | {"avx512_bf16"}
AMX = AVX512_BF16 | {"amx_tile", "amx_bf16", "amx_int8"}


def test_an_avx2_host_is_limited_by_two_256_bit_fma_ports_and_has_no_bf16_unit() -> None:
    units = arithmetic_units(ZEN3)
    assert units["fp32"].flop_per_cycle == 32 and units["fp32"].name == "AVX2 FMA"
    assert "bf16" not in units


def test_an_avx512_host_doubles_the_fp32_width() -> None:
    units = arithmetic_units(AVX512)
    assert units["fp32"].flop_per_cycle == 64 and "512-bit" in units["fp32"].how
    assert "bf16" not in units


def test_avx512_bf16_adds_a_bf16_unit() -> None:
    assert arithmetic_units(AVX512_BF16)["bf16"].flop_per_cycle == 128


def test_amx_tiles_are_the_bf16_unit_where_present() -> None:
    units = arithmetic_units(AMX)
    assert units["bf16"].name == "AMX BF16" and units["bf16"].flop_per_cycle == 1024
    assert units["fp32"].flop_per_cycle == 64


def test_a_host_without_avx_falls_back_to_sse() -> None:
    assert arithmetic_units({"sse2"})["fp32"].flop_per_cycle == 8


def test_the_flags_printed_are_the_ones_that_decide_routes_and_limits() -> None:
    assert relevant_flags(AMX | {"fpu", "sse4_2"}) == "avx2 fma avx512f avx512_vnni avx512_bf16 amx_tile amx_bf16 amx_int8"
    assert relevant_flags({"sse2"}) == "no AVX2"


def test_every_row_of_the_table_names_the_host_flags() -> None:
    table = format_table([Row("embed", "ONNX fp32", "24 passages/s", "`python -m bench --only embed`", host="avx2 fma")])
    assert table.splitlines()[2].endswith("| avx2 fma |")



def test_rows_saved_before_they_carried_a_host_name_the_flags_of_their_part(tmp_path: Path) -> None:
    from bench.report import write_markdown

    part = {"part": "ann", "machine": {"simd": "avx2 fma", "when": "2026-11-29"}, "notes": [],
            "rows": [{"part": "ann", "setting": "flat", "result": "1 ms", "command": "`x`", "data": {}}]}
    text = write_markdown(tmp_path, [part]).read_text(encoding="utf-8")
    assert "| ann | flat | 1 ms | `x` | avx2 fma |" in text
