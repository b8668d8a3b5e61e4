"""The harness behind run.py: sizes and names, programs, sides, test server, results."""
