"""The waiting list's fairness rule (core.waiting_list), played round by round: places come
back one at a time and each offer is taken."""

from core.waiting_list import SKIPS_BEFORE_PRIORITY, Candidate, choose_offers


class Queue:
    """Entries in join order; an offered entry leaves it, with its places."""

    def __init__(self, *sizes: int) -> None:
        self.waiting = [Candidate(f"e{i}-x{n}", n, (), 0) for i, n in enumerate(sizes)]
        self.free: list[str] = []
        self.served: list[str] = []

    def place_comes_back(self, label: str) -> list[str]:
        self.free.append(label)
        choice = choose_offers(self.waiting, self.free)
        for entry_id, places in choice.offers.items():
            self.served.append(entry_id)
            self.free = [p for p in self.free if p not in places]
        self.waiting = [
            Candidate(
                c.entry_id, c.quantity, c.seat_labels, c.skipped + (c.entry_id in choice.skipped)
            )
            for c in self.waiting
            if c.entry_id not in choice.offers
        ]
        return list(choice.offers)


def test_a_group_is_passed_three_times_then_served_once_its_places_came_back() -> None:
    queue = Queue(4, 1, 1, 1, 1, 1)
    for n in range(SKIPS_BEFORE_PRIORITY):
        assert queue.place_comes_back(f"P{n}") == [f"e{n + 1}-x1"]  # singles pass the group
    assert queue.waiting[0].skipped == SKIPS_BEFORE_PRIORITY
    # The group now keeps what comes back: the singles behind it wait.
    for n in range(3, 6):
        assert queue.place_comes_back(f"P{n}") == []
    assert queue.place_comes_back("P6") == ["e0-x4"]
    # Then the singles go on.
    assert queue.place_comes_back("P7") == ["e4-x1"]
    assert queue.place_comes_back("P8") == ["e5-x1"]


def test_a_group_that_fits_is_served_in_its_turn() -> None:
    choice = choose_offers(
        [Candidate("g", 4, (), 0), Candidate("s", 1, (), 0)], ["A", "B", "C", "D", "E"]
    )
    assert choice.offers == {"g": ["A", "B", "C", "D"], "s": ["E"]}
    assert choice.skipped == []


def test_named_seats_are_offered_only_whole_and_a_priority_keeps_only_its_own() -> None:
    waiting = [
        Candidate("named", 2, ("A1", "A2"), SKIPS_BEFORE_PRIORITY),
        Candidate("any", 1, (), 0),
    ]
    choice = choose_offers(waiting, ["A1", "B1"])
    assert choice.offers == {"any": ["B1"]}  # A1 stays free for the named entry
    assert choice.skipped == ["named"]
    assert choose_offers(waiting, ["A2", "A1"]).offers == {"named": ["A1", "A2"]}
