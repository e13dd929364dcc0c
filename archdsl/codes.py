"""Every diagnostic's code, in one place. A code names one kind of error (or warning) and keeps
its meaning for good: a retired code is never given to another kind.

A new kind of error is one line here, `code="E...."` where it is raised, and a section in
docs/errors.md with an example that triggers it and its fix (tests/test_error_codes.py says what
is missing, and checks that every raise in archdsl passes a code listed here).

Ranges: E00 reading and syntax, E01 names, E02 arguments and values, E03 the spec's structure,
E04 blocks and `use`, E05 shapes, E06 limits, E07 diagrams and building, E08 training,
E09 the command line; W warnings.
"""

CODES = {
    # reading and syntax
    "E0001": "no such spec",
    "E0002": "the spec cannot be read",
    "E0003": "the file is not UTF-8",
    "E0010": "unexpected token",
    "E0011": "unexpected character",
    "E0012": "unexpected end of the file",
    # names
    "E0101": "unknown layer or block",
    "E0102": "unknown option or parameter",
    "E0103": "unknown name",
    "E0104": "no tensor of that name",
    "E0105": "name already used",
    "E0106": "a label that cannot name a layer",
    "E0107": "a name that reads as a repetition",
    "E0108": "nothing of that name to freeze",
    "E0109": "--set names no constant of the spec",
    # arguments and values
    "E0201": "bad argument value",
    "E0202": "missing argument",
    "E0203": "extra argument",
    "E0204": "argument given twice",
    "E0205": "no stride to give",
    "E0206": "a flag's name used as a value",
    "E0207": "a value of the wrong kind",
    "E0208": "division by zero",
    "E0209": "a repetition count that repeats nothing",
    # the spec's structure
    "E0301": "no input",
    "E0302": "input in the wrong place",
    "E0303": "input that is not a size",
    "E0304": "input that looks swapped",
    "E0305": "input written batch first",
    "E0306": "a statement that belongs at the top level",
    "E0307": "a reference in the wrong place",
    "E0308": "a merge with fewer than two branches",
    "E0309": "an output named twice",
    "E0310": "a record a network cannot hold",
    "E0311": "a `register` order that does not fit its scope",
    "E0312": "a `checkpoint` that is not one block",
    # blocks and use
    "E0401": "a block that calls itself",
    "E0402": "a block defined twice",
    "E0403": "a block named as a layer kind",
    "E0404": "`use` of a file that is not a spec",
    "E0405": "`use` outside the folders it may read",
    "E0406": "import cycle",
    "E0407": "a used file that cannot be read",
    "E0408": "a used file that holds layers",
    # shapes
    "E0501": "a size reaches zero",
    "E0502": "branches that do not match",
    "E0503": "a layer that needs spatial dimensions or channels",
    "E0504": "a layer that does not fit its input's dimensions",
    "E0505": "channels that do not divide",
    "E0506": "a shape assertion that does not hold",
    "E0507": "a layer setting its input cannot take",
    # limits
    "E0601": "the file is too large",
    "E0602": "brackets nested too deep",
    "E0603": "statements nested too deep",
    "E0604": "an expression nested too deep",
    "E0605": "a number too large",
    "E0606": "too many repetitions",
    "E0607": "too many layers",
    "E0608": "too much expansion work",
    "E0609": "blocks calling blocks too deep",
    "E0610": "`use` nested too deep",
    "E0611": "a layer name too long",
    "E0612": "a tensor too large",
    "E0613": "too many branches",
    # diagrams and building
    "E0701": "the diagram cannot be drawn or written",
    "E0702": "PyTorch is not installed",
    "E0703": "the network does not fit in memory",
    "E0704": "weights that cannot be read or do not fit",
    "E0705": "a build setting the network or machine cannot take",
    "E0706": "the module cannot be exported",
    "E0707": "the built module disagrees with the analysis",
    "E0708": "matplotlib is not installed",
    # training
    "E0801": "training data that cannot be used",
    "E0802": "a checkpoint that cannot be read",
    "E0803": "a spec that cannot be trained as it is",
    "E0804": "a training device that is not there",
    # the command line
    "E0901": "a bad command-line value",
    "E0902": "command-line options that do not go together",
    "E0903": "a file that cannot be read or written",
    # warnings
    "W0001": "a stride that does not fit",
    "W0002": "a shape assertion that no longer holds with --input",
}
