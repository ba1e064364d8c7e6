from mabgui.cli.entry import main

raise SystemExit(main())
