"""`python -m bench.fidelity`: see bench/fidelity/harness.py."""

import sys

from bench.fidelity.harness import main

sys.exit(main())
