"""Every limit a spec is held to, in one place (docs/language.md, "Limits")."""

MAX_FILE_BYTES = 1 << 20  # one spec file
MAX_NESTING = 64  # braces and parentheses inside one another
MAX_CALL_DEPTH = 32  # blocks calling blocks
MAX_IMPORT_DEPTH = 16  # `use` inside `use`
MAX_NODES = 100_000  # layers after expanding blocks and repetition
MAX_REPEAT = 10_000  # one `xN`, `repeat N` or `for` range
MAX_INT = 10**9  # any integer literal or computed value
MAX_NAME = 200  # characters in a layer's full name
MAX_ELEMENTS = 1 << 50  # elements of one tensor of one sample
MAX_EXPR_DEPTH = 64  # operators inside one another in one expression (1+1+1 is 2 deep)
MAX_DEPTH = 128  # bodies inside one another: braces, loops, branches and block calls together
MAX_STEPS = 1_000_000  # statements executed, loop iterations and block calls while expanding
MAX_BRANCHES = 10_000  # branches of one concat or add
MAX_QUOTED = 80  # characters of a name or value that an error message quotes
MAX_ERRORS = 10  # errors one run prints ("N more errors not shown" after them)
MAX_ERRORS_FOUND = 100  # errors one run looks for before it stops
