"""`python -m runwire`: the `make run` supervisor."""

import sys

from runwire.supervisor import main

sys.exit(main())
