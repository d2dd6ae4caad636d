"""``python -m costmodel.datasets.collectors NAME [OPTIONS]`` runs ``costmodel collect NAME``.

For machines where the ``costmodel`` script is not on the path (a GPU box reached over ssh).
"""

from costmodel.datasets.collectors.cli import collect_app

collect_app(prog_name="costmodel collect")
