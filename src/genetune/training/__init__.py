"""Fine-tuning: the training loop, its data, targets, losses, learning-rate schedule and metrics
table.
"""
