"""How good the forecasts were: the report's arithmetic over ``pvhistory`` rows. Pure: stdlib only, no I/O.

The contract ("pv_report.py") defines every number; this module follows it literally:

- counting hours, per forecast: ``kwh_pv`` and the forecast both known, flags free of ``reset``,
  ``long_gap``, ``late_forecast``, and at least one of the two above 0;
- hourly MAE, MBE (forecast - measured), RMSE in kWh; ``nmae_pct`` = 100 x MAE / mean measured; ``skill`` =
  1 - RMSE / RMSE of 24 h persistence, both over the counting hours whose hour 24 h earlier (UTC) has a
  known ``kwh_pv``;
- daily: the same on local-day sums of the counting hours, over days with at least one; daily skill
  against the previous local day's measured sum over the same local clock hours, over the days where all
  of those are known;
- buckets by lead (hour start - ``forecast_issued``) and by local month, hourly metrics without skill.

A number that cannot be computed (nothing to average, a zero denominator) is ``None``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from typing import Any, Iterable, Mapping, NamedTuple, Sequence

FORECASTS = ("kwh_s3p", "kwh_fc")
SERVICES = ("forecast.solar", "solcast")  # the PV services' forecasts (pv_forecast), joined per hour
EXCLUDING_FLAGS = frozenset({"reset", "long_gap", "late_forecast"})
# A service's forecast is joined without a late fallback: the row's late_forecast (its weather) is not its.
SERVICE_EXCLUDING_FLAGS = frozenset({"reset", "long_gap"})
# Lead buckets: (name, lower bound inclusive, upper bound exclusive or None), in hours.
LEAD_BUCKETS: tuple[tuple[str, float, float | None], ...] = (
    ("0-6", 0.0, 6.0),
    ("6-24", 6.0, 24.0),
    ("24-48", 24.0, 48.0),
    ("48+", 48.0, None),
)
DAY = timedelta(days=1)
PERSISTENCE_LAG = timedelta(hours=24)


class ServiceForecast(NamedTuple):
    """A PV service's forecast of one hour: kWh, when it was issued (naive UTC), its P10/P90 if it gives them."""

    kwh: float
    issued: datetime
    kwh_p10: float | None = None
    kwh_p90: float | None = None


@dataclass(frozen=True, slots=True)
class HourRow:
    """One ``pvhistory`` row as the report needs it; times naive UTC, ``year month day hour`` local."""

    ts_utc: datetime
    year: int
    month: int
    day: int
    hour: int
    kwh_pv: float | None
    kwh_s3p: float | None = None
    kwh_fc: float | None = None
    forecast_issued: datetime | None = None
    flags: frozenset[str] = frozenset()
    kwh_fc_p10: float | None = None  # the calibrated forecast's 10 % and 90 % quantiles
    kwh_fc_p90: float | None = None
    # The PV services' forecasts of the hour by the join rule: {provider: ServiceForecast}.
    services: Mapping[str, ServiceForecast] = field(default_factory=dict)

    @classmethod
    def from_row(cls, row: Mapping) -> "HourRow":
        """From a store row (a dict of the table's columns; ``flags`` comma separated text)."""
        text = row.get("flags")
        flags = _flag_sets.setdefault(text, frozenset(f.strip() for f in (text or "").split(",") if f.strip()))
        return cls(
            ts_utc=row["ts_utc"],
            year=int(row["year"]),
            month=int(row["month"]),
            day=int(row["day"]),
            hour=int(row["hour"]),
            kwh_pv=_num(row.get("kwh_pv")),
            kwh_s3p=_num(row.get("kwh_s3p")),
            kwh_fc=_num(row.get("kwh_fc")),
            forecast_issued=row.get("forecast_issued"),
            flags=flags,
            kwh_fc_p10=_num(row.get("kwh_fc_p10")),
            kwh_fc_p90=_num(row.get("kwh_fc_p90")),
        )

    @property
    def local_date(self) -> date:
        return date(self.year, self.month, self.day)

    def value(self, forecast: str) -> float | None:
        if forecast == "kwh_s3p":
            return self.kwh_s3p
        if forecast == "kwh_fc":
            return self.kwh_fc
        service = self.services.get(forecast)
        return None if service is None else service.kwh

    def lead_of(self, forecast: str) -> float | None:
        """Hours from ``forecast``'s issue to the hour start (its own issue time for a service)."""
        if forecast in FORECASTS:
            return self.lead_h
        service = self.services.get(forecast)
        return None if service is None else (self.ts_utc - service.issued).total_seconds() / 3600.0

    @property
    def lead_h(self) -> float | None:
        if self.forecast_issued is None:
            return None
        return (self.ts_utc - self.forecast_issued).total_seconds() / 3600.0


_flag_sets: dict[str | None, frozenset[str]] = {}  # a few distinct flag texts: one set each, shared


def _num(value: Any) -> float | None:
    """A stored number; None for NULL and for what is no finite number (infinity is no energy)."""
    if value is None:
        return None
    number = float(value)  # ValueError for text that is no number: the caller says which row
    return number if math.isfinite(number) else None


def counts(row: HourRow, forecast: str) -> bool:
    """Whether ``row`` is a counting hour for ``forecast``."""
    fc = row.value(forecast)
    excluding = EXCLUDING_FLAGS if forecast in FORECASTS else SERVICE_EXCLUDING_FLAGS
    if row.kwh_pv is None or fc is None or row.flags & excluding:
        return False
    return row.kwh_pv > 0 or fc > 0


# -- error measures ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Errors:
    """MAE, MBE, RMSE (kWh) and nMAE (%) of pairs (forecast, measured)."""

    n: int
    mae: float | None
    mbe: float | None
    rmse: float | None
    nmae_pct: float | None

    @classmethod
    def of(cls, pairs: Sequence[tuple[float, float]]) -> "Errors":
        n = len(pairs)
        if not n:
            return cls(0, None, None, None, None)
        diffs = [f - m for f, m in pairs]
        mae = math.fsum(abs(d) for d in diffs) / n
        mbe = math.fsum(diffs) / n
        rmse = math.sqrt(math.fsum(d * d for d in diffs) / n)
        mean_measured = math.fsum(m for _, m in pairs) / n
        nmae = 100.0 * mae / mean_measured if mean_measured != 0 else None
        return cls(n, mae, mbe, rmse, nmae)

    def as_dict(self) -> dict:
        return {"mae": self.mae, "mbe": self.mbe, "rmse": self.rmse, "nmae_pct": self.nmae_pct}


def rmse(diffs: Sequence[float]) -> float | None:
    if not diffs:
        return None
    return math.sqrt(math.fsum(d * d for d in diffs) / len(diffs))


def skill(triples: Sequence[tuple[float, float, float]]) -> float | None:
    """1 - RMSE(forecast) / RMSE(reference) over (forecast, reference, measured); None when there is no
    triple or the reference was perfect (nothing to compare against)."""
    ref = rmse([r - m for _, r, m in triples])
    if ref is None or ref == 0:
        return None
    own = rmse([f - m for f, _, m in triples])
    assert own is not None
    return 1.0 - own / ref


# -- the report -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class DaySum:
    day: date
    measured: float
    forecast: float
    hours: int


@dataclass(frozen=True)
class Judgement:
    """Everything the report says about one forecast over the period."""

    forecast: str
    hours: int
    days: int
    measured_kwh: float
    forecast_kwh: float
    hourly: Errors
    hourly_skill: float | None
    daily: Errors
    daily_skill: float | None
    by_lead: dict[str, Errors]
    by_month: dict[str, Errors]
    day_sums: list[DaySum] = field(default_factory=list)
    probabilistic: Band | None = None  # kwh_fc and the services: the P10-P90 band judged

    def worst_days(self, n: int = 3) -> list[DaySum]:
        """The days furthest off (largest absolute daily error), worst first."""
        return sorted(self.day_sums, key=lambda d: (-abs(d.forecast - d.measured), d.day))[:n]

    def as_dict(self) -> dict:
        return {
            "hours": self.hours,
            "days": self.days,
            "measured_kwh": self.measured_kwh,
            "forecast_kwh": self.forecast_kwh,
            "hourly": {**self.hourly.as_dict(), "skill": self.hourly_skill},
            "daily": {**self.daily.as_dict(), "skill": self.daily_skill},
            "by_lead": {k: {"hours": e.n, **e.as_dict()} for k, e in self.by_lead.items()},
            "by_month": {k: {"hours": e.n, **e.as_dict()} for k, e in self.by_month.items()},
            **(
                {"probabilistic": self.probabilistic.as_dict() if self.probabilistic else None}
                if self.forecast != "kwh_s3p"
                else {}
            ),
        }


BAND_PROBABILITIES = (0.1, 0.5, 0.9)


def pinball(quantile: float, measured: float, probability: float) -> float:
    """The pinball (quantile) loss of ``quantile`` at ``probability`` for what was ``measured``, kWh."""
    diff = measured - quantile
    return max(probability * diff, (probability - 1.0) * diff)


@dataclass(frozen=True)
class BandScore:
    """How a P10-median-P90 band held over some hours: the mean pinball loss over the three probabilities
    (kWh), the shares of hours inside [P10, P90], below P10 and above P90 (%), and its mean width (kWh)."""

    hours: int
    pinball: float | None
    coverage_pct: float | None
    below_pct: float | None
    above_pct: float | None
    width_kwh: float | None

    @classmethod
    def of(cls, items: Sequence[tuple[float, float, float, float]]) -> "BandScore":
        """From (P10, median, P90, measured) per hour."""
        n = len(items)
        if not n:
            return cls(0, None, None, None, None, None)
        loss = math.fsum(
            pinball(q, m, p) for lo, med, hi, m in items for q, p in zip((lo, med, hi), BAND_PROBABILITIES, strict=True)
        )
        below = sum(m < lo for lo, _, _, m in items)
        above = sum(m > hi for _, _, hi, m in items)
        return cls(
            n,
            loss / (3 * n),
            100.0 * (n - below - above) / n,
            100.0 * below / n,
            100.0 * above / n,
            math.fsum(hi - lo for lo, _, hi, _ in items) / n,
        )

    def as_dict(self) -> dict:
        return {
            "hours": self.hours,
            "pinball": self.pinball,
            "coverage_pct": self.coverage_pct,
            "below_pct": self.below_pct,
            "above_pct": self.above_pct,
            "width_kwh": self.width_kwh,
        }


@dataclass(frozen=True)
class Band:
    """The calibrated forecast judged as a distribution: over its counting hours with P10 and P90, and per
    lead bucket."""

    overall: BandScore
    by_lead: dict[str, BandScore]

    def as_dict(self) -> dict:
        return {**self.overall.as_dict(), "by_lead": {k: v.as_dict() for k, v in self.by_lead.items()}}


def _band_of(r: HourRow, forecast: str) -> tuple[float, float, float, float] | None:
    """(P10, median, P90, measured) of ``forecast`` in ``r``, or None without a whole band."""
    if forecast == "kwh_fc":
        lo, med, hi = r.kwh_fc_p10, r.kwh_fc, r.kwh_fc_p90
    elif (service := r.services.get(forecast)) is not None:
        lo, med, hi = service.kwh_p10, service.kwh, service.kwh_p90
    else:
        return None
    if lo is None or med is None or hi is None or r.kwh_pv is None:
        return None
    return (lo, med, hi, r.kwh_pv)


def judge_band(counting: Sequence[HourRow], forecast: str = "kwh_fc") -> Band | None:
    """``forecast``'s band (``kwh_fc_p10``/``kwh_fc_p90``, or a service's P10/P90) over its counting hours
    that have one; None if none do."""
    items: list[tuple[float, float, float, float]] = []
    leads: dict[str, list[tuple[float, float, float, float]]] = {}
    for r in counting:
        item = _band_of(r, forecast)
        if item is None:
            continue
        items.append(item)
        bucket = lead_bucket(r.lead_of(forecast))
        if bucket is not None:
            leads.setdefault(bucket, []).append(item)
    if not items:
        return None
    order = [name for name, _, _ in LEAD_BUCKETS]
    return Band(BandScore.of(items), {k: BandScore.of(leads[k]) for k in order if k in leads})


@dataclass(frozen=True)
class Report:
    start: date  # first local day
    end_text: str  # B as given (exclusive)
    judged: dict[str, Judgement | None]
    ranking: dict[str, list[RankEntry]] = field(default_factory=dict)

    @property
    def empty(self) -> bool:
        return all(j is None for j in self.judged.values())

    def as_dict(self) -> dict:
        return {
            "from": self.start.isoformat(),
            "to": self.end_text,
            "forecasts": {name: (j.as_dict() if j else None) for name, j in self.judged.items()},
            "ranking": {bucket: [e.as_dict() for e in entries] for bucket, entries in self.ranking.items()},
        }


def lead_bucket(lead_h: float | None) -> str | None:
    if lead_h is None:
        return None
    for name, lo, hi in LEAD_BUCKETS:
        if lead_h >= lo and (hi is None or lead_h < hi):
            return name
    return None  # negative: issued after the hour began


def judge(rows: Iterable[HourRow], start: date, end: date, forecast: str) -> Judgement | None:
    """The metrics of ``forecast`` over the local days [start, end). ``rows`` may include earlier hours
    (at least the day before ``start``): they serve persistence only."""
    rows = list(rows)
    by_ts = {r.ts_utc: r for r in rows}
    in_period = [r for r in rows if start <= r.local_date < end]
    counting = sorted((r for r in in_period if counts(r, forecast)), key=lambda r: r.ts_utc)
    if not counting:
        return None

    def pair(r: HourRow) -> tuple[float, float]:
        fc, pv = r.value(forecast), r.kwh_pv
        assert fc is not None and pv is not None
        return fc, pv

    # Hourly, and hourly skill against the same hour 24 h earlier (UTC).
    hourly = Errors.of([pair(r) for r in counting])
    triples = []
    for r in counting:
        before = by_ts.get(r.ts_utc - PERSISTENCE_LAG)
        if before is not None and before.kwh_pv is not None:
            fc, pv = pair(r)
            triples.append((fc, before.kwh_pv, pv))
    hourly_skill = skill(triples)

    # Daily, on local-day sums of the counting hours.
    per_day: dict[date, list[HourRow]] = {}
    for r in counting:
        per_day.setdefault(r.local_date, []).append(r)
    day_rows: dict[date, list[HourRow]] = {}
    for r in rows:
        day_rows.setdefault(r.local_date, []).append(r)
    day_sums, day_triples = [], []
    for d in sorted(per_day):
        hours = per_day[d]
        fc_sum = math.fsum(pair(r)[0] for r in hours)
        pv_sum = math.fsum(pair(r)[1] for r in hours)
        day_sums.append(DaySum(d, pv_sum, fc_sum, len(hours)))
        reference = _previous_day_sum(day_rows.get(d - DAY, []), {r.hour for r in hours})
        if reference is not None:
            day_triples.append((fc_sum, reference, pv_sum))
    daily = Errors.of([(s.forecast, s.measured) for s in day_sums])

    by_lead: dict[str, list[tuple[float, float]]] = {}
    by_month: dict[str, list[tuple[float, float]]] = {}
    for r in counting:
        bucket = lead_bucket(r.lead_of(forecast))
        if bucket is not None:
            by_lead.setdefault(bucket, []).append(pair(r))
        by_month.setdefault(f"{r.year:04d}-{r.month:02d}", []).append(pair(r))
    lead_order = [name for name, _, _ in LEAD_BUCKETS]
    return Judgement(
        forecast=forecast,
        hours=len(counting),
        days=len(day_sums),
        measured_kwh=math.fsum(pair(r)[1] for r in counting),
        forecast_kwh=math.fsum(pair(r)[0] for r in counting),
        hourly=hourly,
        hourly_skill=hourly_skill,
        daily=daily,
        daily_skill=skill(day_triples),
        by_lead={k: Errors.of(by_lead[k]) for k in lead_order if k in by_lead},
        by_month={k: Errors.of(by_month[k]) for k in sorted(by_month)},
        day_sums=day_sums,
        probabilistic=judge_band(counting, forecast) if forecast != "kwh_s3p" else None,
    )


def _previous_day_sum(previous: Sequence[HourRow], clock_hours: set[int]) -> float | None:
    """The previous local day's measured sum over ``clock_hours``, or None unless every one is known."""
    values = [r.kwh_pv for r in previous if r.hour in clock_hours]
    if {r.hour for r in previous if r.hour in clock_hours} != clock_hours or any(v is None for v in values):
        return None
    return math.fsum(v for v in values if v is not None)


def same_hours(rows: Iterable[HourRow], start: date, end: date, forecasts: Sequence[str]) -> list[HourRow]:
    """``rows`` with ``forecasts`` (of FORECASTS) blanked in every hour of the local days [start, end) where
    not all of them count: judged on these, each is judged on the same hours (like for like). Measured
    energy is kept everywhere (persistence reads it)."""
    blank: dict[str, Any] = dict.fromkeys(forecasts)
    return [
        replace(r, **blank) if start <= r.local_date < end and not all(counts(r, f) for f in forecasts) else r
        for r in rows
    ]


def report(
    rows: Iterable[HourRow],
    start: date,
    end: date,
    end_text: str | None = None,
    by_lead: Mapping[str, Mapping[str, Mapping[datetime, float]]] | None = None,
) -> Report:
    """Every forecast judged over the local days [start, end): solar3p's two and, when ``by_lead`` is
    given (the services' forecasts per lead bucket: {bucket: {provider: {hour: kWh}}}), the PV services,
    and the ranking of all of them."""
    rows = list(rows)
    names = FORECASTS + (SERVICES if by_lead is not None else ())
    judged = {name: judge(rows, start, end, name) for name in names}
    ranked = ranking(rows, start, end, by_lead or {}) if by_lead is not None else {}
    return Report(start=start, end_text=end_text or end.isoformat(), judged=judged, ranking=ranked)


# -- the ranking: every forecast at the same lead, on the same hours --------------------------------
MIN_SHARE = 0.25  # of the best-covered forecast's hours in a bucket, for a forecast to be ranked there


@dataclass(frozen=True)
class RankEntry:
    forecast: str
    hours: int
    nmae_pct: float | None
    mbe: float | None
    skill: float | None

    def as_dict(self) -> dict:
        return {
            "forecast": self.forecast,
            "hours": self.hours,
            "nmae_pct": self.nmae_pct,
            "mbe": self.mbe,
            "skill": self.skill,
        }


def ranking(
    rows: Sequence[HourRow], start: date, end: date, by_lead: Mapping[str, Mapping[str, Mapping[datetime, float]]]
) -> dict[str, list[RankEntry]]:
    """Per lead bucket [lo, hi): each forecast's value from its last issue made at least lo and less than
    hi hours before the hour (solar3p's through the row's ``forecast_issued``; the services' in
    ``by_lead``), compared on the counting hours where every ranked forecast has one, best hourly nMAE
    first. A forecast with a value on fewer than MIN_SHARE of the hours the best-covered one has in a
    bucket is not ranked there (a few stray hours would shrink the common hours to nothing)."""
    by_ts = {r.ts_utc: r for r in rows}
    usable = [
        r
        for r in rows
        if start <= r.local_date < end and r.kwh_pv is not None and not r.flags & SERVICE_EXCLUDING_FLAGS
    ]
    out: dict[str, list[RankEntry]] = {}
    for bucket, _, _ in LEAD_BUCKETS:
        values: dict[str, dict[datetime, float]] = {}
        for name in FORECASTS:
            own = {
                r.ts_utc: v
                for r in usable
                if (v := r.value(name)) is not None
                and "late_forecast" not in r.flags
                and lead_bucket(r.lead_h) == bucket
            }
            if own:
                values[name] = own
        for name, series in (by_lead.get(bucket) or {}).items():
            own = {r.ts_utc: series[r.ts_utc] for r in usable if r.ts_utc in series}
            if own:
                values[name] = own
        if not values:
            continue
        most = max(len(v) for v in values.values())
        ranked = {name: v for name, v in values.items() if len(v) >= MIN_SHARE * most}
        common = set.intersection(*(set(v) for v in ranked.values()))
        hours = sorted(t for t in common if (by_ts[t].kwh_pv or 0) > 0 or any(v[t] > 0 for v in ranked.values()))
        if not hours:
            continue
        entries = []
        for name, series in ranked.items():
            pairs = [(series[t], by_ts[t].kwh_pv or 0.0) for t in hours]
            errors = Errors.of(pairs)
            triples = []
            for t, (fc, pv) in zip(hours, pairs, strict=True):
                before = by_ts.get(t - PERSISTENCE_LAG)
                if before is not None and before.kwh_pv is not None:
                    triples.append((fc, before.kwh_pv, pv))
            entries.append(RankEntry(name, len(hours), errors.nmae_pct, errors.mbe, skill(triples)))
        entries.sort(key=lambda e: (e.nmae_pct is None, e.nmae_pct if e.nmae_pct is not None else 0.0, e.forecast))
        out[bucket] = entries
    return out


# -- for the charts and the table: plain per-day and per-hour series --------------------------------
@dataclass(frozen=True)
class DayTotal:
    """A local day's energy over all its known hours (not only counting ones)."""

    day: date
    measured: float | None
    forecasts: dict[str, float | None]


def day_totals(rows: Iterable[HourRow], start: date, end: date) -> list[DayTotal]:
    """Every local day of [start, end) with the sum of each known column (None: no known hour)."""
    per_day: dict[date, list[HourRow]] = {}
    for r in rows:
        if start <= r.local_date < end:
            per_day.setdefault(r.local_date, []).append(r)
    out = []
    d = start
    while d < end:
        hours = per_day.get(d, [])
        out.append(
            DayTotal(
                day=d,
                measured=_sum_known(r.kwh_pv for r in hours),
                forecasts={name: _sum_known(r.value(name) for r in hours) for name in FORECASTS + SERVICES},
            )
        )
        d += DAY
    return out


def _sum_known(values: Iterable[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return math.fsum(known) if known else None
