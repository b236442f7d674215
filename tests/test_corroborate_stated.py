"""An article that reports the answer's value in other words, away from the passage the reader
reads, is still quoted as agreeing (pipeline.Answerer.stated_values), on a real index of
articles written for this test (nothing was trained, fitted or tuned on them)."""
from __future__ import annotations

import pytest

from conftest import assert_quotes_verbatim

BROADSHEET = """# Freight train derails near Dunmore

A freight train carrying timber derailed near the village of Dunmore on Monday night, closing the railway line between Dunmore and Carrow for at least a week, the operator said.

Nobody was hurt. Eight of the train's 30 wagons left the rails on a bend north of the station.

The Dunmore railway line was built in 1911. It carries about 40 freight trains a day between the port of Carrow and the inland terminals.

Engineers began lifting the wagons on Tuesday morning.
"""

LOCAL = """Dunmore counts the cost after the night the wagons came off

The Dunmore railway line will stay closed until Monday 18 May, the operator said on Wednesday.
Residents say the Dunmore railway line was built for slow goods trains, not for today's traffic.

Residents of Dunmore woke on Tuesday to the sight of timber scattered across the fields behind Mill Lane. Farmer Aoife Brennan said the noise had sounded like thunder. "I thought the barn had come down," she said. Her neighbour, Declan Ruane, said his dog had not stopped barking until the cranes arrived in the afternoon, and that his children had watched from the bedroom window as the crews worked under floodlights through the night.

Repairs to the Dunmore railway line began on Wednesday 13 May, when the first new rails arrived.

The parish council will meet on Thursday to ask the operator about noise and about the fences along the track, which residents say have not been mended for years. Council chair Siobhan Kelleher said the meeting would be held in the community hall at eight o'clock, and that the operator had promised to send a manager. Children from the primary school were taken to see the cranes at work. The shop on Mill Lane stayed open late to sell tea to the crews, and the pub offered the drivers a hot dinner.

Older residents remember when Dunmore had a station master, a goods yard and a signal box, and when the evening train brought the newspapers from Carrow. Those days are long gone, and the goods yard is now a car park. The line, dating from 1911, was once the busiest single-track route in the county, and passenger trains stopped at the village until the station closed.

The timber will be collected by lorry over the coming days.
"""


@pytest.fixture(scope="module")
def dunmore(tmp_path_factory):
    from rag import Assistant

    folder = tmp_path_factory.mktemp("dunmore-articles")
    (folder / "countyledger-2026-05-12-dunmore-derailment.md").write_text(BROADSHEET, encoding="utf-8")
    (folder / "dunmoreecho-2026-05-13-night-the-wagons-came-off.txt").write_text(LOCAL, encoding="utf-8")
    a = Assistant(index_dir=tmp_path_factory.mktemp("dunmore-index"))
    assert a.ingest([folder]).ok
    return a


def test_the_same_year_in_other_words_is_reported_by_both_articles(dunmore):
    ans = dunmore.ask("When was the Dunmore railway line built?")
    assert not ans.abstained and ans.short is not None and "1911" in ans.short.text, ans.text
    assert ans.support, ans.text
    quoted = {q.doc_id: q.text for q in ans.support[0].quotes}
    assert len(quoted) == 2, ans.text
    # the local paper's sentence, whole, though its reader reads other passages of it
    assert quoted["dunmoreecho-2026-05-13-night-the-wagons-came-off"].startswith("The line, dating from 1911, ")
    assert "reported by 2 of 2 articles" in ans.text
    assert not ans.conflicts
    assert_quotes_verbatim(dunmore, ans)
