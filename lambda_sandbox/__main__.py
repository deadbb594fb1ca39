import sys

from lambda_sandbox.cli import main

sys.exit(main())
