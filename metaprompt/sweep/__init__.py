"""Sweeps beyond one process: ``metaprompt-sweep`` / ``python -m metaprompt.sweep`` (docs/benchmark.md).

A setting (datasets x seeds [x shots], training then its evaluations) becomes jobs, one per call
of an existing script (:mod:`metaprompt.sweep.plan`), run one after another (``local``), on N
GPU or CPU slots (``gpus``, :mod:`metaprompt.sweep.launch`) or as Slurm job arrays (``slurm``,
:mod:`metaprompt.sweep.slurm`). Finished runs are skipped, so a re-run does only what is missing.
"""
