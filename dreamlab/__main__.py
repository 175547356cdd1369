"""``python -m dreamlab``."""

from dreamlab.cli import main

raise SystemExit(main())
