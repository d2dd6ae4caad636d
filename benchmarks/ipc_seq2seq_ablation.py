"""Settings of the text-to-text model on instruction sequences: one fit, one JSON line.

Fits ``CostModel(featurizer="instructions", regressor="seq2seq")`` on the bundled ``pmevo-skl``
random split of ``benchmarks/ipc.py`` (split seed 0: 1,848 training rows, 462 test rows) with
the regressor parameters given as a JSON object (``random_state`` and ``n_threads`` default to 0
and 2), and prints one JSON line: the parameters, fit seconds, MAPE, Kendall tau, 90% coverage
and mean relative width on the test rows and on 400 of the training rows (those include the
rows held aside for calibration and validation), the epochs run and the best epoch, and the
per-epoch training loss, validation loss and greedy validation error. No refit after
calibrating, so the network scored is the one trained on 80% of the training rows minus the
validation rows. Results: ``benchmarks/results/ipc_seq2seq_ablation.jsonl``; read in
``docs/results/ipc.md``. Example (about 5-15 minutes on one core)::

    python benchmarks/ipc_seq2seq_ablation.py \\
        '{"early_stopping": "error", "epochs": 60, "patience": 10, "n_threads": 1}'
"""

from __future__ import annotations

import json
import sys
import time

from ipc import TARGET, split_rows

from costmodel.dataset import Dataset
from costmodel.datasets import load as load_dataset
from costmodel.metrics import evaluate
from costmodel.model import CostModel

SCORES = ("mape", "kendall", "coverage", "mean_relative_width")


def main() -> None:
    """Fit once with the parameters in ``sys.argv[1]`` and print the JSON line."""
    params = json.loads(sys.argv[1]) if len(sys.argv) > 1 else {}
    data = load_dataset("pmevo-skl")
    frame = data.frame
    train, test = split_rows(frame, "random", 0)
    started = time.time()
    model = CostModel(
        featurizer="instructions",
        regressor="seq2seq",
        targets=[TARGET],
        regressor_params={"random_state": 0, "n_threads": 2, **params},
    )
    model.fit(Dataset(frame[train].reset_index(drop=True), data.card))
    out: dict = {"params": params, "fit_s": round(time.time() - started, 1)}
    for label, mask in (("test", test), ("train", train)):
        rows = frame[mask].reset_index(drop=True)
        if label == "train":
            rows = rows.sample(400, random_state=0).reset_index(drop=True)
        predicted = model.predict(rows, coverage=0.9)[TARGET]
        scores = evaluate(
            rows[TARGET].to_numpy(float), predicted.mean, predicted.lower, predicted.upper
        )
        out[label] = {k: round(float(scores[k]), 4) for k in SCORES}
    history = model.regressors_[TARGET].training_history
    out["epochs"] = [history["epochs_run"], history["best_epoch"]]
    out["val_error"] = [round(v, 4) for v in history["val_error"]]
    out["train_loss"] = [round(v, 3) for v in history["train_loss"]]
    out["val_loss"] = [round(v, 3) for v in history["val_loss"]]
    print(json.dumps(out))


if __name__ == "__main__":
    main()
