"""Speed and scale benchmarks: run as scripts, not tests."""
