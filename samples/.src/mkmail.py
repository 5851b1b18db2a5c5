#!/usr/bin/env python3
"""mkmail.py - builds a MIME e-mail from a source file and attachments.

Usage: mkmail.py SOURCE.eml.txt ATTACHMENT_DIR OUT.eml

SOURCE holds RFC 822 headers, a blank line and the plain-text body. Header
lines "Attach: NAME" (removed from the output) name files in ATTACHMENT_DIR
to attach. The Date header is kept as written, so output only changes when
the source or an attachment does (plus fixed MIME boundaries).
"""
import mimetypes
import os
import sys
from email import policy
from email.message import EmailMessage


def main():
    if len(sys.argv) != 4:
        raise SystemExit('usage: mkmail.py SOURCE ATTACHMENT_DIR OUT')
    src, adir, dst = sys.argv[1:]
    with open(src, encoding='utf-8') as f:
        text = f.read()
    head, body = text.split('\n\n', 1)
    msg = EmailMessage(policy=policy.SMTP)
    attach = []
    for line in head.split('\n'):
        name, value = line.split(':', 1)
        if name == 'Attach':
            attach.append(value.strip())
        else:
            msg[name] = value.strip()
    msg.set_content(body)
    for i, a in enumerate(attach):
        ctype = mimetypes.guess_type(a)[0] or 'application/octet-stream'
        maintype, subtype = ctype.split('/')
        with open(os.path.join(adir, a), 'rb') as f:
            msg.add_attachment(f.read(), maintype=maintype, subtype=subtype, filename=a)
    msg.set_boundary('=_brightwater_%s' % os.path.basename(dst).replace('.', '_'))
    with open(dst, 'wb') as f:
        f.write(msg.as_bytes())


if __name__ == '__main__':
    main()
