"""Metric time series: compact storage, exact summaries, exactly-once writes, downsampled reads."""
from skytune.metrics.store import MetricPoint, MetricStore, WriteResult
from skytune.metrics.summary import Summary, public_summary

__all__ = ["MetricPoint", "MetricStore", "WriteResult", "Summary", "public_summary"]
