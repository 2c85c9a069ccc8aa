"""The Spark benchmark's query: 10^7 ids, key id % 1000, count and sum per key; median of three after a warm-up.

``connect``: through kubepar.spark() with the session's environment; ``local``: PySpark in local[2].
"""

import statistics
import sys
import time

from pyspark.sql import functions

rows = int(float(sys.argv[2])) if len(sys.argv) > 2 else 10**7
if sys.argv[1] == "connect":
    import kubepar

    spark = kubepar.spark()
else:
    from pyspark.sql import SparkSession

    spark = SparkSession.builder.master("local[2]").config("spark.ui.enabled", "false").getOrCreate()
seconds = []
for round in range(4):
    started = time.monotonic()
    frame = spark.range(0, rows, 1, 16).selectExpr("id % 1000 as k", "id as v")
    answer = frame.groupBy("k").agg(functions.count("*").alias("n"), functions.sum("v").alias("s")).collect()
    elapsed = time.monotonic() - started
    assert len(answer) == 1000 and {row.n for row in answer} == {rows // 1000}
    assert sum(row.s for row in answer) == rows * (rows - 1) // 2
    if round:
        seconds.append(elapsed)  # round 0 warms the JVMs up
spark.stop()
print("seconds", statistics.median(seconds))
