"""`python -m bot` is `rcbot`."""

from bot.app.cli import main

raise SystemExit(main())
