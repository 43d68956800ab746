"""A GLM node step as one Spark aggregation: score, information, deviance without collecting rows.

:func:`glm_sums` takes a design relation -- a statement in DuckDB's dialect whose rows are the
model's rows, with numeric covariate columns, an outcome and optionally an offset -- and computes,
at the coordinator's ``beta``, in one Spark job::

    score       = Σ x (y − μ)            information = Σ w x xᵀ
    deviance, log-likelihood (dispersion 1), N

with the canonical links of :func:`genofed.stats.glm_node_step` (same formulas, including the
overflow-safe logistic terms), so the driver receives ``p + p(p+1)/2 + 3`` numbers whatever the
cohort size. The sums are equal to numpy's up to the order of floating-point addition.

It checks no disclosure rule: the caller does that first (as ``glm_node_step`` does, on the binary
columns' level counts). See ``docs/scale.md`` for what the node still computes on the driver.

References
----------
McCullagh, P. & Nelder, J. A. (1989). *Generalized Linear Models*, 2nd ed., §2.5 (Fisher scoring).
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from genofed.errors import QueryError, StoreError

from ._spark import _first_line, _to_arrow, spark_sql

if TYPE_CHECKING:
    from ._spark import SparkStore

__all__ = ["GlmSums", "glm_sums"]

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class GlmSums:
    """One node's GLM sums at β, computed by Spark."""

    score: np.ndarray[Any, np.dtype[np.float64]]
    information: np.ndarray[Any, np.dtype[np.float64]]
    n: int
    deviance: float
    log_likelihood: float


def _q(name: str) -> str:
    if not _NAME.match(name):
        raise QueryError(f"not a column name: {name!r}")
    return f"`{name}`"


def glm_sums(
    store: SparkStore,
    design: str,
    parameters: Sequence[Any] | None = None,
    *,
    covariates: Sequence[str],
    outcome: str,
    beta: Sequence[float],
    family: str,
    offset: str | None = None,
) -> GlmSums:
    """Score, information, N, deviance and log-likelihood of a GLM at ``beta``, as one Spark aggregation.

    Parameters
    ----------
    store
        The Spark store to run on.
    design
        A statement (DuckDB's dialect, ``$n`` or ``?`` parameters) whose rows are the model's rows.
    parameters
        The statement's parameter values.
    covariates
        The columns of the design matrix, in ``beta``'s order (include an intercept column if wanted).
    outcome
        The outcome column: real (gaussian), 0/1 (binomial) or a count (poisson).
    beta
        The coefficients the coordinator sent, one per covariate.
    family
        ``gaussian``, ``binomial`` or ``poisson`` (canonical links).
    offset
        A column added to the linear predictor, e.g. log exposure.

    Returns
    -------
    GlmSums
        The sums; no row reaches the driver.

    Raises
    ------
    QueryError
        Unknown family, a column name that is not an identifier, or ``beta`` of the wrong length.
    StoreError
        Spark failed.
    """
    if len(beta) != len(covariates):
        raise QueryError(f"beta has {len(beta)} values for {len(covariates)} covariates")
    if family not in ("gaussian", "binomial", "poisson"):
        raise QueryError(f"unknown GLM family {family!r}; use gaussian, binomial or poisson")
    inner, wanted = spark_sql(design)
    x = [_q(c) for c in covariates]
    y = _q(outcome)
    terms = [f"CAST(:b{j} AS DOUBLE) * CAST({c} AS DOUBLE)" for j, c in enumerate(x)]
    if offset is not None:
        terms.append(f"CAST({_q(offset)} AS DOUBLE)")
    eta = " + ".join(terms) or "0D"
    if family == "gaussian":
        mu, weight = "eta", "1D"
        loglik = "-0.5 * POWER(y - eta, 2)"
        deviance = "POWER(y - eta, 2)"
    elif family == "binomial":
        # log μ = −log(1 + e^−η), log(1 − μ) = −log(1 + e^η), without overflow.
        soft = "LN(1D + EXP(-ABS(eta)))"
        log_mu = f"-(GREATEST(0D, -eta) + {soft})"
        log_1m = f"-(GREATEST(0D, eta) + {soft})"
        mu, weight = f"EXP({log_mu})", f"EXP({log_mu} + {log_1m})"
        loglik = f"y * ({log_mu}) + (1D - y) * ({log_1m})"
        deviance = f"-2D * ({loglik})"
    else:
        # log y! as a sum of logs (Spark SQL has no lgamma); y is a count.
        log_factorial = (
            "CASE WHEN y < 2 THEN 0D ELSE AGGREGATE(SEQUENCE(2, CAST(y AS INT)), 0D, (a, k) -> a + LN(k)) END"
        )
        mu, weight = "EXP(eta)", "EXP(eta)"
        loglik = f"y * eta - EXP(eta) - ({log_factorial})"
        deviance = "2D * (CASE WHEN y = 0 THEN 0D ELSE y * LN(y) END - y * eta - (y - EXP(eta)))"
    p = len(x)
    rows = (
        f"SELECT {', '.join(f'CAST({c} AS DOUBLE) AS x{j}' for j, c in enumerate(x))}, "
        f"CAST({y} AS DOUBLE) AS y, {eta} AS eta FROM ({inner}) AS d"
    )
    per_row = f"SELECT *, {mu} AS mu, {weight} AS w, {loglik} AS ll, {deviance} AS dev FROM ({rows}) AS r"
    sums = [f"SUM(x{j} * (y - mu)) AS s{j}" for j in range(p)]
    sums += [f"SUM(w * x{j} * x{k}) AS i{j}_{k}" for j in range(p) for k in range(j, p)]
    sums += ["COUNT(*) AS n", "SUM(dev) AS deviance", "SUM(ll) AS loglik"]
    text = store._qualify(f"SELECT {', '.join(sums)} FROM ({per_row}) AS e")
    args: dict[str, Any] = {f"p{i}": v for i, v in enumerate(parameters or [], start=1)}
    if len(args) != wanted:
        raise StoreError(f"the design statement takes {wanted} parameter(s), {len(args)} given")
    args.update({f"b{j}": float(b) for j, b in enumerate(beta)})
    store._refresh()
    try:
        row = _to_arrow(store.session.sql(text, args=args)).to_pylist()[0]
    except Exception as exc:  # pyspark.errors.* and py4j errors share no base class
        raise StoreError(f"GLM sums failed in Spark: {_first_line(exc)}") from exc
    n = int(row["n"])
    score = np.array([row[f"s{j}"] or 0.0 for j in range(p)], dtype=np.float64)
    information = np.zeros((p, p))
    for j in range(p):
        for k in range(j, p):
            information[j, k] = information[k, j] = row[f"i{j}_{k}"] or 0.0
    log_likelihood = float(row["loglik"] or 0.0)
    if family == "gaussian":
        log_likelihood -= 0.5 * n * math.log(2 * math.pi)
    return GlmSums(score, information, n, float(row["deviance"] or 0.0), log_likelihood)
