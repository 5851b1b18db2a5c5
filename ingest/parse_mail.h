/* parse_mail.h — e-mail (.eml, RFC 5322 + MIME) and mbox files, read with
 * GMime 3.
 *
 * A message gives:
 *  - meta "from", "to", "cc", "date" (ISO 8601 when parseable), "subject",
 *    and the same fields as a short header block at the start of its text;
 *  - the subject as title (.eml only; an mbox is named by its file);
 *  - the body: text/plain preferred over text/html in multipart/alternative,
 *    HTML turned into text, every charset converted to UTF-8, transfer
 *    encodings (base64, quoted-printable, uuencode) decoded;
 *  - attachments (parts with a filename or disposition "attachment", and
 *    message/rfc822 parts, kept whole as .eml bytes) via ingest_doc_attach;
 *    the caller parses them as child documents. Signatures (pgp/pkcs7) and
 *    encrypted parts are skipped.
 * An mbox gives one section per message, headed "Subject — From, Date".
 *
 * Caps: lim->max_attachments per document (more are dropped and counted in
 * meta "attachments_dropped"); MIME nesting deeper than lim->max_depth, or
 * than GMime's own nesting limit, is KEEP_ERR_TOOBIG. */
#ifndef KEEP_INGEST_PARSE_MAIL_H
#define KEEP_INGEST_PARSE_MAIL_H

#include "doc.h"

int ingest_parse_email(const char *data, size_t len, const ingest_limits *lim, ingest_doc *doc,
                       keep_err *err);
int ingest_parse_mbox(const char *data, size_t len, const ingest_limits *lim, ingest_doc *doc,
                      keep_err *err);

#endif
