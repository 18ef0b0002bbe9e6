"""Send one image request through Stratum with the OpenAI SDK.

The image is a tiny PNG generated here (no file, no network) and sent inline as a base64
data URL, the way OpenAI-compatible servers (vLLM, llama-server with --mmproj) accept it.

Stratum scores only the text part of the message; the image part is passed through to
whichever tier answers. Point it at a stack whose tiers can both see images: the local demo
stack (Gemma 3 270M) is text-only and will refuse or ignore the image.

    python examples/vision_request.py --base-url http://127.0.0.1:9000/v1
"""

from __future__ import annotations

import argparse
import base64
import struct
import zlib


def tiny_png(width: int = 8, height: int = 8, rgb: tuple[int, int, int] = (220, 30, 30)) -> bytes:
    """A solid-colour RGB PNG, built with the standard library only."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    row = b"\x00" + bytes(rgb) * width  # filter type 0, then the pixels
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit RGB
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(row * height))
        + chunk(b"IEND", b"")
    )


def data_url(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--base-url", default="http://127.0.0.1:9000/v1", help="Stratum's OpenAI base URL"
    )
    parser.add_argument(
        "--model",
        default="gemma4-fast",
        help="gemma4-fast (routed), gemma4-smart (tier_high) or gemma4-lite (tier_low)",
    )
    parser.add_argument("--api-key", default="none", help="a key from STRATUM_API_KEYS, if set")
    parser.add_argument("--prompt", default="What colour is this image? Answer in one word.")
    parser.add_argument("--max-tokens", type=int, default=32)
    args = parser.parse_args()

    from openai import OpenAI  # imported here so --help works without the SDK

    client = OpenAI(base_url=args.base_url, api_key=args.api_key)
    response = client.chat.completions.with_raw_response.create(
        model=args.model,
        max_tokens=args.max_tokens,
        messages=[
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": args.prompt},
                    {"type": "image_url", "image_url": {"url": data_url(tiny_png())}},
                ],
            }
        ],
    )
    completion = response.parse()
    print("tier:", response.headers.get("x-stratum-tier", "(not routed by Stratum)"))
    print("rule:", response.headers.get("x-stratum-rule", "-"))
    print("answer:", completion.choices[0].message.content)
    if completion.usage is not None:
        print("prompt tokens (text + image):", completion.usage.prompt_tokens)


if __name__ == "__main__":
    main()
