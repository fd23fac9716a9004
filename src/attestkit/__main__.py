"""``python -m attestkit``: the same as the ``attestkit`` console script."""

import sys

from attestkit.cli import main

sys.exit(main())
