"""What is remembered: the turn log (the truth) and the stores derived from it."""
