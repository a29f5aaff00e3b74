"""mailing models."""
