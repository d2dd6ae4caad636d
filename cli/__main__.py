"""``python -m costmodel.cli ...`` runs the ``costmodel`` command."""

import sys

from costmodel.cli.commands import main

sys.exit(main())
