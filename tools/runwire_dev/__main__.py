"""`python -m runwire_dev`: the `make run` supervisor."""

import sys

from runwire_dev.supervisor import main

sys.exit(main())
