"""Sweeps: grids of training runs that resume in pieces, here or on a cluster (``python -m dom2lite sweep``).

- :mod:`~dom2lite.sweep.grid`: the cells of a grid, their folders and commands;
- :mod:`~dom2lite.sweep.ledger`: where each cell stands (from its folder alone) and the ETA;
- :mod:`~dom2lite.sweep.launch`: the worker, local processes, submitit (Slurm);
- :mod:`~dom2lite.sweep.results`: the finished cells as a results file;
- :mod:`~dom2lite.sweep.cli`: the command.
"""
