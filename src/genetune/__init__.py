"""genetune: adapt a pretrained Helixer-style gene caller to a new species."""

__version__ = "0.1.0"
