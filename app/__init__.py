"""Kenning\x27s desktop window (PySide6); the only package that imports Qt."""
