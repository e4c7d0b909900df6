"""Framework-free clustering core (numpy / torch / faiss only, no mm* imports)."""
