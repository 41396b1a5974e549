"""The parameter names (`dlproof.parameters`): the protocol's spelling, the one the README states."""
import re
from pathlib import Path

from dlproof import parameters as P
from dlproof.capabilities import CAPABILITY_LIST

ROOT = Path(__file__).resolve().parents[2]


def test_the_names_are_the_protocol_s():
    assert P.RNN_PARAMS == ("W_x", "W_h", "b")
    assert P.LSTM_PARAMS == ("W_xi", "W_hi", "b_i", "W_xf", "W_hf", "b_f", "W_xg", "W_hg", "b_g",
                             "W_xo", "W_ho", "b_o")
    assert P.GRU_PARAMS == ("W_xr", "W_hr", "b_r", "W_xz", "W_hz", "b_z", "W_xn", "W_hn", "b_xn", "b_hn")
    assert P.PEEPHOLE_PARAMS == P.LSTM_PARAMS + ("p_i", "p_f", "p_o")


def test_the_blocks_are_the_names_gate_by_gate():
    for kind in P.KINDS:
        assert len(P.BLOCKS[kind]) == len(P.GATES[kind])
        flat = tuple(name for block in P.BLOCKS[kind] for name in block)
        assert P.PARAMS[kind][:len(flat)] == flat
    assert P.PARAMS["gru"][len(P.BLOCKS["gru"]) * 3:] == (P.GRU_HIDDEN_BIAS,)


def test_the_readme_states_the_declared_names():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    bullet = re.search(r"\*\*Parameter names\.\*\*(.*?)\n- \*\*", readme, re.S).group(1)
    rnn, lstm, gru = re.search(r"RNN:(.*?)LSTM(.*?)GRU:(.*)", bullet, re.S).groups()
    assert tuple(re.findall(r"`(\w+)`", rnn)) == P.RNN_PARAMS
    assert f"gate order {', '.join(P.LSTM_GATES)}" in lstm
    assert tuple(re.findall(r"`(\w+)`", lstm)) == P.BLOCKS["lstm"][0]
    assert tuple(re.findall(r"`(\w+)`", gru))[:len(P.GRU_PARAMS)] == P.GRU_PARAMS


def test_the_peephole_capability_names_the_declared_peepholes():
    doc = next(c.doc for c in CAPABILITY_LIST if c.name == "lstm_peephole_cell")
    assert ", ".join(P.PEEPHOLES) in doc
