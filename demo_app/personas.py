"""The people of the demo, and who knows whom: the story Safe Accounts is shown on.

Three children in three bands (a 12-year-old, a 14-year-old, a 16-year-old) and a
15-year-old friend; their parent and their teacher, connected to them; ordinary adults
connected to each other; `stranger`, an adult with no connection to any child, who
behaves like a groomer; and `jo`, who works on the app's trust and safety team. Birth
dates are counted back from the day of seeding, so the bands are right whenever the demo
is run.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta


@dataclass(frozen=True, slots=True)
class PersonaSeed:
    id: int
    handle: str
    display_name: str
    role: str  # child, parent, teacher, adult, stranger, moderator
    age: int  # whole years on the day of seeding
    location: str
    school: str | None
    bio: str

    def birth_date(self, today: date) -> date:
        """A birthday `age` years and 100 days back: well inside the age, whatever the date."""
        try:
            anniversary = today.replace(year=today.year - self.age)
        except ValueError:  # 29 February in a common year
            anniversary = date(today.year - self.age, 2, 28)
        return anniversary - timedelta(days=100)


SCHOOL = "Riverside Academy"
TOWN = "Kirkby Lonsdale"

PERSONAS = (
    PersonaSeed(
        1, "mia", "Mia Patel", "child", 12, TOWN, SCHOOL, "Year 8. Drawing, cats, netball."
    ),
    PersonaSeed(2, "leo", "Leo Patel", "child", 14, TOWN, SCHOOL, "Football and Minecraft."),
    PersonaSeed(
        3, "ava", "Ava Jones", "child", 15, TOWN, SCHOOL, "Drama club. Mia's friend from choir."
    ),
    PersonaSeed(4, "zoe", "Zoe Clarke", "child", 16, TOWN, SCHOOL, "Sixth form soon. Guitar."),
    PersonaSeed(5, "sam", "Sam Patel", "parent", 44, TOWN, None, "Mia and Leo's dad."),
    PersonaSeed(6, "ms_khan", "Ms Khan", "teacher", 38, TOWN, SCHOOL, "Form tutor at Riverside."),
    PersonaSeed(7, "dan", "Dan Brooks", "adult", 31, "Lancaster", None, "Cycling, coffee."),
    PersonaSeed(
        8, "priya", "Priya Shah", "adult", 27, "Kendal", None, "Nurse. Hiking on weekends."
    ),
    PersonaSeed(
        9, "tom", "Tom Reid", "adult", 52, "Kendal", None, "Retired engineer. Drives the school minibus."
    ),
    PersonaSeed(
        10,
        "stranger",
        "Alex Turner",
        "stranger",
        35,
        "Manchester",
        None,
        "Adult with no connection to any child here: behaves like a groomer.",
    ),
    PersonaSeed(
        11,
        "jo",
        "Jo Fletcher",
        "moderator",
        41,
        "Leeds",
        None,
        "Trust and safety at the app: the moderation pages (/moderation/).",
    ),
)

# Friendships (stored both ways). The stranger knows one adult, and no child.
FRIENDS = (
    ("mia", "leo"),
    ("mia", "sam"),
    ("leo", "sam"),
    ("mia", "ava"),
    ("leo", "ava"),
    ("leo", "zoe"),
    ("ava", "zoe"),
    ("ms_khan", "mia"),
    ("ms_khan", "leo"),
    ("ms_khan", "ava"),
    ("ms_khan", "zoe"),
    ("ms_khan", "sam"),
    ("sam", "dan"),
    ("dan", "priya"),
    ("priya", "tom"),
    ("priya", "ms_khan"),
    ("tom", "stranger"),
)

FOLLOWS = (("zoe", "priya"), ("dan", "sam"), ("ava", "ms_khan"), ("stranger", "tom"))

# Conversations, each seeded with its first messages once.
DIRECT_CHATS = (
    (
        ("mia", "ava"),
        (("ava", "are you coming to choir on thursday?"), ("mia", "yes! mum's driving")),
    ),
    (
        ("leo", "zoe"),
        (("zoe", "did you finish the physics homework"), ("leo", "nearly, q4 is hard")),
    ),
)
GROUP_CHATS = (
    ("Patel family", "sam", ("mia", "leo"), (("sam", "Dinner at 6 tonight"), ("leo", "ok"))),
    # The teacher's trip group: three pupils, and the minibus driver none of them knows.
    (
        "Riverside trip",
        "ms_khan",
        ("leo", "ava", "zoe", "tom"),
        (("ms_khan", "Bus leaves at 8:15 on Friday. Tom is driving."),),
    ),
)

# A request waiting for an answer, so the accept/reject buttons have something to do.
PENDING_REQUESTS = (("priya", "sam"),)
