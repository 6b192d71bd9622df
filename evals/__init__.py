"""Evaluation on long-conversation benchmarks: data sets, metrics, a resumable runner, reports and plots."""
