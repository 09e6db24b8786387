from mailtrap_lite.cli import main

raise SystemExit(main())
