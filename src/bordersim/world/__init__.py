"""The inputs: the region tree, the rule sets and their timeline, and scenarios (schema and loader).

Nothing here runs the model; the model (:mod:`bordersim.model`) reads what this layer validates.
"""
