"""The faces (blocks and fields) of a demo district's lines, and which to cut in two.

The lines are noded once and polygonized, so every face shares its edges
exactly with its neighbours and any union of faces tiles exactly; tiny faces
are merged into a neighbour. A street office whose faces are too few or too
coarse for its communities gets its large faces cut across their longest side.
"""

from __future__ import annotations

import math

import numpy as np
import scipy.sparse as sp  # type: ignore[import-untyped]
import shapely
from numpy.typing import NDArray
from shapely.geometry.base import BaseGeometry

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]


def _adjacency(faces: NDArray[np.object_]) -> sp.csr_matrix:
    """Shared boundary length (m) between faces that share an edge."""
    tree = shapely.STRtree(faces)
    left, right = tree.query(faces, predicate="intersects")
    keep = left < right
    left, right = left[keep], right[keep]
    shared = shapely.length(
        shapely.intersection(shapely.boundary(faces[left]), shapely.boundary(faces[right]))
    )
    edge = shared > 1e-6
    n = len(faces)
    matrix = sp.coo_matrix((shared[edge], (left[edge], right[edge])), shape=(n, n))
    return (matrix + matrix.T).tocsr()


def _merge_tiny(faces: NDArray[np.object_], min_m2: float = 25.0) -> NDArray[np.object_]:
    """Join faces under ``min_m2`` (left where nearly parallel lines cross) to the neighbour
    they share most edge with; one touching nothing along an edge is dropped (its area is
    below ``min_m2``, a speck no check counts)."""
    area = shapely.area(faces)
    tiny = np.flatnonzero(area < min_m2)
    if tiny.size == 0:
        return faces
    adjacency = _adjacency(faces).tolil()
    out = faces.copy()
    gone = np.zeros(len(faces), dtype=bool)
    # A loop over the few tiny faces; each join changes the neighbour's shape.
    for i in tiny[np.argsort(area[tiny])]:
        row = adjacency.rows[i]
        lengths = adjacency.data[i]
        best, best_length = -1, 0.0
        for j, length in zip(row, lengths, strict=True):
            if not gone[j] and j != i and area[j] >= min_m2 and length > best_length:
                best, best_length = j, length
        gone[i] = True
        if best >= 0:
            out[best] = shapely.union(out[best], out[i])
    return out[~gone]


def _faces(linework: list[BaseGeometry], outline: BaseGeometry) -> NDArray[np.object_]:
    """The faces of the lines, noded once and polygonized, tiny ones merged away."""
    noded = shapely.union_all(np.asarray(linework, dtype=object))
    faces = shapely.get_parts(shapely.polygonize(shapely.get_parts(noded)))
    faces = faces[shapely.area(faces) > 0]
    reps = shapely.point_on_surface(faces)
    faces = faces[shapely.intersects(outline, reps)]
    return _merge_tiny(faces)


def _blade(face: BaseGeometry) -> BaseGeometry:
    """A line across a polygon's longest side, through its centroid, clipped to it."""
    box = shapely.minimum_rotated_rectangle(face)
    coords = shapely.get_coordinates(box)[:4]
    sides = np.diff(np.vstack([coords, coords[:1]]), axis=0)
    longest = sides[int(np.argmax(np.hypot(sides[:, 0], sides[:, 1])))]
    normal = np.array([-longest[1], longest[0]])
    normal = normal / (np.hypot(*normal) or 1.0)
    c = np.asarray(face.centroid.coords[0])
    reach = float(np.hypot(*longest)) + 1.0
    return shapely.LineString([c - normal * reach, c + normal * reach]).intersection(face)


def _to_cut(
    faces: NDArray[np.object_],
    labels: NDArray[np.object_],
    xy: FloatArray,
    centre: shapely.Point,
    needs: dict[str, tuple[int, float, float]],
) -> IntArray:
    """Faces to cut in two so that each street office can be split among its communities.

    ``needs[street]`` is ``(faces, urban_m2, smallest_m2)``: at least that many
    faces, and around the face nearest the centre, within the area its urban
    communities need, no face larger than a third of the smallest of them.
    """
    area = shapely.area(faces)
    cut: list[int] = []
    for key, (count, urban_m2, smallest_m2) in needs.items():
        members = np.flatnonzero(labels == key)
        if members.size == 0:
            continue
        by_size = members[np.argsort(-area[members], kind="stable")]
        cut += by_size[: max(count - members.size, 0)].tolist()
        if urban_m2 > 0:
            d_centre = np.hypot(xy[members, 0] - centre.x, xy[members, 1] - centre.y)
            pole = xy[members[int(np.argmin(d_centre))]]
            reach = math.sqrt(urban_m2 / math.pi) * 1.5
            near = np.hypot(xy[members, 0] - pole[0], xy[members, 1] - pole[1]) <= reach
            big = area[members] > max(smallest_m2 / 3.0, 15_000.0)
            cut += members[near & big].tolist()
    return np.unique(np.asarray(cut, dtype=np.int64))
