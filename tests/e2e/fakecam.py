"""Fake camera for Chromium-based end-to-end tests.

Chromium can replace the real camera with a video file given by
``--use-file-for-fake-video-capture``; the Y4M (YUV4MPEG2) format is the
simplest it accepts. :func:`write_y4m` turns a still image into such a file and
:func:`chromium_fake_camera_args` gives the command-line switches to use it.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from PIL import Image

__all__ = ["chromium_fake_camera_args", "write_y4m", "write_y4m_cycle"]


def _letterbox(image: Image.Image, width: int, height: int) -> Image.Image:
    """Return a grayscale ``width`` x ``height`` image, ``image`` scaled to fit
    (aspect ratio kept) and centred on white."""
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        flattened = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        flattened.alpha_composite(rgba)
        gray = flattened.convert("L")
    else:
        gray = image.convert("L")

    scale = min(width / gray.width, height / gray.height)
    new_size = (max(1, round(gray.width * scale)), max(1, round(gray.height * scale)))
    if new_size != gray.size:
        # Nearest keeps module edges sharp when enlarging; Lanczos avoids
        # aliasing when shrinking.
        resample = Image.Resampling.NEAREST if scale > 1 else Image.Resampling.LANCZOS
        gray = gray.resize(new_size, resample)

    canvas = Image.new("L", (width, height), 255)
    canvas.paste(gray, ((width - gray.width) // 2, (height - gray.height) // 2))
    return canvas


def write_y4m(
    image: Image.Image,
    path: Path,
    *,
    width: int = 640,
    height: int = 480,
    frames: int = 30,
) -> None:
    """Write ``image`` as a grayscale 4:2:0 Y4M video of ``frames`` identical frames.

    The image is letterboxed (scaled to fit, aspect ratio kept) and centred on
    white. Luma comes from the grayscale image; both chroma planes are 128
    (no colour). Chromium loops the file, so a few frames are enough.
    """
    write_y4m_cycle([image], path, width=width, height=height, frames_each=frames)


def write_y4m_cycle(
    images: Sequence[Image.Image],
    path: Path,
    *,
    width: int = 640,
    height: int = 480,
    frames_each: int = 15,
) -> None:
    """Write a Y4M video (30 frames a second) showing each of ``images`` in turn for
    ``frames_each`` frames; Chromium loops it, like coupons held up one after another."""
    if width <= 0 or height <= 0 or width % 2 or height % 2:
        raise ValueError(
            f"width and height must be positive and even for 4:2:0, got {width}x{height}"
        )
    if frames_each < 1:
        raise ValueError(f"frames must be >= 1, got {frames_each}")
    if not images:
        raise ValueError("at least one image is needed")

    chroma = bytes([128]) * ((width // 2) * (height // 2))
    header = f"YUV4MPEG2 W{width} H{height} F30:1 Ip A1:1 C420jpeg\n".encode("ascii")
    path = Path(path)
    with path.open("wb") as fh:
        fh.write(header)
        for image in images:
            luma = _letterbox(image, width, height).tobytes()
            assert len(luma) == width * height
            frame = b"FRAME\n" + luma + chroma + chroma
            for _ in range(frames_each):
                fh.write(frame)


def chromium_fake_camera_args(y4m: Path) -> list[str]:
    """Chromium switches that auto-grant camera access and feed it ``y4m``."""
    return [
        "--use-fake-device-for-media-stream",
        "--use-fake-ui-for-media-stream",
        f"--use-file-for-fake-video-capture={y4m}",
    ]
