"""The built-in functions, their names and what they accept; shared by the checker,
the compiler and the documentation."""

from __future__ import annotations

FUNCTIONS = {
    "abs": "abs(x): the absolute value of a number",
    "min": "min(a, b, ...) or min(list or map of numbers) or min(E for x in C where P)",
    "max": "max(a, b, ...) or max(list or map of numbers) or max(E for x in C where P)",
    "count": "count(list or map) or count(x in C where P): how many items",
    "sum": "sum(list or map of numbers) or sum(E for x in C where P)",
    "any": "any(list of booleans) or any(x in C where P): true when one holds",
    "all": "all(list of booleans) or all(x in C where P): true when every one holds",
    "has": "has(path): true when the request carries the fact (guards optional facts)",
}

# In message placeholders: the observed value and the threshold of the rule.
MESSAGE_NAMES = ("value", "threshold")
