#!/bin/sh
# Regenerates the PDF test files of tests/test_pdfweb.c. Needs libcairo2-dev and
# qpdf (apt-get install -y libcairo2-dev qpdf); run from tests/data/pdfweb/src.
set -e
cc -O1 -o /tmp/keep-mkpdf mkpdf.c $(pkg-config --cflags --libs cairo)
/tmp/keep-mkpdf ..
# user password "user": must be refused with a clear error
qpdf --encrypt user owner 256 -- ../guide.pdf ../locked.pdf
# empty user password, owner password set: opens without asking
qpdf --encrypt "" owner 256 --print=none --modify=none -- ../guide.pdf ../owner-only.pdf
# a second producer: LibreOffice Writer (apt-get install -y libreoffice-writer-nogui)
soffice -env:UserInstallation=file:///tmp/keep-lo-profile --headless \
  --infilter="HTML (StarWriter)" --convert-to pdf:writer_pdf_Export --outdir .. manual.html
