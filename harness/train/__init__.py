"""The training wing: models, losses, label views, gradients, metrics, the compiled program and the trainer."""
