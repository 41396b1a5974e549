"""The module prints 20 MiB while it is imported (print and os.write to fd 1); its target is correct."""
import os
import sys
from dataclasses import replace

from dlproof.impl.targets import numpy_target

MiB = 1 << 20
for _ in range(10):
    print("import-time chatter " * (MiB // 20))
    os.write(1, b"import-time fd chatter " * (MiB // 23))
sys.stdout.flush()

target = replace(numpy_target(), name="hostile: prints 20 MiB on import")
