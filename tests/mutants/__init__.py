"""The mutation meta-suite's catalog: broken implementations, each a Target built through the public protocol.

One module per chapter (named as in dlproof.capabilities.CHAPTERS) exports ``MUTANTS: dict[str, Mutant]`` and,
where it has rewrites that are the same model, ``EQUIVALENT: dict[str, (Mutant, why)]``; base.py holds what a
mutant is and how one is built. catalog.py collects every chapter module of this folder: a new chapter adds
its file and edits nothing. test_mutation_suite.py (`pytest -m mutation`) asserts that each mutant is killed.
"""
