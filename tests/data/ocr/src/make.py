#!/usr/bin/env python3
"""make.py - regenerates the OCR test images and PDFs in tests/data/ocr/ (the
tests read the committed files; this is only for changing them).

Needs Debian's python3 and python3-pil, the DejaVu fonts (fonts-dejavu-core)
and the committed scanned memo samples/operations/scans/memo-forklift-charging.png.

  german.png       a German paragraph with umlauts and sharp s (Tesseract deu)
  invoice.jpg      one English line as a JPEG
  fax.tif          a two-page G4 TIFF, one sentence per page
  mixed.pdf        page 1 and 3 with a text layer, page 2 the scanned memo
                   as an image only (no text layer)
  huge.png         a PNG header claiming 100000 x 100000 pixels, no pixels
  huge.tif         the same as a TIFF
  huge.jpg         invoice.jpg with its frame header patched to 60000 x 60000

Usage: /usr/bin/python3 tests/data/ocr/src/make.py
"""
import io
import os
import struct
import zlib

from PIL import Image, ImageDraw, ImageFont

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.dirname(HERE)
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(OUT)))
MEMO = os.path.join(ROOT, 'samples/operations/scans/memo-forklift-charging.png')
FONT = '/usr/share/fonts/truetype/dejavu/DejaVuSerif.ttf'


def text_image(lines, size=30, width=1400, pad=40):
    font = ImageFont.truetype(FONT, size)
    h = pad * 2 + int(size * 1.5) * len(lines)
    img = Image.new('L', (width, h), 255)
    d = ImageDraw.Draw(img)
    for i, line in enumerate(lines):
        d.text((pad, pad + i * int(size * 1.5)), line, font=font, fill=0)
    return img


def german():
    img = text_image([
        'Die Prüfung der Ladestation in Halle C ist für',
        'Donnerstag geplant. Schlüssel gibt es beim Pförtner;',
        'bitte öffnen Sie die Tür zur Straße nicht.',
        'Größe des Raums: 24 Plätze, Übergabe am 16. November.',
    ])
    img.convert('1', dither=Image.NONE).save(os.path.join(OUT, 'german.png'), optimize=True)


def invoice():
    img = text_image(['Invoice 4711 from Scanlogix: total due EUR 1,234.50'], size=32, width=1100)
    img.save(os.path.join(OUT, 'invoice.jpg'), quality=75)


def fax():
    p1 = text_image(['Fax page one: the gate code for Hall C is 7351.'], width=1100)
    p2 = text_image(['Fax page two: deliveries before six need a booking.'], width=1100)
    frames = [p.convert('1', dither=Image.NONE) for p in (p1, p2)]
    frames[0].save(os.path.join(OUT, 'fax.tif'), save_all=True, append_images=frames[1:],
                   compression='group4', dpi=(200, 200))


def pdf_text_page(text):
    stream = ('BT /F1 14 Tf 72 720 Td (%s) Tj ET' % text).encode()
    return stream


def mixed_pdf():
    memo = Image.open(MEMO).convert('L')
    jpg = io.BytesIO()
    memo.save(jpg, 'JPEG', quality=70)
    jpg = jpg.getvalue()
    w, h = memo.size
    # the memo was scanned at 110 dpi: a page of w x h pixels at that density
    pw, ph = w * 72.0 / 110, h * 72.0 / 110
    objs = []

    def add(body):
        objs.append(body)
        return len(objs)

    font = add(b'<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>')
    image = add(b'<< /Type /XObject /Subtype /Image /Width %d /Height %d /ColorSpace /DeviceGray'
                b' /BitsPerComponent 8 /Filter /DCTDecode /Length %d >>\nstream\n' % (w, h, len(jpg))
                + jpg + b'\nendstream')
    contents = []
    for text in ('Cover sheet: the scanned memo from Leipzig follows on the next page.', None,
                 'Appendix: the charging room checklist is kept by occupational safety.'):
        if text:
            s = pdf_text_page(text)
        else:
            s = b'q %.2f 0 0 %.2f 0 0 cm /Im1 Do Q' % (pw, ph)
        contents.append(add(b'<< /Length %d >>\nstream\n' % len(s) + s + b'\nendstream'))
    pages_id = len(objs) + len(contents) + 1
    kids = []
    for i, c in enumerate(contents):
        box = b'0 0 %.2f %.2f' % ((pw, ph) if i == 1 else (612, 792))
        kids.append(add(b'<< /Type /Page /Parent %d 0 R /MediaBox [%s] /Contents %d 0 R'
                        b' /Resources << /Font << /F1 %d 0 R >> /XObject << /Im1 %d 0 R >> >> >>'
                        % (pages_id, box, c, font, image)))
    assert add(b'<< /Type /Pages /Kids [%s] /Count %d >>'
               % (b' '.join(b'%d 0 R' % k for k in kids), len(kids))) == pages_id
    catalog = add(b'<< /Type /Catalog /Pages %d 0 R >>' % pages_id)
    out = bytearray(b'%PDF-1.4\n%\xe2\xe3\xcf\xd3\n')
    offsets = []
    for i, body in enumerate(objs):
        offsets.append(len(out))
        out += b'%d 0 obj\n' % (i + 1) + body + b'\nendobj\n'
    xref = len(out)
    out += b'xref\n0 %d\n0000000000 65535 f \n' % (len(objs) + 1)
    for o in offsets:
        out += b'%010d 00000 n \n' % o
    out += b'trailer\n<< /Size %d /Root %d 0 R >>\nstartxref\n%d\n%%%%EOF\n' % (
        len(objs) + 1, catalog, xref)
    with open(os.path.join(OUT, 'mixed.pdf'), 'wb') as f:
        f.write(out)


def chunk(kind, data):
    return struct.pack('>I', len(data)) + kind + data + struct.pack('>I', zlib.crc32(kind + data))


def huge_png():
    ihdr = struct.pack('>IIBBBBB', 100000, 100000, 8, 0, 0, 0, 0)
    data = b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', ihdr) + chunk(b'IDAT', zlib.compress(b'\0' * 64)) \
        + chunk(b'IEND', b'')
    with open(os.path.join(OUT, 'huge.png'), 'wb') as f:
        f.write(data)


def huge_tiff():
    # little-endian TIFF, one IFD: 100000 x 100000, 8-bit grey, one strip of 16 bytes
    entries = [(256, 4, 1, 100000), (257, 4, 1, 100000), (258, 3, 1, 8), (259, 3, 1, 1),
               (262, 3, 1, 1), (273, 4, 1, 8), (277, 3, 1, 1), (278, 4, 1, 100000),
               (279, 4, 1, 16)]
    ifd_off = 8 + 16
    data = b'II*\x00' + struct.pack('<I', ifd_off) + b'\x80' * 16
    data += struct.pack('<H', len(entries))
    for tag, typ, count, value in entries:
        v = struct.pack('<HH', value, 0) if typ == 3 else struct.pack('<I', value)
        data += struct.pack('<HHI', tag, typ, count) + v
    data += struct.pack('<I', 0)
    with open(os.path.join(OUT, 'huge.tif'), 'wb') as f:
        f.write(data)


def huge_jpeg():
    data = bytearray(open(os.path.join(OUT, 'invoice.jpg'), 'rb').read())
    i = data.index(b'\xff\xc0')
    struct.pack_into('>HH', data, i + 5, 60000, 60000)  # height, width
    with open(os.path.join(OUT, 'huge.jpg'), 'wb') as f:
        f.write(data)


if __name__ == '__main__':
    german()
    invoice()
    fax()
    mixed_pdf()
    huge_png()
    huge_tiff()
    huge_jpeg()
