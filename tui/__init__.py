"""The Textual terminal UI (see the terminal UI issue)."""
