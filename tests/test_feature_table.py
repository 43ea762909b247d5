#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""doc/features/generate.py --check against copies of the source tree that drifted from
doc/features.md: a request table row gone, a request the front-end no longer sends, an ioctl the
notes do not know, a malformed row. Each must fail and say why; the tree as it is must pass."""

import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

ROOT = os.environ.get("VHOST_SOURCE_ROOT", os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
GENERATE = os.path.join("doc", "features", "generate.py")


class FeatureTableTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.root = self.tmp.name
        shutil.copytree(os.path.join(ROOT, "vhost-glib"), os.path.join(self.root, "vhost-glib"))
        shutil.copytree(os.path.join(ROOT, "doc", "features"), os.path.join(self.root, "doc", "features"))
        shutil.copy(os.path.join(ROOT, "doc", "features.md"), os.path.join(self.root, "doc", "features.md"))

    def tearDown(self):
        self.tmp.cleanup()

    def check(self):
        return subprocess.run([sys.executable, os.path.join(self.root, GENERATE), "--check",
                               "--source-root", self.root], capture_output=True, text=True)

    def edit(self, path, old, new):
        path = os.path.join(self.root, path)
        with open(path, encoding="utf-8") as f:
            text = f.read()
        self.assertIn(old, text)
        with open(path, "w", encoding="utf-8") as f:
            f.write(text.replace(old, new, 1))

    def test_unchanged_tree_passes(self):
        r = self.check()
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("matches the code", r.stdout)

    def test_removed_request_row_fails(self):
        path = os.path.join(self.root, "vhost-glib", "protocol", "vhost-user-requests.h")
        with open(path, encoding="utf-8") as f:
            lines = f.readlines()
        kept = [l for l in lines if not l.lstrip().startswith("R (GET_STATUS,")]
        self.assertEqual(len(kept), len(lines) - 1)
        with open(path, "w", encoding="utf-8") as f:
            f.writelines(kept)
        r = self.check()
        self.assertEqual(r.returncode, 1)
        self.assertRegex(r.stdout, r"(?m)^-\| 40 \| `GET_STATUS` \|")
        self.assertIn("is not what the code says", r.stderr)

    def test_request_no_longer_sent_fails(self):
        self.edit("vhost-glib/vhost-user-master.c", "VHOST_USER_SEND_RARP", "VHOST_USER_NONE")
        r = self.check()
        self.assertEqual(r.returncode, 1)
        self.assertRegex(r.stdout, r"(?m)^\+\| 19 \| `SEND_RARP` \|.*only `vhost_user_master_send_request\(\)`")

    def test_default_protocol_feature_change_fails(self):
        self.edit("vhost-glib/vhost-user-slave-internal.h", "VHOST_USER_PROTOCOL_F_MQ | ", "")
        r = self.check()
        self.assertEqual(r.returncode, 1)
        self.assertRegex(r.stdout, r"(?m)^\+\| 0 \| `MQ` \|.*if the device offers it")

    def test_ioctl_without_notes_fails(self):
        path = os.path.join(self.root, "doc", "features", "notes.ini")
        with open(path, encoding="utf-8") as f:
            text = f.read()
        text, n = re.subn(r"\[ioctl:VHOST_SCSI_GET_EVENTS_MISSED\]\n(?:[^\[\n].*\n)*", "", text)
        self.assertEqual(n, 1)
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
        r = self.check()
        self.assertEqual(r.returncode, 1)
        self.assertIn("no [ioctl:VHOST_SCSI_GET_EVENTS_MISSED]", r.stderr)

    def test_stale_notes_section_fails(self):
        self.edit("doc/features/notes.ini", "[request:RESET_OWNER]", "[request:RESET_EVERYTHING]")
        r = self.check()
        self.assertEqual(r.returncode, 1)
        self.assertIn("[request:RESET_EVERYTHING] names nothing in the code", r.stderr)

    def test_malformed_row_fails(self):
        self.edit("vhost-glib/protocol/vhost-user-requests.h", "R (GET_STATUS,            get_status,",
                  "R (GET_STATUS,")
        r = self.check()
        self.assertEqual(r.returncode, 1)
        self.assertIn("GET_STATUS has 10 columns, not 11", r.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
