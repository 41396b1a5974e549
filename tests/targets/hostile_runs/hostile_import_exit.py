"""The module calls sys.exit(3) while it is imported: no target can be loaded."""
import sys
from dataclasses import replace

from dlproof.impl.targets import numpy_target

target = replace(numpy_target(), name="hostile: exits on import")
sys.exit(3)
