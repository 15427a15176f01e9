"""The experiment index: every run's searchable fields (attributes, typed params, tags, trial names,
metric summaries) per experiment, columnar and compressed, in chunks of the index table; kept up to
date from the tracking and metrics tables' DynamoDB Streams by the index function
(lambdas/index), never by the writers. Search, the runs table and group-by read it instead of
every run item (docs/tracking.md, "The experiment index").

- format: the chunk encoding and the `RunLike` view of indexed runs;
- items: the index table's items (manifest, chunks, lock);
- store: `IndexStore` (snapshot / fold / rebuild / drop);
- consumer: stream records -> changed runs -> folds;
- search: pages of a query answered from snapshots.
"""
from skytune.index.store import IndexBusy, IndexStore

__all__ = ["IndexBusy", "IndexStore"]
