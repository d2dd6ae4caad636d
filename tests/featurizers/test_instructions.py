"""Tests of costmodel.featurizers.instructions and instruction_forms on real PMEvo forms."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from costmodel import CostModel, plugins
from costmodel.datasets import load
from costmodel.exceptions import InvalidInputError
from costmodel.featurizers.instructions import InstructionsFeaturizer, parse_form

BLEND = (
    "VPBLENDVB_((REG:W:V:256)),_((REG:R:V:256)),_ymmword_ptr_[((MEM:64))_+_((MIMM:16))],"
    "_((REG:R:V:256))"
)


@pytest.fixture(scope="module")
def skl() -> pd.DataFrame:
    return load("pmevo-skl").frame


@pytest.fixture(scope="module")
def a72() -> pd.DataFrame:
    return load("pmevo-a72").frame


def test_parse_x86_memory_form() -> None:
    form = parse_form(BLEND)
    assert form.mnemonic == "VPBLENDVB"
    assert [o.kind for o in form.operands] == ["REG", "REG", "MEM", "REG"]
    assert [o.access for o in form.operands] == ["W", "R", None, "R"]
    mem = form.operands[2]
    assert (mem.width, mem.detail) == (256, "ymmword")
    assert [(p.kind, p.width) for p in mem.parts] == [("MEM", 64), ("MIMM", 16)]
    assert form.memory and form.shape == "REG:W:V:256,REG:R:V:256,MEM:256,REG:R:V:256"
    assert form.tokens()[0] == "VPBLENDVB"
    assert parse_form(BLEND) is form  # cached


def test_parse_x86_lea_and_singleton_forms() -> None:
    lea = parse_form("LEA_((REG:W:G:64)),__[((MEM:64))+2*((DIV:64))+((IMM:8))]")
    assert [o.kind for o in lea.operands] == ["REG", "ADDR"]
    assert not lea.memory
    assert [p.kind for p in lea.operands[1].parts] == ["MEM", "DIV", "IMM"]
    inc = parse_form("INC_((REG:RW:G:64))")
    assert inc.operands[0].access == "RW" and inc.operands[0].reg_class == "G"


def test_parse_aarch64_forms() -> None:
    fmla = parse_form("_fmla_((REG:W:F:VEC)).2d,_((REG:R:F:VEC)).2d,_((REG:R:F:VEC)).d[0]")
    assert fmla.mnemonic == "FMLA"
    assert [(o.width, o.detail) for o in fmla.operands] == [(128, "2d"), (128, "2d"), (64, "d[0]")]
    ldr = parse_form("_ldr_((REG:W:F:128)),_[((MEM:64)),_((MIMM:16))]")
    assert [o.kind for o in ldr.operands] == ["REG", "MEM"] and ldr.memory
    movi = parse_form("_movi_((REG:W:F:VEC)).4s,_0xff,_msl_8")
    assert [o.signature for o in movi.operands] == ["REG:W:F:128", "IMM", "SHIFT:msl"]
    add = parse_form("_add_((REG:W:G:64)),_((REG:R:G:64)),_((REG:R:G:32)),_sxtw_2")
    assert add.operands[3].kind == "EXTEND" and add.operands[3].width == 2
    tbl = parse_form("_tbl_((REG:W:F:VEC)).16b,_{((REG:R:F:VEC)).16b},_((REG:R:F:VEC)).16b")
    assert tbl.operands[1].detail == "{16b}"
    assert parse_form("_fcmp_((REG:R:F:32)),_#0.0").operands[1].kind == "IMM"


def test_every_bundled_form_parses(skl: pd.DataFrame, a72: pd.DataFrame) -> None:
    for frame in (skl, a72, load("pmevo-zen").frame):
        forms = {f for text in frame["instructions"] for f in text.split("\n")}
        parsed = [parse_form(f) for f in forms]
        assert all(p.mnemonic and p.operands for p in parsed)


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("", "non-empty"),
        ("ADD_((REG:RW:G:64)),_((FOO:8))", "unknown operand kind 'FOO'"),
        ("ADD_((REG:RW:G)),_((IMM:8))", r"a register is \(\(REG"),
        ("ADD_((REG:RW:G:64)),_hugeword_ptr_[((MEM:64))]", "unknown memory size"),
        ("_add_((REG:W:G:64)),_banana", "cannot read the operand 'banana'"),
        ("((REG:R:G:64))", "no mnemonic"),
    ],
)
def test_unparseable_forms_are_named(text: str, names: str) -> None:
    with pytest.raises(InvalidInputError, match=names):
        parse_form(text)


def test_registered_and_bad_rows_named() -> None:
    assert plugins.resolve("featurizer", "instructions") is InstructionsFeaturizer
    frame = pd.DataFrame({"instructions": ["INC_((REG:RW:G:64))", "INC_((REG:RW:G:64))"]})
    featurizer = InstructionsFeaturizer().fit(frame)
    with pytest.raises(InvalidInputError, match="not_an_operand") as info:
        featurizer.transform(
            pd.DataFrame({"instructions": ["INC_((REG:RW:G:64))", "X_not_an_operand"]})
        )
    assert info.value.rows == [1] and info.value.field == "instructions"
    with pytest.raises(InvalidInputError, match="empty") as info:
        featurizer.transform({"instructions": " "})
    with pytest.raises(InvalidInputError, match="instructions"):
        featurizer.transform({"text": "INC_((REG:RW:G:64))"})
    with pytest.raises(InvalidInputError, match="output"):
        InstructionsFeaturizer(output="matrix").fit(frame)


def test_unseen_form_gets_part_features(skl: pd.DataFrame) -> None:
    held_out = "ADD_dword_ptr_[((MEM:64))_+_((MIMM:16))],_((IMM:8))"
    train = skl[~skl["instructions"].str.contains(held_out, regex=False)]
    featurizer = InstructionsFeaturizer().fit(train)
    names = list(featurizer.get_feature_names_out())
    assert f"form={held_out}" not in names
    row = featurizer.transform({"instructions": held_out})[0]
    named = dict(zip(names, row, strict=True))
    assert named["n_unseen_forms"] == 1
    assert named["mnemonic=ADD"] == 1
    assert named["mnemonic+mem=ADD|mem"] == 1
    assert named["operand=MEM:32"] == 1 and named["slot=0:MEM:32"] == 1
    assert named["n_memory"] == 1 and named["n_memory_first"] == 1
    assert sum(v for k, v in named.items() if k.startswith("form=")) == 0
    # a different unseen form gets different features
    other = featurizer.transform({"instructions": "ADD_((REG:RW:G:64)),_((IMM:32))"})[0]
    assert not np.array_equal(row, other)


def test_counts_ignore_order_and_text_is_a_multiset(skl: pd.DataFrame) -> None:
    featurizer = InstructionsFeaturizer().fit(skl)
    rows = skl["instructions"].head(20).tolist()
    shuffled = ["\n".join(reversed(r.split("\n"))) for r in rows]
    X = featurizer.transform(pd.DataFrame({"instructions": rows}))
    np.testing.assert_array_equal(X, featurizer.transform(pd.DataFrame({"instructions": shuffled})))
    assert X.dtype == np.float32 and X.shape[1] == len(featurizer.get_feature_names_out())
    names = list(featurizer.get_feature_names_out())
    counts = X[:, [i for i, n in enumerate(names) if n.startswith("form=")]]
    assert (counts.sum(axis=1) == 5).all()
    text = InstructionsFeaturizer(output="text").fit(skl)
    texts = text.transform(pd.DataFrame({"instructions": rows}))
    assert texts.shape == (20, 1)
    assert (
        texts[:, 0].tolist()
        == text.transform(pd.DataFrame({"instructions": shuffled}))[:, 0].tolist()
    )
    assert texts[0, 0].count(" ; ") == 4


def test_records_give_the_frame_features(skl: pd.DataFrame) -> None:
    featurizer = InstructionsFeaturizer().fit(skl)
    head = skl.head(4)
    records = head.to_dict("records")
    np.testing.assert_array_equal(featurizer.transform(records), featurizer.transform(head))
    np.testing.assert_array_equal(
        featurizer.transform({"instructions": head["instructions"].iloc[0]}),
        featurizer.transform(head.head(1)),
    )


def test_aarch64_features(a72: pd.DataFrame) -> None:
    featurizer = InstructionsFeaturizer().fit(a72)
    names = list(featurizer.get_feature_names_out())
    assert "mnemonic=FMLA" in names and "operand=SHIFT:lsl" in names
    X = featurizer.transform(a72.head(50))
    assert np.isfinite(X).all() and (X[:, names.index("n_instructions")] >= 1).all()


def test_state_round_trips(skl: pd.DataFrame) -> None:
    featurizer = InstructionsFeaturizer(min_count=3).fit(skl.head(400))
    state = json.loads(json.dumps(featurizer.get_state()))
    again = InstructionsFeaturizer.from_state(featurizer.get_params(), state)
    np.testing.assert_array_equal(featurizer.transform(skl.tail(30)), again.transform(skl.tail(30)))
    assert list(again.get_feature_names_out()) == list(featurizer.get_feature_names_out())


def test_devices_one_hot_only_when_several(skl: pd.DataFrame) -> None:
    zen = load("pmevo-zen").frame
    single = InstructionsFeaturizer().fit(skl)
    assert single.required_columns() == ["instructions"]
    pooled = InstructionsFeaturizer().fit(pd.concat([skl, zen]))
    assert pooled.required_columns() == ["instructions", "device"]
    names = list(pooled.get_feature_names_out())
    X = pooled.transform(zen.head(3))
    assert (X[:, names.index("device=AMD Zen+")] == 1).all()
    assert (X[:, names.index("device=Intel Skylake")] == 0).all()


def test_reference_predictions_are_never_inputs(skl: pd.DataFrame) -> None:
    """IACA / llvm-mca / Ithemal columns must not reach the features, with or without a card."""
    head = skl.head(300)
    model = CostModel(
        featurizer="instructions",
        regressor="mean",
        targets=["ipc"],
    ).fit(head)  # a DataFrame: no card names the inputs
    assert model.input_columns == ["instructions"]
    featurizer = model.featurizer_
    X = featurizer.transform(head)
    changed = head.assign(iaca_cycles=1e6, llvm_mca_cycles=-1.0, ithemal_cycles=np.nan)
    np.testing.assert_array_equal(X, featurizer.transform(changed, strict=True))
    names = " ".join(featurizer.get_feature_names_out())
    assert "iaca" not in names and "mca" not in names and "ithemal" not in names
    # the other featurizers' default column choice skips them too
    for kind in ("text", "kernel_config"):
        other = plugins.resolve("featurizer", kind)().fit(head.drop(columns=["ipc"]))
        assert not {"iaca_cycles", "llvm_mca_cycles", "ithemal_cycles"} & set(
            other.required_columns()
        )


@pytest.mark.slow
def test_seq2seq_reads_the_token_text(skl: pd.DataFrame, tmp_path) -> None:
    """``CostModel(featurizer="instructions", regressor="seq2seq")`` gets the token text."""
    pytest.importorskip("torch")
    tiny = {
        "d_model": 32,
        "n_heads": 2,
        "n_encoder_layers": 1,
        "n_decoder_layers": 1,
        "d_ff": 64,
        "vocab_size": 256,
        "epochs": 2,
        "n_samples": 4,
        "n_threads": 1,
    }
    model = CostModel(
        featurizer="instructions", regressor="seq2seq", targets=["ipc"], regressor_params=tiny
    ).fit(skl.head(200))
    assert model.featurizer_.output == "text"
    prediction = model.predict(skl.tail(5))
    assert len(prediction) == 5 and np.isfinite(prediction["ipc"].mean).all()
    vector = CostModel(featurizer="instructions", regressor="mean", targets=["ipc"])
    assert vector.fit(skl.head(50)).featurizer_.output == "vector"


@pytest.mark.slow
def test_cli_trains_and_predicts_ipc_and_cycles(skl: pd.DataFrame, tmp_path) -> None:
    """``costmodel train ... --featurizer instructions --regressor xgboost -t ipc`` then
    ``costmodel predict``."""
    from costmodel.cli import main
    from costmodel.dataset import Dataset

    data = load("pmevo-skl")
    small = Dataset(skl.sample(400, random_state=0).reset_index(drop=True), data.card)
    small.to_parquet(tmp_path / "skl.parquet")
    fast = ["-p", "n_estimators=20", "-p", "difficulty_estimators=10", "-p", "n_jobs=1"]
    for target in ("ipc", "iteration_cycles"):
        code = main(
            ["train", str(tmp_path / "skl.parquet"), "-t", target, "--featurizer", "instructions",
             "--regressor", "xgboost", "--out", str(tmp_path / target), *fast]
        )  # fmt: skip
        assert code == 0
    rows = skl.tail(6)[["instructions"]]
    rows.to_csv(tmp_path / "rows.csv", index=False)
    for target in ("ipc", "iteration_cycles"):
        out = tmp_path / f"{target}.csv"
        assert (
            main(["predict", str(tmp_path / target), str(tmp_path / "rows.csv"), "--out", str(out)])
            == 0
        )
        result = pd.read_csv(out)
        assert len(result) == 6
        assert (result[f"{target}_lower"] <= result[f"{target}_mean"]).all()
        assert (result[f"{target}_mean"] <= result[f"{target}_upper"]).all()
    model = CostModel.load(tmp_path / "ipc")
    assert model.metadata_["targets"]["ipc"]["log_scale"] is False
    assert CostModel.load(tmp_path / "iteration_cycles").metadata_["targets"]["iteration_cycles"][
        "log_scale"
    ]
