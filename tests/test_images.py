import numpy as np
import pytest
from PIL import Image

from morphlib.encoding import grid
from morphlib.errors import MorphError
from morphlib.images import image_path, load_image, numbered_images, png_bytes, save_image


def test_rgb_roundtrip(tmp_path):
    arr = np.random.default_rng(0).integers(0, 256, (5, 7, 3), dtype=np.uint8)
    Image.fromarray(arr).save(tmp_path / "a.png")
    img = load_image(tmp_path / "a.png")
    assert img.dtype == np.float32 and img.shape == (5, 7, 3)
    np.testing.assert_allclose(img * 255, arr, atol=1e-3)
    save_image(tmp_path / "b.png", img)
    np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / "b.png")), arr)
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_alpha_is_composited_on_white(tmp_path):
    rgba = np.zeros((2, 2, 4), np.uint8)
    rgba[0, 0] = (255, 0, 0, 255)  # opaque red; the rest transparent
    Image.fromarray(rgba, "RGBA").save(tmp_path / "a.png")
    img = load_image(tmp_path / "a.png")
    np.testing.assert_allclose(img[0, 0], [1, 0, 0])
    np.testing.assert_allclose(img[1, 1], [1, 1, 1])


def test_grey_palette_and_16bit(tmp_path):
    Image.fromarray(np.full((3, 3), 128, np.uint8), "L").save(tmp_path / "l.png")
    np.testing.assert_allclose(load_image(tmp_path / "l.png"), 128 / 255, atol=1e-6)
    Image.fromarray(np.full((3, 3), 200, np.uint8), "L").convert("P").save(tmp_path / "p.png")
    np.testing.assert_allclose(load_image(tmp_path / "p.png"), 200 / 255, atol=1e-6)
    Image.fromarray(np.full((3, 3), 65535 // 4, np.uint16)).save(tmp_path / "i16.png")
    np.testing.assert_allclose(load_image(tmp_path / "i16.png"), 0.25, atol=1e-4)


def test_exif_orientation_is_applied(tmp_path):
    arr = np.zeros((2, 4, 3), np.uint8)
    arr[0, 0] = 255
    im = Image.fromarray(arr)
    exif = im.getexif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise when shown
    im.save(tmp_path / "r.jpg", exif=exif, quality=100)
    img = load_image(tmp_path / "r.jpg")
    assert img.shape[:2] == (4, 2)
    assert img[0, 1].mean() > 0.8 and img[0, 0].mean() < 0.2


@pytest.mark.parametrize("content", [b"", b"not a picture at all", None])
def test_broken_pictures_give_clear_errors(tmp_path, content):
    p = tmp_path / "x.png"
    if content is None:  # a truncated PNG
        Image.fromarray(np.zeros((64, 64, 3), np.uint8) + 7).save(p)
        content = p.read_bytes()[:60]
    p.write_bytes(content)
    with pytest.raises(MorphError, match="not a readable picture"):
        load_image(p)


def test_missing_picture(tmp_path):
    with pytest.raises(MorphError, match="not found"):
        load_image(tmp_path / "nope.png")


def test_grid_is_pixel_centres():
    g = grid(2, 4)
    assert g.shape == (8, 2) and g.dtype == np.float32
    np.testing.assert_allclose(g[:4, 0], [0.125, 0.375, 0.625, 0.875])
    np.testing.assert_allclose(g[::4, 1], [0.25, 0.75])
    with pytest.raises(MorphError, match="positive"):
        grid(0, 4)


def test_numbered_images(tmp_path):
    for name in ["1.png", "2.jpg", "10.png", "cat.png", "3.txt"]:
        (tmp_path / name).write_bytes(b"")
    assert sorted(numbered_images(tmp_path)) == [1, 2, 10]
    assert image_path(10, tmp_path).name == "10.png"
    with pytest.raises(MorphError, match="no picture 7"):
        image_path(7, tmp_path)


def test_png_bytes_hold_the_picture():
    import io

    rgb = np.random.default_rng(1).random((3, 5, 3)).astype(np.float32)
    back = np.asarray(Image.open(io.BytesIO(png_bytes(rgb))), np.float32) / 255
    assert back.shape == (3, 5, 3)
    np.testing.assert_allclose(back, rgb, atol=0.51 / 255)


def test_fit_side_shrinks_and_grows_only_when_asked():
    from morphlib.images import fit_side

    img = np.zeros((300, 200, 3), np.float32)
    assert fit_side(img, 150).shape == (150, 100, 3)
    assert fit_side(img, 600) is img and fit_side(img, 600, grow=True).shape == (600, 400, 3)
