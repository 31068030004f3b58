"""The demo's simulated species (genome, gene models and RNA-seq from a fixed seed)."""
