#!/usr/bin/env python3
"""scan.py - makes a rendered page look like a cheap office scan: a slight
rotation, a grey paper tone, speckles, softened edges, fewer grey levels
(which also keeps the PNG small). Seeded, so rebuilds give the same image.

Usage: scan.py PAGE.png OUT.png
"""
import random
import sys

from PIL import Image, ImageFilter


def main():
    if len(sys.argv) != 3:
        raise SystemExit('usage: scan.py PAGE.png OUT.png')
    rnd = random.Random(1957)
    img = Image.open(sys.argv[1]).convert('L')
    img = img.point(lambda v: 40 + v * 190 // 255)  # paper tone, toner not quite black
    img = img.rotate(-1.4, resample=Image.BICUBIC, expand=True, fillcolor=70)
    px = img.load()
    w, h = img.size
    for _ in range(w * h // 400):
        x, y = rnd.randrange(w), rnd.randrange(h)
        px[x, y] = rnd.choice((60, 90, 120))
    img = img.filter(ImageFilter.GaussianBlur(0.6))
    img = img.quantize(colors=8).convert('L')
    img.save(sys.argv[2], optimize=True)


if __name__ == '__main__':
    main()
