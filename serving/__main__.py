"""``python -m costmodel.serving --model DIR``: run the HTTP prediction service."""

from __future__ import annotations

from costmodel.serving.cli import main

main()
