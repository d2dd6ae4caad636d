"""Training, sampling and saving of a text-to-text regression model (tokenizer + network).

:class:`TextRegressionModel` works on ``k`` targets at once: it reads texts and writes ``k``
numbers in one decoded sequence. Each target is first mapped linearly from its training range
(the 0.5% and 99.5% quantiles) to ``[1.25, 9.75]``, so in-range values share the exponent
``E+0`` and their digits read as a fixed-point number: the first digit is a coarse bucket, each
next digit refines it. Values outside the training range still decode (another exponent, or a
sign), so nothing is clipped to the range. This per-target normalization is what keeps the model
from collapsing to the mean when targets span decades (the failure regress-lm users report).

Saved as ``<stem>.safetensors`` (weights), ``<stem>.tokenizer.json`` and ``<stem>.seq2seq.json``
(configuration, normalization, training history); nothing is pickled.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import time
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from costmodel.exceptions import (
    InvalidInputError,
    ModelFormatError,
    TruncatedInputWarning,
    _format_rows,
)
from costmodel.seq2seq.config import Seq2SeqConfig
from costmodel.seq2seq.decoding import constrained_logits, sample_ids
from costmodel.seq2seq.model import Seq2SeqTransformer
from costmodel.seq2seq.tokenizer import SubwordTokenizer

__all__ = ["TextRegressionModel", "TrainOptions", "text_seeds", "torch_threads"]

_LOW, _HIGH = 1.25, 9.75
#: Sequences decoded in one batch when sampling (inputs x samples).
_SAMPLE_BATCH = 2048


@contextlib.contextmanager
def torch_threads(n_threads: int | None) -> Iterator[None]:
    """Run torch on ``n_threads`` CPU threads inside the block (``None``: leave as is).

    Small models train fastest on one thread, and on shared machines more threads than free cores
    slow every step down.
    """
    if n_threads is None:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(n_threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def text_seeds(texts: Sequence[str], seed: int) -> np.ndarray:
    """One 63-bit sampling seed per text: a hash of ``seed`` and the text (equal texts, equal
    seeds), stable across processes and platforms (BLAKE2b, not Python's salted ``hash``)."""
    key = int(seed).to_bytes(8, "little", signed=True)
    return np.array(
        [
            int.from_bytes(hashlib.blake2b(t.encode(), digest_size=8, key=key).digest(), "big") >> 1
            for t in texts
        ],
        dtype=np.int64,
    )


@dataclass(frozen=True)
class TrainOptions:
    """How to train (not part of the saved model).

    Args:
        epochs: Most passes over the training rows.
        batch_size: Rows per optimizer step.
        learning_rate: Peak AdamW learning rate (after a linear warm-up, then cosine decay).
        weight_decay: AdamW weight decay.
        warmup_fraction: Share of the steps spent warming up.
        patience: Stop after this many epochs without a better validation score.
        early_stopping: The validation score: ``"loss"``, the token cross-entropy; ``"error"``,
            the mean absolute error of greedy predictions in target space (slower per epoch:
            it decodes the validation rows). The cross-entropy can rise while the decoded
            values still improve, so ``"loss"`` may stop while the model still underfits.
        validation_fraction: Rows held aside for early stopping (none below 20 rows).
        shuffle_segments: Where the target does not depend on the order of the parts of a text
            (an instruction sequence's throughput, a set of flags), the string that separates
            those parts (``" ; "``): every epoch then reads each training text with its parts
            in a new random order, so the network learns that the order carries nothing.
            ``None`` (default): texts are read as given. Validation and prediction read the
            texts as given.
        vocab_size: Largest subword vocabulary.
        seed: Seed of initialization, shuffling, dropout and the validation split.
        progress: Show a progress bar.
    """

    epochs: int = 30
    batch_size: int = 32
    learning_rate: float = 1e-3
    weight_decay: float = 0.01
    warmup_fraction: float = 0.05
    patience: int = 5
    early_stopping: str = "loss"
    validation_fraction: float = 0.1
    shuffle_segments: str | None = None
    vocab_size: int = 1024
    seed: int = 0
    progress: bool = False

    def __post_init__(self) -> None:
        if self.shuffle_segments is not None and not (
            isinstance(self.shuffle_segments, str) and self.shuffle_segments.strip()
        ):
            raise InvalidInputError(
                "shuffle_segments must be a separator string with a visible character (such "
                f"as ' ; ') or None, not {self.shuffle_segments!r}",
                field="shuffle_segments",
            )
        if self.early_stopping not in ("loss", "error"):
            raise InvalidInputError(
                f"early_stopping must be 'loss' or 'error', not {self.early_stopping!r}",
                field="early_stopping",
            )


class TextRegressionModel:
    """A trained tokenizer + encoder-decoder + target normalization.

    Build with :meth:`fit` or :meth:`load`.

    Attributes:
        config: The architecture.
        tokenizer: The input subword tokenizer.
        network: The torch module (eval mode).
        low, high: Per-target values mapped to 1.25 and 9.75, shape ``(k,)``.
        history: Per-epoch training and validation loss, best epoch, seconds.
    """

    def __init__(
        self,
        config: Seq2SeqConfig,
        tokenizer: SubwordTokenizer,
        network: Seq2SeqTransformer,
        low: np.ndarray,
        high: np.ndarray,
        history: dict[str, Any],
    ) -> None:
        self.config = config
        self.tokenizer = tokenizer
        self.network = network.eval()
        self.low = np.asarray(low, dtype=np.float64)
        self.high = np.asarray(high, dtype=np.float64)
        self.history = history

    # ---- target normalization -------------------------------------------------------------
    def _to_v(self, Z: np.ndarray) -> np.ndarray:
        span = self.high - self.low
        return _LOW + (Z - self.low) / span * (_HIGH - _LOW)

    def _from_v(self, V: np.ndarray) -> np.ndarray:
        span = self.high - self.low
        return self.low + (V - _LOW) / (_HIGH - _LOW) * span

    # ---- training -------------------------------------------------------------------------
    @classmethod
    def fit(
        cls,
        texts: Sequence[str],
        Z: np.ndarray,
        *,
        architecture: dict[str, Any],
        options: TrainOptions,
    ) -> TextRegressionModel:
        """Train a tokenizer and a network from scratch.

        Args:
            texts: Canonical texts, one per row.
            Z: Targets ``(n, k)`` (already log-transformed where wanted), finite.
            architecture: :class:`Seq2SeqConfig` fields other than ``vocab_size`` and
                ``n_targets``.
            options: Training settings.
        """
        Z = np.asarray(Z, dtype=np.float64)
        Z = Z[:, None] if Z.ndim == 1 else Z
        if len(texts) != len(Z):
            raise InvalidInputError(f"{len(texts)} texts but {len(Z)} targets")
        tokenizer = SubwordTokenizer.train(texts, vocab_size=options.vocab_size)
        config = Seq2SeqConfig(
            vocab_size=tokenizer.vocab_size, n_targets=Z.shape[1], **architecture
        )
        low = np.quantile(Z, 0.005, axis=0)
        high = np.quantile(Z, 0.995, axis=0)
        high = np.where(high - low > 1e-12, high, low + 1.0)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(options.seed)
            network = Seq2SeqTransformer(config)
            model = cls(config, tokenizer, network, low, high, {})
            model._train(texts, Z, options)
        return model

    def _train(self, texts: Sequence[str], Z: np.ndarray, options: TrainOptions) -> None:
        started = time.perf_counter()
        numbers = self.config.numbers()
        src, lengths = self.tokenizer.encode(texts, max_length=self.config.max_length)
        truncated = int((lengths > self.config.max_length).sum())
        tgt = numbers.encode(self._to_v(Z))
        start = np.full((len(tgt), 1), self.network.start_id, dtype=np.int64)
        tgt_in = np.concatenate([start, tgt[:, :-1]], axis=1)
        rng = np.random.default_rng(options.seed)
        n = len(texts)
        order = rng.permutation(n)
        n_val = round(options.validation_fraction * n) if n >= 20 else 0
        val_idx, train_idx = np.sort(order[:n_val]), order[n_val:]
        mask = torch.as_tensor(numbers.allowed_mask(self.config.n_targets))
        src_t, tgt_t, tgt_in_t = (torch.as_tensor(a) for a in (src, tgt, tgt_in))
        segments = (
            [t.split(options.shuffle_segments) for t in texts]
            if options.shuffle_segments is not None
            else None
        )
        steps_per_epoch = max(1, math.ceil(len(train_idx) / options.batch_size))
        total = steps_per_epoch * options.epochs
        warmup = max(1, int(options.warmup_fraction * total))
        optimizer = torch.optim.AdamW(
            self.network.parameters(),
            lr=options.learning_rate,
            weight_decay=options.weight_decay,
            betas=(0.9, 0.98),
        )
        scheduler = torch.optim.lr_scheduler.LambdaLR(
            optimizer,
            lambda step: (
                min(1.0, (step + 1) / warmup)
                * (0.1 + 0.45 * (1 + math.cos(math.pi * min(1.0, step / total))))
            ),
        )

        def loss_of(rows: np.ndarray) -> torch.Tensor:
            index = torch.as_tensor(rows)
            batch_src = src_t[index]
            width = int((batch_src != 0).sum(dim=1).max().clamp(min=1))
            logits = self.network(batch_src[:, :width], tgt_in_t[index])
            logits = constrained_logits(logits, mask)
            return torch.nn.functional.cross_entropy(
                logits.reshape(-1, logits.shape[-1]), tgt_t[index].reshape(-1)
            )

        history: dict[str, Any] = {
            "train_loss": [],
            "val_loss": [],
            "val_error": [],
            "best_epoch": 0,
        }
        best, best_state, stale = math.inf, None, 0
        bar = _progress(options.progress, options.epochs)
        for epoch in range(options.epochs):
            self.network.train()
            if segments is not None and epoch > 0:  # the first epoch reads the texts as given
                shuffled = self._shuffled(segments, options.shuffle_segments, src.shape[1], rng)
                shuffled[val_idx] = 0  # validation reads the texts as given
                shuffled[val_idx, : src.shape[1]] = src[val_idx]
                src_t = torch.as_tensor(shuffled)
            perm = rng.permutation(train_idx)
            losses = []
            for begin in range(0, len(perm), options.batch_size):
                loss = loss_of(perm[begin : begin + options.batch_size])
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                torch.nn.utils.clip_grad_norm_(self.network.parameters(), 1.0)
                optimizer.step()
                scheduler.step()
                losses.append(float(loss.detach()))
            history["train_loss"].append(float(np.mean(losses)))
            self.network.eval()
            if n_val:
                with torch.no_grad():
                    val = [
                        float(loss_of(val_idx[b : b + 256])) * len(val_idx[b : b + 256])
                        for b in range(0, n_val, 256)
                    ]
                history["val_loss"].append(sum(val) / n_val)
                score = history["val_loss"][-1]
                if options.early_stopping == "error":
                    score = self._validation_error(src[val_idx], Z[val_idx])
                    history["val_error"].append(score)
            else:
                score = history["train_loss"][-1]
                history["val_loss"].append(score)
            if score < best - 1e-4:
                best, stale, history["best_epoch"] = score, 0, epoch
                best_state = {k: v.detach().clone() for k, v in self.network.state_dict().items()}
            else:
                stale += 1
            bar(epoch, history["train_loss"][-1], history["val_loss"][-1])
            if stale >= options.patience:
                break
        bar(None, 0.0, 0.0)
        if best_state is not None:
            self.network.load_state_dict(best_state)
        self.network.eval()
        history["epochs_run"] = len(history["train_loss"])
        history["seconds"] = time.perf_counter() - started
        history["truncated_rows"] = truncated
        history["n_parameters"] = self.network.n_parameters()
        self.history = history

    def _shuffled(
        self, segments: list[list[str]], separator: str, width: int, rng: np.random.Generator
    ) -> np.ndarray:
        """Token ids ``(n, width)`` of every text with its segments in a random order."""
        texts = [
            separator.join(parts[i] for i in rng.permutation(len(parts))) for parts in segments
        ]
        ids, _ = self.tokenizer.encode(texts, max_length=self.config.max_length)
        out = np.zeros((len(ids), max(width, ids.shape[1])), dtype=np.int64)
        out[:, : ids.shape[1]] = ids
        return out

    def _validation_error(self, src: np.ndarray, Z: np.ndarray) -> float:
        """Mean absolute error, in the space of ``Z``, of greedy predictions of encoded inputs.

        Early stopping watches this rather than the token cross-entropy, which can rise while
        the decoded values still improve (a model growing over-confident on some digits).
        """
        greedy = self._sample_encoded(src, n_samples=1, temperature=0.0)[:, 0]
        return float(np.mean(np.abs(greedy - Z)))

    # ---- inference ------------------------------------------------------------------------
    def sample(
        self,
        texts: Sequence[str],
        *,
        n_samples: int,
        temperature: float = 1.0,
        seed: int = 0,
    ) -> np.ndarray:
        """Sampled targets ``(n, n_samples, k)`` in the space of ``Z``.

        A text's samples depend only on the text, ``seed`` and the model: not on the other texts
        passed with it or their order (each text seeds its own random stream), so predicting a
        row alone or inside any batch gives the same numbers (up to float rounding). Texts are
        batched by token length to keep padding short.
        """
        src, lengths = self.tokenizer.encode(texts, max_length=self.config.max_length)
        self._warn_truncated(lengths)
        return self._sample_encoded(
            src, n_samples=n_samples, temperature=temperature, seeds=text_seeds(texts, seed)
        )

    def _warn_truncated(self, lengths: np.ndarray) -> None:
        """Warn, naming the rows, when texts are longer than the network reads."""
        limit = self.config.max_length
        rows = np.flatnonzero(lengths > limit)
        if len(rows) == 0:
            return
        warnings.warn(
            f"{len(rows)} of {len(lengths)} texts are longer than max_length={limit} tokens "
            f"(row(s) {_format_rows(rows.tolist())}; the longest has {int(lengths.max())}): "
            f"predicted from their first {limit} tokens only; re-fit with a larger max_length "
            "to read them whole",
            TruncatedInputWarning,
            stacklevel=3,
        )

    def _sample_encoded(
        self,
        src: np.ndarray,
        *,
        n_samples: int,
        temperature: float,
        seeds: np.ndarray | None = None,
    ) -> np.ndarray:
        """:meth:`sample` on token ids ``src`` (one seed per row; default ``sample_ids``')."""
        numbers = self.config.numbers()
        rows = max(1, _SAMPLE_BATCH // n_samples)
        order = np.argsort((src != 0).sum(axis=1), kind="stable")
        out = np.empty((len(src), n_samples, self.config.n_targets))
        self.network.eval()
        for begin in range(0, len(src), rows):
            index = order[begin : begin + rows]
            chunk = torch.as_tensor(src[index])
            width = int((chunk != 0).sum(dim=1).max().clamp(min=1))
            ids = sample_ids(
                self.network,
                chunk[:, :width],
                n_samples=n_samples,
                temperature=temperature,
                seeds=None if seeds is None else seeds[index].tolist(),
            )
            out[index] = numbers.decode(ids)
        return self._from_v(out)

    # ---- persistence ----------------------------------------------------------------------
    def save(self, directory: Path, stem: str) -> list[str]:
        """Write weights, tokenizer and metadata; return the file names."""
        from safetensors.torch import save_file

        weights = f"{stem}.safetensors"
        tokenizer = f"{stem}.tokenizer.json"
        meta = f"{stem}.seq2seq.json"
        state = {k: v.contiguous() for k, v in self.network.state_dict().items()}
        save_file(state, str(directory / weights))
        self.tokenizer.save(directory / tokenizer)
        document = {
            "config": self.config.to_dict(),
            "low": self.low.tolist(),
            "high": self.high.tolist(),
            "history": self.history,
        }
        (directory / meta).write_text(json.dumps(document, indent=2, sort_keys=True))
        return [weights, tokenizer, meta]

    @classmethod
    def load(cls, directory: Path, stem: str) -> TextRegressionModel:
        """Read what :meth:`save` wrote.

        Raises:
            ModelFormatError: Missing files or weights that do not fit the configuration.
        """
        from safetensors.torch import load_file

        try:
            document = json.loads((directory / f"{stem}.seq2seq.json").read_text())
            config = Seq2SeqConfig.from_dict(document["config"])
            tokenizer = SubwordTokenizer.load(directory / f"{stem}.tokenizer.json")
            network = Seq2SeqTransformer(config)
            network.load_state_dict(load_file(str(directory / f"{stem}.safetensors")))
        except (OSError, KeyError, RuntimeError, InvalidInputError) as exc:
            raise ModelFormatError(f"{directory}: cannot load text-to-text model ({exc})") from exc
        return cls(
            config,
            tokenizer,
            network,
            np.asarray(document["low"]),
            np.asarray(document["high"]),
            document.get("history", {}),
        )


def _progress(enabled: bool, epochs: int) -> Any:
    """A callback ``(epoch | None, train_loss, val_loss)`` drawing a rich progress bar."""
    if not enabled:
        return lambda *args: None
    from rich.progress import Progress

    progress = Progress(transient=False)
    progress.start()
    task = progress.add_task("training", total=epochs)

    def update(epoch: int | None, train: float, val: float) -> None:
        if epoch is None:
            progress.stop()
            return
        progress.update(task, completed=epoch + 1, description=f"loss {train:.3f} / val {val:.3f}")

    return update
