"""Text-to-text regression: a small encoder-decoder reads text and writes numbers as tokens.

* :class:`TextToTextRegressor` (kind ``"seq2seq"``): the CostRegressor-compatible estimator.
* :class:`Seq2SeqConfig`: the frozen architecture; :class:`NumberTokenizer`: the number format.
* :mod:`~costmodel.seq2seq.trainer`: :class:`~costmodel.seq2seq.trainer.TextRegressionModel`,
  the multi-target model the estimator wraps; :mod:`~costmodel.seq2seq.decoding`: constrained
  sampling.

Importing this package does not import torch; fitting, predicting and loading do.
"""

from __future__ import annotations

from costmodel.seq2seq.config import Seq2SeqConfig
from costmodel.seq2seq.number_tokens import NumberTokenizer
from costmodel.seq2seq.regressor import TextToTextRegressor

__all__ = ["NumberTokenizer", "Seq2SeqConfig", "TextToTextRegressor"]
