"""Reading and writing the genome's files: FASTA to genome.h5, GFF3/GTF, BAM, chunked HDF5 access,
chunk keys, subsets and gathered pieces. Stands on core alone.
"""
