"""The cases of run.py, one module per case (cases 1 and 2 share micro.py)."""
