from dlproof.cli import main

raise SystemExit(main())
