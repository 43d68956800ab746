"""The node's design plan: one row per cohort member with the variables statistical models use.

Model fits (Kaplan–Meier, Cox, GLM) need the members' own values, not counts: this plan returns them,
one row per member, and the rows never leave the node (the node turns them into sums). Columns:

- ``individual_id`` (the pseudonym);
- ``sex``, ``vital_status``, ``age_at_diagnosis``, ``overall_survival_days``, ``geographic_origin``,
  ``ethnicity_id`` from the member's latest clinical record (NULL when there is none);
- ``responded``: true when some RECIST assessment (latest batch) is CR or PR, false when all are
  others, NULL without any assessment;
- ``s0``, ``s1``, …: per requested :data:`~genofed.query.Split`, the 0-based index of the member's
  label in ``split.labels`` (as :func:`~genofed.query.crosstab_plan` assigns it);
- ``b0``, ``b1``, …: per requested biomarker name, the mean of the member's values of it in the
  member's latest biomarker batch (NULL without one).
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlglot import exp

from ._compile import Plan, _col, _latest, _Params
from ._models import CohortFilter
from ._tabulate import (
    AgeBandSplit,
    SexSplit,
    Split,
    TumourTypeSplit,
    VitalStatusSplit,
    _carrier_index,
    _individual_index,
    _matched,
    _tumour_index,
)

__all__ = ["design_plan"]

_CLINICAL = (
    "sex",
    "vital_status",
    "age_at_diagnosis",
    "overall_survival_days",
    "geographic_origin",
    "ethnicity_id",
)


def design_plan(
    cohort: CohortFilter, *, splits: Sequence[Split] = (), biomarkers: Sequence[str] = ()
) -> Plan:
    """One row per member of ``cohort`` with clinical values, RECIST response, split indices, biomarkers.

    >>> from genofed.query import GeneStatusSplit
    >>> kras = GeneStatusSplit(CohortFilter(gene="KRAS"))
    >>> plan = design_plan(CohortFilter(tumour_type="COADREAD"), splits=[kras])
    >>> "overall_survival_days" in plan.sql() and "s0" in plan.sql()
    True
    """
    bind = _Params()
    matched = _matched(cohort, bind).subquery("m", copy=False)

    def on(alias: str) -> exp.Expr:
        return exp.EQ(this=_col("individual_id", alias), expression=_col("individual_id", "m"))

    columns: list[exp.Expr] = [_col("individual_id", "m")]
    # MAX: one row per member even if a clinical batch repeated someone.
    columns += [exp.alias_(exp.Max(this=_col(name, "i")), name, copy=False) for name in _CLINICAL]
    columns.append(exp.alias_(exp.Max(this=_col("responded", "r")), "responded", copy=False))
    joins: list[tuple[exp.Subquery, str]] = []
    for n, split in enumerate(splits):
        if isinstance(split, SexSplit | VitalStatusSplit | AgeBandSplit):
            index = _individual_index(split, bind)
        elif isinstance(split, TumourTypeSplit):
            index, subquery = _tumour_index(split, f"t{n}", bind)
            joins.append((subquery, f"t{n}"))
        else:
            index, subquery = _carrier_index(split, f"g{n}", bind)
            joins.append((subquery, f"g{n}"))
        columns.append(exp.alias_(exp.Max(this=index), f"s{n}", copy=False))
    for n, name in enumerate(biomarkers):
        value = (
            _latest("biomarkers", f"b{n}")
            .select(exp.alias_(exp.Avg(this=_col("value", f"b{n}")), "value", copy=False), copy=False)
            .where(
                exp.and_(
                    exp.EQ(this=_col("name", f"b{n}"), expression=bind(name, "biomarker")),
                    exp.Not(this=exp.Is(this=_col("value", f"b{n}"), expression=exp.Null())),
                    copy=False,
                ),
                copy=False,
            )
            .group_by(_col("individual_id", f"b{n}"), copy=False)
            .subquery(f"b{n}", copy=False)
        )
        joins.append((value, f"b{n}"))
        columns.append(exp.alias_(exp.Max(this=_col("value", f"b{n}")), f"b{n}", copy=False))
    clinical = (
        _latest("individuals", "i").select(*(_col(name, "i") for name in _CLINICAL), copy=False).subquery("i")
    )
    responded = exp.Max(
        this=exp.In(this=_col("recist", "r"), expressions=[bind("CR", "recist"), bind("PR", "recist")])
    )
    responses = (
        _latest("responses", "r")
        .select(exp.alias_(responded, "responded", copy=False), copy=False)
        .group_by(_col("individual_id", "r"), copy=False)
        .subquery("r", copy=False)
    )
    expression = (
        exp.select(*columns, copy=False)
        .from_(matched, copy=False)
        .join(clinical, on=on("i"), join_type="left", copy=False)
        .join(responses, on=on("r"), join_type="left", copy=False)
    )
    for subquery, alias in joins:
        expression = expression.join(subquery, on=on(alias), join_type="left", copy=False)
    expression = expression.group_by(_col("individual_id", "m"), copy=False).order_by(
        _col("individual_id", "m"), copy=False
    )
    # The SQL depends on the splits' kinds, which bound labels alone do not capture: no shared cache.
    return Plan(expression, tuple(bind.values), shape=None)
