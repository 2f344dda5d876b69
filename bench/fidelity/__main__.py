"""`python -m bench.fidelity`: see bench/fidelity/harness.py."""

import sys
from pathlib import Path

if __package__ in (None, ""):  # `python bench/fidelity`: make `bench` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent.parent))

from bench.fidelity.harness import main

sys.exit(main())
