import sys

from harness.check.cli import main

sys.exit(main())
