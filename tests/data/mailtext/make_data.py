#!/usr/bin/env python3
"""make_data.py — regenerates the committed test inputs of tests/test_mailtext.c.

Run from this directory. The outputs are committed; this script documents how
each was made (encodings, zips, mails) so they can be rebuilt or extended."""
import base64
import struct
import zipfile
import zlib

GERMAN = ("Die Größe der Dateien beträgt 5 Mbyte. Äpfel, Öl und Übermaß kosten "
          "zusammen 12 € – das ist günstig. Straße, Fußgänger und Maßband.\n")


def w(name, data):
    with open(name, "wb") as f:
        f.write(data)


# ---- encodings -------------------------------------------------------------
w("utf16le_bom.txt", b"\xff\xfe" + GERMAN.encode("utf-16-le"))
w("utf16be_bom.txt", b"\xfe\xff" + GERMAN.encode("utf-16-be"))
w("utf32le_bom.txt", b"\xff\xfe\x00\x00" + GERMAN.encode("utf-32-le"))
w("utf32be_bom.txt", b"\x00\x00\xfe\xff" + GERMAN.encode("utf-32-be"))
w("utf16le_nobom.txt", GERMAN.encode("utf-16-le"))
w("cp1252_de.txt", (GERMAN + "„Anführungszeichen“ und Gedankenstriche – überall.\n"
                    "Die Größe ist wichtig, sagte der Bürgermeister während der Sitzung.\n")
  .encode("cp1252"))
w("iso885915_de.txt", (GERMAN.replace("–", "-") + "Die Größe ist wichtig, sagte der Bürgermeister während "
                       "der Sitzung in München. Schöne Grüße aus Düsseldorf.\n")
  .encode("iso-8859-15"))
JAPANESE = ("日本語のテキストです。これはシフトJISで書かれた文書の例です。"
            "東京都の天気は晴れです。明日は雨が降るでしょう。"
            "私たちは毎日図書館で勉強しています。\n") * 3
w("sjis_ja.txt", JAPANESE.encode("shift_jis"))

# ---- tables ----------------------------------------------------------------
w("semicolon.csv", ('Name;Stadt;Notiz;Betrag\r\n'
                    'Anna Schmidt;Berlin;"Erste Zeile\r\nzweite Zeile";12,50\r\n'
                    '"Müller; Hans";"Köln";"Er sagte ""Hallo""";7,00\r\n'
                    'Petra;;;3\r\n').encode("utf-8"))
w("excel.tsv", b"\xff\xfe" + ("Product\tPrice\tStock\r\n"
                               "Widget\t9.99\t120\r\n"
                               "Gadget\t19.50\t\r\n").encode("utf-16-le"))
w("noheader.csv", b'1,Alice,42.5\n2,Bob,17\n3,"Carol, Jr.",99\n')

# ---- detection samples -----------------------------------------------------
PDF = (b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
       b"2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\n"
       b"trailer<</Root 1 0 R>>\n%%EOF\n")
w("tiny.pdf", PDF)


def png_chunk(kind, body):
    return (struct.pack(">I", len(body)) + kind + body +
            struct.pack(">I", zlib.crc32(kind + body) & 0xffffffff))


w("tiny.png", b"\x89PNG\r\n\x1a\n" +
  png_chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0)) +
  png_chunk(b"IDAT", zlib.compress(b"\x00\x00")) + png_chunk(b"IEND", b""))
w("tiny.jpg", b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00\xff\xd9")
w("tiny.tif", b"II*\x00\x08\x00\x00\x00\x00\x00\x00\x00\x00\x00")


def zipped(name, members, stored_first=None):
    with zipfile.ZipFile(name, "w", zipfile.ZIP_DEFLATED) as z:
        if stored_first:
            z.writestr(zipfile.ZipInfo(stored_first[0]), stored_first[1],
                       compress_type=zipfile.ZIP_STORED)
        for n, d in members:
            z.writestr(zipfile.ZipInfo(n), d)


CT = '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"/>'
zipped("tiny.docx", [("[Content_Types].xml", CT), ("word/document.xml", "<w:document/>")])
zipped("tiny.pptx", [("[Content_Types].xml", CT), ("ppt/presentation.xml", "<p:presentation/>")])
zipped("tiny.xlsx", [("[Content_Types].xml", CT), ("xl/workbook.xml", "<workbook/>")])
for ext, kind in (("odt", "text"), ("odp", "presentation"), ("ods", "spreadsheet")):
    zipped("tiny." + ext, [("content.xml", "<office:document-content/>")],
           stored_first=("mimetype", "application/vnd.oasis.opendocument." + kind))
zipped("other.zip", [("readme.txt", "just a zip")])
w("sample.md", b"# Title\n\nSome *markdown* text.\n")
w("sample.html", b"<!DOCTYPE html>\n<html><head><title>T</title></head><body><p>Hi</p></body></html>\n")
w("sample.xml", b'<?xml version="1.0" encoding="UTF-8"?>\n<root><item>x</item></root>\n')
w("sample.txt", b"Plain text notes.\nSecond line.\n")

# ---- mail ------------------------------------------------------------------
PDF_B64 = base64.encodebytes(PDF).decode()
w("alternative.eml", ("""From: =?UTF-8?Q?J=C3=BCrgen_M=C3=BCller?= <juergen@example.org>
To: Alice <alice@example.com>, bob@example.com
Cc: Carol <carol@example.net>
Date: Tue, 05 Mar 2024 14:22:10 +0100
Subject: =?ISO-8859-1?Q?Gr=F6=DFe?= der Dateien
Message-ID: <alt-1@example.org>
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="outer"

This is a multi-part message in MIME format.

--outer
Content-Type: multipart/alternative; boundary="inner"

--inner
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: 8bit

Hallo Alice,

die Dateien sind 5 MB groß. Der Bericht
liegt im Anhang.

Grüße, Jürgen
--inner
Content-Type: text/html; charset=utf-8

<html><body><p>HTML VERSION ONLY</p></body></html>
--inner--

--outer
Content-Type: application/pdf; name="bericht.pdf"
Content-Disposition: attachment; filename="bericht.pdf"
Content-Transfer-Encoding: base64

""" + PDF_B64 + """
--outer
Content-Type: text/plain; charset=us-ascii; name="notes.txt"
Content-Disposition: attachment; filename="notes.txt"

Attached notes, line one.
--outer--
""").replace("\n", "\r\n").encode("utf-8"))

w("qp_latin1.eml", b"""From: Hans <hans@example.de>
To: team@example.de
Date: Wed, 06 Mar 2024 09:00:00 +0100
Subject: Messung
MIME-Version: 1.0
Content-Type: text/plain; charset=iso-8859-1
Content-Transfer-Encoding: quoted-printable

Die Gr=F6=DFe des Raums betr=E4gt 25 m=B2, das ist ein sehr langer Satz, der =
=FCber zwei Zeilen geht.

Zweiter Absatz mit =C4rger.
""")

w("html_only.eml", ("""From: news@example.com
To: reader@example.com
Date: Thu, 07 Mar 2024 10:00:00 +0000
Subject: Newsletter
MIME-Version: 1.0
Content-Type: text/html; charset=windows-1252
Content-Transfer-Encoding: 8bit

<html><head><meta charset="iso-8859-2"><title>Ignored title</title>
<style>p { color: red; }</style><script>var secret = "do not index";</script></head>
<body><h1>Neuigkeiten</h1><p>Die Größe zählt &amp; nichts sonst.</p>
<p>Zweiter<br>Absatz</p></body></html>
""").encode("cp1252"))

w("forward.eml", b"""From: a@example.com
To: b@example.com
Subject: Fwd: original
Date: Fri, 08 Mar 2024 10:00:00 +0000
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="fw"

--fw
Content-Type: text/plain

See the forwarded message.
--fw
Content-Type: message/rfc822

From: origin@example.com
To: a@example.com
Subject: original
Content-Type: multipart/alternative; boundary="in"

--in
Content-Type: text/plain

Inner body text.
--in--
--fw--
""")

w("truncated.eml", b"""From: x@example.com
To: y@example.com
Subject: Truncated
Date: Sat, 09 Mar 2024 10:00:00 +0000
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="never-closed"

--never-closed
Content-Type: text/plain

Visible text before the cut.
--never-closed
Content-Type: application/octet-stream; name="cut.bin"
Content-Disposition: attachment; filename="cut.bin"
Content-Transfer-Encoding: base64

AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKi
""")

w("three.mbox", b"""From alice@example.com Mon Jan  1 10:00:00 2024
From: Alice <alice@example.com>
To: list@example.com
Subject: First message
Date: Mon, 01 Jan 2024 10:00:00 +0000

Body of the first message.
>From here on, an escaped line.

From bob@example.com Tue Jan  2 11:00:00 2024
From: Bob <bob@example.com>
To: list@example.com
Subject: Second message
Date: Tue, 02 Jan 2024 11:00:00 +0000
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="b2"

--b2
Content-Type: text/plain

Body of the second message.
--b2
Content-Type: text/plain; name="minutes.txt"
Content-Disposition: attachment; filename="minutes.txt"

Minutes of the meeting.
--b2--

From carol@example.com Wed Jan  3 12:00:00 2024
From: carol@example.com
To: list@example.com
Subject: =?UTF-8?B?RHJpdHRlIE5hY2hyaWNodCDinJM=?=
Date: Wed, 03 Jan 2024 12:00:00 +0000

Body of the third message.
""")
