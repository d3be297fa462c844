"""``python -m evals ...`` runs the eval CLI (see ``evals.cli``)."""

import sys

from evals.cli import main

sys.exit(main())
