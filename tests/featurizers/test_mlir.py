"""MLIRFeaturizer: real MLIR parsing, FLOP and byte estimates, tiles, loops, errors, state."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("iree.compiler", reason="needs costmodel[iree]")

from costmodel.exceptions import InvalidInputError
from costmodel.featurizers.mlir import MLIRFeaturizer, canonical_mlir, parse_mlir

DATA = Path(__file__).resolve().parents[1] / "data"

#: Two rows of the IREE CPU collection (real MLIR as the collector wrote it).
PINNED_MATMUL = """\
#config = #iree_codegen.compilation_info<lowering_config = #iree_cpu.lowering_config<distribution = [16, 64, 0], vector_common_parallel = [4, 16, 0], vector_reduction = [0, 0, 1]>, translation_info = #iree_codegen.translation_info<pipeline = #iree_cpu.pipeline<DoubleTilingExpert>>>
func.func @matmul(%lhs: tensor<16x16xi8>, %rhs: tensor<16x128xi8>) -> tensor<16x128xi32> {
  %zero = arith.constant 0 : i32
  %init = tensor.empty() : tensor<16x128xi32>
  %acc = linalg.fill ins(%zero : i32) outs(%init : tensor<16x128xi32>) -> tensor<16x128xi32>
  %out = linalg.matmul {compilation_info = #config} ins(%lhs, %rhs : tensor<16x16xi8>, tensor<16x128xi8>) outs(%acc : tensor<16x128xi32>) -> tensor<16x128xi32>
  return %out : tensor<16x128xi32>
}
"""  # noqa: E501
ELEMENTWISE = """\
func.func @elementwise(%lhs: tensor<384x512xi8>, %rhs: tensor<512xi8>) -> tensor<384x512xi8> {
  %init = tensor.empty() : tensor<384x512xi8>
  %out = linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d1)>, affine_map<(d0, d1) -> (d0, d1)>], iterator_types = ["parallel", "parallel"]}
      ins(%lhs, %rhs : tensor<384x512xi8>, tensor<512xi8>) outs(%init : tensor<384x512xi8>) {
  ^bb0(%a: i8, %b: i8, %o: i8):
    %v0 = arith.xori %a, %a : i8
    %v1 = arith.andi %v0, %a : i8
    %v2 = arith.xori %v1, %a : i8
    %v3 = arith.subi %v2, %b : i8
    linalg.yield %v3 : i8
  } -> tensor<384x512xi8>
  return %out : tensor<384x512xi8>
}
"""  # noqa: E501
#: Written for testing loop mechanics (not measured).
GENERATED_LOOPS = """\
func.func @loops(%A: memref<64x32xf32>, %n: index) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c64 = arith.constant 64 : index
  %one = arith.constant 1.0 : f32
  scf.for %i = %c0 to %c64 step %c1 {
    affine.for %j = 0 to 32 step 2 {
      %v = memref.load %A[%i, %j] : memref<64x32xf32>
      %w = arith.addf %v, %one : f32
      memref.store %w, %A[%i, %j] : memref<64x32xf32>
    }
  }
  scf.for %i = %c0 to %n step %c1 {
  }
  return
}
"""


@pytest.fixture
def frame() -> pd.DataFrame:
    excerpt = (DATA / "iree_matmul.mlir").read_text()
    return pd.DataFrame({"mlir": [excerpt, PINNED_MATMUL, ELEMENTWISE, GENERATED_LOOPS]})


def _features(featurizer: MLIRFeaturizer, frame: pd.DataFrame) -> list[dict[str, float]]:
    X = featurizer.transform(frame)
    names = list(featurizer.get_feature_names_out())
    return [dict(zip(names, row.tolist(), strict=True)) for row in X]


def test_matmul_flops_bytes_and_loops(frame):
    featurizer = MLIRFeaturizer().fit(frame)
    excerpt, pinned, elementwise, _ = _features(featurizer, frame)
    # iree_matmul.mlir: 64x32 @ 32x128 in f32 -> 2 * 64 * 128 * 32 FLOPs.
    assert excerpt["log2(flops)"] == pytest.approx(math.log2(2 * 64 * 128 * 32))
    assert excerpt["main.log2(bytes)"] == pytest.approx(
        math.log2(4 * (64 * 32 + 32 * 128 + 64 * 128))
    )
    assert (excerpt["main.rank"], excerpt["main.n_parallel"], excerpt["main.n_reduction"]) == (
        3,
        2,
        1,
    )
    trips = [excerpt[f"main.log2(trip[{d}])"] for d in range(3)]
    assert trips == pytest.approx([6, 7, 5])
    assert excerpt["main.reduction[2]"] == 1 and excerpt["main.reduction[0]"] == 0
    assert excerpt["op=linalg.matmul"] == 1 and excerpt["etype=f32"] == 3
    assert excerpt["has_lowering_config"] == 0
    # i8 inputs accumulate into i32.
    assert pinned["main.in_element_bytes"] == 1 and pinned["main.out_element_bytes"] == 4
    # linalg.generic: 4 arithmetic ops per element of a 384x512 iteration space.
    assert elementwise["log2(flops)"] == pytest.approx(math.log2(4 * 384 * 512))
    assert elementwise["main.named"] == 0 and elementwise["main.n_reduction"] == 0


def test_lowering_config_tiles_and_pipeline(frame):
    featurizer = MLIRFeaturizer().fit(frame)
    assert featurizer.levels_ == ["distribution", "vector_common_parallel", "vector_reduction"]
    pinned = _features(featurizer, frame)[1]
    assert pinned["has_lowering_config"] == 1
    assert [pinned[f"tile.distribution[{d}]"] for d in range(3)] == [16, 64, 0]
    # m=16, n=128 with 16x64 workgroup tiles -> 1 x 2 tiles, no padding.
    assert pinned["tile.distribution.log2(n_tiles)"] == pytest.approx(1.0)
    assert pinned["tile.distribution.padding"] == pytest.approx(0.0)
    assert pinned["pipeline=DoubleTilingExpert"] == 1
    excerpt = _features(featurizer, frame)[0]
    assert math.isnan(excerpt["tile.distribution[0]"])


#: Hand-written (not compiler output): every CPU tiling level IREE may emit, in an unusual
#: order, a scalable size (``[16]``) and a flag list, as another host's IREE could write them.
ALL_LEVELS = (
    "cache_parallel = [64, 64, 0], vector_inner_parallel = [0, 0, 0], "
    "distribution = [16, 64, 0], cache_reduction = [0, 0, 8], vector_reduction = [0, 0, 1], "
    "vector_common_parallel = [4, [16], 0], vector_scalable_flags = [false, true, false]"
)


def test_every_iree_tiling_level_is_read_whatever_its_name_and_order():
    """Regression (issue 14): another host's IREE emits ``cache_parallel`` first."""
    levels = "distribution = [16, 64, 0], vector_common_parallel = [4, 16, 0], vector_reduction"
    assert levels in PINNED_MATMUL
    text = PINNED_MATMUL.replace(f"{levels} = [0, 0, 1]", ALL_LEVELS)
    unusual = pd.DataFrame({"mlir": [text, PINNED_MATMUL]})
    featurizer = MLIRFeaturizer().fit(unusual)
    assert featurizer.levels_ == [
        "cache_parallel",
        "cache_reduction",
        "distribution",
        "vector_common_parallel",
        "vector_inner_parallel",
        "vector_reduction",
    ]
    rows = _features(featurizer, unusual)
    assert [rows[0][f"tile.cache_parallel[{d}]"] for d in range(3)] == [64, 64, 0]
    assert [rows[0][f"tile.cache_reduction[{d}]"] for d in range(3)] == [0, 0, 8]
    assert [rows[0][f"tile.vector_common_parallel[{d}]"] for d in range(3)] == [4, 16, 0]
    # The levels both rows share give the same features, wherever they stood in the config.
    for level in ("distribution", "vector_common_parallel", "vector_reduction"):
        for d in range(3):
            assert rows[0][f"tile.{level}[{d}]"] == rows[1][f"tile.{level}[{d}]"]
    assert math.isnan(rows[1]["tile.cache_parallel[0]"])  # absent level: missing, not zero


def test_scf_and_affine_loop_nests(frame):
    featurizer = MLIRFeaturizer().fit(frame)
    loops = _features(featurizer, frame)[3]
    assert loops["n_loops"] == 3
    assert loops["max_loop_depth"] == 2
    assert loops["n_unknown_trips"] == 1  # the loop to %n
    # 64 x 16 iterations of the nest (the loop with an unknown bound counts 1).
    assert loops["log2(loop_iterations)"] == pytest.approx(math.log2(64 * 16 + 1))
    assert loops["n_structured"] == 0


def test_names_match_columns_and_state_round_trips_through_json(frame):
    featurizer = MLIRFeaturizer().fit(frame)
    X = featurizer.transform(frame)
    names = featurizer.get_feature_names_out()
    assert X.dtype == np.float32 and X.shape == (len(frame), len(names))
    assert len(set(names)) == len(names)
    state = json.loads(json.dumps(featurizer.get_state()))
    copy = MLIRFeaturizer.from_state(featurizer.get_params(), state)
    np.testing.assert_array_equal(copy.transform(frame), X)


def test_unseen_ops_are_counted_as_other(frame):
    featurizer = MLIRFeaturizer().fit(frame.iloc[[0]])
    row = _features(featurizer, frame.iloc[[2]])[0]
    assert "op=arith.xori" not in row
    assert row["op=__other__"] >= 4


def test_malformed_mlir_names_row_line_and_column():
    bad = "func.func @f() {\n  %x = arith.addi %a : i32\n}"
    frame = pd.DataFrame({"mlir": [ELEMENTWISE, bad]})
    with pytest.raises(InvalidInputError) as info:
        MLIRFeaturizer().fit(frame)
    error = info.value
    assert error.rows == [1] and error.field == "mlir" and error.line == 2
    assert "line 2, column 21" in str(error)
    assert "%x = arith.addi %a : i32" in str(error)


@pytest.mark.parametrize("text", ["", "   ", None])
def test_empty_or_missing_mlir_is_an_error(text):
    frame = pd.DataFrame({"mlir": [ELEMENTWISE, text]})
    with pytest.raises(InvalidInputError, match="MLIR") as info:
        MLIRFeaturizer().fit(frame)
    assert info.value.rows == [1]


def test_parse_mlir_reports_unknown_dialects():
    with pytest.raises(InvalidInputError, match=r"line 1, column 1"):
        parse_mlir("foo.bar")


def test_canonical_text_ignores_names_locations_and_aliases(frame):
    renamed = (
        ELEMENTWISE.replace("%lhs", "%x").replace("%v1", "%tmp").replace("%a", "%first")
        + "\n// a comment\n"
    )
    located = ELEMENTWISE.replace(
        "linalg.yield %v3 : i8", 'linalg.yield %v3 : i8 loc("kernel.py":3:1)'
    )
    texts = (
        MLIRFeaturizer(output="text")
        .fit(frame)
        .transform(pd.DataFrame({"mlir": [ELEMENTWISE, renamed, located, PINNED_MATMUL]}))
    )
    assert texts.shape == (4, 1) and texts.dtype == object
    assert texts[0, 0] == texts[1, 0] == texts[2, 0]
    assert "%arg0" in texts[0, 0] and "loc(" not in texts[2, 0]
    # The #config alias is inlined where it is used.
    assert "#config" not in texts[3, 0] and "distribution = [16, 64, 0]" in texts[3, 0]
    assert canonical_mlir(parse_mlir(ELEMENTWISE)) == texts[0, 0]


def test_missing_column_is_named(frame):
    with pytest.raises(InvalidInputError, match="'ir'"):
        MLIRFeaturizer(column="ir").fit(frame)


def test_without_bindings_the_message_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "iree.compiler", None)
    monkeypatch.setitem(sys.modules, "mlir", None)
    with pytest.raises(ImportError, match=r"costmodel\[iree\]"):
        MLIRFeaturizer().fit(pd.DataFrame({"mlir": [ELEMENTWISE]}))
