"""Helpers shared by the tuning benchmarks ``benchmarks/tuning.py`` and ``real_tuning.py``.

Simulated tuning on measured spaces (``tuning.py``):

* :mod:`.spaces`: measured spaces replayed from the bundled datasets (``Space``, ``load_space``);
* :mod:`.trace`: one run's record of evaluations (``Trace``);
* :mod:`.strategies`: the strategies and their evaluation accounting (``STRATEGIES``);
* :mod:`.kt`: Kernel Tuner's strategies in simulation mode on a cache file;
* :mod:`.report`: summaries, goal verdicts, tables and plots.

Real tuning, measured here (``real_tuning.py``):

* :mod:`.real_search`: the searchers run in lock step;
* :mod:`.real_iree`: IREE matmul tile sizes, compiled and timed;
* :mod:`.real_c`: a tiled C matmul through Kernel Tuner's C backend.

The scripts run as ``python benchmarks/NAME.py``, whose folder is first on ``sys.path``, so this
package imports as ``tuning_lib``; it is not part of the installed ``costmodel`` wheel.
"""
