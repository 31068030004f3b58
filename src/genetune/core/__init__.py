"""The helpers every stage stands on: the HDF5 layout, errors, atomic file writing, intervals, the
settings schema, the command-line frame, progress, device choice, figures, QC tables and F1
arithmetic. Imports nothing else of genetune.
"""
