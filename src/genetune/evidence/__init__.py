"""The species' RNA-seq: strand-aware coverage into HDF5 and splice junctions from BAMs and hints
(the rule files' ingest and pseudolabels stages read them).
"""
