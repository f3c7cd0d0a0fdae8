"""One read of a gateway by pyenphase (Home Assistant's Enphase library), as the bench's reference.

Run by the interpreter of ``.venv-bench`` (pyenphase is not a dependency of the project):
``python pyenphase_poll.py HOST:PORT TOKEN``. It does what a one-shot reader with pyenphase must do:
import, setup (reads /info), authenticate with a token (checks it at /auth/check_jwt), update (probes
the endpoints, then reads them). It stores nothing. Prints the production it read, one line.
"""

import asyncio
import sys

from pyenphase import Envoy


async def main(host: str, token: str) -> None:
    # pyenphase builds its URLs as f"https://{host}{path}", so "127.0.0.1:PORT" reaches a port of ours.
    envoy = Envoy(host)
    try:
        await envoy.setup()
        await envoy.authenticate(token=token)
        data = await envoy.update()
    finally:
        await envoy.close()
    production = data.system_production
    print(f"pyenphase {envoy.firmware}: lifetime {production.watt_hours_lifetime} Wh, now {production.watts_now} W")


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
