"""Bad input the robustness table in docs/robustness.md promises a clear answer for (the rest is tested beside
the code it concerns)."""
import struct
import zlib

import pytest

from morphlib.errors import MorphError
from morphlib.images import load_image
from morphlib.mlp import init_net
from morphlib.transition import write_transition
from morphlib.weights import save_net, weights_file


def png_header_only(path, width, height):
    """A PNG that claims to be width x height: opening it decodes nothing, as a decompression bomb would."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"")) +
                     chunk(b"IEND", b""))
    return path


@pytest.mark.parametrize("side", [10_000, 20_000])
def test_huge_pictures_are_refused_before_decoding(tmp_path, side):
    with pytest.raises(MorphError, match="too big"):
        load_image(png_header_only(tmp_path / "bomb.png", side, side))


def test_unwritable_result_folder(tmp_path):
    save_net(init_net(4, seed=1), weights_file(1, 4, tmp_path))
    save_net(init_net(4, seed=2), weights_file(2, 4, tmp_path))
    blocker = tmp_path / "result"
    blocker.write_text("a file where the folder should be")
    with pytest.raises(MorphError, match="cannot write into"):
        write_transition("1>2:2", hidden=4, size=8, out=blocker, root=tmp_path)
