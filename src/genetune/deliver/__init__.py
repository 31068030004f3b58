"""What an annotator takes away: proteins, CDS, mRNA and GTF of the final annotation, the genetic
codes, and PSAURON's protein-coding score.
"""
