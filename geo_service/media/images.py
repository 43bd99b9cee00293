"""Photos from phones, checked by what they are and cleaned before anything is stored.

:func:`clean` takes the uploaded bytes and either refuses them or returns a :class:`CleanImage`:

- **type by content**, never by name or declared type: the first bytes must be JPEG, PNG, WebP or HEIF/HEIC
  (HEIC through ``pillow-heif``), and Pillow must decode them as that format. A PDF renamed ``.jpg`` is refused
  (415), naming what it is;
- **size**: more than ``GEO_SERVICE_MEDIA_MAX_BYTES`` is refused (413); so is a picture of more than
  ``GEO_SERVICE_MEDIA_MAX_PIXELS`` pixels, from its header, before a single pixel is decoded (a decompression
  bomb: a few kilobytes that would inflate to gigabytes) (422);
- **damage**: a truncated or corrupt file fails to decode and is refused (422), never stored half;
- **personal data**: the picture is re-encoded from its pixels, so nothing of the file but the picture
  survives: no EXIF (GPS position, time, phone model, owner), no XMP, no comments, no maker notes. EXIF
  orientation is applied first, so the photo stays upright; colours in another ICC profile (Display P3 on
  iPhones) are converted to sRGB and the profile dropped;
- stored as JPEG (or PNG when the picture has transparency), at most ``GEO_SERVICE_MEDIA_MAX_SIDE_PX`` on its
  longest side, with a JPEG thumbnail, and the SHA-256 of the stored bytes and of the upload.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass

from PIL import Image, ImageCms, ImageOps, UnidentifiedImageError

from geo_service.errors import InvalidInput, PayloadTooLarge, UnsupportedMediaType
from geo_service.settings import MediaSettings

try:  # HEIC (iPhones) only where the decoder installed cleanly; without it HEIC is refused as unsupported
    import pillow_heif

    pillow_heif.register_heif_opener()
    HEIF = True
except ImportError:  # pragma: no cover - pillow-heif is a dependency; a build without it still runs
    HEIF = False

# what the first bytes say a file is, for the formats we read and the ones people send by mistake
_HEIF_BRANDS = {b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1", b"heif"}
ACCEPTED = ("JPEG", "PNG", "WEBP", "HEIF")
_SNIFF_OTHER = (
    (b"%PDF", "PDF"),
    (b"GIF8", "GIF"),
    (b"BM", "BMP"),
    (b"PK\x03\x04", "ZIP"),
    (b"II*\x00", "TIFF"),
    (b"MM\x00*", "TIFF"),
    (b"<svg", "SVG"),
    (b"<?xml", "XML"),
    (b"\x1f\x8b", "GZIP"),
)


@dataclass(frozen=True)
class CleanImage:
    """A photo as stored: re-encoded bytes and their type, size and checksum, a thumbnail, and the checksum
    and format of what was uploaded."""

    content: bytes
    content_type: str
    width: int
    height: int
    thumbnail: bytes
    sha256: str
    source_sha256: str
    source_format: str


def sniff(data: bytes) -> str | None:
    """The format the first bytes announce: one of :data:`ACCEPTED`, another known name (PDF, GIF …), or None."""
    head = data[:32]
    if head.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "PNG"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WEBP"
    if head[4:8] == b"ftyp" and head[8:12] in _HEIF_BRANDS:
        return "HEIF"
    for magic, name in _SNIFF_OTHER:
        if head.lstrip().startswith(magic):
            return name
    return None


def _srgb(image: Image.Image) -> Image.Image:
    """The picture in sRGB: converted from its embedded ICC profile when it has one (and that profile reads)."""
    icc = image.info.get("icc_profile")
    if not icc or image.mode not in ("RGB", "RGBA"):
        return image
    try:
        source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        target = ImageCms.createProfile("sRGB")
        converted = ImageCms.profileToProfile(image, source, target, outputMode=image.mode)
        return converted if converted is not None else image
    except (ImageCms.PyCMSError, OSError, ValueError):
        return image  # an unreadable profile: keep the pixels as they are


def _has_alpha(image: Image.Image) -> bool:
    return image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info)


def _encode(image: Image.Image, fmt: str, quality: int) -> bytes:
    out = io.BytesIO()
    image.info = {}  # nothing of the upload's metadata may ride along (Pillow reuses some of info on save)
    if fmt == "JPEG":
        image.save(out, format="JPEG", quality=quality, optimize=False, progressive=False)
    else:
        image.save(out, format="PNG", compress_level=6)
    return out.getvalue()


def _flatten(image: Image.Image) -> Image.Image:
    """RGB on white (for a JPEG thumbnail of a transparent picture)."""
    if image.mode == "RGB":
        return image
    rgba = image.convert("RGBA")
    background = Image.new("RGB", rgba.size, (255, 255, 255))
    background.paste(rgba, mask=rgba.getchannel("A"))
    return background


def clean(data: bytes, settings: MediaSettings) -> CleanImage:
    """Check an uploaded photo and re-encode it without its metadata (see the module doc).

    Raises
    ------
    PayloadTooLarge
        More bytes than ``max_bytes`` (413).
    UnsupportedMediaType
        Not a JPEG, PNG, WebP or HEIF/HEIC by its content (415).
    InvalidInput
        Empty, too many pixels (a decompression bomb), truncated or corrupt (422).
    """
    if len(data) > settings.max_bytes:
        raise PayloadTooLarge(
            "media.too_large",
            bytes=f"{len(data):,}",
            max_bytes=f"{settings.max_bytes:,}",
            max_mb=f"{settings.max_bytes / 1024 / 1024:g}",
        )
    if not data:
        raise InvalidInput("media.empty")
    found = sniff(data)
    if found not in ACCEPTED or (found == "HEIF" and not HEIF):
        raise UnsupportedMediaType("media.unsupported_type", found=found or "?", accepted=list(ACCEPTED))
    try:
        image = Image.open(io.BytesIO(data), formats=[found])
        width, height = image.size
        if width * height > settings.max_pixels:
            raise InvalidInput(
                "media.too_many_pixels", width=width, height=height, max_pixels=f"{settings.max_pixels:,}"
            )
        image.seek(0)  # the first frame of an animation or a burst
        image.load()
        picture = ImageOps.exif_transpose(image) or image
    except Image.DecompressionBombError:
        raise InvalidInput(
            "media.too_many_pixels", width="?", height="?", max_pixels=f"{settings.max_pixels:,}"
        ) from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError, IndexError) as exc:
        raise InvalidInput("media.unreadable", format=found, reason=type(exc).__name__) from None
    alpha = _has_alpha(picture)
    picture = _srgb(picture.convert("RGBA" if alpha else "RGB"))
    if max(picture.size) > settings.max_side_px:
        picture.thumbnail(
            (settings.max_side_px, settings.max_side_px), Image.Resampling.LANCZOS, reducing_gap=3.0
        )
    fmt, content_type = ("PNG", "image/png") if alpha else ("JPEG", "image/jpeg")
    content = _encode(picture, fmt, settings.jpeg_quality)
    small = _flatten(picture).copy()
    small.thumbnail(
        (settings.thumbnail_px, settings.thumbnail_px), Image.Resampling.LANCZOS, reducing_gap=2.0
    )
    thumbnail = _encode(small, "JPEG", 80)
    return CleanImage(
        content=content,
        content_type=content_type,
        width=picture.width,
        height=picture.height,
        thumbnail=thumbnail,
        sha256=hashlib.sha256(content).hexdigest(),
        source_sha256=hashlib.sha256(data).hexdigest(),
        source_format=found,
    )
