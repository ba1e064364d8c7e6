from mabgui.cli import main

raise SystemExit(main())
