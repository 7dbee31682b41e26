import sys

from dom2lite.cli import main

sys.exit(main())
