"""importgate bench application: imports from heavy distributions, plus one module that is
not installed (the bench expects exactly that finding and exit code 1)."""

import json
import os

import boto3
import django
import numpy as np
import pandas as pd
import pyarrow
import scipy.linalg
from django.conf import settings
from pandas import DataFrame
from scipy import sparse

import importgate_bench_missing  # not installed: the expected finding


def main():
    a = np.eye(3)
    print(scipy.linalg.det(a), DataFrame({"x": [1]}).shape, sparse.eye(2).nnz)
    print(pd.__version__, pyarrow.__version__, django.get_version(), boto3.__version__)
    print(json.dumps({"debug": settings.configured, "cwd": os.getcwd()}))
    importgate_bench_missing.run()


if __name__ == "__main__":
    main()
