from logcache.cli import main

raise SystemExit(main())
