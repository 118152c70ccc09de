"""Writers in separate processes take turns on one SQLite file (`WriterTurns`)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from pathlib import Path

import sqlalchemy as sa

from govsvc.ledger.turns import LOCK_SUFFIX, WriterTurns

# A second process that asks for the turn, says so, and says when it has it.
CHILD = textwrap.dedent(
    """
    import sys
    import sqlalchemy as sa
    from govsvc.ledger.turns import WriterTurns

    turns = WriterTurns(sa.create_engine(sys.argv[1]))
    print("asking", flush=True)
    with turns.turn():
        print("got it", flush=True)
    """
)


def test_the_lock_file_lies_beside_the_database(tmp_path: Path) -> None:
    database = tmp_path / "govsvc.db"
    turns = WriterTurns(sa.create_engine(f"sqlite:///{database}"))

    with turns.turn():
        assert Path(f"{database}{LOCK_SUFFIX}").exists()
    turns.close()

    assert turns.path == f"{database}{LOCK_SUFFIX}"


def test_no_lock_where_no_other_process_can_write() -> None:
    memory = WriterTurns(sa.create_engine("sqlite://"))
    server = WriterTurns(sa.create_engine("postgresql+psycopg://127.0.0.1/test"))

    with memory.turn(), server.turn():
        pass

    assert memory.path is None
    assert server.path is None


def test_another_process_waits_for_the_turn_until_it_is_given_up(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'govsvc.db'}"
    turns = WriterTurns(sa.create_engine(url))

    with turns.turn():
        child = subprocess.Popen(
            [sys.executable, "-c", CHILD, url], stdout=subprocess.PIPE, text=True
        )
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "asking"
        # The child is at its flock (or about to be): give it time to get past it
        # if it wrongly could.
        time.sleep(0.3)
        assert child.poll() is None, "the child took the turn while we held it"

    assert child.stdout.readline().strip() == "got it"
    assert child.wait(timeout=30) == 0
    turns.close()


def test_threads_of_one_process_take_turns(tmp_path: Path) -> None:
    import threading

    turns = WriterTurns(sa.create_engine(f"sqlite:///{tmp_path / 'govsvc.db'}"))
    inside = 0
    most = 0
    guard = threading.Lock()

    def write() -> None:
        nonlocal inside, most
        for _ in range(200):
            with turns.turn():
                with guard:
                    inside += 1
                    most = max(most, inside)
                time.sleep(0)
                with guard:
                    inside -= 1

    threads = [threading.Thread(target=write) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    turns.close()

    assert most == 1
