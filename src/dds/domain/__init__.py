"""Domain vocabulary: states, catalog, validation rules."""
