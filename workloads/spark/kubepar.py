"""kubepar in JupyterLab: ``import kubepar; spark = kubepar.spark()``.

The stack writes the Connect server's address (``KUBEPAR_SPARK_REMOTE``) and
its version into the notebook's environment, and installs pyspark-client at
exactly that version, so the session needs no JVM and no Spark of its own.
"""

from __future__ import annotations

import os
from typing import Any


def spark(app_name: str = "kubepar") -> Any:
    """A SparkSession over Spark Connect to the stack's cluster (stop it with ``spark.stop()``)."""
    remote = os.environ.get("KUBEPAR_SPARK_REMOTE")
    if not remote:
        raise RuntimeError(
            "kubepar: this stack has no Spark; set kubepar:spark (for example {workers: 2}) and run make up"
        )
    from pyspark import __version__ as client
    from pyspark.sql import SparkSession

    server = os.environ.get("KUBEPAR_SPARK_VERSION", client)
    if client.split(".")[:2] != server.split(".")[:2]:
        raise RuntimeError(
            f"kubepar: pyspark {client} cannot talk to the Spark {server} server; "
            f"install pyspark-client=={server} (kubepar's installer does)"
        )
    return SparkSession.builder.remote(remote).appName(app_name).getOrCreate()
