"""XGBoost tree ensembles packed into numpy arrays, for predicting a few rows in microseconds.

XGBoost's predictor pays a fixed cost per call (about half a millisecond for a 600-tree model on
one row), which dominates single-record serving. :class:`PackedTrees` reads the booster's own
JSON model and lays every tree out as a complete binary tree of the ensemble's depth: a row then
walks all trees at once, one vectorized step per level. Splits follow XGBoost's rule exactly
(``x < threshold`` goes left, a missing value takes the node's default direction, comparisons in
float32), and :meth:`PackedTrees.from_booster` returns ``None`` for models it does not cover
(categorical splits, vector leaves, dart, linear boosters, very deep trees), so callers fall back to
XGBoost. Large batches stay with XGBoost, whose compiled predictor is faster per row.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np

__all__ = ["PackedTrees"]

#: Deeper trees would make the complete layout too large; those models stay with XGBoost.
_MAX_DEPTH = 12


class PackedTrees:
    """Trees of one XGBoost booster as complete-depth arrays.

    Attributes:
        depth: Levels walked per prediction.
        n_outputs: Outputs per row (2 for a two-quantile model).
    """

    def __init__(
        self,
        features: np.ndarray,
        thresholds: np.ndarray,
        default_left: np.ndarray,
        leaves: np.ndarray,
        groups: np.ndarray,
        base_score: np.ndarray,
        depth: int,
    ) -> None:
        n_trees = len(groups)
        self.depth = depth
        self.n_outputs = len(base_score)
        self._internal = (1 << depth) - 1
        self._features = features.ravel()
        self._thresholds = thresholds.ravel()
        self._default_right = ~default_left.ravel()
        self._leaves = leaves.ravel()
        self._tree_offsets = np.arange(n_trees, dtype=np.intp) * self._internal
        self._leaf_offsets = np.arange(n_trees, dtype=np.intp) * (1 << depth)
        self._group_matrix = np.zeros((n_trees, self.n_outputs), dtype=np.float64)
        self._group_matrix[np.arange(n_trees), groups] = 1.0
        self._base_score = base_score.astype(np.float64)

    @classmethod
    def from_booster(cls, booster: Any) -> PackedTrees | None:
        """Pack a fitted ``xgboost.Booster``; ``None`` when its model is not covered."""
        model = json.loads(bytes(booster.save_raw("json")))
        learner = model["learner"]
        gbm = learner["gradient_booster"]
        if gbm.get("name") != "gbtree":
            return None
        trees = gbm["model"]["trees"]
        if not trees:
            return None
        base_score = _base_score(learner["learner_model_param"]["base_score"])
        groups = np.asarray(gbm["model"]["tree_info"], dtype=np.intp)
        if len(groups) != len(trees) or (groups >= len(base_score)).any():
            return None
        parsed = [_parse_tree(tree) for tree in trees]
        if any(p is None for p in parsed):
            return None
        depth = max(_leaf_depth(p) for p in parsed)  # type: ignore[arg-type]
        if depth > _MAX_DEPTH:
            return None
        depth = max(depth, 1)
        internal = (1 << depth) - 1
        n = len(trees)
        features = np.zeros((n, internal), dtype=np.intp)
        thresholds = np.full((n, internal), np.inf, dtype=np.float32)
        default_left = np.ones((n, internal), dtype=bool)
        leaves = np.zeros((n, 1 << depth), dtype=np.float32)
        for t, p in enumerate(parsed):
            _place(p, t, depth, features, thresholds, default_left, leaves)  # type: ignore[arg-type]
        return cls(features, thresholds, default_left, leaves, groups, base_score, depth)

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Raw predictions (margins): ``(n_rows,)`` for one output, else ``(n_rows, n_outputs)``."""
        X = np.ascontiguousarray(X, dtype=np.float32)
        n_rows, n_columns = X.shape
        flat_x = X.ravel()
        row_offsets = (np.arange(n_rows, dtype=np.intp) * n_columns)[:, None]
        node = np.zeros((n_rows, len(self._tree_offsets)), dtype=np.intp)
        for _ in range(self.depth):
            at = self._tree_offsets + node
            value = flat_x[row_offsets + self._features[at]]
            right = value >= self._thresholds[at]
            missing = np.isnan(value)
            if missing.any():
                right = np.where(missing, self._default_right[at], right)
            node = 2 * node + 1 + right
        leaf = self._leaves[self._leaf_offsets + (node - self._internal)]
        out = leaf.astype(np.float64) @ self._group_matrix + self._base_score
        return out[:, 0] if self.n_outputs == 1 else out


def _base_score(text: Any) -> np.ndarray:
    """``"5E-1"`` or ``"[5E-1,2E0]"`` (XGBoost 2 and 3 spellings) -> array of floats."""
    if isinstance(text, (int, float)):
        return np.array([float(text)])
    values = str(text).strip().strip("[]").split(",")
    return np.array([float(v) for v in values if v.strip()], dtype=np.float64)


def _parse_tree(tree: dict[str, Any]) -> tuple[list[int], ...] | None:
    if any(int(t) != 0 for t in tree.get("split_type", [])):
        return None  # categorical splits
    if int(tree.get("tree_param", {}).get("size_leaf_vector", "1") or 1) > 1:
        return None  # vector leaves (multi_output_tree)
    return (
        tree["left_children"],
        tree["right_children"],
        tree["split_indices"],
        tree["split_conditions"],
        tree["default_left"],
    )


def _leaf_depth(tree: tuple[list[int], ...]) -> int:
    """Deepest leaf level of a parsed tree (the root is level 0)."""
    left, right = tree[0], tree[1]
    deepest, stack = 0, [(0, 0)]
    while stack:
        node, level = stack.pop()
        if left[node] == -1:
            deepest = max(deepest, level)
        else:
            stack += [(left[node], level + 1), (right[node], level + 1)]
    return deepest


def _place(
    tree: tuple[list[int], ...],
    t: int,
    depth: int,
    features: np.ndarray,
    thresholds: np.ndarray,
    default_left: np.ndarray,
    leaves: np.ndarray,
) -> None:
    """Write tree ``t`` into the complete layout (a leaf above the last level fills its span)."""
    left, right, split_index, condition, default = tree
    stack = [(0, 0, 0)]  # (node id, position in the complete tree, level)
    internal = (1 << depth) - 1
    while stack:
        node, position, level = stack.pop()
        if left[node] == -1:
            span = 1 << (depth - level)
            start = position * span + span - 1 - internal
            leaves[t, start : start + span] = condition[node]
            continue
        if level >= depth:
            raise ValueError("tree deeper than the packed depth")
        features[t, position] = split_index[node]
        thresholds[t, position] = condition[node]
        default_left[t, position] = bool(default[node])
        stack.append((left[node], 2 * position + 1, level + 1))
        stack.append((right[node], 2 * position + 2, level + 1))
