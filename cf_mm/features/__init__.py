"""Feature extraction from mmpretrain models and the on-disk feature store."""
