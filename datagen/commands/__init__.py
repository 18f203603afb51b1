"""Command-line handlers."""
