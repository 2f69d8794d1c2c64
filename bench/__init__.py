"""The benchmark harness: `python -m bench` measures the booking engine against BRIEF §6."""
