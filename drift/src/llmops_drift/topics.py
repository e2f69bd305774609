"""Topics as a feature (issue 11 item 2): each text's cluster in a topic model fitted on the reference only.

For a text feature ``prompt`` this adds the categorical feature ``prompt:topic``: TF-IDF, then truncated SVD
(latent semantic analysis) to at most 50 dimensions, then k-means with ``DriftConfig.topics`` clusters, all
fitted on the reference's texts; current texts are assigned with the same fitted model. The chi-square test of
the topic mix then says *which way* text moved, beside the domain classifier's *whether*. Texts too few or too
alike for a model (fewer rows than the text minimum, or fewer than three distinct words) add no topic feature.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from sklearn.cluster import KMeans
from sklearn.decomposition import TruncatedSVD
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.preprocessing import normalize

__all__ = ["TOPIC_SUFFIX", "topic_columns"]

TOPIC_SUFFIX = ":topic"
_DIMENSIONS = 50


def _assign(reference: list[str], current: list[str], topics: int, seed: int) -> tuple[list[int], list[int]] | None:
    vectorizer = TfidfVectorizer(sublinear_tf=True, max_features=20_000)
    try:
        ref = vectorizer.fit_transform(reference)
    except ValueError:  # no words at all
        return None
    if ref.shape[1] < 3:
        return None
    svd = TruncatedSVD(n_components=min(_DIMENSIONS, ref.shape[1] - 1), random_state=seed)
    ref_points = normalize(svd.fit_transform(ref))
    model = KMeans(n_clusters=topics, n_init=3, random_state=seed).fit(ref_points)
    cur_points = normalize(svd.transform(vectorizer.transform(current)))
    return model.labels_.tolist(), model.predict(cur_points).tolist()


def _spread(values: Sequence[object], labels: list[int]) -> list[object]:
    """The labels back in the rows they came from (a row without text stays absent)."""
    found = iter(labels)
    return [f"topic {next(found)}" if isinstance(value, str) else None for value in values]


def topic_columns(
    reference: Mapping[str, Sequence[object]],
    current: Mapping[str, Sequence[object]],
    texts: Sequence[str],
    *,
    topics: int,
    min_rows: int,
    seed: int,
) -> tuple[dict[str, list[object]], dict[str, list[object]]]:
    """The ``<name>:topic`` columns of the text features ``texts`` present on both sides, for each side."""
    added_ref: dict[str, list[object]] = {}
    added_cur: dict[str, list[object]] = {}
    for name in texts:
        ref_values, cur_values = reference.get(name), current.get(name)
        if ref_values is None or cur_values is None:
            continue
        ref = [v for v in ref_values if isinstance(v, str)]
        cur = [v for v in cur_values if isinstance(v, str)]
        if min(len(ref), len(cur)) < max(min_rows, topics) or (labels := _assign(ref, cur, topics, seed)) is None:
            continue
        added_ref[name + TOPIC_SUFFIX] = _spread(ref_values, labels[0])
        added_cur[name + TOPIC_SUFFIX] = _spread(cur_values, labels[1])
    return added_ref, added_cur
