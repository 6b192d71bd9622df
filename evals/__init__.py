"""Evaluation on long-conversation benchmarks (LoCoMo; LongMemEval follows)."""
