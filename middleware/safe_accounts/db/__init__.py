"""SQL: engines, our tables' metadata, and the shipped migrations."""
