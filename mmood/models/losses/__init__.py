"""Training losses (CLIP contrastive, outlier exposure, ...)."""
