"""Property tests: the sequence parser and the weight loader answer any input with a result or a MorphError."""
import string

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from morphlib.errors import MorphError
from morphlib.mlp import init_net
from morphlib.transition import Link, frame_plan, parse_sequence
from morphlib.weights import load_net, save_net

names = st.text(string.ascii_letters + string.digits + "_", min_size=1, max_size=4)
links = st.lists(st.tuples(names, names, st.integers(2, 500)), min_size=1, max_size=6)
space = st.text(" \t", max_size=2)


@given(links, space)
def test_formatted_sequences_parse_back(chain, pad):
    text = ",".join(f"{pad}{a}{pad}>{pad}{b}{pad}:{pad}{n}{pad}" for a, b, n in chain)
    assert parse_sequence(text) == [Link(a, b, n) for a, b, n in chain]


@given(st.text(max_size=40))
def test_any_text_parses_or_says_why(text):
    try:
        parsed = parse_sequence(text)
    except MorphError as e:
        assert "sequence" in str(e)
    else:
        assert parsed and all(link.steps >= 2 for link in parsed)


@given(links)
def test_plan_length_counts_each_seam_once(chain):
    parsed = [Link(a, b, n) for a, b, n in chain]
    seams = sum(x.dst == y.src for x, y in zip(parsed, parsed[1:]))
    assert len(frame_plan(parsed)) == sum(n for *_, n in chain) - seams


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.binary(max_size=300) | st.integers(0, 5000).map(lambda i: ("cut", i)) |
       st.tuples(st.integers(0, 5000), st.integers(0, 255)).map(lambda t: ("flip", *t)))
def test_weight_loader_never_crashes(tmp_path, damage):
    path = tmp_path / "w.npz"
    if isinstance(damage, bytes):
        data = damage
    else:
        data = bytearray(save_net(init_net(4, seed=1), path).read_bytes())
        if damage[0] == "cut":
            data = data[:damage[1]]
        elif damage[1] < len(data):
            data[damage[1]] = damage[2]
    path.write_bytes(bytes(data))
    try:
        net, meta = load_net(path)
    except MorphError as e:
        assert str(path) in str(e)
    else:
        assert net.hidden == 4 and meta["format"] == 1
