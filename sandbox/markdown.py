"""What Rocket.Chat derives from a message's text before saving it: `md`, mentions, channels, urls.

`md` follows @rocket.chat/message-parser's AST for the common cases (paragraphs of plain text,
user and channel mentions, links, emoji); richer markup is kept as plain text.
"""

from __future__ import annotations

import re
from typing import Any

USERNAME_PATTERN = "[0-9a-zA-Z-_.]+"
_URL_RE = re.compile(r"(?:https?|ftp)://[^\s<>\"']+", re.IGNORECASE)
_TOKEN_RE = re.compile(
    r"(?P<url>(?:https?|ftp)://[^\s<>\"']+)"
    r"|(?P<user>(?<![\w@])@(?P<uname>[0-9a-zA-Z\-_.]+))"
    r"|(?P<chan>(?<![\w#])#(?P<cname>[0-9a-zA-Z\-_.]+))"
    r"|(?P<emoji>:(?P<ename>[a-z0-9_+\-]+):)"
)


def user_mentions(text: str, pattern: str = USERNAME_PATTERN) -> list[str]:
    """Usernames mentioned as `@name` (Rocket.Chat's MentionsParser, without the `@`)."""
    regex = re.compile(rf"(?:^|\s|>|\()@({pattern}(?:@{pattern})?)")
    return [match.group(1).rstrip(".") for match in regex.finditer(text or "")]


def channel_mentions(text: str, pattern: str = USERNAME_PATTERN) -> list[str]:
    """Room names mentioned as `#name`."""
    regex = re.compile(rf"(?:^|\s|>|\()#({pattern})")
    return [match.group(1).rstrip(".") for match in regex.finditer(text or "")]


def urls(text: str) -> list[str]:
    """The distinct URLs of a message, in order (`parseUrlsInMessage`)."""
    return list(dict.fromkeys(_URL_RE.findall(text or "")))


def _plain(value: str) -> dict[str, Any]:
    return {"type": "PLAIN_TEXT", "value": value}


def _inline(line: str) -> list[dict[str, Any]]:
    nodes: list[dict[str, Any]] = []
    pos = 0
    for match in _TOKEN_RE.finditer(line):
        if match.start() > pos:
            nodes.append(_plain(line[pos : match.start()]))
        if match.group("url"):
            url = match.group("url")
            nodes.append({"type": "LINK", "value": {"src": _plain(url), "label": [_plain(url)]}})
        elif match.group("user"):
            nodes.append({"type": "MENTION_USER", "value": _plain(match.group("uname"))})
        elif match.group("chan"):
            nodes.append({"type": "MENTION_CHANNEL", "value": _plain(match.group("cname"))})
        else:
            name = match.group("ename")
            nodes.append({"type": "EMOJI", "value": _plain(name), "shortCode": name})
        pos = match.end()
    if pos < len(line):
        nodes.append(_plain(line[pos:]))
    return nodes


def parse(text: str) -> list[dict[str, Any]]:
    """The message-parser AST of `text`: one PARAGRAPH per line, LINE_BREAK for empty lines."""
    blocks: list[dict[str, Any]] = []
    for line in text.split("\n"):
        if line.strip() == "":
            blocks.append({"type": "LINE_BREAK"})
        else:
            blocks.append({"type": "PARAGRAPH", "value": _inline(line)})
    return blocks
