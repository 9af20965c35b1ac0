"""Speed and memory benchmarks: ``python -m benchmarks`` (``make bench``); see README.md in this folder."""
