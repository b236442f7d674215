"""Training and fitting of the product's learned parts (never imported when answering)."""
