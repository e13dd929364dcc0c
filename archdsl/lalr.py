"""Lark's LALR tables, driven by a tighter loop than Lark's own (parser.py's fast path).

Lark's `ParserState.feed_token` looks each reduction's callback up in a dict keyed by `Rule`
objects, whose `__hash__` and `__eq__` are Python methods, reads `rule.origin.name` and
`len(rule.expansion)` on every reduction, and calls a pass-through wrapper (`ExpandSingleChild`)
each time a `?rule` reduces to its only child; a spec line such as `conv 16 3x3` makes about twenty
reductions. Here every table entry is resolved once per parser: a shift is the next state (an int),
a reduction a (size, nonterminal, callback) triple, with no callback for a pass-through. The
tables, the lexers and the callbacks are Lark's, and so is the order in which callbacks run.

Errors are not reported here: on a token the table has no action for, or a character no terminal
matches, `parse` raises `Reject` and the caller parses the text again with Lark's own driver, which
raises Lark's exception (expected terminals, interactive parser) exactly as before.
"""
from __future__ import annotations

from ._lark_parser import ExpandSingleChild, LexerState, Shift, TextSlice, UnexpectedCharacters


class Reject(Exception):
    """The text is not in the language; Lark's driver says why."""


class Driver:
    def __init__(self, lark, start: str = "start"):
        frontend = lark.parser
        parser = frontend.parser.parser
        table, callbacks = parser.parse_table, parser.callbacks
        self.start_state = table.start_states[start]
        self.end_state = table.end_states[start]
        self.lexers = frontend.lexer.lexers
        self.token_callbacks = {name: f for name, f in callbacks.items() if isinstance(name, str)}
        reductions: dict[int, tuple] = {}
        self.actions: dict[int, dict] = {}
        for state, row in table.states.items():
            entries = {}
            for symbol, (action, arg) in row.items():
                if action is Shift:
                    entries[symbol] = arg
                    continue
                if id(arg) not in reductions:
                    size, callback = len(arg.expansion), callbacks[arg]
                    passthrough = size == 1 and type(callback) is ExpandSingleChild
                    reductions[id(arg)] = (size, arg.origin.name, None if passthrough else callback)
                entries[symbol] = reductions[id(arg)]
            self.actions[state] = entries

    def parse(self, text: str):
        actions, token_callbacks, end, lexers = self.actions, self.token_callbacks, self.end_state, self.lexers
        lex_state = LexerState(TextSlice(text, 0, len(text)))
        states, values = [self.start_state], []
        while True:  # a token, each lexed for the parser's state at that moment; None for the end
            try:
                token = lexers[states[-1]].next_token(lex_state)
                kind = token.type
            except EOFError:
                token, kind = None, "$END"
            except UnexpectedCharacters:
                raise Reject from None
            row = actions[states[-1]]
            while True:
                action = row.get(kind)
                if type(action) is int:
                    if token is None:  # no shift of the end
                        raise Reject
                    states.append(action)
                    values.append(token_callbacks[kind](token) if kind in token_callbacks else token)
                    break
                if action is None:
                    raise Reject
                size, origin, callback = action
                if callback is None:  # a pass-through: its only child is its value, in a new state
                    state = states[-1] = actions[states[-2]][origin]
                else:
                    if size:
                        children = values[-size:]
                        del states[-size:], values[-size:]
                    else:
                        children = []
                    state = actions[states[-1]][origin]
                    states.append(state)
                    values.append(callback(children))
                    if state == end and token is None:  # only `start` leads to the end state
                        return values[-1]
                row = actions[state]
