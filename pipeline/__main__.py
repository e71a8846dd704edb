"""`pulumi up` of the pipeline's prerequisites, run from this directory (pipeline/)."""

import sys
from pathlib import Path

# Pulumi runs this file from pipeline/; its code is the `pipeline` package of the repository.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pipeline.access import main

main()
