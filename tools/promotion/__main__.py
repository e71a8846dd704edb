import sys

from tools.promotion.command import main

sys.exit(main())
