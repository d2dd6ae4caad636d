"""ThroughputRegressor: cycles per iteration of a dependency-free loop as its busiest resource.

It reads instruction sequences, not feature matrices: ``X`` is an object array of shape ``(n, 1)``
holding one text per row, the sequence's instruction forms joined by newlines (the
``instructions`` column of the ``pmevo-*`` datasets; featurizer ``instructions`` with
``output="forms"`` passes it through, and ``CostModel(featurizer="instructions",
regressor="structured")`` asks for that), or ``(n, 2)`` with a device label per row in the second
column (pooling several CPUs in one model). A list of texts works too.

The model (:mod:`costmodel.throughput.network`) learns, per instruction form and from the parts of
the form (:mod:`costmodel.throughput.parts`), how many cycles it occupies each of
``n_resources`` resources (ports, port groups, dividers) plus the front end, and predicts

    cycles = max over resources r of  sum over instructions i of usage[i, r]

so it holds by construction for any sequence length and mix, and a form never seen in fitting
still gets a usage from its mnemonic and operands. ``n_members`` networks from different seeds are
averaged in log space; their spread is the difficulty that split conformal calibration
(:mod:`costmodel.conformal`) scales into intervals of the promised coverage. A sequence that mixes
``d`` distinct forms has its difficulty divided by ``d ** mixing_exponent`` (``d`` capped at the
largest mix seen in fitting): the errors of distinct forms partly cancel, so without it singletons
were under-covered and length-5 mixes over-covered.

``predicts="ipc"`` models instructions per cycle instead (the same network; ``ipc = length /
cycles``); left at ``None``, :class:`~costmodel.model.CostModel` sets it from the target's unit
(``ipc`` or ``cycles``; any other target is refused), and a regressor fitted alone predicts
cycles. ``warm_start=True`` fine-tunes a fitted model on new rows (for example a few measurements
of another CPU of the same ISA): forms and part tokens new to it are appended to its
vocabularies, every member starts from its fitted weights and ``prior_strength`` pulls the
weights towards them.

Fitting trains ``n_members`` networks once (``refit=False``) or twice (``refit=True``: without the
calibration rows, then on all rows) by full-batch Adam on one torch thread. All of them train at
once, stacked in one network (:func:`~costmodel.throughput.network.train_networks`), as do the
fold models of a cross-conformal fit (``group_folds``, :meth:`fine_tuned`): each follows the steps
it would take alone, and the stack saves the per-step overhead of many small networks.
"""

from __future__ import annotations

import copy
import json
import numbers
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from sklearn.utils.validation import check_is_fitted

from costmodel.base import CostRegressor
from costmodel.exceptions import InvalidInputError, ModelFormatError, UnseenCategoryWarning
from costmodel.instruction_forms import parse_form
from costmodel.schema import TargetSpec
from costmodel.throughput.parts import (
    SequenceBatch,
    effective_forms,
    encode_rows,
    form_key,
    part_tokens,
    split_forms,
)

__all__ = ["ThroughputRegressor"]

_FORMAT = 1
#: Most (networks x rows) trained in one stack; more fits than that train one stack at a time.
_MAX_STACKED_CELLS = 2_000_000
_SETTINGS = (
    "n_resources", "hidden", "steps", "learning_rate", "weight_decay", "embedding_penalty",
    "form_dropout", "power_start", "power_end", "hard_max_fraction",
)  # fmt: skip


@dataclass
class _Fitted:
    """Vocabularies, settings and the member networks' weights (numpy, so it is cheap to keep)."""

    forms: list[str]
    parts: list[str]
    settings: dict[str, Any]
    members: list[dict[str, np.ndarray]]
    predicts: str
    history: list[dict[str, Any]] = field(default_factory=list)

    def batch(self, X: np.ndarray) -> SequenceBatch:
        return encode_rows(
            list(X[:, 0]),
            _devices(X),
            form_vocabulary={key: i for i, key in enumerate(self.forms)},
            part_vocabulary={token: i for i, token in enumerate(self.parts)},
        )

    def network(self) -> Any:
        """The members as one :class:`~costmodel.throughput.network.StackedResourceNetwork`."""
        import torch

        from costmodel.throughput.network import StackedResourceNetwork

        states = [{k: torch.from_numpy(v) for k, v in state.items()} for state in self.members]
        return StackedResourceNetwork(states).eval()

    def log_cycles(self, X: np.ndarray, n_threads: int | None) -> np.ndarray:
        """Log cycles per row and member, ``(n, n_members)``."""
        import torch

        from costmodel.seq2seq.trainer import torch_threads
        from costmodel.throughput.network import to_tensors

        tensors = to_tensors(self.batch(X))
        with torch_threads(n_threads), torch.no_grad():
            per_member = self.network().log_cycles(tensors).numpy()
        return per_member.T.astype(np.float64)


def _devices(X: np.ndarray) -> list[str | None]:
    if X.shape[1] == 1:
        return [None] * len(X)
    return [str(d) for d in X[:, 1]]


def _warn_unseen_forms(model: _Fitted, X: np.ndarray) -> None:
    """Warn (``UnseenCategoryWarning``, naming the first row) when rows hold instruction forms
    the model never fitted: their usage comes from the parts of the form alone, and a mnemonic
    never seen at all leaves only its operands to go on."""
    known = set(model.forms)
    known_parts = set(model.parts)
    rows: list[int] = []
    forms: dict[str, None] = {}
    mnemonics: dict[str, None] = {}
    for row, (text, device) in enumerate(zip(X[:, 0], _devices(X), strict=True)):
        unseen = [f for f in split_forms(text) if form_key(f, device) not in known]
        if not unseen:
            continue
        rows.append(row)
        for form in unseen:
            forms[form] = None
            mnemonic = parse_form(form).mnemonic
            if f"m={mnemonic}" not in known_parts:  # the mnemonic's part token (parts.py)
                mnemonics[mnemonic] = None
    if not rows:
        return
    message = (
        f"column 'instructions': {len(rows)} of {len(X)} rows (first: row {rows[0]}) hold "
        f"{len(forms)} instruction form(s) never seen in fitting, e.g. {next(iter(forms))!r}; "
        "their resource usage comes from the parts of the form (mnemonic, operands) alone"
    )
    if mnemonics:
        message += (
            f"; mnemonic(s) {list(mnemonics)[:5]} never seen at all: only their operands and"
            " the mnemonics' first and last letters count"
        )
    warnings.warn(message, UnseenCategoryWarning, stacklevel=4)


class ThroughputRegressor(CostRegressor):
    """Learned resource usage per instruction form; cycles are the busiest resource's load.

    Args:
        n_resources: Learned resources (ports, port groups, ...), the front end comes on top.
        hidden: Width of the MLP that maps a form's part tokens to its usage.
        steps: Full-batch Adam steps per network.
        learning_rate: Peak learning rate (one-cycle schedule).
        weight_decay: L2 penalty on the MLP's weights.
        embedding_penalty: L2 penalty on the per-form embeddings (shrinks them towards the MLP).
        form_dropout: Share of form embeddings dropped at each step.
        power_start: Exponent of the smooth max (power mean) at the first step.
        power_end: Exponent reached before the hard-max phase.
        hard_max_fraction: Share of the steps, at the end, trained with the hard max that
            prediction uses.
        n_members: Networks from different seeds, averaged in log space (their spread is the
            interval difficulty).
        mixing_exponent: Intervals of a sequence mixing ``d`` distinct forms (effective number,
            :func:`~costmodel.throughput.parts.effective_forms`) are narrowed by ``d **
            -mixing_exponent``, ``d`` capped at the largest mix seen in fitting: the errors of
            distinct forms partly cancel, which the members' spread does not show (0: off).
        predicts: ``"cycles"`` (cycles per iteration) or ``"ipc"`` (instructions per cycle);
            ``None``: from the target's unit inside a :class:`~costmodel.model.CostModel`,
            else cycles.
        warm_start: Fine-tune the already fitted model on the new rows instead of starting anew.
        prior_strength: With ``warm_start``, L2 pull of the weights towards the fitted ones.
        log_target: Model ``log(y)`` (the network works in log cycles; keep ``True``).
        calibration_fraction: Share of rows held aside for conformal calibration.
        refit: Retrain on all rows after calibrating.
        normalize: Scale intervals by the members' spread (else constant relative width).
        group_folds: With ``groups``, grouped cross-conformal over this many folds (0: off).
        random_state: Seed of everything random.
        n_threads: CPU threads torch may use (``None``: torch's default). One is fastest for
            networks this small and on shared machines.
    """

    kind: ClassVar[str] = "structured"
    reads_text: ClassVar[bool] = True
    #: The ``instructions`` featurizer output this regressor reads (see :class:`CostModel`).
    text_output: ClassVar[str] = "forms"
    _sigma_offset: ClassVar[float] = 1.0
    _parameter_constraints: ClassVar[dict[str, tuple[Any, ...]]] = {
        "n_resources": (numbers.Integral, 1, 256, None),
        "hidden": (numbers.Integral, 1, 4096, None),
        "steps": (numbers.Integral, 1, 1_000_000, None),
        "learning_rate": (numbers.Real, 1e-7, 10.0, None),
        "weight_decay": (numbers.Real, 0.0, 100.0, None),
        "embedding_penalty": (numbers.Real, 0.0, 1e6, None),
        "form_dropout": (numbers.Real, 0.0, 0.95, None),
        "power_start": (numbers.Real, 1.0, 1e4, None),
        "power_end": (numbers.Real, 1.0, 1e4, None),
        "hard_max_fraction": (numbers.Real, 0.0, 1.0, None),
        "n_members": (numbers.Integral, 1, 64, None),
        "mixing_exponent": (numbers.Real, 0.0, 2.0, None),
        "predicts": (str, None, None, ("cycles", "ipc")),
        "warm_start": (bool, None, None, None),
        "prior_strength": (numbers.Real, 0.0, 1e6, None),
        "n_threads": (numbers.Integral, 1, 1024, None),
    }
    _nullable: ClassVar[frozenset[str]] = frozenset({"n_threads", "predicts"})
    #: Target unit -> the ``predicts`` that models it.
    _predicts_for_unit: ClassVar[dict[str, str]] = {"cycles": "cycles", "ipc": "ipc"}

    def __init__(
        self,
        *,
        n_resources: int = 12,
        hidden: int = 64,
        steps: int = 1500,
        learning_rate: float = 0.03,
        weight_decay: float = 1e-5,
        embedding_penalty: float = 0.1,
        form_dropout: float = 0.2,
        power_start: float = 4.0,
        power_end: float = 64.0,
        hard_max_fraction: float = 0.2,
        n_members: int = 5,
        mixing_exponent: float = 0.25,
        predicts: str | None = None,
        warm_start: bool = False,
        prior_strength: float = 0.0,
        log_target: bool = True,
        calibration_fraction: float = 0.2,
        refit: bool = True,
        normalize: bool = True,
        group_folds: int = 0,
        random_state: int = 0,
        n_threads: int | None = 1,
    ) -> None:
        self.n_resources = n_resources
        self.hidden = hidden
        self.steps = steps
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.embedding_penalty = embedding_penalty
        self.form_dropout = form_dropout
        self.power_start = power_start
        self.power_end = power_end
        self.hard_max_fraction = hard_max_fraction
        self.n_members = n_members
        self.mixing_exponent = mixing_exponent
        self.predicts = predicts
        self.warm_start = warm_start
        self.prior_strength = prior_strength
        self.log_target = log_target
        self.calibration_fraction = calibration_fraction
        self.refit = refit
        self.normalize = normalize
        self.group_folds = group_folds
        self.random_state = random_state
        self.n_threads = n_threads

    # ---- input checks (sequence texts instead of float matrices) --------------------------
    @staticmethod
    def _check_X(X: Any, *, allow_empty: bool = False) -> np.ndarray:
        """Sequence texts (and device labels) as an object array ``(n, 1)`` or ``(n, 2)``;
        zero rows only where ``allow_empty`` (prediction)."""
        if isinstance(X, str):
            raise InvalidInputError("X must be a sequence of instruction texts, not one string")
        array = np.asarray(X, dtype=object)
        if array.ndim == 1:
            array = array[:, None]
        if len(array) == 0 and not allow_empty:
            raise InvalidInputError("no rows to fit on (n_samples = 0)", field="instructions")
        if array.ndim != 2 or array.shape[1] not in (1, 2):
            raise InvalidInputError(
                "the structured regressor reads one instruction text per row (shape (n,) or "
                f"(n, 1)), optionally with a device label (n, 2); got shape {array.shape}; use "
                "featurizer 'instructions' with output='forms'",
                field="instructions",
            )
        not_text = [i for i, t in enumerate(array[:, 0]) if not isinstance(t, str)]
        if not_text:
            raise InvalidInputError(
                f"instructions must be text, got {type(array[not_text[0], 0]).__name__}",
                field="instructions",
                rows=not_text,
            )
        empty = [i for i, t in enumerate(array[:, 0]) if not split_forms(t)]
        if empty:
            raise InvalidInputError(
                "instruction sequence holds no forms", field="instructions", rows=empty
            )
        return array

    def _check_X_predict(self, X: Any) -> np.ndarray:
        array = super()._check_X_predict(X)
        _warn_unseen_forms(self.model_, array)
        return array

    # ---- CostRegressor hooks --------------------------------------------------------------
    def adopt_target(self, spec: TargetSpec) -> None:
        """Model ``spec``'s quantity: ``predicts`` follows its unit (``cycles`` or ``ipc``).

        Raises:
            InvalidInputError: A target in another unit (the model's structure, a busiest
                resource, fits only cycles of a loop and its inverse), or a ``predicts`` the user
                set that contradicts the unit.
        """
        wanted = self._predicts_for_unit.get(spec.unit)
        if wanted is None:
            raise InvalidInputError(
                f"the structured regressor models cycles or IPC of instruction sequences; target "
                f"{spec.name!r} is in {spec.unit} (use a target in cycles, such as "
                "iteration_cycles, or ipc)",
                field=spec.name,
            )
        if self.predicts is not None and self.predicts != wanted:
            raise InvalidInputError(
                f"predicts={self.predicts!r} contradicts target {spec.name!r} ({spec.unit}); "
                f"leave predicts unset or use {wanted!r}",
                field=spec.name,
            )
        self.predicts = wanted

    def _predicts(self) -> str:
        return self.predicts or "cycles"

    def _vocabularies(self, X: np.ndarray) -> tuple[list[str], list[str]]:
        previous = getattr(self, "model_", None) if self.warm_start else None
        forms = list(previous.forms) if previous is not None else []
        parts = list(previous.parts) if previous is not None else []
        known_forms, known_parts = set(forms), set(parts)
        for text, device in zip(X[:, 0], _devices(X), strict=True):
            for form in split_forms(text):
                key = form_key(form, device)
                if key not in known_forms:
                    known_forms.add(key)
                    forms.append(key)
                for token in part_tokens(form, device):
                    if token not in known_parts:
                        known_parts.add(token)
                        parts.append(token)
        return forms, parts

    def _fit_point(self, X: np.ndarray, z: np.ndarray) -> _Fitted:
        (fitted,) = self._fit_points(X, z, [np.arange(len(z))])
        return fitted

    def _fit_points(
        self, X: np.ndarray, z: np.ndarray, fit_indices: list[np.ndarray]
    ) -> list[_Fitted]:
        """One model per index set, all their members trained at once in one stack.

        The vocabularies come from all rows; a model's member never trains on rows outside its
        index set, and forms or part tokens only those rows hold stay at zero weight, so each
        model predicts as one fitted on its rows alone would (see
        :func:`~costmodel.throughput.network.train_networks`).
        """
        import torch

        from costmodel.seq2seq.trainer import torch_threads
        from costmodel.throughput.network import TrainSettings, train_networks

        forms, parts = self._vocabularies(X)
        settings = {name: getattr(self, name) for name in _SETTINGS}
        batch = _Fitted(forms, parts, settings, [], self._predicts()).batch(X)
        log_cycles = self._log_cycles_target(z, batch.lengths)
        previous = getattr(self, "model_", None) if self.warm_start else None
        if previous is not None and previous.settings["n_resources"] != self.n_resources:
            raise InvalidInputError(
                f"warm_start: the fitted model has {previous.settings['n_resources']} resources, "
                f"n_resources is {self.n_resources}"
            )
        member_ids = range(self.n_members)
        inits = None
        if previous is not None:
            starts = [
                {
                    k: torch.from_numpy(v)
                    for k, v in previous.members[m % len(previous.members)].items()
                }
                for m in member_ids
            ]
            inits = starts * len(fit_indices)
        masks = np.zeros((len(fit_indices) * self.n_members, len(z)), dtype=bool)
        for k, idx in enumerate(fit_indices):
            masks[k * self.n_members : (k + 1) * self.n_members, idx] = True
        seeds = [self.random_state + m for m in member_ids] * len(fit_indices)
        # Stack as many fits as keep (networks x rows) under _MAX_STACKED_CELLS (memory).
        per_chunk = self.n_members * max(1, _MAX_STACKED_CELLS // (self.n_members * len(z)))
        train_settings = TrainSettings(**{k: _plain(v) for k, v in settings.items()})
        states, histories = [], []
        with torch_threads(self.n_threads):
            for start in range(0, len(seeds), per_chunk):
                chunk = slice(start, start + per_chunk)
                chunk_states, chunk_histories = train_networks(
                    batch,
                    log_cycles,
                    n_forms=len(forms),
                    settings=train_settings,
                    seeds=seeds[chunk],
                    inits=inits[chunk] if inits is not None else None,
                    prior_strength=float(self.prior_strength),
                    row_masks=masks[chunk],
                )
                states += chunk_states
                histories += chunk_histories
        out = []
        for k in range(len(fit_indices)):
            block = slice(k * self.n_members, (k + 1) * self.n_members)
            members = [{n: v.numpy().copy() for n, v in state.items()} for state in states[block]]
            out.append(_Fitted(forms, parts, settings, members, self._predicts(), histories[block]))
        return out

    def _log_cycles_target(self, z: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        log_y = z if self.log_target else np.log(np.clip(z, 1e-12, None))
        if self._predicts() == "ipc":
            return np.log(lengths) - log_y
        return log_y

    def _member_z(self, model: _Fitted, X: np.ndarray) -> np.ndarray:
        log_cycles = model.log_cycles(X, self.n_threads)
        if model.predicts == "ipc":
            lengths = np.array([len(split_forms(t)) for t in X[:, 0]], dtype=np.float64)
            log_cycles = np.log(lengths)[:, None] - log_cycles
        return log_cycles if self.log_target else np.exp(log_cycles)

    def _predict_point(self, model: _Fitted, X: np.ndarray) -> np.ndarray:
        return self._member_z(model, X).mean(axis=1)

    def _fit_difficulty(self, X: np.ndarray, z: np.ndarray, model: _Fitted) -> dict[str, float]:
        """The mixing exponent and the largest mix of the fitting rows (the cap: a longer mix
        than any seen is never narrowed further)."""
        return {
            "mixing_exponent": float(self.mixing_exponent),
            "max_mixing": float(effective_forms(list(X[:, 0])).max()),
        }

    def _difficulty(self, model: _Fitted, difficulty_model: Any, X: np.ndarray) -> np.ndarray:
        return self._member_z(model, X).std(axis=1)

    def _difficulty_scale(self, difficulty_model: Any, X: np.ndarray) -> np.ndarray | None:
        """``d ** -mixing_exponent`` with ``d`` the row's effective number of distinct forms,
        capped at the fitting rows' largest; ``None`` for models saved without it."""
        if not difficulty_model or not difficulty_model["mixing_exponent"]:
            return None
        mixing = np.minimum(effective_forms(list(X[:, 0])), difficulty_model["max_mixing"])
        return mixing ** -float(difficulty_model["mixing_exponent"])

    # ---- persistence ----------------------------------------------------------------------
    def _save_model(
        self, model: _Fitted, difficulty_model: Any, directory: Path, stem: str
    ) -> list[str]:
        from safetensors.numpy import save_file

        weights = f"{stem}.safetensors"
        meta = f"{stem}.structured.json"
        tensors = {
            f"member{k}.{name}": np.ascontiguousarray(value)
            for k, state in enumerate(model.members)
            for name, value in state.items()
        }
        save_file(tensors, str(directory / weights))
        document = {
            "format": _FORMAT,
            "forms": model.forms,
            "parts": model.parts,
            "settings": {k: _plain(v) for k, v in model.settings.items()},
            "n_members": len(model.members),
            "predicts": model.predicts,
            "history": model.history,
        }
        if difficulty_model is not None:
            document["difficulty"] = {k: float(v) for k, v in difficulty_model.items()}
        (directory / meta).write_text(json.dumps(document, indent=1, sort_keys=True))
        return [weights, meta]

    def _load_model(self, directory: Path, stem: str) -> tuple[Any, Any]:
        from safetensors.numpy import load_file

        try:
            document = json.loads((directory / f"{stem}.structured.json").read_text())
            if document.get("format") != _FORMAT:
                raise ModelFormatError(
                    f"{directory}: structured model format {document.get('format')!r}, "
                    f"this costmodel reads {_FORMAT}"
                )
            tensors = load_file(str(directory / f"{stem}.safetensors"))
            members: list[dict[str, np.ndarray]] = [{} for _ in range(document["n_members"])]
            for name, value in tensors.items():
                member, _, param = name.partition(".")
                if param == "front_end":  # a scalar, saved 1-d by np.ascontiguousarray
                    value = value.reshape(())
                members[int(member.removeprefix("member"))][param] = value
            model = _Fitted(
                document["forms"],
                document["parts"],
                document["settings"],
                members,
                document["predicts"],
                document.get("history", []),
            )
            # Files written before the mixing scale calibrated without it: none for them.
            difficulty = document.get("difficulty")
            if difficulty is not None:
                difficulty = {
                    "mixing_exponent": float(difficulty["mixing_exponent"]),
                    "max_mixing": float(difficulty["max_mixing"]),
                }
        except (OSError, KeyError, ValueError, IndexError, TypeError) as exc:
            if isinstance(exc, ModelFormatError):
                raise
            raise ModelFormatError(f"{directory}: cannot load structured model ({exc})") from exc
        return model, difficulty

    # ---- adaptation to a new device -------------------------------------------------------
    def fine_tuned(
        self,
        X: Any,
        y: Any,
        *,
        steps: int | None = None,
        prior_strength: float = 1e-3,
        folds: int = 5,
        random_state: int | None = None,
    ) -> ThroughputRegressor:
        """A copy fine-tuned on a new device's rows, its intervals calibrated on them.

        Every member starts from this model's weights and trains on ``X, y`` with an L2 pull
        towards them (``warm_start``, ``prior_strength``); the conformal scores are
        cross-conformal over ``folds`` folds of the new rows (each row held out once by a copy
        fine-tuned on the others), then the returned model is fine-tuned on all of them. This
        model is not changed. Used by :meth:`costmodel.model.CostModel.adapt`.

        Args:
            X: Rows of the new device (instruction texts), at least 20.
            y: Their targets, in this regressor's target units.
            steps: Adam steps per member (default: a third of ``steps``).
            prior_strength: L2 pull of the weights towards this model's.
            folds: Cross-conformal folds.
            random_state: Seed of the folds (default: this model's).
        """
        check_is_fitted(self, "model_")
        tuned = copy.deepcopy(self)
        tuned.set_params(
            warm_start=True,
            steps=int(steps) if steps is not None else max(self.steps // 3, 1),
            prior_strength=float(prior_strength),
            group_folds=int(folds),
            random_state=self.random_state if random_state is None else int(random_state),
        )
        X = self._check_X(X)
        tuned.fit(X, y, groups=np.arange(len(X)))
        tuned.fine_tuning_ = {
            "rows": len(X),
            "steps": tuned.steps,
            "prior_strength": tuned.prior_strength,
            "folds": int(folds),
        }
        return tuned

    # ---- extras ---------------------------------------------------------------------------
    def resource_usage(self, forms: list[str], device: str | None = None) -> np.ndarray:
        """Learned usage ``(len(forms), n_resources + 1)`` in cycles per occurrence, averaged
        over members (last column: the front end). Forms unseen in fitting get their parts'."""
        import torch

        from costmodel.throughput.network import to_tensors

        check_is_fitted(self, "model_")
        X = np.array([[f, device] if device is not None else [f] for f in forms], dtype=object)
        tensors = to_tensors(self.model_.batch(X))
        with torch.no_grad():
            usage = self.model_.network().usage(tensors["parts"], tensors["form_index"])
        return usage.numpy().mean(axis=0)


def _plain(value: Any) -> Any:
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return float(value)
    return value
