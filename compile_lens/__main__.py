"""``python -m compile_lens`` runs the CLI."""

from compile_lens.cli import main

raise SystemExit(main())
