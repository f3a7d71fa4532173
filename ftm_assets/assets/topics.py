"""``firm_topics`` and ``firm_topic_failures``: one launched worker per (quarter, batch) partition.

The bound launcher decides where the worker runs (local subprocess or AWS Batch); the worker reports both
materializations and the failure-rate checks back through Dagster Pipes.
"""


import dagster as dg

from ftm_assets import constants as C
from ftm_assets.partitions import QUARTER_DIM, quarter_and_batch
from ftm_assets.launch.launcher import Launcher
from ftm_assets.resources.storage import StorageRoot
from ftm_assets.resources.worker_settings import WorkerSettings

BATCH_POOL = "ftm_batch_gpu"  # at most N batch jobs in flight (instance concurrency pool)

CHECK_DESCRIPTIONS = {
    C.CHECK_FAILURE_RATE: "Share of the batch's firms that failed is at most MAX_FAILURE_RATE (default 5%).",
    C.CHECK_ALL_FIRMS: "Every firm of the batch's manifest has topic rows or a failure row, never both, "
    "and none appears twice.",
    C.CHECK_FIRMS_HAVE_TOPICS: "At least 90% of the modelled firms got one topic or more (not only outliers).",
}


def build_firm_topics(partitions: dg.MultiPartitionsDefinition) -> dg.AssetsDefinition:
    quarter_mapping = dg.MultiToSingleDimensionPartitionMapping(partition_dimension_name=QUARTER_DIM)

    @dg.multi_asset(
        name="firm_topics_batch",
        specs=[
            dg.AssetSpec(
                "firm_topics",
                group_name="topics",
                kinds={"parquet"},
                description="Topics per firm: one row per (firm, topic), from sentence embeddings + BERTopic.",
                deps=[
                    dg.AssetDep("firm_manifest", partition_mapping=quarter_mapping),
                    dg.AssetDep("raw_transcripts", partition_mapping=quarter_mapping),
                ],
            ),
            dg.AssetSpec(
                "firm_topic_failures",
                group_name="topics",
                kinds={"parquet"},
                description="Firms of the batch that failed, with error class and a message a researcher can act on.",
                deps=[dg.AssetDep("firm_manifest", partition_mapping=quarter_mapping)],
            ),
        ],
        check_specs=[
            # Partitioned checks: one verdict per (quarter, batch), as the worker reports them.
            dg.AssetCheckSpec(name, asset="firm_topics", description=text, partitions_def=partitions)
            for name, text in CHECK_DESCRIPTIONS.items()
        ],
        partitions_def=partitions,
        pool=BATCH_POOL,
    )
    def firm_topics_batch(
        context: dg.AssetExecutionContext, storage: StorageRoot, launcher: Launcher, worker_settings: WorkerSettings
    ):
        quarter, batch = quarter_and_batch(context)
        config = worker_settings.worker_config(
            quarter=quarter, batch=batch, storage_root=storage.store.root, run_id=context.run_id
        )
        return launcher.launch(context, config).get_results()

    return firm_topics_batch
