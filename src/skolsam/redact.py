"""Scrubbing text before it is stored or shown: URLs lose their userinfo, personnummer-like runs go.

Used where a message may quote a setting or an error (audit.load_run.message, logs): a landing URL such
as ``sftp://user:password@host/landing`` must come back as ``sftp://***@host/landing`` (issue 17, finding 5).
"""

from __future__ import annotations

import re

from . import identity

# scheme://userinfo@ — userinfo is everything up to the last '@' before the host part.
_USERINFO = re.compile(r"(?P<scheme>\b[a-zA-Z][a-zA-Z0-9+.-]*://)(?P<userinfo>[^/@\s]+)@")


def url_without_userinfo(url: str) -> str:
    """``url`` with any ``user:password@`` replaced by ``***@``."""
    return _USERINFO.sub(lambda m: m.group("scheme") + "***@", url)


def redact(text: str) -> str:
    """Free text with userinfo removed from URLs and personnummer-like runs scrubbed."""
    return identity.scrub(url_without_userinfo(text))
