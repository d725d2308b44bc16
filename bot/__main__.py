"""`python -m bot` is `rcbot`."""

from bot.cli import main

raise SystemExit(main())
