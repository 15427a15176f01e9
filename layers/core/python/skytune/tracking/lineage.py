"""Lineage: which runs and artifacts lead to an artifact or a run, and which follow from it.

The graph is bipartite: a run *consumes* its input artifacts and *produces* its outputs; artifacts
are identified by URI. Walking upstream from a run visits its inputs, then the runs that produced
them, then their inputs, ...; downstream visits its outputs, the runs that consumed them, their
outputs, ... From an artifact, upstream starts at its producers and downstream at its consumers.
`depth` counts run levels (1 = direct neighbours only). Artifact -> runs lookups use gsi2 (one
Query per URI); run -> artifacts uses the run item.
"""
from __future__ import annotations

from collections.abc import Iterable

from skytune.errors import InvalidInput, NotFound
from skytune.tracking import limits
from skytune.tracking.records import Run

UPSTREAM, DOWNSTREAM = "upstream", "downstream"


class _Walk:
    def __init__(self, repo) -> None:
        self.repo = repo
        self.runs: dict[str, Run] = {}
        self.edges: dict[tuple[str, str, str, str], dict] = {}
        self.artifacts: dict[str, dict] = {}

    def run(self, run_id: str) -> Run | None:
        if run_id not in self.runs:
            found = self.repo.get_runs([run_id])
            if not found:
                return None
            self.runs[run_id] = found[0]
        return self.runs[run_id]

    def artifacts_of(self, run: Run, direction: str) -> list[str]:
        """URIs the run consumed (direction "input") or produced ("output"), recording the edges."""
        uris = []
        for artifact in run.inputs if direction == "input" else run.outputs:
            self._edge(run.run_id, artifact.uri, artifact.name, direction)
            self.artifacts.setdefault(artifact.uri, {"uri": artifact.uri, "media_type": artifact.media_type,
                                                     "digest": artifact.digest, "size": artifact.size})
            uris.append(artifact.uri)
        return uris

    def runs_of(self, uri: str, direction: str) -> list[str]:
        """Runs that produced (direction "output") or consumed ("input") the artifact."""
        run_ids = []
        for link in self.repo.artifact_links_by_uri(uri):
            if link.direction == direction:
                self._edge(link.run_id, uri, link.name, direction)
                self.artifacts.setdefault(uri, {"uri": uri, "media_type": link.media_type, "digest": link.digest,
                                               "size": _size(getattr(link, "size", None))})
                run_ids.append(link.run_id)
        return run_ids

    def _edge(self, run_id: str, uri: str, name: str, direction: str) -> None:
        self.edges[(run_id, uri, name, direction)] = {"run_id": run_id, "uri": uri, "name": name, "direction": direction}

    def side(self, start_runs: Iterable[str], start_artifacts: Iterable[str], way: str, depth: int) -> dict:
        """Breadth-first from the start nodes; `way` is UPSTREAM or DOWNSTREAM."""
        # Upstream: artifact -> its producers (their "output" links), run -> its inputs.
        run_link, artifact_link = ("input", "output") if way == UPSTREAM else ("output", "input")
        frontier_runs = list(dict.fromkeys(start_runs))
        frontier_artifacts = list(dict.fromkeys(start_artifacts))
        # The start nodes count as seen (depth 0) so a cycle does not list them as their own neighbours.
        seen_runs: dict[str, int] = dict.fromkeys(frontier_runs, 0)
        seen_artifacts: dict[str, int] = dict.fromkeys(frontier_artifacts, 0)
        level = 0
        while level < depth and (frontier_runs or frontier_artifacts):
            level += 1
            for run_id in frontier_runs:
                run = self.run(run_id)
                if run is not None:
                    for uri in self.artifacts_of(run, run_link):
                        if uri not in seen_artifacts:
                            seen_artifacts[uri] = level
                            frontier_artifacts.append(uri)
            next_runs = []
            for uri in frontier_artifacts:
                for run_id in self.runs_of(uri, artifact_link):
                    if run_id not in seen_runs:
                        seen_runs[run_id] = level
                        next_runs.append(run_id)
            frontier_runs, frontier_artifacts = next_runs, []
        return {
            "runs": [self._run_ref(run_id, level) for run_id, level in seen_runs.items() if level and self.run(run_id)],
            "artifacts": [{**self.artifacts[uri], "depth": level} for uri, level in seen_artifacts.items() if level],
        }

    def _run_ref(self, run_id: str, depth: int) -> dict:
        run = self.runs[run_id]
        return {"run_id": run.run_id, "name": run.name, "experiment": run.experiment, "status": run.status.value,
                "depth": depth}


def _depth(depth: int) -> int:
    if not 1 <= depth <= limits.LINEAGE_DEPTH_MAX:
        raise InvalidInput(f"depth must be 1-{limits.LINEAGE_DEPTH_MAX}", field="depth")
    return depth


def of_run(repo, run_id: str, depth: int = 1) -> dict:
    walk = _Walk(repo)
    run = walk.run(run_id)
    if run is None:
        raise NotFound(f"run {run_id!r} does not exist", field="run_id")
    depth = _depth(depth)
    # The run's own artifacts come back at depth 1 through the walk itself.
    upstream = walk.side([run_id], [], UPSTREAM, depth)
    downstream = walk.side([run_id], [], DOWNSTREAM, depth)
    return {"run_id": run_id, "upstream": upstream, "downstream": downstream, "edges": list(walk.edges.values())}


def of_artifact(repo, uri: str, depth: int = 1) -> dict:
    walk = _Walk(repo)
    depth = _depth(depth)
    upstream = walk.side([], [uri], UPSTREAM, depth)
    downstream = walk.side([], [uri], DOWNSTREAM, depth)
    if uri not in walk.artifacts:
        raise NotFound(f"no run has an input or output with URI {uri!r}", field="uri")
    return {"uri": uri, "artifact": walk.artifacts[uri], "upstream": upstream, "downstream": downstream,
            "edges": list(walk.edges.values())}


def _size(value) -> int | None:
    """A link's size as stored (a DynamoDB number), or None for links written before sizes were kept."""
    return None if value is None else int(value)
