"""Photo files the tests send, made here (no downloaded data): a phone JPEG with GPS EXIF and an orientation, a
PNG with transparency and text chunks, WebP and HEIC, and bad files (a PDF renamed .jpg, a decompression bomb,
a truncated JPEG, 50 MB)."""

from __future__ import annotations

import io
import struct
import zlib

from PIL import Image
from PIL.PngImagePlugin import PngInfo

GPS_LAT = (60, 10, 12.34)  # what the EXIF says: a position that must never be stored


def _exif_with_gps(orientation: int = 1) -> Image.Exif:
    exif = Image.Exif()
    exif[0x0112] = orientation  # Orientation
    exif[0x010F] = "PhoneMaker"  # Make
    exif[0x0110] = "Phone Model X"  # Model
    exif[0x013B] = "张三 (owner)"  # Artist
    gps = exif.get_ifd(0x8825)
    gps[1] = "N"
    gps[2] = GPS_LAT
    gps[3] = "E"
    gps[4] = (24, 56, 40.0)
    return exif


def phone_jpeg(
    width: int = 64, height: int = 32, orientation: int = 1, colour: tuple[int, int, int] = (200, 30, 30)
) -> bytes:
    """A JPEG as a phone writes it: EXIF with the GPS position, maker, model, owner, and an orientation tag."""
    image = Image.new("RGB", (width, height), colour)
    image.paste((20, 20, 220), (0, 0, width // 4, height // 4))  # a mark in the top-left corner
    out = io.BytesIO()
    image.save(
        out,
        format="JPEG",
        quality=90,
        exif=_exif_with_gps(orientation),
        comment=b"Taken at home, 13800000000",
    )
    return out.getvalue()


def png_with_alpha() -> bytes:
    image = Image.new("RGBA", (40, 30), (0, 128, 0, 100))
    info = PngInfo()
    info.add_text("Author", "李四 13900000000")
    info.add_text("Location", "60.1700, 24.9400")
    out = io.BytesIO()
    image.save(out, format="PNG", pnginfo=info)
    return out.getvalue()


def webp() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (50, 40), (10, 120, 200)).save(out, format="WEBP", exif=_exif_with_gps())
    return out.getvalue()


def heic() -> bytes:
    import pillow_heif

    pillow_heif.register_heif_opener()
    out = io.BytesIO()
    Image.new("RGB", (48, 36), (120, 60, 10)).save(out, format="HEIF")
    return out.getvalue()


def pdf_named_jpg() -> bytes:
    """A PDF (what a phone's share sheet sends when it picks the wrong file), whatever its name says."""
    return b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


def _chunk(kind: bytes, data: bytes) -> bytes:
    return (
        struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    )


def decompression_bomb(side: int = 40_000) -> bytes:
    """A valid PNG header announcing side × side pixels (1.6 billion at 40,000) in a few hundred bytes: the
    first rows compress to almost nothing, and a decoder that trusted the header would allocate gigabytes."""
    header = struct.pack(">IIBBBBB", side, side, 8, 2, 0, 0, 0)
    rows = zlib.compress(b"\x00" * (1 + 3 * side) * 4, 9)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", rows) + _chunk(b"IEND", b"")


def truncated_jpeg() -> bytes:
    whole = phone_jpeg(400, 300)
    return whole[: len(whole) // 2]


def fifty_megabytes() -> bytes:
    """A real JPEG padded to 50 MB (what arrives when a camera app sends a raw burst)."""
    whole = phone_jpeg(64, 64)
    return whole + b"\x00" * (50 * 1024 * 1024 - len(whole))
