"""Pattern package; see the module docstrings."""
