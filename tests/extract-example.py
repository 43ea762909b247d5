#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
# Writes the program listing with a given id in a DocBook chapter to a file, so that the reference
# manual's examples are built and run exactly as the manual prints them.
import re
import sys

chapter, listing_id, output = sys.argv[1:]
text = open(chapter, encoding="utf-8").read()
match = re.search(r'<programlisting[^>]*\bid="%s"[^>]*><!\[CDATA\[\n?(.*?)\]\]></programlisting>'
                  % re.escape(listing_id), text, re.S)
if match is None:
    sys.exit("%s: no programlisting with id %s" % (chapter, listing_id))
with open(output, "w", encoding="utf-8") as out:
    out.write(match.group(1))
