"""What the relative-path tests (cwd_relative, cwd_climb) ask of a path, as a short answer: a
file's content, or "ok", or "E<errno>" when the call fails."""
import os


def do(fn):
    """"ok" when fn() returns, "E<errno>" when it raises OSError."""
    try:
        fn()
        return "ok"
    except OSError as e:
        return "E" + str(e.errno)


def read(p):
    """The file's content, stripped, or "E<errno>"."""
    try:
        with open(p) as f:
            return f.read().strip()
    except OSError as e:
        return "E" + str(e.errno)


def st1(p):
    """stat(p): "ok" or "E<errno>"."""
    return do(lambda: os.stat(p))
