"""Training labels from gene models: GFF3 to HDF5 labels and error masks, correction against read
junctions, the masks of doubt, confident selection and the train/validation split.
"""
