"""The hedge cap (services/router/execution/hedge_cap.py): whatever the arrival times,
no window ever hedges more than its share of requests or spends more than its micros."""

from __future__ import annotations

from collections import defaultdict

from hypothesis import given, settings
from hypothesis import strategies as st

from services.router.execution.hedge_cap import HedgeAccount, HedgeAccounts, HedgeTicket
from switchyard.policy import HedgeCap

# One event: time advances by `gap_s`, then a request arrives, and it may ask to hedge
# with a worst case, settling some tickets (actual ≤ worst case) now or never.
events = st.lists(
    st.tuples(
        st.floats(min_value=0.0, max_value=3.0, allow_nan=False),  # gap_s
        st.booleans(),  # asks to hedge
        st.integers(min_value=0, max_value=400),  # worst case, micros
        st.floats(min_value=0.0, max_value=1.0),  # actual as a share of the worst case
        st.sampled_from(["now", "later", "never"]),  # when it settles
    ),
    max_size=120,
)
caps = st.builds(
    HedgeCap,
    share=st.sampled_from([0.01, 0.1, 0.25, 0.5, 1.0]),
    micros=st.integers(min_value=1, max_value=2_000),
    window_ms=st.sampled_from([250, 1_000, 5_000]),
)


@settings(max_examples=400, deadline=None)
@given(cap=caps, script=events, start=st.floats(min_value=0, max_value=1e6))
def test_the_cap_is_never_exceeded(cap: HedgeCap, script, start: float) -> None:
    """Replaying arbitrary arrival times: in every window, after every event, admitted
    hedges ≤ share × requests seen and charged micros (worst case until settled) ≤ cap."""
    account = HedgeAccount(cap)
    now = start
    requests: dict[int, int] = defaultdict(int)
    hedges: dict[int, int] = defaultdict(int)
    charged: dict[int, int] = defaultdict(int)
    later: list[tuple[HedgeTicket, int]] = []
    for gap, wants, worst, share, when in script:
        now += gap
        account.note_request(now)
        window = account.window
        requests[window] += 1
        if wants:
            ticket = account.admit(now, worst)
            if ticket is not None:
                assert ticket.window == window
                hedges[window] += 1
                charged[window] += worst
                actual = int(worst * share)
                if when == "now":
                    account.settle(ticket, actual)
                    charged[window] += actual - worst
                elif when == "later":
                    later.append((ticket, actual))
        if later and not wants:  # settle a ticket from this or an earlier window
            ticket, actual = later.pop(0)
            account.settle(ticket, actual)
            if ticket.window == account.window:
                charged[ticket.window] += actual - ticket.micros
        assert hedges[window] <= cap.share * requests[window] + 1e-9
        assert account.micros == charged[account.window] <= cap.micros
    for window in hedges:
        assert hedges[window] <= cap.share * requests[window] + 1e-9
        assert charged[window] <= cap.micros


def test_share_needs_enough_requests_in_the_window() -> None:
    """share 0.25: the first hedge needs four requests in the window; a new window starts
    from nothing."""
    account = HedgeAccount(HedgeCap(share=0.25, micros=1_000, window_ms=1_000))
    admitted = []
    for i in range(8):
        account.note_request(0.1 * i)
        admitted.append(account.admit(0.1 * i, 10) is not None)
    assert admitted == [False, False, False, True, False, False, False, True]
    account.note_request(1.0)
    assert account.admit(1.0, 10) is None and account.requests == 1


def test_spend_is_charged_at_worst_case_and_settled_down() -> None:
    """A ticket holds its worst case until settled with the actual cost; a ticket from an
    earlier window settles nothing in the current one."""
    account = HedgeAccount(HedgeCap(share=1.0, micros=100, window_ms=1_000))
    account.note_request(0.0)
    first = account.admit(0.0, 80)
    assert first is not None and account.micros == 80
    account.note_request(0.1)
    assert account.admit(0.1, 30) is None  # 80 + 30 > 100
    account.settle(first, 20)
    assert account.micros == 20 and account.admit(0.1, 30) is not None
    account.note_request(2.0)  # a new window
    account.settle(first, 0)
    assert account.micros == 0


def test_a_new_policy_version_keeps_the_windows_count() -> None:
    """Reconfiguring with a tighter cap applies at once to the window in progress."""
    accounts = HedgeAccounts()
    loose = HedgeCap(share=1.0, micros=1_000)
    account = accounts.for_rule("r", loose)
    account.note_request(0.0)
    assert account.admit(0.0, 600) is not None
    tight = accounts.for_rule("r", HedgeCap(share=1.0, micros=500))
    assert tight is account and tight.micros == 600
    tight.note_request(0.1)
    assert tight.admit(0.1, 1) is None
