"""Scores: stages against a reference with the error taxonomy, the final check that chooses a
round, gene statistics and learning curves.
"""
