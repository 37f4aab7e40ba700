"""Kenning's engine: extraction, indexing, search and answers. Plain Python, no Qt."""
