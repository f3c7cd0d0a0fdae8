"""`make bench`: the figures that show the tool is fast and right (entry point: bench/bench.py)."""
