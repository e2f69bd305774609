"""Topics as a feature (issue 11 item 2): each row's cluster in a model fitted on the reference only.

For a text or embedding feature ``prompt`` this adds the categorical feature ``prompt:topic``: k-means with
``DriftConfig.topics`` clusters, fitted on the reference's points; current rows are assigned with the same
fitted model. A text's point is its TF-IDF vector reduced by truncated SVD (latent semantic analysis) to at most
50 dimensions; an embedding's is the vector itself. Points are scaled to unit length first (k-means on the
sphere: clusters by direction, as embeddings and LSA vectors are compared). The chi-square test of the topic
mix then says *which way* the feature moved, beside the domain classifier's or MMD's *whether*. Features too
few or too alike for a model (fewer rows than the kind's minimum, texts of fewer than three distinct words,
embeddings of two dimensions across the sides) add no topic feature.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from numpy.typing import NDArray
from sklearn.cluster import KMeans
from sklearn.decomposition import TruncatedSVD
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.preprocessing import normalize

from llmops_drift.columns import Kind, vectors

__all__ = ["TOPIC_SUFFIX", "topic_columns"]

TOPIC_SUFFIX = ":topic"
_DIMENSIONS = 50
Points = tuple[NDArray[np.float64], list[int]]
"""A side's points (rows of an array) and the positions of the values they came from."""


def _text_points(reference: Sequence[object], current: Sequence[object], seed: int) -> tuple[Points, Points] | None:
    ref_at = [i for i, value in enumerate(reference) if isinstance(value, str)]
    cur_at = [i for i, value in enumerate(current) if isinstance(value, str)]
    vectorizer = TfidfVectorizer(sublinear_tf=True, max_features=20_000)
    try:
        ref = vectorizer.fit_transform([reference[i] for i in ref_at])
    except ValueError:  # no words at all
        return None
    if ref.shape[1] < 3:
        return None
    svd = TruncatedSVD(n_components=min(_DIMENSIONS, ref.shape[1] - 1), random_state=seed)
    ref_points = svd.fit_transform(ref)
    cur_points = svd.transform(vectorizer.transform([current[i] for i in cur_at]))
    return (ref_points, ref_at), (cur_points, cur_at)


def _embedding_points(
    name: str, reference: Sequence[object], current: Sequence[object]
) -> tuple[Points, Points] | None:
    ref, cur = vectors(name, reference), vectors(name, current)
    if len(ref[1]) and len(cur[1]) and ref[0].shape[1] != cur[0].shape[1]:
        return None  # the embedding feature's own test says so
    return ref, cur


def _assign(reference: Points, current: Points, topics: int, seed: int) -> tuple[list[int], list[int]]:
    model = KMeans(n_clusters=topics, n_init=3, random_state=seed).fit(normalize(reference[0]))
    return model.labels_.tolist(), model.predict(normalize(current[0])).tolist()


def topic_columns(
    reference: Mapping[str, Sequence[object]],
    current: Mapping[str, Sequence[object]],
    kinds: Mapping[str, Kind],
    *,
    topics: int,
    min_rows: Mapping[Kind, int],
    seed: int,
) -> tuple[dict[str, list[object]], dict[str, list[object]]]:
    """The ``<name>:topic`` columns of the text and embedding features present on both sides, for each side.

    A column holds the topics of the rows that have a point only: a row without text or embedding is not a
    topic (the feature's own test counts what was left out), so the mix compares like with like.
    """
    added_ref: dict[str, list[object]] = {}
    added_cur: dict[str, list[object]] = {}
    for name, kind in kinds.items():
        ref_values, cur_values = reference.get(name), current.get(name)
        if kind not in (Kind.TEXT, Kind.EMBEDDING) or ref_values is None or cur_values is None:
            continue
        if kind is Kind.TEXT:
            points = _text_points(ref_values, cur_values, seed)
        else:
            points = _embedding_points(name, ref_values, cur_values)
        if points is None or min(len(points[0][1]), len(points[1][1])) < max(min_rows[kind], topics):
            continue
        ref_labels, cur_labels = _assign(*points, topics, seed)
        added_ref[name + TOPIC_SUFFIX] = [f"topic {label}" for label in ref_labels]
        added_cur[name + TOPIC_SUFFIX] = [f"topic {label}" for label in cur_labels]
    return added_ref, added_cur
