"""Writes the OCR evaluation set: text rendered with Debian's DejaVu and Liberation fonts at
several sizes, each clean and degraded (noise, blur, slight rotation, low contrast), as PNG with
the ground truth beside it (`NAME.png`, `NAME.txt`). Deterministic: the same set every run.
Usage: python make_set.py OUT_DIR"""
import os
import random
import sys

from PIL import Image, ImageDraw, ImageFilter, ImageFont

FONTS = {
    "dejavu-sans": "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "dejavu-serif": "/usr/share/fonts/truetype/dejavu/DejaVuSerif.ttf",
    "liberation-sans": "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
    "liberation-serif": "/usr/share/fonts/truetype/liberation/LiberationSerif-Regular.ttf",
    "liberation-mono": "/usr/share/fonts/truetype/liberation/LiberationMono-Regular.ttf",
}
SIZES = [18, 28, 40]
WORDS = """the of and to in is that for it as was with be by on not he this are or his from at which
but have an they you were her she there had all one their we can has more when will would who
invoice total amount payment order number date customer account balance due shipping address
report quarterly revenue growth market price product service delivery contract signed
2024 2025 15.00 42 1,250.75 #1042 ID-7781 (EUR) 30% Q3 9:45""".split()


def sentence(rng, words):
    text = " ".join(rng.choice(WORDS) for _ in range(words))
    return text[0].upper() + text[1:] + rng.choice([".", ".", ",", ";", ":"])


def render(lines, font_path, size):
    font = ImageFont.truetype(font_path, size)
    width = max(int(font.getlength(line)) for line in lines) + 2 * size
    line_height = int(size * 1.5)
    image = Image.new("L", (width, line_height * len(lines) + 2 * size), 255)
    draw = ImageDraw.Draw(image)
    for i, line in enumerate(lines):
        draw.text((size, size + i * line_height), line, font=font, fill=0)
    return image


def degrade(image, variant, rng):
    if variant == "noise":
        pixels = image.load()
        for _ in range(image.width * image.height // 25):
            x, y = rng.randrange(image.width), rng.randrange(image.height)
            pixels[x, y] = rng.choice([0, 255])
        return image
    if variant == "blur":
        return image.filter(ImageFilter.GaussianBlur(radius=1.2))
    if variant == "rotate":
        return image.rotate(rng.choice([-3, -2, 2, 3]), resample=Image.BICUBIC, expand=True, fillcolor=255)
    if variant == "lowcontrast":
        return image.point(lambda v: 110 + v * 70 // 255)
    return image


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    rng = random.Random(2026)
    for font_name, path in FONTS.items():
        for size in SIZES:
            lines = [sentence(rng, rng.randint(6, 9)) for _ in range(3)]
            clean = render(lines, path, size)
            for variant in ["clean", "noise", "blur", "rotate", "lowcontrast"]:
                name = f"{font_name}-{size}-{variant}"
                degrade(clean.copy(), variant, rng).save(os.path.join(out, name + ".png"))
                with open(os.path.join(out, name + ".txt"), "w", encoding="utf-8") as f:
                    f.write("\n".join(lines) + "\n")


main()
