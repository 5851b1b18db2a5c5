#!/usr/bin/env python3
"""make_office.py - regenerates the Office test files in tests/data/office/.

Run from anywhere: python3 tests/data/office/src/make_office.py

1. Real files: LibreOffice (Debian packages libreoffice-writer-nogui,
   libreoffice-calc-nogui, libreoffice-impress-nogui) converts the flat XML
   sources in this folder:
     handbook.fodt  -> handbook.docx, handbook.odt
     deck.fodp      -> deck.pptx, deck.odp
     inventory.fods -> inventory.xlsx, inventory.ods
   Skipped (with a message) when soffice is not installed; the committed
   outputs are what the tests read, CI never runs LibreOffice.
2. Hand-made packages (standard library zipfile/zlib only) for what
   LibreOffice does not write: localized Word style ids, slides listed out of
   file-name order, xlsx cell types LibreOffice never emits, and hostile
   inputs (zip bombs, a member lying about its size, traversal names,
   encrypted members, XXE and billion laughs, deep nesting, huge ODF repeat
   counts).
"""
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import zipfile
import zlib

SRC = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.dirname(SRC)

W = 'http://schemas.openxmlformats.org/wordprocessingml/2006/main'
R = 'http://schemas.openxmlformats.org/officeDocument/2006/relationships'
PR = 'http://schemas.openxmlformats.org/package/2006/relationships'
S = 'http://schemas.openxmlformats.org/spreadsheetml/2006/main'
RT = R  # relationship types share the prefix


def out(name):
    return os.path.join(OUT, name)


FIXED_TIME = (2024, 1, 1, 0, 0, 0)  # reproducible archives


def write_zip(name, members, compression=zipfile.ZIP_DEFLATED):
    with zipfile.ZipFile(out(name), 'w', compression) as z:
        for n, data in members:
            z.writestr(zipfile.ZipInfo(n, FIXED_TIME), data, compress_type=compression)


def soffice():
    exe = shutil.which('soffice') or shutil.which('libreoffice')
    if not exe:
        print('soffice not found: keeping the committed LibreOffice outputs')
        return
    prof = tempfile.mkdtemp(prefix='lo-profile-')
    try:
        for src, fmts in (('handbook.fodt', ('docx', 'odt')), ('deck.fodp', ('pptx', 'odp')),
                          ('inventory.fods', ('xlsx', 'ods'))):
            for f in fmts:
                subprocess.run([exe, '--headless', '--norestore',
                                '-env:UserInstallation=file://' + prof, '--convert-to', f,
                                '--outdir', OUT, os.path.join(SRC, src)], check=True,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    finally:
        shutil.rmtree(prof, ignore_errors=True)


# ---- Word ------------------------------------------------------------------

CT_DOCX = ('<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/'
           'package/2006/content-types"><Default Extension="rels" ContentType="application/'
           'vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" '
           'ContentType="application/xml"/></Types>')


def rels(items):
    body = ''.join('<Relationship Id="%s" Type="%s/%s" Target="%s"%s/>' %
                   (i, RT, t, tg, ' TargetMode="External"' if ext else '')
                   for i, t, tg, ext in items)
    return '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="%s">%s</Relationships>' % (PR, body)


def root_rels(main):
    return rels([('rId1', 'officeDocument', main, False)])


def wdoc(body, prolog=''):
    return ('<?xml version="1.0" encoding="UTF-8"?>%s<w:document xmlns:w="%s" xmlns:r="%s" '
            'xmlns:mc="http://schemas.openxmlformats.org/markup-compatibility/2006" '
            'xmlns:wps="http://schemas.microsoft.com/office/word/2010/wordprocessingShape">'
            '<w:body>%s</w:body></w:document>' % (prolog, W, R, body))


def p(text, style=None, num=None, extra=''):
    ppr = ''
    if style or num:
        ppr = '<w:pPr>%s%s</w:pPr>' % (
            '<w:pStyle w:val="%s"/>' % style if style else '',
            '<w:numPr><w:ilvl w:val="%d"/><w:numId w:val="%d"/></w:numPr>' % num if num else '')
    return '<w:p>%s<w:r><w:t xml:space="preserve">%s</w:t></w:r>%s</w:p>' % (ppr, text, extra)


def localized_docx():
    styles = ('<?xml version="1.0" encoding="UTF-8"?><w:styles xmlns:w="%s">'
              '<w:style w:type="paragraph" w:styleId="Standard"><w:name w:val="Normal"/></w:style>'
              '<w:style w:type="paragraph" w:styleId="Titel"><w:name w:val="Title"/></w:style>'
              '<w:style w:type="paragraph" w:styleId="berschrift1"><w:name w:val="heading 1"/>'
              '<w:basedOn w:val="Standard"/></w:style>'
              '<w:style w:type="paragraph" w:styleId="berschrift2"><w:name w:val="heading 2"/></w:style>'
              '<w:style w:type="paragraph" w:styleId="Kapitel"><w:name w:val="Kapitel"/>'
              '<w:pPr><w:outlineLvl w:val="0"/></w:pPr></w:style>'
              '<w:style w:type="paragraph" w:styleId="Unterkapitel"><w:name w:val="Unterkapitel"/>'
              '<w:basedOn w:val="berschrift2"/></w:style>'
              '<w:style w:type="paragraph" w:styleId="Schleife"><w:name w:val="Schleife"/>'
              '<w:basedOn w:val="Schleife2"/></w:style>'
              '<w:style w:type="paragraph" w:styleId="Schleife2"><w:name w:val="Schleife2"/>'
              '<w:basedOn w:val="Schleife"/></w:style>'
              '<w:style w:type="paragraph" w:styleId="Verzeichnis1"><w:name w:val="toc 1"/></w:style>'
              '</w:styles>' % W)
    numbering = ('<?xml version="1.0" encoding="UTF-8"?><w:numbering xmlns:w="%s">'
                 '<w:abstractNum w:abstractNumId="7"><w:lvl w:ilvl="0"><w:start w:val="1"/>'
                 '<w:numFmt w:val="decimal"/></w:lvl><w:lvl w:ilvl="1"><w:start w:val="1"/>'
                 '<w:numFmt w:val="lowerLetter"/></w:lvl></w:abstractNum>'
                 '<w:abstractNum w:abstractNumId="8"><w:lvl w:ilvl="0"><w:numFmt w:val="bullet"/>'
                 '</w:lvl></w:abstractNum>'
                 '<w:abstractNum w:abstractNumId="9"><w:lvl w:ilvl="0"><w:numFmt w:val="decimal"/>'
                 '<w:lvlText w:val="%%1."/></w:lvl><w:lvl w:ilvl="1"><w:numFmt w:val="decimal"/>'
                 '<w:lvlText w:val="%%1.%%2."/></w:lvl></w:abstractNum>'
                 '<w:abstractNum w:abstractNumId="10"><w:lvl w:ilvl="0"><w:start w:val="3"/>'
                 '<w:numFmt w:val="decimal"/><w:lvlText w:val="%%1"/></w:lvl></w:abstractNum>'
                 '<w:num w:numId="5"><w:abstractNumId w:val="9"/></w:num>'
                 '<w:num w:numId="7"><w:abstractNumId w:val="9"/></w:num>'
                 '<w:num w:numId="8"><w:abstractNumId w:val="9"/><w:lvlOverride w:ilvl="0">'
                 '<w:startOverride w:val="1"/></w:lvlOverride></w:num>'
                 '<w:num w:numId="6"><w:abstractNumId w:val="10"/></w:num>'
                 '<w:num w:numId="3"><w:abstractNumId w:val="7"/></w:num>'
                 '<w:num w:numId="4"><w:abstractNumId w:val="8"/></w:num></w:numbering>' % W)
    endnotes = ('<?xml version="1.0" encoding="UTF-8"?><w:endnotes xmlns:w="%s">'
                '<w:endnote w:type="separator" w:id="-1"><w:p><w:r><w:separator/></w:r></w:p></w:endnote>'
                '<w:endnote w:id="1"><w:p><w:r><w:endnoteRef/></w:r><w:r><w:t xml:space="preserve"> '
                'Measured in March 2024.</w:t></w:r></w:p></w:endnote></w:endnotes>' % W)
    textbox = ('<w:r><mc:AlternateContent><mc:Choice Requires="wps"><w:drawing><wps:wsp><wps:txbx>'
               '<w:txbxContent><w:p><w:r><w:t>Boxed reminder: label every tape</w:t></w:r></w:p>'
               '</w:txbxContent></wps:txbx></wps:wsp></w:drawing></mc:Choice><mc:Fallback><w:pict>'
               '<w:txbxContent><w:p><w:r><w:t>Boxed reminder: label every tape</w:t></w:r></w:p>'
               '</w:txbxContent></w:pict></mc:Fallback></mc:AlternateContent></w:r>')
    table = ('<w:tbl><w:tblGrid><w:gridCol/><w:gridCol/><w:gridCol/></w:tblGrid>'
             '<w:tr><w:tc><w:p><w:r><w:t>Room</w:t></w:r></w:p></w:tc>'
             '<w:tc><w:tcPr><w:gridSpan w:val="2"/></w:tcPr><w:p><w:r><w:t>Keys</w:t></w:r></w:p></w:tc></w:tr>'
             '<w:tr><w:tc><w:p><w:r><w:t>Server room</w:t></w:r></w:p></w:tc>'
             '<w:tc><w:p><w:r><w:t>Alice</w:t></w:r></w:p></w:tc>'
             '<w:tc><w:p><w:r><w:t>Bob</w:t></w:r></w:p></w:tc></w:tr></w:tbl>')
    toc = ('<w:sdt><w:sdtPr><w:docPartObj><w:docPartGallery w:val="Table of Contents"/>'
           '</w:docPartObj></w:sdtPr><w:sdtContent>' + p('TOC-ENTRY Einleitung 1') +
           '</w:sdtContent></w:sdt>' + p('TOC-STYLE Zeitplan 2', 'Verzeichnis1'))
    body = (p('Sicherungskonzept', 'Titel') + toc +
            p('Einleitung', 'Kapitel') +
            p('Die Daten werden gesichert.', 'Standard') +
            p('Zeitplan', 'berschrift2') +
            '<w:p><w:r><w:t xml:space="preserve">Backups run at </w:t></w:r>'
            '<w:r><w:fldChar w:fldCharType="begin"/></w:r><w:r><w:instrText> TIME \\@ "HH:mm" '
            '</w:instrText></w:r><w:r><w:fldChar w:fldCharType="separate"/></w:r><w:r><w:t>02:00'
            '</w:t></w:r><w:r><w:fldChar w:fldCharType="end"/></w:r>'
            '<w:del w:id="9" w:author="x"><w:r><w:delText>DELETED-WORDS</w:delText></w:r></w:del>'
            '<w:ins w:id="10" w:author="x"><w:r><w:t xml:space="preserve"> nightly</w:t></w:r></w:ins>'
            '<w:r><w:t>.</w:t></w:r><w:r><w:endnoteReference w:id="1"/></w:r></w:p>' +
            p('Check the logs', num=(0, 3)) +
            p('Look for errors', num=(1, 3)) +
            p('Look for warnings', num=(1, 3)) +
            p('Report', num=(0, 3)) +
            p('Coffee', num=(0, 4)) +
            p('Install', num=(0, 5)) +
            p('Unpack', num=(1, 5)) +
            p('Configure', num=(1, 5)) +
            p('Wiederherstellung', 'berschrift1', num=(0, 6)) +
            p('Verify the copy', num=(0, 7)) +
            p('Start over', num=(0, 8)) +
            '<w:p><w:pPr><w:pStyle w:val="Standard"/></w:pPr><w:hyperlink r:id="rIdLink"><w:r>'
            '<w:t>the wiki page</w:t></w:r></w:hyperlink><w:r><w:tab/><w:t>tab</w:t><w:br/>'
            '<w:t>next line</w:t></w:r>' + textbox + '</w:p>' +
            table +
            p('Anhang', 'Unterkapitel') +
            p('Looping styles are body text.', 'Schleife') +
            '<w:sectPr/>')
    doc_rels = rels([('rIdS', 'styles', 'styles.xml', False),
                     ('rIdN', 'numbering', 'numbering.xml', False),
                     ('rIdE', 'endnotes', 'endnotes.xml', False),
                     ('rIdLink', 'hyperlink', 'https://example.org/wiki', True),
                     ('rIdBad', 'footnotes', '../../../../etc/passwd', False)])
    write_zip('localized.docx', [
        ('[Content_Types].xml', CT_DOCX),
        ('_rels/.rels', root_rels('word/document.xml')),
        ('word/document.xml', wdoc(body)),
        ('word/_rels/document.xml.rels', doc_rels),
        ('word/styles.xml', styles),
        ('word/numbering.xml', numbering),
        ('word/endnotes.xml', endnotes),
        # never reachable: unsafe names are hidden from lookups
        ('../evil.xml', wdoc(p('EVIL-TRAVERSAL'))),
        ('/abs.xml', wdoc(p('EVIL-ABSOLUTE'))),
        ('word\\back.xml', wdoc(p('EVIL-BACKSLASH'))),
    ])


def simple_docx(name, document, **kw):
    members = [('[Content_Types].xml', CT_DOCX), ('_rels/.rels', root_rels('word/document.xml')),
               ('word/document.xml', document)]
    write_zip(name, members, **kw)


# ---- PowerPoint: slide list out of file-name order ---------------------------

DGM = 'http://schemas.openxmlformats.org/drawingml/2006/diagram'
SMARTART = ('<p:graphicFrame><p:nvGraphicFramePr><p:cNvPr id="90" name="Diagram"/>'
            '<p:cNvGraphicFramePr/><p:nvPr/></p:nvGraphicFramePr><p:xfrm><a:off x="0" y="0"/>'
            '<a:ext cx="1" cy="1"/></p:xfrm><a:graphic><a:graphicData uri="%s">'
            '<dgm:relIds xmlns:dgm="%s" r:dm="rIdDgm" r:lo="rIdLo" r:qs="rIdQs" r:cs="rIdCs"/>'
            '</a:graphicData></a:graphic></p:graphicFrame>' % (DGM, DGM))
DGM_DATA = ('<?xml version="1.0" encoding="UTF-8"?><dgm:dataModel xmlns:dgm="%s" '
            'xmlns:a="http://schemas.openxmlformats.org/drawingml/2006/main"><dgm:ptLst>'
            '<dgm:pt modelId="0" type="doc"><dgm:t><a:p><a:r><a:t>DOC-JUNK</a:t></a:r></a:p></dgm:t></dgm:pt>'
            '<dgm:pt modelId="1"><dgm:t><a:bodyPr/><a:p><a:r><a:t>Plan the budget</a:t></a:r></a:p></dgm:t></dgm:pt>'
            '<dgm:pt modelId="2" type="parTrans"/>'
            '<dgm:pt modelId="3"><dgm:t><a:bodyPr/><a:p><a:r><a:t>Order the drives</a:t></a:r></a:p></dgm:t></dgm:pt>'
            '<dgm:pt modelId="4" type="pres"><dgm:t><a:p><a:r><a:t>PRES-JUNK</a:t></a:r></a:p></dgm:t></dgm:pt>'
            '</dgm:ptLst></dgm:dataModel>' % DGM)


def reordered_pptx():
    """deck.pptx with its slide list reversed, no core properties (the title
    then comes from the first slide) and a SmartArt diagram on "Next Steps"."""
    src = out('deck.pptx')
    with zipfile.ZipFile(src) as z:
        items = [(i.filename, z.read(i.filename)) for i in z.infolist()]
    with zipfile.ZipFile(out('reordered.pptx'), 'w', zipfile.ZIP_DEFLATED) as z:
        def put(name, data):
            z.writestr(zipfile.ZipInfo(name, FIXED_TIME), data, compress_type=zipfile.ZIP_DEFLATED)
        for name, data in items:
            if name == 'docProps/core.xml':
                continue
            if name == '_rels/.rels':
                data = data.replace(b'Target="docProps/core.xml"', b'Target="docProps/gone.xml"')
            if name == 'ppt/presentation.xml':
                s = data.decode()
                a = s.index('<p:sldIdLst>') + len('<p:sldIdLst>')
                b = s.index('</p:sldIdLst>')
                ids = s[a:b].replace('/>', '/>\n').split('\n')
                ids = [i for i in ids if i]
                s = s[:a] + ''.join(reversed(ids)) + s[b:]
                data = s.encode()
            if name == 'ppt/slides/slide3.xml':
                data = data.replace(b'</p:spTree>', SMARTART.encode() + b'</p:spTree>')
            if name == 'ppt/slides/_rels/slide3.xml.rels':
                data = data.replace(b'</Relationships>', (
                    '<Relationship Id="rIdDgm" Type="%s/diagramData" '
                    'Target="../diagrams/data1.xml"/></Relationships>' % RT).encode())
            put(name, data)
        put('ppt/diagrams/data1.xml', DGM_DATA)


# ---- Excel: cell types LibreOffice does not write -----------------------------

def handmade_xlsx():
    wb = ('<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="%s" xmlns:r="%s">'
          '<workbookPr date1904="false"/><sheets>'
          '<sheet name="Summary" sheetId="2" r:id="rId2"/>'
          '<sheet name="Raw data" sheetId="1" r:id="rId1"/>'
          '<sheet name="Chart" sheetId="3" r:id="rId3"/></sheets></workbook>' % (S, R))
    wb_rels = rels([('rId1', 'worksheet', 'worksheets/sheet1.xml', False),
                    ('rId2', 'worksheet', '/xl/worksheets/sheet2.xml', False),
                    ('rId3', 'chartsheet', 'chartsheets/sheet3.xml', False),
                    ('rId4', 'sharedStrings', 'sharedStrings.xml', False),
                    ('rId5', 'styles', 'styles.xml', False)])
    sst = ('<?xml version="1.0" encoding="UTF-8"?><sst xmlns="%s">'
           '<si><t>Metric</t></si><si><t>Value</t></si>'
           '<si><r><t>Uptime </t></r><r><rPr><b/></rPr><t>percent</t></r>'
           '<rPh sb="0" eb="1"><t>PHONETIC</t></rPh></si>'
           '<si><t>Owner</t></si></sst>' % S)
    styles = ('<?xml version="1.0" encoding="UTF-8"?><styleSheet xmlns="%s"><numFmts count="1">'
              '<numFmt numFmtId="170" formatCode="d/m/yyyy\\ h:mm"/></numFmts><cellXfs count="3">'
              '<xf numFmtId="0"/><xf numFmtId="14"/><xf numFmtId="170"/></cellXfs></styleSheet>' % S)
    summary = ('<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="%s"><sheetData>'
               '<row r="1"><c r="A1" t="s"><v>0</v></c><c r="B1" t="s"><v>1</v></c>'
               '<c r="D1" t="s"><v>3</v></c></row>'
               '<row r="2"><c r="A2" t="s"><v>2</v></c><c r="B2"><f>AVERAGE(Raw!B2:B9)</f><v>99.95</v></c>'
               '<c r="D2" t="inlineStr"><is><t>Ops team</t></is></c></row>'
               '<row r="3"><c t="inlineStr"><is><t>Healthy</t></is></c><c t="b"><v>1</v></c></row>'
               '<row r="4"><c r="A4" t="inlineStr"><is><t>Last check</t></is></c>'
               '<c r="B4" s="1"><v>45366</v></c></row>'
               '<row r="5"><c r="A5" t="inlineStr"><is><t>Next check</t></is></c>'
               '<c r="B5" s="2"><v>45367.75</v></c></row>'
               '<row r="6"><c r="A6" t="inlineStr"><is><t>Ratio</t></is></c>'
               '<c r="B6" t="e"><f>1/0</f><v>#DIV/0!</v></c><c r="D6" t="str"><f>D2&amp;"!"</f>'
               '<v>Ops team!</v></c></row>'
               '</sheetData></worksheet>' % S)
    raw = ('<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="%s"><sheetData>'
           '<row r="1"><c r="A1" t="inlineStr"><is><t>Uptime log (March)</t></is></c></row>'
           '<row r="3"><c r="A3" t="inlineStr"><is><t>Day</t></is></c>'
           '<c r="B3" t="inlineStr"><is><t>Uptime</t></is></c></row>'
           '<row r="4"><c r="A4" t="inlineStr"><is><t>Monday</t></is></c><c r="B4"><v>99.9</v></c></row>'
           '<row r="5"><c r="A5" t="inlineStr"><is><t>Tuesday</t></is></c><c r="B5"><v>100</v></c></row>'
           '</sheetData></worksheet>' % S)
    write_zip('handmade.xlsx', [
        ('[Content_Types].xml', CT_DOCX),
        ('_rels/.rels', root_rels('xl/workbook.xml')),
        ('xl/workbook.xml', wb),
        ('xl/_rels/workbook.xml.rels', wb_rels),
        ('xl/sharedStrings.xml', sst),
        ('xl/styles.xml', styles),
        ('xl/worksheets/sheet2.xml', summary),
        ('xl/worksheets/sheet1.xml', raw),
    ])


# ---- hostile inputs -------------------------------------------------------------

def raw_zip(name, entries):
    """entries: (name, data, declared_size, flags); deflated, CRC of the real
    data, sizes as declared: builds what zipfile refuses to write."""
    body, central = b'', b''
    for n, data, declared, flags in entries:
        c = zlib.compressobj(9, zlib.DEFLATED, -15)
        comp = c.compress(data) + c.flush()
        crc = zlib.crc32(data) & 0xffffffff
        nb = n.encode()
        off = len(body)
        body += struct.pack('<IHHHHHIIIHH', 0x04034b50, 20, flags, 8, 0, 0, crc, len(comp),
                            declared, len(nb), 0) + nb + comp
        central += struct.pack('<IHHHHHHIIIHHHHHII', 0x02014b50, 20, 20, flags, 8, 0, 0, crc,
                               len(comp), declared, len(nb), 0, 0, 0, 0, 0, off) + nb
    end = struct.pack('<IHHHHIIH', 0x06054b50, 0, 0, len(entries), len(entries), len(central),
                      len(body), 0)
    with open(out(name), 'wb') as f:
        f.write(body + central + end)


def hostile():
    base = [('[Content_Types].xml', CT_DOCX.encode(), None, 0),
            ('_rels/.rels', root_rels('word/document.xml').encode(), None, 0)]

    def fix(entries):
        return [(n, d, len(d) if s is None else s, f) for n, d, s, f in entries]

    # 4 MiB of one letter inflates ~1000:1
    big = wdoc('<w:p><w:r><w:t>' + 'A' * (4 << 20) + '</w:t></w:r></w:p>').encode()
    raw_zip('bomb_ratio.docx', fix(base + [('word/document.xml', big, None, 0)]))
    # declares 300 bytes, inflates to 1 MiB (CRC is of the real data)
    lie = wdoc('<w:p><w:r><w:t>' + 'B' * (1 << 20) + '</w:t></w:r></w:p>').encode()
    raw_zip('bomb_lying.docx', fix(base + [('word/document.xml', lie, 300, 0)]))
    # general-purpose flag bit 0: traditional PKWARE encryption
    raw_zip('encrypted_member.docx',
            fix(base + [('word/document.xml', wdoc(p('secret')).encode(), None, 1)]))

    laughs = ('<!DOCTYPE w:document [<!ENTITY lol "lol">'
              + ''.join('<!ENTITY lol%d "%s">' % (i, ('&lol%d;' % (i - 1) if i > 1 else '&lol;') * 10)
                        for i in range(1, 10)) + ']>')
    simple_docx('billion_laughs.docx',
                wdoc('<w:p><w:r><w:t>Before &lol9; after</w:t></w:r></w:p>', laughs))
    xxe = '<!DOCTYPE w:document [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
    simple_docx('xxe.docx', wdoc('<w:p><w:r><w:t>Leak: &xxe; end</w:t></w:r></w:p>', xxe))
    deep = '<w:sdt><w:sdtContent>' * 3000 + p('deep') + '</w:sdtContent></w:sdt>' * 3000
    simple_docx('deep.docx', wdoc(deep))

    ns = ('xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
          'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" '
          'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0"')
    content = ('<?xml version="1.0" encoding="UTF-8"?><office:document-content %s><office:body>'
               '<office:spreadsheet><table:table table:name="Huge">'
               '<table:table-row table:number-rows-repeated="1000000000">'
               '<table:table-cell table:number-columns-repeated="1000000000"/>'
               '<table:table-cell><text:p>after-empty</text:p></table:table-cell></table:table-row>'
               '<table:table-row><table:table-cell><text:p>Name</text:p></table:table-cell>'
               '<table:table-cell table:number-columns-repeated="1000000000"><text:p>x</text:p>'
               '</table:table-cell></table:table-row>'
               '<table:table-row table:number-rows-repeated="1000000000">'
               '<table:table-cell table:number-columns-repeated="1000000000"><text:p>y</text:p>'
               '</table:table-cell></table:table-row>'
               '</table:table></office:spreadsheet></office:body></office:document-content>' % ns)
    write_zip('huge_repeat.ods', [('mimetype', 'application/vnd.oasis.opendocument.spreadsheet'),
                                  ('content.xml', content)])
    manifest = ('<?xml version="1.0" encoding="UTF-8"?><manifest:manifest xmlns:manifest="urn:oasis:'
                'names:tc:opendocument:xmlns:manifest:1.0"><manifest:file-entry manifest:full-path='
                '"content.xml" manifest:media-type="text/xml"><manifest:encryption-data manifest:'
                'checksum-type="SHA1/1K" manifest:checksum="AAAA"/></manifest:file-entry>'
                '</manifest:manifest>')
    write_zip('encrypted.odt', [('mimetype', 'application/vnd.oasis.opendocument.text'),
                                ('META-INF/manifest.xml', manifest),
                                ('content.xml', b'\x8f\x01\xfe ciphertext')])


if __name__ == '__main__':
    if '--no-soffice' not in sys.argv:
        soffice()
    localized_docx()
    reordered_pptx()
    handmade_xlsx()
    hostile()
    print('wrote test files to', OUT)
