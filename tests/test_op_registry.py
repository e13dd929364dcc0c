"""Every op of the registry has a test that compares it with PyTorch."""
import pytest

pytest.importorskip("torch")

from archdsl.ops import OPS, Op  # noqa: E402

from .test_cost_oracle import ORACLE_OPS as COST_ORACLE_OPS  # noqa: E402
from .test_shape_oracle import ORACLE_OPS as SHAPE_ORACLE_OPS  # noqa: E402


def test_every_op_has_an_oracle_strategy():
    """The cost oracle draws every op a spec can write (concat and add as merges), and every
    single-input op with a shape rule of its own (its class overrides `Op.infer`) is drawn by the
    shape oracle or the cost oracle. A new op fails here until a strategy draws it."""
    assert set(COST_ORACLE_OPS | SHAPE_ORACLE_OPS) <= set(OPS), "a strategy draws a name the registry lacks"
    assert set(OPS) - {"input"} - COST_ORACLE_OPS == set(), "ops no cost-oracle strategy draws"
    own_rule = {name for name, op in OPS.items()
                if op.min_inputs == op.max_inputs == 1 and type(op).infer is not Op.infer}
    assert own_rule - SHAPE_ORACLE_OPS - COST_ORACLE_OPS == set(), "shape rules no oracle draws"
