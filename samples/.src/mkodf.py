#!/usr/bin/env python3
"""mkodf.py - turns the plain-text sources of the sample corpus into flat
OpenDocument XML (.fodt, .fodp, .fods) that LibreOffice converts to the
committed .docx/.odt/.pdf, .pptx/.odp and .xlsx/.ods files.

Usage: mkodf.py SOURCE OUT.fodX

The kind of source follows from its name (SOURCE is NAME.EXT.txt):
  docx, odt, pdf, png -> text document   pptx, odp -> slides   xlsx, ods -> sheets

Text documents (one block per paragraph, blocks separated by blank lines):
  title: ...      first lines, document title (metadata)
  footer: ...     first lines, page footer ("#" is the page number)
  # / ## / ###    headings, levels 1-3
  - item          bullet list (consecutive lines)
  | a | b |       table rows, the first one is the header row
  \\pagebreak     the next block starts a new page
  other lines     a paragraph (lines joined with spaces)

Slides:
  title: ...      presentation title (metadata)
  = Title         starts a slide; its title
  > text          subtitle
  - item          bullet
  | a | b |       table rows
  notes: text     speaker notes (may repeat; one paragraph each)

Sheets:
  title: ...      workbook title (metadata)
  [Name]          starts a sheet
  a<TAB>b<TAB>c   a row; numbers become numeric cells, an empty cell stays empty
"""
import re
import sys
from xml.sax.saxutils import escape

NS = ('xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
      'xmlns:style="urn:oasis:names:tc:opendocument:xmlns:style:1.0" '
      'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" '
      'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" '
      'xmlns:draw="urn:oasis:names:tc:opendocument:xmlns:drawing:1.0" '
      'xmlns:fo="urn:oasis:names:tc:opendocument:xmlns:xsl-fo-compatible:1.0" '
      'xmlns:svg="urn:oasis:names:tc:opendocument:xmlns:svg-compatible:1.0" '
      'xmlns:presentation="urn:oasis:names:tc:opendocument:xmlns:presentation:1.0" '
      'xmlns:number="urn:oasis:names:tc:opendocument:xmlns:datastyle:1.0" '
      'xmlns:dc="http://purl.org/dc/elements/1.1/" '
      'xmlns:meta="urn:oasis:names:tc:opendocument:xmlns:meta:1.0"')

NUM = re.compile(r'^-?\d+(\.\d+)?$')


def head(meta, mimetype):
    out = ['<?xml version="1.0" encoding="UTF-8"?>',
           '<office:document %s office:version="1.3" office:mimetype="%s">' % (NS, mimetype),
           '<office:meta>']
    if 'title' in meta:
        out.append('<dc:title>%s</dc:title>' % escape(meta['title']))
    if 'author' in meta:
        out.append('<dc:creator>%s</dc:creator>' % escape(meta['author']))
    out.append('</office:meta>')
    return out


def split_meta(lines):
    meta = {}
    i = 0
    while i < len(lines):
        m = re.match(r'^(title|footer|author): (.*)$', lines[i])
        if not m:
            break
        meta[m.group(1)] = m.group(2).strip()
        i += 1
    return meta, lines[i:]


def cells(line):
    return [c.strip() for c in line.strip().strip('|').split('|')]


def inline(s):
    return escape(s)


# ---- text documents ------------------------------------------------------------

TEXT_STYLES = '''<office:font-face-decls>
 <style:font-face style:name="DejaVu Sans" svg:font-family="'DejaVu Sans'"/>
 <style:font-face style:name="DejaVu Serif" svg:font-family="'DejaVu Serif'"/>
</office:font-face-decls>
<office:styles>
 <style:default-style style:family="paragraph">
  <style:text-properties style:font-name="DejaVu Serif" fo:font-size="10.5pt"/>
 </style:default-style>
 <style:style style:name="Standard" style:family="paragraph" style:class="text">
  <style:paragraph-properties fo:margin-bottom="0.2cm" fo:line-height="125%"/>
 </style:style>
 <style:style style:name="Heading" style:family="paragraph" style:parent-style-name="Standard">
  <style:paragraph-properties fo:margin-top="0.45cm" fo:margin-bottom="0.2cm" fo:keep-with-next="always"/>
  <style:text-properties style:font-name="DejaVu Sans" fo:font-weight="bold"/>
 </style:style>
 <style:style style:name="Heading_20_1" style:display-name="Heading 1" style:family="paragraph" style:parent-style-name="Heading" style:default-outline-level="1">
  <style:text-properties fo:font-size="17pt"/>
 </style:style>
 <style:style style:name="Heading_20_2" style:display-name="Heading 2" style:family="paragraph" style:parent-style-name="Heading" style:default-outline-level="2">
  <style:text-properties fo:font-size="14pt"/>
 </style:style>
 <style:style style:name="Heading_20_3" style:display-name="Heading 3" style:family="paragraph" style:parent-style-name="Heading" style:default-outline-level="3">
  <style:text-properties fo:font-size="12pt"/>
 </style:style>
 <style:style style:name="Table_20_Contents" style:display-name="Table Contents" style:family="paragraph" style:parent-style-name="Standard">
  <style:paragraph-properties fo:margin-bottom="0cm"/>
 </style:style>
 <style:style style:name="Table_20_Heading" style:display-name="Table Heading" style:family="paragraph" style:parent-style-name="Table_20_Contents">
  <style:text-properties fo:font-weight="bold"/>
 </style:style>
 <style:style style:name="Footer" style:family="paragraph" style:parent-style-name="Standard">
  <style:paragraph-properties fo:text-align="center"/>
  <style:text-properties fo:font-size="8pt"/>
 </style:style>
</office:styles>
<office:automatic-styles>
 <style:style style:name="PB" style:family="paragraph" style:parent-style-name="Standard">
  <style:paragraph-properties fo:break-before="page"/>
 </style:style>
 <style:style style:name="PBH1" style:family="paragraph" style:parent-style-name="Heading_20_1">
  <style:paragraph-properties fo:break-before="page"/>
 </style:style>
 <style:style style:name="PBH2" style:family="paragraph" style:parent-style-name="Heading_20_2">
  <style:paragraph-properties fo:break-before="page"/>
 </style:style>
 <style:style style:name="TC" style:family="table-cell">
  <style:table-cell-properties fo:padding="0.08cm" fo:border="0.5pt solid #000000"/>
 </style:style>
 <style:style style:name="TH" style:family="table-cell">
  <style:table-cell-properties fo:padding="0.08cm" fo:border="0.5pt solid #000000" fo:background-color="#dde4ee"/>
 </style:style>
 <text:list-style style:name="LB">
  <text:list-level-style-bullet text:level="1" text:bullet-char="•">
   <style:list-level-properties text:list-level-position-and-space-mode="label-alignment">
    <style:list-level-label-alignment text:label-followed-by="listtab" fo:text-indent="-0.5cm" fo:margin-left="1cm"/>
   </style:list-level-properties>
  </text:list-level-style-bullet>
 </text:list-style>
 <style:page-layout style:name="PL">
  <style:page-layout-properties fo:page-width="21cm" fo:page-height="29.7cm" fo:margin-top="2cm" fo:margin-bottom="1.5cm" fo:margin-left="2.2cm" fo:margin-right="2.2cm"/>
 </style:page-layout>
</office:automatic-styles>'''


def text_doc(lines):
    meta, lines = split_meta(lines)
    out = head(meta, 'application/vnd.oasis.opendocument.text')
    out.append(TEXT_STYLES)
    out.append('<office:master-styles><style:master-page style:name="Standard" '
               'style:page-layout-name="PL">')
    if 'footer' in meta:
        parts = [inline(p) for p in meta['footer'].split('#')]
        out.append('<style:footer><text:p text:style-name="Footer">%s</text:p></style:footer>' %
                   '<text:page-number text:select-page="current"/>'.join(parts))
    out.append('</style:master-page></office:master-styles>')
    out.append('<office:body><office:text>')
    blocks, cur = [], []
    for ln in lines + ['']:
        if ln.strip() == '':
            if cur:
                blocks.append(cur)
            cur = []
        else:
            cur.append(ln.rstrip())
    brk = False
    ntab = 0
    for b in blocks:
        if b[0] == '\\pagebreak':
            brk = True
            continue
        m = re.match(r'^(#{1,3}) (.*)$', b[0])
        if m and len(b) == 1:
            lvl = len(m.group(1))
            st = 'Heading_20_%d' % lvl
            if brk and lvl <= 2:
                st = 'PBH%d' % lvl
                brk = False
            out.append('<text:h text:style-name="%s" text:outline-level="%d">%s</text:h>' %
                       (st, lvl, inline(m.group(2))))
            continue
        if brk:
            out.append('<text:p text:style-name="PB"/>')
            brk = False
        if b[0].startswith('- '):
            out.append('<text:list text:style-name="LB">')
            for it in b:
                out.append('<text:list-item><text:p text:style-name="Standard">%s</text:p>'
                           '</text:list-item>' % inline(it[2:]))
            out.append('</text:list>')
        elif b[0].startswith('|'):
            rows = [cells(r) for r in b]
            ncol = max(len(r) for r in rows)
            ntab += 1
            out.append('<table:table table:name="Table%d"><table:table-column '
                       'table:number-columns-repeated="%d"/>' % (ntab, ncol))
            for i, r in enumerate(rows):
                if i == 0:
                    out.append('<table:table-header-rows>')
                out.append('<table:table-row>')
                for c in r + [''] * (ncol - len(r)):
                    out.append('<table:table-cell table:style-name="%s" office:value-type="string">'
                               '<text:p text:style-name="%s">%s</text:p></table:table-cell>' %
                               ('TH' if i == 0 else 'TC',
                                'Table_20_Heading' if i == 0 else 'Table_20_Contents', inline(c)))
                out.append('</table:table-row>')
                if i == 0:
                    out.append('</table:table-header-rows>')
            out.append('</table:table>')
        else:
            out.append('<text:p text:style-name="Standard">%s</text:p>' % inline(' '.join(b)))
    out.append('</office:text></office:body></office:document>')
    return '\n'.join(out)


# ---- slides ----------------------------------------------------------------------

SLIDE_STYLES = '''<office:styles>
 <style:style style:name="Default-title" style:family="presentation">
  <style:text-properties fo:font-size="32pt" fo:font-weight="bold"/>
 </style:style>
 <style:style style:name="Default-subtitle" style:family="presentation">
  <style:text-properties fo:font-size="20pt"/>
 </style:style>
 <style:style style:name="Default-outline1" style:family="presentation">
  <style:text-properties fo:font-size="20pt"/>
 </style:style>
 <style:style style:name="Default-notes" style:family="presentation">
  <style:text-properties fo:font-size="12pt"/>
 </style:style>
</office:styles>
<office:automatic-styles>
 <style:page-layout style:name="PM1">
  <style:page-layout-properties fo:margin-top="0cm" fo:margin-bottom="0cm" fo:margin-left="0cm" fo:margin-right="0cm" fo:page-width="28cm" fo:page-height="15.75cm" style:print-orientation="landscape"/>
 </style:page-layout>
 <text:list-style style:name="LS">
  <text:list-level-style-bullet text:level="1" text:bullet-char="●"/>
 </text:list-style>
</office:automatic-styles>
<office:master-styles>
 <style:master-page style:name="Default" style:page-layout-name="PM1">
  <draw:frame presentation:style-name="Default-title" presentation:class="title" presentation:placeholder="true" svg:x="1.5cm" svg:y="0.8cm" svg:width="25cm" svg:height="2.6cm"><draw:text-box/></draw:frame>
  <draw:frame presentation:style-name="Default-outline1" presentation:class="outline" presentation:placeholder="true" svg:x="1.5cm" svg:y="3.8cm" svg:width="25cm" svg:height="10.5cm"><draw:text-box/></draw:frame>
 </style:master-page>
</office:master-styles>'''


def frame(cls, style, y, h, body):
    return ('<draw:frame presentation:style-name="%s" presentation:class="%s" '
            'presentation:user-transformed="true" svg:x="1.5cm" svg:y="%scm" svg:width="25cm" '
            'svg:height="%scm"><draw:text-box>%s</draw:text-box></draw:frame>' % (style, cls, y, h, body))


def slides_doc(lines):
    meta, lines = split_meta(lines)
    out = head(meta, 'application/vnd.oasis.opendocument.presentation')
    out.append(SLIDE_STYLES)
    out.append('<office:body><office:presentation>')
    slides = []
    for ln in lines:
        if ln.startswith('= '):
            slides.append({'title': ln[2:].strip(), 'sub': [], 'bul': [], 'tab': [], 'notes': []})
        elif not ln.strip():
            continue
        elif ln.startswith('> '):
            slides[-1]['sub'].append(ln[2:].strip())
        elif ln.startswith('- '):
            slides[-1]['bul'].append(ln[2:].strip())
        elif ln.startswith('|'):
            slides[-1]['tab'].append(cells(ln))
        elif ln.startswith('notes: '):
            slides[-1]['notes'].append(ln[7:].strip())
        else:
            raise SystemExit('slides: cannot read line: %r' % ln)
    for n, s in enumerate(slides, 1):
        out.append('<draw:page draw:name="page%d" draw:master-page-name="Default">' % n)
        out.append(frame('title', 'Default-title', '0.8', '2.6',
                         '<text:p>%s</text:p>' % inline(s['title'])))
        y = 3.8
        if s['sub']:
            out.append(frame('subtitle', 'Default-subtitle', '5', '6',
                             ''.join('<text:p>%s</text:p>' % inline(t) for t in s['sub'])))
        if s['bul']:
            h = 1.2 * len(s['bul']) + 0.5
            out.append(frame('outline', 'Default-outline1', '%.1f' % y, '%.1f' % h,
                             '<text:list text:style-name="LS">' +
                             ''.join('<text:list-item><text:p>%s</text:p></text:list-item>' %
                                     inline(t) for t in s['bul']) + '</text:list>'))
            y += h + 0.3
        if s['tab']:
            ncol = max(len(r) for r in s['tab'])
            t = ['<draw:frame svg:x="1.5cm" svg:y="%.1fcm" svg:width="25cm" svg:height="%.1fcm">'
                 '<table:table><table:table-column table:number-columns-repeated="%d"/>' %
                 (y, 0.9 * len(s['tab']), ncol)]
            for r in s['tab']:
                t.append('<table:table-row>' + ''.join(
                    '<table:table-cell><text:p>%s</text:p></table:table-cell>' % inline(c)
                    for c in r + [''] * (ncol - len(r))) + '</table:table-row>')
            t.append('</table:table></draw:frame>')
            out.append(''.join(t))
        if s['notes']:
            out.append('<presentation:notes>' +
                       frame('notes', 'Default-notes', '14', '10',
                             ''.join('<text:p>%s</text:p>' % inline(t) for t in s['notes'])) +
                       '</presentation:notes>')
        out.append('</draw:page>')
    out.append('</office:presentation></office:body></office:document>')
    return '\n'.join(out)


# ---- sheets ------------------------------------------------------------------------

def sheets_doc(lines):
    meta, lines = split_meta(lines)
    out = head(meta, 'application/vnd.oasis.opendocument.spreadsheet')
    # two written decimals keep a 0.00 format, as a price column would have
    out.append('<office:automatic-styles><number:number-style style:name="N2">'
               '<number:number number:decimal-places="2" number:min-decimal-places="2" '
               'number:min-integer-digits="1"/></number:number-style>'
               '<style:style style:name="ce2" style:family="table-cell" '
               'style:parent-style-name="Default" style:data-style-name="N2"/>'
               '</office:automatic-styles>')
    out.append('<office:body><office:spreadsheet>')
    open_sheet = False
    for ln in lines:
        m = re.match(r'^\[(.+)\]$', ln.strip())
        if m:
            if open_sheet:
                out.append('</table:table>')
            out.append('<table:table table:name="%s">' % escape(m.group(1), {'"': '&quot;'}))
            open_sheet = True
            continue
        if not ln.strip():
            continue
        row = ['<table:table-row>']
        for c in ln.rstrip('\n').split('\t'):
            c = c.strip()
            if c == '':
                row.append('<table:table-cell/>')
            elif NUM.match(c):
                st = ' table:style-name="ce2"' if re.match(r'^-?\d+\.\d\d$', c) else ''
                row.append('<table:table-cell%s office:value-type="float" office:value="%s">'
                           '<text:p>%s</text:p></table:table-cell>' % (st, c, c))
            else:
                row.append('<table:table-cell office:value-type="string"><text:p>%s</text:p>'
                           '</table:table-cell>' % inline(c))
        row.append('</table:table-row>')
        out.append(''.join(row))
    if open_sheet:
        out.append('</table:table>')
    out.append('</office:spreadsheet></office:body></office:document>')
    return '\n'.join(out)


KIND = {'docx': text_doc, 'odt': text_doc, 'pdf': text_doc, 'png': text_doc,
        'pptx': slides_doc, 'odp': slides_doc, 'xlsx': sheets_doc, 'ods': sheets_doc}


def main():
    if len(sys.argv) != 3:
        raise SystemExit('usage: mkodf.py NAME.EXT.txt OUT.fodX')
    src, dst = sys.argv[1], sys.argv[2]
    ext = src[:-4].rsplit('.', 1)[-1]
    with open(src, encoding='utf-8') as f:
        lines = f.read().split('\n')
    with open(dst, 'w', encoding='utf-8') as f:
        f.write(KIND[ext](lines))


if __name__ == '__main__':
    main()
