"""`python -m app.embedded --host 127.0.0.1 --port 27017 [--data-file PATH]`."""

import sys

from app.embedded.server import main

sys.exit(main())
