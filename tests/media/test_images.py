"""Photos checked by what they are, cleaned of everything but the picture, refused when bad (no database)."""

from __future__ import annotations

import hashlib
import io

import pytest
from PIL import Image

from geo_service.errors import InvalidInput, PayloadTooLarge, UnsupportedMediaType
from geo_service.media.images import clean, sniff
from geo_service.settings import MediaSettings
from tests.media import photos

SETTINGS = MediaSettings()


def _open(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def test_a_phone_jpeg_loses_its_gps_and_every_other_metadata() -> None:
    upload = photos.phone_jpeg()
    assert _open(upload).getexif().get_ifd(0x8825)  # the upload does carry a GPS position
    cleaned = clean(upload, SETTINGS)
    stored = _open(cleaned.content)
    assert cleaned.content_type == "image/jpeg" and stored.format == "JPEG"
    assert len(stored.getexif()) == 0 and not stored.getexif().get_ifd(0x8825)
    assert not {"exif", "comment", "xmp", "icc_profile"} & set(stored.info)
    for leak in (b"Exif", b"GPS", b"PhoneMaker", b"Phone Model", "张三".encode(), b"13800000000"):
        assert leak not in cleaned.content and leak not in cleaned.thumbnail
    assert cleaned.sha256 == hashlib.sha256(cleaned.content).hexdigest()
    assert cleaned.source_sha256 == hashlib.sha256(upload).hexdigest() != cleaned.sha256
    assert cleaned.source_format == "JPEG" and (cleaned.width, cleaned.height) == (64, 32)


def test_orientation_is_applied_before_the_tag_goes() -> None:
    """EXIF orientation 6 (the phone was held upright): the stored picture is turned, so it stays upright."""
    cleaned = clean(photos.phone_jpeg(64, 32, orientation=6), SETTINGS)
    assert (cleaned.width, cleaned.height) == (32, 64)
    stored = _open(cleaned.content)
    # the blue mark of the top-left corner is now at the top right
    assert stored.getpixel((28, 3))[2] > 150 and stored.getpixel((3, 3))[0] > 150


def test_png_keeps_its_transparency_but_not_its_text() -> None:
    upload = photos.png_with_alpha()
    assert "Author" in _open(upload).info
    cleaned = clean(upload, SETTINGS)
    stored = _open(cleaned.content)
    assert cleaned.content_type == "image/png" and stored.mode == "RGBA" and stored.getpixel((1, 1))[3] == 100
    assert "Author" not in stored.info and "Location" not in stored.info
    assert "李四".encode() not in cleaned.content and b"13900000000" not in cleaned.content
    assert _open(cleaned.thumbnail).format == "JPEG"


@pytest.mark.parametrize(("make", "format_name"), [(photos.webp, "WEBP"), (photos.heic, "HEIF")])
def test_webp_and_heic_are_read_and_stored_as_jpeg(make, format_name: str) -> None:
    upload = make()
    assert sniff(upload) == format_name
    cleaned = clean(upload, SETTINGS)
    assert cleaned.source_format == format_name and cleaned.content_type == "image/jpeg"
    assert _open(cleaned.content).format == "JPEG" and b"GPS" not in cleaned.content


def test_large_photos_are_scaled_down_and_thumbnailed() -> None:
    settings = MediaSettings(max_side_px=256, thumbnail_px=64)
    cleaned = clean(photos.phone_jpeg(1000, 500), settings)
    assert (cleaned.width, cleaned.height) == (256, 128)
    assert max(_open(cleaned.thumbnail).size) == 64


def test_a_pdf_renamed_jpg_is_refused_as_what_it_is() -> None:
    with pytest.raises(UnsupportedMediaType) as refused:
        clean(photos.pdf_named_jpg(), SETTINGS)
    assert refused.value.code == "media.unsupported_type" and refused.value.params["found"] == "PDF"


def test_fifty_megabytes_are_refused_before_anything_is_read() -> None:
    with pytest.raises(PayloadTooLarge) as refused:
        clean(photos.fifty_megabytes(), SETTINGS)
    assert refused.value.code == "media.too_large"


def test_a_decompression_bomb_is_refused_from_its_header() -> None:
    bomb = photos.decompression_bomb()
    assert len(bomb) < 100_000
    with pytest.raises(InvalidInput) as refused:
        clean(bomb, SETTINGS)
    assert refused.value.code == "media.too_many_pixels"
    # a smaller bomb under Pillow's own limit, still over ours
    with pytest.raises(InvalidInput, match="too many pixels"):
        clean(photos.decompression_bomb(8_000), SETTINGS)


@pytest.mark.parametrize(
    "data", [photos.truncated_jpeg(), photos.phone_jpeg()[:200], b"\xff\xd8\xff" + b"\x00" * 50]
)
def test_damaged_files_are_refused(data: bytes) -> None:
    with pytest.raises(InvalidInput) as refused:
        clean(data, SETTINGS)
    assert refused.value.code == "media.unreadable"


def test_an_empty_file_is_refused() -> None:
    with pytest.raises(InvalidInput) as refused:
        clean(b"", SETTINGS)
    assert refused.value.code == "media.empty"
