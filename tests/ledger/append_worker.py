"""A separate process that appends to a ledger and acknowledges each entry.

    python append_worker.py URL MODE COUNT THREADS

MODE `submit` appends through group commit, `direct` in a transaction of its own per
entry. For every entry committed, one line `ack INDEX TAG` goes to stdout, flushed,
only after the commit returned; the crash test kills this process at random points
and checks that every acknowledged entry survived.
"""

from __future__ import annotations

import os
import sys
import threading

from ledger_helpers import ORIGIN, make_engine, make_signer
from sqlalchemy.orm import Session

from govsvc.ledger.log import Ledger


def main() -> None:
    url, mode, count, threads = (
        sys.argv[1],
        sys.argv[2],
        int(sys.argv[3]),
        int(sys.argv[4]),
    )
    ledger = Ledger(make_engine(url), make_signer(), ORIGIN)
    out_lock = threading.Lock()

    def ack(index: int, tag: str) -> None:
        with out_lock:
            sys.stdout.write(f"ack {index} {tag}\n")
            sys.stdout.flush()

    def run(t: int) -> None:
        for j in range(count):
            tag = f"{os.getpid()}-{t}-{j}"
            if mode == "submit":
                done = ledger.submit(lambda _s, append, tag=tag: append({"tag": tag}))
                ack(done.value.index, tag)
            else:
                with Session(ledger.engine) as session, session.begin():
                    appended = ledger.append(session, {"tag": tag})
                ack(appended.index, tag)

    workers = [threading.Thread(target=run, args=(t,)) for t in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    ledger.close()


if __name__ == "__main__":
    main()
