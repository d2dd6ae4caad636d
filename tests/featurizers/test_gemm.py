"""GemmFeaturizer: the derived GEMM features, aliases, devices, errors and round trip."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from costmodel.datasets import load as load_dataset
from costmodel.datasets import load_file
from costmodel.exceptions import InvalidInputError
from costmodel.featurizers import GemmFeaturizer, find_device
from costmodel.featurizers.gemm import canonical_dtype


def _features(featurizer: GemmFeaturizer, frame: pd.DataFrame) -> dict[str, np.ndarray]:
    X = featurizer.transform(frame)
    return dict(zip(featurizer.get_feature_names_out(), X.T, strict=True))


def test_flops_bytes_and_intensity():
    frame = pd.DataFrame({"m": [128, 4096], "n": [256, 4096], "k": [64, 4096], "batch": [2, 1]})
    f = _features(GemmFeaturizer().fit(frame), frame)
    flops = 2.0 * frame.m * frame.n * frame.k * frame.batch
    nbytes = 4.0 * frame.batch * (frame.m * frame.k + frame.k * frame.n + frame.m * frame.n)
    np.testing.assert_allclose(f["log2(flops)"], np.log2(flops), rtol=1e-6)
    np.testing.assert_allclose(f["log2(min_bytes)"], np.log2(nbytes), rtol=1e-6)
    np.testing.assert_allclose(f["arithmetic_intensity"], flops / nbytes, rtol=1e-6)
    np.testing.assert_array_equal(f["dtype=float32"], [1, 1])


def test_tiles_divisibility_waves_and_roofline():
    frame = pd.DataFrame(
        {
            "m": [4096, 4000],
            "n": [4096, 4096],
            "k": [4096, 4096],
            "dtype": ["float16", "fp16"],
            "cta_m": [128, 128],
            "cta_n": [128, 128],
            "cta_k": [32, 32],
            "device": ["NVIDIA A100-PCIE-40GB"] * 2,
        }
    )
    featurizer = GemmFeaturizer().fit(frame)
    assert featurizer.fields_["tile_m"] == "cta_m"
    f = _features(featurizer, frame)
    np.testing.assert_array_equal(f["m_divisible_by_tile"], [1, 0])
    tiles = np.array([32 * 32, 32 * 32])  # ceil(4000/128) = 32
    np.testing.assert_allclose(f["log2(tiles)"], np.log2(tiles))
    np.testing.assert_allclose(f["waves"], tiles / 108, rtol=1e-6)
    np.testing.assert_allclose(f["last_wave_efficiency"], tiles / (np.ceil(tiles / 108) * 108))
    assert f["tile_padding_waste"][1] == pytest.approx(32 * 128 / 4000 - 1, rel=1e-5)
    spec = find_device("NVIDIA A100-PCIE-40GB")
    bound_ms = 2 * 4096**3 / (spec.fp16_matrix_tflops * 1e12) * 1e3
    assert 2 ** f["log2(roofline_ms)"][0] == pytest.approx(bound_ms, rel=1e-5)
    assert f["compute_bound"][0] == 1


def test_unknown_device_leaves_roofline_missing():
    frame = pd.DataFrame({"m": [64], "n": [64], "k": [64], "device": ["Mystery Accelerator"]})
    f = _features(GemmFeaturizer().fit(frame), frame)
    assert f["device_known"][0] == 0
    assert np.isnan(f["log2(roofline_ms)"][0])


def test_other_columns_go_through_the_kernel_config_featurizer():
    data = load_dataset("powersensor3-gemm")
    frame = data.frame[[*data.card.inputs, "device"]].head(100)
    featurizer = GemmFeaturizer().fit(frame)
    names = list(featurizer.get_feature_names_out())
    assert "config.nvml_gr_clock" in names and "config.threads_per_block" in names
    assert featurizer.fields_["tile_m"] == "M_PER_BLOCK"
    assert featurizer.transform(frame).shape == (100, len(names))


def test_cutlass_profiler_rows_are_featurized():
    data = load_file("cutlass", "tests/data/cutlass_profiler_gemm.csv")
    frame = data.frame[list(data.card.inputs)]
    featurizer = GemmFeaturizer().fit(frame)
    f = _features(featurizer, frame)
    assert featurizer.fields_["dtype"] == "a_dtype"
    assert set(np.unique(f["a_row_major"])) <= {0.0, 1.0}
    assert np.isfinite(f["log2(flops)"]).all()


def test_column_map_and_constants():
    frame = pd.DataFrame({"rows": [32, 64], "cols": [32, 64], "depth": [16, 16]})
    featurizer = GemmFeaturizer(
        column_map={"m": "rows", "n": "cols", "k": "depth"}, constants={"dtype": "bf16"}
    ).fit(frame)
    f = _features(featurizer, frame)
    np.testing.assert_array_equal(f["dtype=bfloat16"], [1, 1])
    np.testing.assert_array_equal(f["element_bytes"], [2, 2])


def test_missing_dimension_is_named():
    with pytest.raises(InvalidInputError, match=r"\['k'\]"):
        GemmFeaturizer().fit(pd.DataFrame({"m": [1], "n": [2]}))


def test_negative_size_names_column_and_row():
    frame = pd.DataFrame({"m": [64, 64], "n": [64, 64], "k": [64, 64]})
    featurizer = GemmFeaturizer().fit(frame)
    with pytest.raises(InvalidInputError, match="positive") as info:
        featurizer.transform(pd.DataFrame({"m": [64, -8], "n": [64, 64], "k": [64, 64]}))
    assert info.value.field == "m" and info.value.rows == [1]


def test_unknown_dtype_is_named():
    frame = pd.DataFrame({"m": [8], "n": [8], "k": [8], "dtype": ["float32"]})
    featurizer = GemmFeaturizer().fit(frame)
    with pytest.raises(InvalidInputError, match="quarter"):
        featurizer.transform({"m": 8, "n": 8, "k": 8, "dtype": "quarter"})


def test_unknown_mapped_field_is_an_error():
    with pytest.raises(InvalidInputError, match="wombat"):
        GemmFeaturizer(column_map={"wombat": "m"}).fit(pd.DataFrame({"m": [1], "n": [1], "k": [1]}))


@pytest.mark.parametrize(
    ("alias", "expected"),
    [("fp16", "float16"), ("torch.bfloat16", "bfloat16"), (64, "float64"), ("f32", "float32")],
)
def test_dtype_aliases(alias, expected):
    assert canonical_dtype(alias) == expected


def test_state_round_trips_through_json():
    data = load_dataset("kt-gemm-clblast")
    frame = data.frame[[*data.card.inputs, "device"]].sample(200, random_state=0)
    featurizer = GemmFeaturizer().fit(frame)
    state = json.loads(json.dumps(featurizer.get_state()))
    rebuilt = GemmFeaturizer.from_state(json.loads(json.dumps(featurizer.get_params())), state)
    np.testing.assert_array_equal(rebuilt.transform(frame), featurizer.transform(frame))
