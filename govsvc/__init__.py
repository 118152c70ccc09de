"""govsvc: AI governance as policy as code.

A CI gate asks whether a model may be promoted; govsvc computes the model's fairness
gaps, drift, consent and uncertainty facts, places it in a risk tier, evaluates the
policies in force, and records the decision in an RFC 9162 Merkle-tree ledger.
"""

import logging

__version__ = "0.1.0"

# A library never configures logging; the `govsvc` command does.
logging.getLogger(__name__).addHandler(logging.NullHandler())
