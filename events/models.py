"""events models."""
