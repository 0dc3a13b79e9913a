"""What the CPU under the bench can compute: the flags it reports, its widest vector and matrix units, their peak."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

# The flags that decide the arithmetic limit and the embedding route, in the order the table lists them.
RELEVANT_FLAGS = ("avx2", "fma", "avx512f", "avx512_vnni", "avx512_bf16", "amx_tile", "amx_bf16", "amx_int8")


@dataclass(frozen=True)
class ArithmeticUnit:
    """The fastest unit of one precision on one core, and how its FLOP per cycle are counted."""

    name: str
    precision: str  # "fp32" | "bf16"
    flop_per_cycle: int
    how: str


def relevant_flags(flags: Iterable[str]) -> str:
    """The flags that matter here, space-separated ("avx2 fma" on a Zen 3, "... amx_bf16 amx_int8" on a Xeon)."""
    present = set(flags)
    return " ".join(f for f in RELEVANT_FLAGS if f in present) or "no AVX2"


def arithmetic_units(flags: Iterable[str]) -> dict[str, ArithmeticUnit]:
    """The fastest fp32 unit, and the bf16 unit where there is one, per core.

    Two FMA ports are assumed for AVX2 and AVX-512, as on Zen 3 and Xeon Gold/Platinum; a part with one 512-bit
    port reaches half the AVX-512 figure. AMX: one TDPBF16PS multiplies a 16x32 by a 32x16 bf16 tile (8,192
    multiply-adds) every 16 cycles.
    """
    present = set(flags)
    if "avx512f" in present:
        fp32 = ArithmeticUnit("AVX-512 FMA", "fp32", 64, "2 FMA ports x 16 fp32 lanes (512-bit) x 2")
    elif {"avx2", "fma"} <= present:
        fp32 = ArithmeticUnit("AVX2 FMA", "fp32", 32, "2 FMA ports x 8 fp32 lanes (256-bit) x 2")
    elif "avx" in present:
        fp32 = ArithmeticUnit("AVX", "fp32", 16, "8 fp32 lanes (256-bit), one add and one multiply")
    else:
        fp32 = ArithmeticUnit("SSE", "fp32", 8, "4 fp32 lanes (128-bit), one add and one multiply")
    units = {"fp32": fp32}
    if {"amx_tile", "amx_bf16"} <= present:
        units["bf16"] = ArithmeticUnit("AMX BF16", "bf16", 1024, "8,192 bf16 multiply-adds per 16 cycles x 2")
    elif "avx512_bf16" in present:
        units["bf16"] = ArithmeticUnit("AVX-512 BF16", "bf16", 128, "2 ports x 32 bf16 pairs (VDPBF16PS) x 2")
    return units
