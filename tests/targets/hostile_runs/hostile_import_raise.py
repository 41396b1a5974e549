"""The module raises while it is imported (a broken user module): no target can be loaded."""
from dataclasses import replace

from dlproof.impl.targets import numpy_target

target = replace(numpy_target(), name="hostile: raises on import")
raise RuntimeError("hostile_import_raise: broken at import time")
