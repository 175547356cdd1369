"""One machine shared by a class: what every heavy job on this server passes through.

- :mod:`~dreamlab.runtime.device`: ``device="auto"`` -> cuda, mps, cpu; torch thread settings;
- :mod:`~dreamlab.runtime.cores`: the cgroup CPU quota and the CPU's name;
- :mod:`~dreamlab.runtime.threads`: usable cores and the ThreadGovernor under contention;
- :mod:`~dreamlab.runtime.jobs`: the job gate (seats, a FIFO queue with places, per-step turns);
- :mod:`~dreamlab.runtime.budget`: the memory budget and its holders;
- :mod:`~dreamlab.runtime.job_costs`: each job's expected peak from its plan;
- :mod:`~dreamlab.runtime.broadcast`: class codes and each code's latest frame;
- :mod:`~dreamlab.runtime.memory`: fewer malloc arenas, freed memory handed back.

Importing this package imports none of them (no work at import).
"""
