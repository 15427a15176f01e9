"""The experiment index's stream consumer (core: skytune.index)."""
