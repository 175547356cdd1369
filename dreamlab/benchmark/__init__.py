"""``dreamlab benchmark``: DreamLab's engine timed against the seed's own loop on this machine.

- :mod:`~dreamlab.benchmark.cases`: what each timed dream runs (model, layer, size, schedule);
- :mod:`~dreamlab.benchmark.reference`: the seed's DeepDream loop, copied faithfully;
- :mod:`~dreamlab.benchmark.measure`: wall time, peak memory, FLOPs, the matmul peak, the machine;
- :mod:`~dreamlab.benchmark.contention`: the default dream beside a busy neighbour;
- :mod:`~dreamlab.benchmark.engine`: ``run_benchmark`` (every case) and its summary lines;
- :mod:`~dreamlab.benchmark.video`: the video dream's speed and flicker (``--only video``).

Importing this package imports none of them (nothing heavy at import).
"""
