import sys

from trioproxy.cli import main

sys.exit(main())
