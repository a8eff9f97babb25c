from diffmem.cli import main

raise SystemExit(main())
