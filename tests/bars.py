"""Reading the probability bars (`ui.charts.top_k_bars`) the way a page shows them: from the
AppTest element tree, and in a browser (a JavaScript expression)."""

from __future__ import annotations

import html
import re

from streamlit.testing.v1 import AppTest

BAR = re.compile(r'class="vl-bar" data-label="([^"]*)" data-p="([0-9.]+)"')

# In a browser: the first block of bars as "label p,label p,...", '' when there is none
BROWSER_BARS = ("(() => { const b = document.querySelector('.vl-topk'); return b ? Array.from("
                "b.querySelectorAll('.vl-bar')).map(e => e.dataset.label + ' ' + e.dataset.p)"
                ".join(',') : ''; })()")

# In a browser: the guess as the page shows it, the top-1 heading and the first block of bars. Every
# new drawing changes the probabilities, so a change means a fresh result, not text left over.
BROWSER_SHOWN = ("((h) => (h ? h.innerText : '') + '|' + " + BROWSER_BARS
                 + ")(document.querySelector('.st-key-top1 h3'))")


def bar_blocks(at: AppTest) -> list[list[tuple[str, float]]]:
    """Each block of probability bars on the page, in page order: [(label, probability), ...]
    top to bottom."""
    blocks = []
    for element in at.get("html"):
        found = BAR.findall(element.proto.body)
        if found:
            blocks.append([(html.unescape(label), float(p)) for label, p in found])
    return blocks


def bar_labels(at: AppTest, block: int = 0) -> list[str]:
    """The class names on one block of bars (default: the first), top to bottom."""
    return [label for label, _ in bar_blocks(at)[block]]
