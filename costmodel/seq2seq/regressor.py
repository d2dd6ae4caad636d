"""TextToTextRegressor: the text-to-text model behind the CostRegressor API.

It reads text, not feature matrices: give it the canonical strings of
:class:`~costmodel.featurizers.text.TextFeaturizer` or
:class:`~costmodel.featurizers.mlir.MLIRFeaturizer` with ``output="text"`` (an object array of
shape ``(n, 1)``), or a list of strings. ``fit`` trains a subword tokenizer and a small
encoder-decoder from scratch (:mod:`costmodel.seq2seq.trainer`).

Uncertainty: each prediction draws ``n_samples`` numbers by constrained sampling; the point
estimate is their median. The difficulty that split conformal calibration
(:mod:`costmodel.conformal`) scales into intervals of the promised coverage, as for the tree
models, is the samples' median absolute deviation plus its median over the calibration rows.
``benchmarks/seq2seq_intervals.py`` measured the choice (Zeus and Kernel Tuner pnpoly as text, 6
fits each, 32 samples): at the same coverage (0.89 on average) the intervals are 19-30% narrower
than with the samples' 5%-95% spread, which rests on the two or three most extreme of 32 draws at
each end and was no narrower than constant-width intervals. ``predict_samples`` returns the samples
themselves.

Fitting trains one network (``refit=False``) or two (``refit=True``: once without the calibration
rows, then on all rows); ``group_folds`` > 1 trains one per fold, which is slow. ``n_members`` > 1
trains that many networks from seeds ``random_state, random_state + 1, ...`` (``n_jobs`` of them at
once, in separate processes) and pools their samples: the point estimate is the median of all
members' draws and the difficulty their spread, so a prediction costs ``n_members`` samplings.
Member 0 is the network a single-member model trains, saved under the same file names.
"""

from __future__ import annotations

import numbers
import re
import threading
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from sklearn.utils.validation import check_is_fitted

from costmodel.base import CostRegressor
from costmodel.exceptions import InvalidInputError, ModelFormatError

__all__ = ["TextToTextRegressor"]

#: Names the difficulty estimate in saved models: calibration scores of another do not apply.
_DIFFICULTY = "sample MAD + calibration median"

_ARCHITECTURE = (
    "d_model", "n_heads", "n_encoder_layers", "n_decoder_layers", "d_ff", "dropout",
    "max_length", "mantissa_digits", "sum_memory", "shift_positions",
)  # fmt: skip


#: A label part of a text (``device=NAME``), which ``per_segment`` does not count.
_LABEL = re.compile(r"^\s*\w+=")


def _train_member(
    texts: list[str],
    z: np.ndarray,
    architecture: dict[str, Any],
    options: Any,
    n_threads: int | None,
) -> Any:
    """Train one member network (module level, so worker processes can run it)."""
    from costmodel.seq2seq.trainer import TextRegressionModel, torch_threads

    with torch_threads(n_threads):
        return TextRegressionModel.fit(texts, z, architecture=architecture, options=options)


def _member_stem(stem: str, member: int) -> str:
    """File stem of a member network: member 0 keeps the single-network names."""
    return stem if member == 0 else f"{stem}.member{member}"


class _Fitted:
    """Trained :class:`TextRegressionModel` members plus a per-thread cache of the last samples,
    so ``_predict_point`` and ``_difficulty`` on the same rows sample once."""

    def __init__(self, models: list[Any]) -> None:
        self.models = list(models)
        self._local = threading.local()

    def samples(
        self,
        texts: np.ndarray,
        *,
        n_samples: int,
        temperature: float,
        seed: int,
        n_threads: int | None,
        cache: bool = True,
    ) -> np.ndarray:
        """Samples ``(n, n_members * n_samples)`` of the single target, in the model's target
        space: ``n_samples`` per member, member ``k`` drawing with seed ``seed + k``."""
        from costmodel.seq2seq.trainer import torch_threads

        key = (tuple(texts.tolist()), n_samples, temperature, seed)
        cached = getattr(self._local, "entry", None)
        if cache and cached is not None and cached[0] == key:
            return cached[1]
        with torch_threads(n_threads):
            draws = np.concatenate(
                [
                    model.sample(
                        list(texts), n_samples=n_samples, temperature=temperature, seed=seed + k
                    )[..., 0]
                    for k, model in enumerate(self.models)
                ],
                axis=1,
            )
        if cache:
            self._local.entry = (key, draws)
        return draws


class TextToTextRegressor(CostRegressor):
    """A small encoder-decoder transformer that reads text and writes the target as digits.

    Args:
        d_model: Width of the transformer (with the defaults about 1.1M parameters).
        n_heads: Attention heads.
        n_encoder_layers: Encoder layers.
        n_decoder_layers: Decoder layers.
        d_ff: Feed-forward width.
        dropout: Dropout rate.
        max_length: Longest input in tokens (longer texts are truncated; predicting one warns
            with :class:`~costmodel.exceptions.TruncatedInputWarning`, naming its row).
        mantissa_digits: Digits decoded per number.
        sum_memory: Give the decoder the sum of the encoded tokens besides the tokens
            themselves (see :class:`~costmodel.seq2seq.config.Seq2SeqConfig`); for targets that
            add up over the parts of the input, such as a loop's cycles.
        shift_positions: Train each row at a random offset into the learned positions (see
            :class:`~costmodel.seq2seq.config.Seq2SeqConfig`), so inputs longer than any
            training row still meet trained positions.
        vocab_size: Largest subword vocabulary.
        epochs: Most training epochs (early stopping on a validation split).
        batch_size: Rows per step.
        learning_rate: Peak AdamW learning rate.
        weight_decay: AdamW weight decay.
        patience: Epochs without a better validation score before stopping.
        early_stopping: The validation score early stopping watches: ``"loss"`` (token
            cross-entropy) or ``"error"`` (greedy predictions' mean absolute error in target
            space; fits the training rows better, see the trainer's ``TrainOptions``).
        validation_fraction: Share of training rows for early stopping.
        shuffle_segments: The separator of a text's parts when their order carries nothing
            (``" ; "`` between the instructions of the ``instructions`` featurizer's text):
            training then reads the parts in a new random order every epoch. ``None``: off.
        per_segment: Model the target per part of the text (divided by the number of parts
            that ``shuffle_segments`` separates; the prediction is multiplied back), for targets
            that add up over the parts, such as a loop's cycles over its instructions: the
            network then learns a quantity that does not grow with the text's length, so a
            text longer than any training row is not predicted at a trained length's value.
            A ``name=value`` part (the ``device=...`` prefix) is a label, not counted. Needs
            ``shuffle_segments`` and ``log_target``.
        n_samples: Samples drawn per prediction (per member).
        n_members: Networks trained from consecutive seeds whose samples are pooled (an
            ensemble: steadier points, at ``n_members`` times the training and prediction cost).
        n_jobs: Members trained at once, each in its own process (progress bars are shown only
            when members train one after another).
        temperature: Sampling temperature (0: greedy, no spread).
        log_target: Model ``log(y)``.
        calibration_fraction: Share of rows held aside for conformal calibration.
        refit: Retrain on all rows after calibrating (doubles training time).
        normalize: Scale intervals by the sample spread (else constant width).
        group_folds: With ``groups``, grouped cross-conformal over this many folds (0: off).
        random_state: Seed of everything random (training and sampling).
        progress: Show a progress bar while training.
        n_threads: CPU threads torch may use while fitting and predicting (``None``: torch's
            default, all cores; small models are fastest on 1).
    """

    kind: ClassVar[str] = "seq2seq"
    reads_text: ClassVar[bool] = True
    _sigma_offset: ClassVar[float] = 1.0
    _parameter_constraints: ClassVar[dict[str, tuple[Any, ...]]] = {
        "d_model": (numbers.Integral, 8, 2048, None),
        "n_heads": (numbers.Integral, 1, 64, None),
        "n_encoder_layers": (numbers.Integral, 1, 24, None),
        "n_decoder_layers": (numbers.Integral, 1, 24, None),
        "d_ff": (numbers.Integral, 8, 16384, None),
        "dropout": (numbers.Real, 0.0, 0.9, None),
        "max_length": (numbers.Integral, 8, 8192, None),
        "mantissa_digits": (numbers.Integral, 1, 8, None),
        "sum_memory": (bool, None, None, None),
        "shift_positions": (bool, None, None, None),
        "vocab_size": (numbers.Integral, 16, 1 << 17, None),
        "epochs": (numbers.Integral, 1, 10_000, None),
        "batch_size": (numbers.Integral, 1, 1 << 16, None),
        "learning_rate": (numbers.Real, 1e-7, 1.0, None),
        "weight_decay": (numbers.Real, 0.0, 10.0, None),
        "patience": (numbers.Integral, 1, 10_000, None),
        "early_stopping": (str, None, None, ("loss", "error")),
        "validation_fraction": (numbers.Real, 0.0, 0.5, None),
        "shuffle_segments": (str, None, None, None),
        "per_segment": (bool, None, None, None),
        "n_samples": (numbers.Integral, 1, 4096, None),
        "n_members": (numbers.Integral, 1, 64, None),
        "n_jobs": (numbers.Integral, 1, 1024, None),
        "temperature": (numbers.Real, 0.0, 10.0, None),
        "progress": (bool, None, None, None),
        "n_threads": (numbers.Integral, 1, 1024, None),
    }
    _nullable: ClassVar[frozenset[str]] = frozenset({"n_threads", "shuffle_segments"})

    def __init__(
        self,
        *,
        d_model: int = 128,
        n_heads: int = 4,
        n_encoder_layers: int = 2,
        n_decoder_layers: int = 2,
        d_ff: int = 512,
        dropout: float = 0.1,
        max_length: int = 512,
        mantissa_digits: int = 4,
        sum_memory: bool = False,
        shift_positions: bool = False,
        vocab_size: int = 1024,
        epochs: int = 30,
        batch_size: int = 32,
        learning_rate: float = 1e-3,
        weight_decay: float = 0.01,
        patience: int = 5,
        early_stopping: str = "loss",
        validation_fraction: float = 0.1,
        shuffle_segments: str | None = None,
        per_segment: bool = False,
        n_samples: int = 32,
        n_members: int = 1,
        n_jobs: int = 1,
        temperature: float = 1.0,
        log_target: bool = True,
        calibration_fraction: float = 0.2,
        refit: bool = False,
        normalize: bool = True,
        group_folds: int = 0,
        random_state: int = 0,
        progress: bool = False,
        n_threads: int | None = None,
    ) -> None:
        self.d_model = d_model
        self.n_heads = n_heads
        self.n_encoder_layers = n_encoder_layers
        self.n_decoder_layers = n_decoder_layers
        self.d_ff = d_ff
        self.dropout = dropout
        self.max_length = max_length
        self.mantissa_digits = mantissa_digits
        self.sum_memory = sum_memory
        self.shift_positions = shift_positions
        self.vocab_size = vocab_size
        self.epochs = epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.patience = patience
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.shuffle_segments = shuffle_segments
        self.per_segment = per_segment
        self.n_samples = n_samples
        self.n_members = n_members
        self.n_jobs = n_jobs
        self.temperature = temperature
        self.log_target = log_target
        self.calibration_fraction = calibration_fraction
        self.refit = refit
        self.normalize = normalize
        self.group_folds = group_folds
        self.random_state = random_state
        self.progress = progress
        self.n_threads = n_threads

    # ---- input checks (text instead of float matrices) ------------------------------------
    @staticmethod
    def _check_X(X: Any) -> np.ndarray:
        """Texts as an object array of shape ``(n, 1)``."""
        if isinstance(X, str):
            raise InvalidInputError("X must be a sequence of texts, got a single string")
        array = np.asarray(X, dtype=object)
        if array.ndim == 2 and array.shape[1] == 1:
            array = array[:, 0]
        if array.ndim != 1:
            raise InvalidInputError(
                f"the text-to-text regressor reads one text per row (shape (n,) or (n, 1)), got "
                f"shape {array.shape}; use featurizer 'text' or 'mlir' with output='text'"
            )
        not_text = [i for i, t in enumerate(array) if not isinstance(t, str)]
        if not_text:
            raise InvalidInputError(
                f"the text-to-text regressor reads text, got {type(array[not_text[0]]).__name__}"
                "; use featurizer 'text' or 'mlir' with output='text'",
                rows=not_text,
            )
        empty = [i for i, t in enumerate(array) if not t.strip()]
        if empty:
            raise InvalidInputError("empty text (nothing to read)", rows=empty)
        return array[:, None]

    def _check_X_predict(self, X: Any) -> np.ndarray:
        check_is_fitted(self, "model_")
        return self._check_X(X)

    # ---- CostRegressor hooks --------------------------------------------------------------
    def _log_segments(self, X: np.ndarray) -> np.ndarray:
        """``log`` of each text's number of parts with ``per_segment`` (else zeros), ``(n,)``;
        a ``name=value`` label part (the featurizers' ``device=...`` prefix) is not counted."""
        if not self.per_segment:
            return np.zeros(len(X))
        if self.shuffle_segments is None or not self.log_target:
            raise InvalidInputError(
                "per_segment=True needs shuffle_segments (the separator of the parts) and "
                "log_target=True",
                field="per_segment",
            )
        counts = [
            max(sum(not _LABEL.match(part) for part in str(text).split(self.shuffle_segments)), 1)
            for text in X[:, 0]
        ]
        return np.log(np.asarray(counts, dtype=np.float64))

    def _fit_point(self, X: np.ndarray, z: np.ndarray) -> _Fitted:
        from costmodel.seq2seq.trainer import TrainOptions

        z = np.asarray(z, dtype=np.float64) - self._log_segments(X)

        at_once = min(self.n_jobs, self.n_members)

        def options(member: int) -> TrainOptions:
            return TrainOptions(
                epochs=self.epochs,
                batch_size=self.batch_size,
                learning_rate=float(self.learning_rate),
                weight_decay=float(self.weight_decay),
                patience=self.patience,
                early_stopping=self.early_stopping,
                validation_fraction=float(self.validation_fraction),
                shuffle_segments=self.shuffle_segments,
                vocab_size=self.vocab_size,
                seed=self.random_state + member,
                progress=self.progress and at_once == 1,
            )

        architecture = {name: getattr(self, name) for name in _ARCHITECTURE}
        architecture["dropout"] = float(architecture["dropout"])
        texts = list(X[:, 0])
        if at_once == 1:
            models = [
                _train_member(texts, z, architecture, options(k), self.n_threads)
                for k in range(self.n_members)
            ]
        else:
            from joblib import Parallel, delayed

            models = Parallel(n_jobs=at_once, backend="loky")(
                delayed(_train_member)(texts, z, architecture, options(k), self.n_threads or 1)
                for k in range(self.n_members)
            )
        return _Fitted(models)

    def _draws(
        self, model: _Fitted, X: np.ndarray, *, n_samples: int | None = None, cache: bool = True
    ) -> np.ndarray:
        """Samples ``(n, n_members * n_samples)`` in the target's transformed space."""
        draws = model.samples(
            X[:, 0],
            n_samples=n_samples or self.n_samples,
            temperature=float(self.temperature),
            seed=self.random_state,
            n_threads=self.n_threads,
            cache=cache,
        )
        return draws + self._log_segments(X)[:, None]

    def _predict_point(self, model: _Fitted, X: np.ndarray) -> np.ndarray:
        return np.median(self._draws(model, X), axis=1)

    def _fit_difficulty(self, X: np.ndarray, z: np.ndarray, model: _Fitted) -> Any:
        return None

    def _difficulty(self, model: _Fitted, difficulty_model: Any, X: np.ndarray) -> np.ndarray:
        draws = self._draws(model, X)
        return np.median(np.abs(draws - np.median(draws, axis=1, keepdims=True)), axis=1)

    def _save_model(
        self, model: _Fitted, difficulty_model: Any, directory: Path, stem: str
    ) -> list[str]:
        files: list[str] = []
        for k, member in enumerate(model.models):
            files += member.save(directory, _member_stem(stem, k))
        return files

    def save_payload(self, directory: Path, stem: str) -> dict[str, Any]:
        """As :meth:`CostRegressor.save_payload`, naming the difficulty the calibration used."""
        return {**super().save_payload(directory, stem), "difficulty": _DIFFICULTY}

    @classmethod
    def load_payload(
        cls, params: dict[str, Any], state: dict[str, Any], directory: Path, stem: str
    ) -> TextToTextRegressor:
        """As :meth:`CostRegressor.load_payload`; refuses calibration of another difficulty."""
        saved = state.get("difficulty", "sample 5%-95% spread")
        if saved != _DIFFICULTY:
            raise ModelFormatError(
                f"{directory}: text-to-text model {stem!r} was calibrated with difficulty "
                f"{saved!r}, this costmodel uses {_DIFFICULTY!r}; re-fit it"
            )
        return super().load_payload(params, state, directory, stem)

    def _load_model(self, directory: Path, stem: str) -> tuple[Any, Any]:
        from costmodel.seq2seq.trainer import TextRegressionModel

        members = [
            TextRegressionModel.load(directory, _member_stem(stem, k))
            for k in range(self.n_members)
        ]
        return _Fitted(members), None

    # ---- extras ---------------------------------------------------------------------------
    def predict_samples(self, X: Any, *, n_samples: int | None = None) -> np.ndarray:
        """Sampled predictions ``(n, n_members * n_samples)`` in target units (before
        calibration): each member's ``n_samples`` draws, member 0's first."""
        X = self._check_X_predict(X)
        return self._from_z(self._draws(self.model_, X, n_samples=n_samples, cache=False))

    @property
    def training_history(self) -> dict[str, Any]:
        """Per-epoch losses, best epoch, parameter count and seconds of the final network
        (member 0; with several members, ``"members"`` lists every member's history)."""
        check_is_fitted(self, "model_")
        history = dict(self.model_.models[0].history)
        if len(self.model_.models) > 1:
            history["members"] = [dict(m.history) for m in self.model_.models]
        return history
