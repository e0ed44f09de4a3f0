"""Peer for bench:ingest: how the seed (and most Kaggle kernels) load training.csv."""
import json
import resource
import sys
import time

import numpy as np
import pandas as pd

path = sys.argv[1]
start = time.perf_counter()
df = pd.read_csv(path)
images = np.vstack(df["Image"].apply(lambda s: np.fromstring(s, sep=" ")).values)
keypoints = df.drop(columns=["Image"]).to_numpy(dtype=np.float64)
seconds = time.perf_counter() - start
print(json.dumps({
    "rows": int(images.shape[0]),
    "seconds": seconds,
    "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    "missing": int(np.isnan(keypoints).sum()),
}))
