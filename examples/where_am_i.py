"""Each rank reports its node, where its Python and numpy came from, and a
small numpy computation: the kind of start-up python-mpi makes fast."""
import os
import socket
import sys
import time

t0 = time.perf_counter()
import numpy as np  # noqa: E402  (timed on purpose)
import_ms = (time.perf_counter() - t0) * 1e3

rank = int(os.environ.get("PMI_RANK", os.environ.get("OMPI_COMM_WORLD_RANK", "0")))
size = int(os.environ.get("PMI_SIZE", os.environ.get("OMPI_COMM_WORLD_SIZE", "1")))
x = np.random.default_rng(rank).random(1_000_000)
print(f"rank {rank}/{size} on {socket.gethostname()}: sys.prefix={sys.prefix} "
      f"numpy {np.__version__} from {os.path.dirname(np.__file__)} "
      f"imported in {import_ms:.0f} ms; mean of 1e6 randoms = {x.mean():.4f}",
      flush=True)
