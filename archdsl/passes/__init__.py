"""The passes, in order: expand (AST -> IR), shapes, costs, receptive_field; analysis.py runs them."""
