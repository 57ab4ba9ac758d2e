from __future__ import annotations

import sys

from foundry_dsl.cli.main import main

sys.exit(main())
