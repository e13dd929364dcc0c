"""Backends: what is made from the IR and its analysis (diagrams in `dot`, modules in `torch`).

Nothing is imported here, so that loading one backend never pulls in another's dependencies.
"""
