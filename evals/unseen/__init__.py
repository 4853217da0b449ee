"""Legacy sources the matcher was never fitted on: other naming conventions, nesting and
languages, with ground truth (``generate_unseen``). Evaluation data only: nothing in
``knowledge/`` or ``tools/`` may be derived from it."""

from evals.unseen.generator import SYSTEMS, generate_unseen

__all__ = ["SYSTEMS", "generate_unseen"]
