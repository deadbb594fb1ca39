"""``python -m harness.images``: see harness/images/cli.py."""

import sys

from harness.images.cli import main

sys.exit(main())
