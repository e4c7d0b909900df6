"""Framework-free helpers of the models (no mm* imports)."""
