"""The persisted index: building generations, storing them, checking their freshness."""
