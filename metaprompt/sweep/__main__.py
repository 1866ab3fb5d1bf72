from metaprompt.sweep.cli import main

raise SystemExit(main())
