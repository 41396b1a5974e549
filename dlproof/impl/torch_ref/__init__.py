"""Torch reference: the same forward with torch ops, gradients by torch.autograd, clipping with torch ops.

Its submodules import torch and raise a clear ImportError when it is missing; importing this package
alone does not need torch.
"""
